package broker

import (
	"testing"
	"unsafe"
)

// TestIdleFootprint keeps what a hibernating connection holds within its
// budget: its conn and session fit the 512- and 320-byte allocation size
// classes. Rarely used state lives behind pointers (connAuth, the publish
// rate buckets, the routing scratch); a field added here must not push a
// size over, or every idle connection pays the next size class.
func TestIdleFootprint(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 512 {
		t.Errorf("conn is %d bytes, budget 512", n)
	}
	if n := unsafe.Sizeof(session{}); n > 320 {
		t.Errorf("session is %d bytes, budget 320", n)
	}
}

// TestMessageFootprint keeps a routed message within the 112-byte size
// class: every publish allocates one, and a retained message keeps it.
// The 5.0 properties live behind a pointer, nil when there are none.
func TestMessageFootprint(t *testing.T) {
	if n := unsafe.Sizeof(message{}); n > 112 {
		t.Errorf("message is %d bytes, budget 112", n)
	}
}
