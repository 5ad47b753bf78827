package jwtcheck

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them, such as
// a Checker's key-set refresh loop whose context was never cancelled.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
