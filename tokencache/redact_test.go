package tokencache

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestEchoingIdPRedacted: a token endpoint that quotes the Authorization
// header and the form body it got, in error_description (400
// invalid_client) and in a 500 body, gets neither the secret nor the Basic
// credentials into the error or the log: their fingerprint stands there.
func TestEchoingIdPRedacted(t *testing.T) {
	const secret = "s3cr3t+with/odd=chars"
	basicPlain := base64.StdEncoding.EncodeToString([]byte(testClientID + ":" + secret))
	basicForm := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(testClientID) + ":" + url.QueryEscape(secret)))
	leaks := []string{secret, url.QueryEscape(secret), basicPlain, basicForm}
	label := "[secret sha256:" + Fingerprint(secret) + "]"
	for _, tc := range []struct {
		name   string
		status int
		style  AuthStyle
		want   error
	}{
		{name: "400 invalid_client, Basic", status: 400, style: AuthStyleBasic, want: ErrInvalidClient},
		{name: "400 invalid_client, post", status: 400, style: AuthStylePost, want: ErrInvalidClient},
		{name: "401 other, Basic", status: 401, style: AuthStyleBasic, want: ErrTokenEndpoint},
		{name: "500, post", status: 500, style: AuthStylePost, want: ErrTokenEndpoint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				echo := "you sent " + r.Header.Get("Authorization") + " and " + string(body)
				code := "invalid_client"
				if tc.status != 400 {
					code = "server_error"
				}
				b, _ := json.Marshal(map[string]string{"error": code, "error_description": echo})
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				w.Write(b)
			}))
			defer srv.Close()
			var logs syncBuffer
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c, err := New(ctx, Config{TokenURL: srv.URL, ClientID: testClientID, ClientSecret: secret, AuthStyle: tc.style, MaxAttempts: 1,
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Token(ctx)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Token() = %v, want %v", err, tc.want)
			}
			cancel()
			<-c.Done()
			for _, leak := range leaks {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("Token() error = %q, holds %q", err, leak)
				}
				if strings.Contains(logs.String(), leak) {
					t.Errorf("log holds %q: %s", leak, logs.String())
				}
			}
			if !strings.Contains(err.Error(), label) {
				t.Errorf("Token() error = %q, want the secret's fingerprint %s", err, label)
			}
		})
	}
}
