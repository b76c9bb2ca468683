package broker

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves goroutines behind: every
// connection's reader and writer, timers and background loops must end with
// Shutdown.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
