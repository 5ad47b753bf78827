// Package drain helps an http.Server shut down promptly.
package drain

import (
	"net"
	"net/http"
	"sync"
)

// CloseUnusedOnShutdown makes srv.Shutdown close at once the connections
// that have not sent a request yet. Shutdown otherwise counts such a
// connection as busy for its first 5 s (net/http, Go issue 22682), so an
// HTTP client that dialled a spare connection and sent its request on
// another one holds up a drain for that long. A request still arriving on
// such a connection fails, as it would a moment later on the closed
// listener. It sets srv.ConnState.
func CloseUnusedOnShutdown(srv *http.Server) {
	var mu sync.Mutex
	unused := make(map[net.Conn]struct{})
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		if st == http.StateNew {
			unused[c] = struct{}{}
		} else {
			delete(unused, c)
		}
	}
	srv.RegisterOnShutdown(func() {
		mu.Lock()
		defer mu.Unlock()
		for c := range unused {
			c.Close()
		}
		clear(unused)
	})
}
