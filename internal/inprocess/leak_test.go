package inprocess_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them, such as
// a stream copy or a transport connection that a test left open.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
