package stdio

import (
	"context"
	"io"
	"net/http"
	"time"
)

// endSessionTimeout bounds the DELETE that ends the session at exit: the
// client is gone, so its answer only matters to the upstream.
const endSessionTimeout = 2 * time.Second

// endSession ends the upstream MCP session, if there is one, as MCP's HTTP
// transport asks of a client that no longer needs it (DELETE with the
// session id): the server can free it at once, and on AgentCore the
// microVM need not idle out. A 405 (the server keeps no sessions) or any
// failure is only logged at debug: the session then ends on its own.
func (r *relay) endSession() {
	sid, version := r.session()
	if sid == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), endSessionTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, r.endpoint, nil)
	if err != nil {
		return
	}
	req.Header.Set(headerSessionID, sid)
	if version != "" {
		req.Header.Set(headerProtocolVersion, version)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		r.log.Debug("stdio: ending the session failed", "err", err)
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	r.log.Debug("stdio: session ended", "status", resp.StatusCode)
}
