package discovery

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/otherhost"
)

// TestDiscoveredURLsMustBeSecure: plain-http URLs off loopback in metadata
// are refused before any request (10.1.2.3 is never dialled: the documents
// are refused as they decode).
func TestDiscoveredURLsMustBeSecure(t *testing.T) {
	far := "http://10.1.2.3"
	t.Run("server metadata", func(t *testing.T) {
		for _, tt := range []struct{ field, url, doc string }{
			{"token_endpoint", far + "/token", `{"issuer":"https://as.example","token_endpoint":"` + far + `/token"}`},
			{"jwks_uri", far + "/jwks", `{"issuer":"https://as.example","token_endpoint":"https://as.example/token","jwks_uri":"` + far + `/jwks"}`},
			{"issuer", far, `{"issuer":"` + far + `","token_endpoint":"https://as.example/token"}`},
		} {
			_, err := DecodeServerMetadata([]byte(tt.doc))
			want := fmt.Sprintf("%q %q: plain http", tt.field, tt.url)
			if !errors.Is(err, ErrMetadata) || !strings.Contains(err.Error(), want) {
				t.Errorf("DecodeServerMetadata(%s) = %v, want ErrMetadata saying %s", tt.doc, err, want)
			}
		}
	})
	t.Run("resource metadata", func(t *testing.T) {
		doc := `{"resource":"https://mcp.example/mcp","authorization_servers":["` + far + `"]}`
		if _, err := DecodeResourceMetadata([]byte(doc)); !errors.Is(err, ErrMetadata) || !strings.Contains(err.Error(), `"authorization_servers[0]" "`+far+`"`) {
			t.Errorf("DecodeResourceMetadata(%s) = %v, want ErrMetadata naming the server", doc, err)
		}
	})
	t.Run("OpenID Connect discovery", func(t *testing.T) {
		d := newDocServer(t, map[string]string{
			"/.well-known/openid-configuration": `{"issuer":"{issuer}","jwks_uri":"` + far + `/jwks","token_endpoint":"{issuer}/token"}`,
		}, nil, "")
		_, err := Discover(t.Context(), nil, d.srv.URL+"/.well-known/openid-configuration")
		if !errors.Is(err, ErrDiscovery) || !strings.Contains(err.Error(), `"jwks_uri" "`+far+`/jwks": plain http`) {
			t.Errorf("Discover() = %v, want ErrDiscovery naming the jwks_uri", err)
		}
	})
	t.Run("resource_metadata of a challenge", func(t *testing.T) {
		d := newDocServer(t, nil, nil, `Bearer resource_metadata="`+far+`/.well-known/oauth-protected-resource"`)
		_, err := DiscoverResource(t.Context(), nil, d.srv.URL+"/mcp", nil)
		want := far + "/.well-known/oauth-protected-resource: not fetched: plain http"
		if !errors.Is(err, ErrDiscovery) || !strings.Contains(err.Error(), want) {
			t.Errorf("DiscoverResource() = %v, want the hop %q", err, want)
		}
	})
	t.Run("issuer given", func(t *testing.T) {
		_, err := DiscoverAuthServer(t.Context(), nil, far)
		if !errors.Is(err, ErrDiscovery) || !strings.Contains(err.Error(), `"`+far+`" not fetched: plain http`) {
			t.Errorf("DiscoverAuthServer(%s) = %v, want a refusal naming it", far, err)
		}
	})
}

// TestMetadataRedirects: a metadata GET follows a redirect on its own host
// but not one to another host, which receives nothing.
func TestMetadataRedirects(t *testing.T) {
	other := otherhost.Start(t, nil)
	d := newDocServer(t, map[string]string{"/moved": asDoc}, nil, "")
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-authorization-server/here", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/moved", http.StatusFound)
	})
	mux.HandleFunc("/.well-known/oauth-authorization-server/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/.well-known/oauth-authorization-server", http.StatusFound)
	})
	mux.HandleFunc("/.well-known/openid-configuration/away", http.NotFound)
	mux.HandleFunc("/away/.well-known/openid-configuration", http.NotFound)
	mux.Handle("/", d.srv.Config.Handler)
	d.srv.Config.Handler = mux

	// The document at /moved names {issuer} = the server itself, not
	// .../here: the redirect is followed, then the issuer check refuses it.
	_, err := DiscoverAuthServer(t.Context(), nil, d.srv.URL+"/here")
	if err == nil || !strings.Contains(err.Error(), "/.well-known/oauth-authorization-server/here: HTTP 200: issuer") {
		t.Errorf("DiscoverAuthServer(/here) = %v, want the same-host redirect followed (then the issuer mismatch)", err)
	}
	_, err = DiscoverAuthServer(t.Context(), nil, d.srv.URL+"/away")
	want := "HTTP 302: redirect to " + other.URL + "/.well-known/oauth-authorization-server not followed"
	if !errors.Is(err, ErrDiscovery) || !strings.Contains(err.Error(), want) {
		t.Errorf("DiscoverAuthServer(/away) = %v, want the hop %q", err, want)
	}
	if got := other.Received(); len(got) != 0 {
		t.Errorf("the other host received %q, want nothing", got)
	}
}

// TestDiscoverResourceTrusting: the trust decision comes before any request
// to the authorization server; its error is returned as is.
func TestDiscoverResourceTrusting(t *testing.T) {
	other := otherhost.Start(t, nil)
	d := newDocServer(t, map[string]string{
		"/.well-known/oauth-protected-resource/mcp": `{"resource":"{base}/mcp","authorization_servers":["` + other.URL + `"]}`,
	}, nil, `Bearer resource_metadata="{base}/.well-known/oauth-protected-resource/mcp"`)
	refused := errors.New("not trusted")
	var named string
	_, err := DiscoverResourceTrusting(t.Context(), nil, d.srv.URL+"/mcp", nil, func(found *Discovered) error {
		named = found.Resource.AuthorizationServers[0]
		if found.ResourceMetadataURL != d.srv.URL+"/.well-known/oauth-protected-resource/mcp" || found.AuthServer.Issuer != "" {
			t.Errorf("trust got %+v, want the resource metadata and no server metadata yet", found)
		}
		return refused
	})
	if err != refused || named != other.URL {
		t.Errorf("DiscoverResourceTrusting() = %v after trust saw %q, want %v for %s", err, named, refused, other.URL)
	}
	if got := other.Received(); len(got) != 0 {
		t.Errorf("the untrusted server received %q, want nothing", got)
	}
	// Trusted, discovery goes on to the server.
	got, err := DiscoverResourceTrusting(t.Context(), nil, d.srv.URL+"/mcp", nil, func(*Discovered) error { return nil })
	if err != nil || got.AuthServer.TokenEndpoint != other.URL+"/token" {
		t.Errorf("DiscoverResourceTrusting(trusting) = %+v, %v, want the server's token endpoint", got, err)
	}
}
