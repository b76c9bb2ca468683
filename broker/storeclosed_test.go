package broker

import (
	"testing"
)

// A retained publish from the embedding program after Shutdown meets a
// closed store: the store answers ErrClosed instead of Pebble's panic, and
// the broker carries on. (Review M5, store side.)
func TestPublishAfterShutdownOnDiskDoesNotPanic(t *testing.T) {
	s, _, stop := startOn(t, openDisk(t, t.TempDir()), nil)
	stop() // Shutdown closes the store
	if err := s.Publish("t", []byte("late"), 1, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish("t", nil, 0, true); err != nil {
		t.Fatal(err)
	}
}
