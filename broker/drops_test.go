package broker

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// Dropped messages: a slow consumer is disconnected by one goroutine, not
// one per dropped message (review L3), and Hooks.OnDropped runs with no
// session lock held, so it may call back into the Server (review L4).

// A subscriber that stays over its pending limit past SlowConsumerAfter
// while many QoS 0 messages are routed to it is closed once: one goroutine,
// however many messages are dropped before it is gone.
func TestDropsSlowConsumerOneGoroutine(t *testing.T) {
	var slowCloses atomic.Int32
	srv, addr := startServer(t, func(o *Options) {
		o.Limits.MaxPendingBytes = 16 << 10
		o.Limits.SlowConsumerAfter = time.Millisecond
		o.testPanicAt = func(point string) {
			if point == "slow consumer" {
				slowCloses.Add(1)
			}
		}
	})
	slow := clean(t, addr, packet.V311, "drops-slow")
	slow.subscribe(sub("drops/sc", 0))
	srv.mu.Lock()
	c := srv.sessions["drops-slow"].conn
	srv.mu.Unlock()
	// The state of a writer stuck for an hour with more than the limit
	// pending; no signal, so the writer does not take it meanwhile.
	c.out.mu.Lock()
	c.out.buf = append(c.out.buf, make([]byte, 32<<10)...)
	c.out.over = time.Now().Add(-time.Hour).UnixNano()
	c.out.mu.Unlock()
	for range 200 {
		if err := srv.Publish("drops/sc", []byte("x"), 0, false); err != nil {
			t.Fatal(err)
		}
	}
	waitGone(t, srv, "drops-slow")
	if n := slowCloses.Load(); n != 1 {
		t.Fatalf("slow consumer closed by %d goroutines, want 1", n)
	}
}

// OnDropped may call back into the Server for the client whose message
// was dropped (here Client, which takes that session's lock): it runs
// after the lock is released.
func TestDropsHookMayCallServer(t *testing.T) {
	var srv atomic.Pointer[Server]
	var mu sync.Mutex
	var seen []string
	called := make(chan struct{}, 1)
	s, addr := startServer(t, func(o *Options) {
		o.Hooks.OnDropped = func(id, topic string, why DropReason) {
			info, ok := srv.Load().Client(id)
			mu.Lock()
			seen = append(seen, why.String())
			mu.Unlock()
			if ok && info.ClientID == id {
				select {
				case called <- struct{}{}:
				default:
				}
			}
		}
	})
	srv.Store(s)
	subscriber, _ := connect5(t, addr, "drops-small", func(pr *packet.Properties) {
		pr.MaximumPacketSize = 64
		pr.Set(packet.PropMaximumPacketSize)
	})
	subscriber.subscribe(sub("drops/big", 0))
	pub := clean(t, addr, packet.V311, "drops-pub2")
	pub.publish("drops/big", strings.Repeat("x", 200), 1, false) // too large for the subscriber [MQTT-3.1.2-25]
	select {
	case <-called:
	case <-time.After(peerTimeout):
		mu.Lock()
		t.Fatalf("OnDropped did not return: it ran under the session's lock (seen %v, dropped %v)", seen, s.Stats().Dropped)
	}
	mu.Lock()
	defer mu.Unlock()
	eq(t, "drop reasons", seen, []string{DropTooLarge.String()})
}
