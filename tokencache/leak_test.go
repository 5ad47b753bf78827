package tokencache

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them, such as
// a Cache's background loop whose context was never cancelled.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
