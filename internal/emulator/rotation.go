package emulator

// SetClientSecret gives the app client id a new secret, as a rotation in
// Cognito does: from now on the token endpoint answers invalid_client to
// the old one. It reports whether the client exists.
func (e *Emulator) SetClientSecret(id, secret string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	clients := append([]Client(nil), e.cfg.Clients...)
	for i := range clients {
		if clients[i].ID == id {
			clients[i].Secret = secret
			e.cfg.Clients = clients
			return true
		}
	}
	return false
}
