//go:build !unix

package server

import (
	"errors"
	"net"
)

// ErrUnixSocketUnsupported is returned for a unix:/path listen address on
// systems where the proxy cannot make a socket private to its user.
var ErrUnixSocketUnsupported = errors.New("unix sockets are supported on Linux and macOS only: listen on 127.0.0.1:PORT instead")

func listenUnix(string) (net.Listener, error) { return nil, ErrUnixSocketUnsupported }
