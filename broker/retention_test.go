package broker

import (
	"runtime"
	"testing"
	"weak"

	"github.com/roostmq/roost/packet"
)

// TestEndedSessionNotPinnedByItsMessages: once a session has ended, nothing
// the broker keeps may hold it: a retained message it published must not
// pin it (with its queue, inflight messages and subscriptions). Found by
// TestChaos's heap check: a message kept its publisher's session (for the
// No Local check of routing), so every message a session published and that
// was still stored (a retained one, one queued for an offline subscriber)
// kept the ended session, and whatever its own queue held, reachable. The
// publisher is now a parameter of routing, not a field of the message.
func TestEndedSessionNotPinnedByItsMessages(t *testing.T) {
	s, addr := startServer(t, nil)
	p := clean(t, addr, packet.V311, "publisher")
	s.mu.Lock()
	wp := weak.Make(s.sessions["publisher"])
	s.mu.Unlock()
	p.publish("keep/this", "retained", 1, true)
	p.disconnect()
	waitGone(t, s, "publisher")
	runtime.GC()
	runtime.GC()
	if wp.Value() != nil {
		t.Fatal("the ended session is still reachable: its retained message pins it")
	}
}
