package broker

import (
	"errors"
	"testing"
)

// A retained publish from the embedding program after Shutdown does not
// reach the closed store: Server.Publish returns ErrServerClosed (and the
// store would answer ErrClosed instead of Pebble's panic). (Review M5.)
func TestPublishAfterShutdownOnDiskDoesNotPanic(t *testing.T) {
	s, _, stop := startOn(t, openDisk(t, t.TempDir()), nil)
	stop() // Shutdown closes the store
	if err := s.Publish("t", []byte("late"), 1, true); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Publish after Shutdown: %v, want ErrServerClosed", err)
	}
	if err := s.Publish("t", nil, 0, true); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Publish after Shutdown: %v, want ErrServerClosed", err)
	}
}
