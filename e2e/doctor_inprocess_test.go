//go:build linux

package e2e

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

// listeningSockets returns the TCP sockets this process listens on, as
// "inode local-address" (from /proc/self/fd and /proc/self/net/tcp*).
func listeningSockets() ([]string, error) {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	ours := map[string]bool{}
	for _, fd := range fds {
		if link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil {
			if inode, ok := strings.CutPrefix(link, "socket:["); ok {
				ours[strings.TrimSuffix(inode, "]")] = true
			}
		}
	}
	var out []string
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // the header line
		for sc.Scan() {
			// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) > 9 && fields[3] == "0A" && ours[fields[9]] {
				out = append(out, fields[9]+" "+fields[1])
			}
		}
		f.Close()
	}
	slices.Sort(out)
	return out, nil
}

// TestDoctorOpensNoListener: doctor runs the MCP check through the route's
// handler in process. An upstream in front of the emulator lists this
// process's listening sockets while doctor's initialize and tools/list
// pass through it: any socket beyond the emulator's and its own is one
// doctor opened, which any local process could have used to borrow the
// route's token. The output stays the healthy golden.
func TestDoctorOpensNoListener(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	target, err := url.Parse(emu.EndpointURL())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	var during [][]string
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.Header.Get("Authorization") != "" {
			l, _ := listeningSockets()
			mu.Lock()
			during = append(during, l)
			mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	before, err := listeningSockets()
	if err != nil {
		t.Skipf("cannot list sockets: %v", err)
	}
	if len(before) == 0 {
		t.Fatal("no listening sockets found, though the emulator listens: the /proc reading is broken")
	}

	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte(testClientSecret), 0o600)
	stdout, _, err := runCmd(t, nil, "doctor", "--runtime-arn", emu.RuntimeARN(), "--endpoint-url", front.URL,
		"--discovery-url", emu.DiscoveryURL(), "--client-id", testClientID, "--client-secret-file", secretFile)
	if err != nil {
		t.Fatalf("doctor: %v\n%s", err, stdout)
	}
	golden(t, "healthy", stdout)
	mu.Lock()
	defer mu.Unlock()
	if len(during) < 2 {
		t.Fatalf("the upstream saw %d authenticated POSTs, want initialize and tools/list at least", len(during))
	}
	for i, l := range during {
		if !slices.Equal(l, before) {
			t.Errorf("authenticated POST %d: the process listened on %q, before doctor on %q", i, l, before)
		}
	}
}
