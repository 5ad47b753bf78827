package statuspage

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them, such as
// one a handler might start for a request and not end with it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
