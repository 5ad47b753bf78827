package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// versionFlag is how the Makefile stamps the version; the image builds must agree.
const versionFlag = "-X github.com/agentcore-proxy/agentcore-proxy/internal/cli.Version="

// instructions returns a Dockerfile's instructions (continuations joined,
// comments dropped), each as "KEYWORD rest".
func instructions(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var cur string
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || trimmed == "" && cur == "" {
			continue
		}
		if more, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur += more + " "
			continue
		}
		cur += trimmed
		if cur != "" {
			out = append(out, cur)
		}
		cur = ""
	}
	return out
}

func TestDockerfiles(t *testing.T) {
	for _, file := range []string{"Dockerfile", "Dockerfile.scratch"} {
		t.Run(file, func(t *testing.T) {
			ins := instructions(t, file)
			var final []string // the last stage
			for _, in := range ins {
				if strings.HasPrefix(in, "FROM ") {
					final = nil
				}
				final = append(final, in)
			}
			want := []string{
				"FROM scratch",
				"USER 65532:65532",
				`ENTRYPOINT ["/agentcore-proxy"]`,
				`CMD ["serve"]`,
			}
			for _, w := range want {
				if !slices.Contains(final, w) {
					t.Errorf("%s: final stage lacks %q", file, w)
				}
			}
			if !slices.ContainsFunc(final, func(s string) bool {
				return strings.HasPrefix(s, "HEALTHCHECK ") && strings.HasSuffix(s, `CMD ["/agentcore-proxy", "healthcheck"]`)
			}) {
				t.Errorf("%s: no HEALTHCHECK running /agentcore-proxy healthcheck", file)
			}
			if !slices.ContainsFunc(final, func(s string) bool {
				return strings.HasPrefix(s, "COPY ") && strings.HasSuffix(s, " /etc/ssl/certs/ca-certificates.crt")
			}) {
				t.Errorf("%s: the CA bundle is not copied to /etc/ssl/certs/ca-certificates.crt (scratch has none; the proxy talks https)", file)
			}
			for _, l := range []string{"title", "description", "source", "version", "revision"} {
				if !slices.ContainsFunc(final, func(s string) bool {
					return strings.HasPrefix(s, "LABEL ") && strings.Contains(s, "org.opencontainers.image."+l+"=")
				}) {
					t.Errorf("%s: no OCI label org.opencontainers.image.%s", file, l)
				}
			}
			if slices.ContainsFunc(final, func(s string) bool { return strings.HasPrefix(s, "RUN ") }) {
				t.Errorf("%s: the final stage has a RUN step; a scratch image has no shell", file)
			}
		})
	}
	// The builds stamp the version as the Makefile does, statically.
	for _, file := range []string{"Dockerfile", "build-image.sh", "../Makefile"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for _, w := range []string{versionFlag, "-s -w"} {
			if !strings.Contains(s, w) {
				t.Errorf("%s: no %q", file, w)
			}
		}
		if file != "../Makefile" {
			for _, w := range []string{"CGO_ENABLED=0", "-trimpath"} {
				if !strings.Contains(s, w) {
					t.Errorf("%s: no %s", file, w)
				}
			}
		}
	}
	if _, err := os.Stat("../internal/cli"); err == nil {
		b, err := exec.Command("grep", "-rn", `^\s*Version\s*=\|^var Version`, "../internal/cli").CombinedOutput()
		if err != nil || len(b) == 0 {
			t.Errorf("../internal/cli declares no Version variable for %s", versionFlag)
		}
	}
}

// composeFile mirrors the parts of the compose specification used here;
// unknown keys fail.
type composeFile struct {
	Name     string
	Services map[string]struct {
		Build *struct {
			Context    string
			Dockerfile string
			Args       map[string]string
		}
		Image       string
		Command     []string
		Entrypoint  []string
		Ports       []string
		ReadOnly    bool     `yaml:"read_only"`
		CapDrop     []string `yaml:"cap_drop"`
		SecurityOpt []string `yaml:"security_opt"`
		User        string
		Healthcheck *struct {
			Test        []string
			Interval    string
			Timeout     string
			Retries     int
			StartPeriod string `yaml:"start_period"`
		}
		NetworkMode string `yaml:"network_mode"`
		DependsOn   map[string]struct {
			Condition string
		} `yaml:"depends_on"`
		Environment map[string]string
	}
}

func TestCompose(t *testing.T) {
	f, err := os.Open("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	var c composeFile
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	proxy, ok := c.Services["agentcore-proxy"]
	if !ok {
		t.Fatalf("compose.yaml: no agentcore-proxy service")
	}
	if proxy.Build == nil {
		t.Fatalf("agentcore-proxy: no build")
	}
	if _, err := os.Stat(filepath.Join(proxy.Build.Context, proxy.Build.Dockerfile)); err != nil {
		t.Errorf("agentcore-proxy build: %v", err)
	}
	if _, err := os.Stat(filepath.Join(proxy.Build.Context, "go.mod")); err != nil {
		t.Errorf("agentcore-proxy build context %s is not the repository root: %v", proxy.Build.Context, err)
	}
	if len(proxy.Command) == 0 || proxy.Command[0] != "demo" {
		t.Errorf("agentcore-proxy command = %v, want demo (the emulator is the upstream)", proxy.Command)
	}
	for _, p := range proxy.Ports {
		if !strings.HasPrefix(p, "127.0.0.1:") {
			t.Errorf("agentcore-proxy publishes %q; want 127.0.0.1 only (it runs without an inbound token)", p)
		}
	}
	if !proxy.ReadOnly || !slices.Equal(proxy.CapDrop, []string{"ALL"}) || proxy.User != "65532:65532" {
		t.Errorf("agentcore-proxy read_only = %v, cap_drop = %v, user = %q; want true, [ALL], 65532:65532", proxy.ReadOnly, proxy.CapDrop, proxy.User)
	}
	agent, ok := c.Services["agent"]
	if !ok {
		t.Fatalf("compose.yaml: no agent service")
	}
	if agent.NetworkMode != "service:agentcore-proxy" {
		t.Errorf("agent network_mode = %q, want service:agentcore-proxy (loopback, as in a pod)", agent.NetworkMode)
	}
	if agent.DependsOn["agentcore-proxy"].Condition != "service_healthy" {
		t.Errorf("agent depends_on = %+v, want agentcore-proxy service_healthy", agent.DependsOn)
	}
	if !regexp.MustCompile(`^http://127\.0\.0\.1:8080/mcp$`).MatchString(agent.Environment["MCP_SERVER_URL"]) {
		t.Errorf("agent MCP_SERVER_URL = %q, want http://127.0.0.1:8080/mcp", agent.Environment["MCP_SERVER_URL"])
	}
}

// TestShellcheck runs shellcheck on every shell script here and on .ci/run.
func TestShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Fatal("shellcheck not found: apt-get install -y shellcheck")
	}
	scripts, err := filepath.Glob("*.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, ci := range []string{"../.ci/run", "../.ci/install-deps"} {
		if _, err := os.Stat(ci); err == nil {
			scripts = append(scripts, ci)
		}
	}
	if len(scripts) < 2 {
		t.Fatalf("scripts = %v, want build-image.sh and smoke-test.sh at least", scripts)
	}
	for _, s := range scripts {
		if out, err := exec.Command(sc, "--shell=bash", s).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", s, err, out)
		}
		if fi, err := os.Stat(s); err == nil && fi.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable", s)
		}
	}
}
