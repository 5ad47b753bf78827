package route

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them, such as
// a token cache or key set a built route left running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
