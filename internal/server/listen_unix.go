//go:build unix

package server

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// listenUnix opens a unix socket of mode 0600 so that only this user can
// connect. A stale socket file is removed first; any other file at the path
// is an error.
func listenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket: remove it or choose another path", path)
		}
		os.Remove(path)
	}
	// The umask makes the socket private from the start; chmod makes sure.
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}
