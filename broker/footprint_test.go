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
