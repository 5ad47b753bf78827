package awssecrets

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them, such as
// a host's Serve loop or a stream that Close did not wait for.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
