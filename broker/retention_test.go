package broker

import (
	"os"
	"runtime"
	"testing"
	"weak"

	"github.com/roostmq/roost/packet"
)

// TestEndedSessionNotPinnedByItsMessages: once a session has ended, nothing
// the broker keeps may hold it: a retained message it published must not
// pin it (with its queue, inflight messages and subscriptions). Found by
// TestChaos's heap check: message.sender is set in route for No Local and
// never cleared, so every message a session published and that is still
// stored (a retained one, one queued for an offline subscriber) keeps the
// ended session, and whatever its own queue holds, reachable.
//
// Skipped until the fix lands: ROOST_TEST_KNOWN_LEAKS=1 runs it.
func TestEndedSessionNotPinnedByItsMessages(t *testing.T) {
	if os.Getenv("ROOST_TEST_KNOWN_LEAKS") == "" {
		t.Skip("known retention (message.sender pins ended sessions); ROOST_TEST_KNOWN_LEAKS=1 runs it")
	}
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
