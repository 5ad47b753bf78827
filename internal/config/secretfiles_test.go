//go:build unix

package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExposedTo(t *testing.T) {
	tests := []struct {
		mode           fs.FileMode
		ours, ourGroup bool
		want           string
	}{
		{mode: 0o600, ours: true, ourGroup: true},
		{mode: 0o400, ours: true},
		{mode: 0o640, ours: true, ourGroup: true, want: "its group (gid 7)"},
		{mode: 0o620, ours: true, want: "its group (gid 7)"},
		{mode: 0o644, ours: true, want: "its group (gid 7) and other users"},
		{mode: 0o604, ours: true, want: "other users"},
		// Kubernetes: root owns the file, the pod's fsGroup is ours.
		{mode: 0o440, ourGroup: true},
		{mode: 0o444, ourGroup: true, want: "its group (gid 7) and other users"},
		{mode: 0o440, want: "its group (gid 7)"},
	}
	for _, tt := range tests {
		if got := exposedTo(tt.mode, tt.ours, tt.ourGroup, 7); got != tt.want {
			t.Errorf("exposedTo(%04o, ours=%v, ourGroup=%v) = %q, want %q", tt.mode, tt.ours, tt.ourGroup, got, tt.want)
		}
	}
}

// TestSecretFileExposure checks real files, through a symlink as a
// Kubernetes secret volume presents them.
func TestSecretFileExposure(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode fs.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("s3cret"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	tight, loose := write("tight", 0o600), write("loose", 0o644)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(loose, link); err != nil {
		t.Fatal(err)
	}
	tightLink := filepath.Join(dir, "tight link")
	if err := os.Symlink(tight, tightLink); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want []string // substrings; none: no exposure
	}{
		{path: tight},
		{path: tightLink},
		{path: filepath.Join(dir, "missing")},
		{path: loose, want: []string{`--client-secret-file "` + loose + `" (the app client's secret) has mode 0644`, "other users can access it", "run chmod 600 " + loose + " "}},
		{path: link, want: []string{`"` + link + `"`, "mode 0644", "run chmod 600 " + link + " "}},
	}
	for _, tt := range tests {
		got := SecretFile{Setting: "--client-secret-file", Path: tt.path, Holds: "the app client's secret"}.Exposure()
		if len(tt.want) == 0 && got != "" {
			t.Errorf("Exposure(%s) = %q, want none", tt.path, got)
		}
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("Exposure(%s) = %q, want it to contain %q", tt.path, got, w)
			}
		}
	}
	if got := (SecretFile{Setting: "--x", Path: "/a b/it's", Holds: "x"}).Exposure(); got != "" {
		t.Errorf("Exposure of a missing file = %q, want none", got)
	}
	if got, want := shellArg("/a b/it's"), `'/a b/it'\''s'`; got != want {
		t.Errorf("shellArg = %s, want %s", got, want)
	}
}

func TestSecretFiles(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "calc-secret")
	cfg, err := Parse("routes.yaml", []byte(strings.Replace(goodYAML, "SECRET", secret, 1)))
	if err != nil {
		t.Fatal(err)
	}
	routes, err := cfg.Validate(func(k string) string { return map[string]string{"WEATHER_SECRET": "w"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	files := routes[0].SecretFiles()
	if len(files) != 1 || files[0].Path != secret || files[0].Setting != "--config routes.yaml: routes[0].auth.client_secret_file" {
		t.Errorf("calculator SecretFiles() = %+v, want its client_secret_file named as in the YAML", files)
	}
	if files := routes[1].SecretFiles(); len(files) != 0 {
		t.Errorf("weather SecretFiles() = %+v, want none (the secret is in the environment)", files)
	}
	flagRoutes, err := FromFlags("127.0.0.1:0", RouteFlags{RuntimeARN: goodARN, DiscoveryURL: goodDiscovery, ClientID: "c",
		ClientKeyFile: "/keys/client.pem"}).Validate(noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if files := flagRoutes[0].SecretFiles(); len(files) != 1 || files[0].Setting != "--client-key-file" || files[0].Path != "/keys/client.pem" {
		t.Errorf("SecretFiles() = %+v, want --client-key-file /keys/client.pem", files)
	}
}
