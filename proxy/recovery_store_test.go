package proxy

import (
	"strconv"
	"testing"
)

// TestSessionStoreBounded checks that the remembered sessions stay within
// MaxRecoverableSessions, the oldest going first, and that a forgotten one
// (DELETE) is gone.
func TestSessionStoreBounded(t *testing.T) {
	var st sessionStore
	for i := range 3 * MaxRecoverableSessions {
		st.add(&recoverable{client: strconv.Itoa(i)})
		if i%2 == 0 {
			st.forget(strconv.Itoa(i))
		}
	}
	st.add(&recoverable{client: "last"})
	if n := len(st.byID); n > MaxRecoverableSessions {
		t.Errorf("remembered %d sessions, want at most %d", n, MaxRecoverableSessions)
	}
	if n := len(st.order); n > 2*MaxRecoverableSessions+1 {
		t.Errorf("order holds %d ids, want at most %d", n, 2*MaxRecoverableSessions+1)
	}
	if st.get("1") != nil {
		t.Error("the oldest session is still remembered")
	}
	if st.get("last") == nil || st.get(strconv.Itoa(3*MaxRecoverableSessions-1)) == nil {
		t.Error("a recent session was forgotten")
	}
	if st.get(strconv.Itoa(3*MaxRecoverableSessions-2)) != nil {
		t.Error("a session forgotten by DELETE is still remembered")
	}
}
