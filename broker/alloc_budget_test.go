package broker

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
	"github.com/roostmq/roost/topic"
)

// routeFixture is the setup BenchmarkRouteInternal and TestRouteAllocBudget share: a
// server without listeners, and sessions whose connections have no writer
// goroutine; the test takes their outbound bytes in the writer's place.
type routeFixture struct {
	s      *Server
	from   *conn
	subs   []*conn
	bufs   [][]byte // reused by take
	spares [][]byte // per subscriber, as each writer keeps its own
}

func newRouteFixture(t testing.TB, nsubs int, qos byte) *routeFixture {
	t.Helper()
	opts := DefaultOptions()
	opts.SysInterval = 0
	opts.Listen = nil
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	attach := func(id string) *conn {
		nc, other := net.Pipe()
		t.Cleanup(func() { _ = nc.Close(); _ = other.Close() })
		c := s.newConn(nc, "test")
		c.version = packet.V311
		c.clientID = id
		ss := newSession(s, id)
		ss.conn, ss.version, ss.window = c, packet.V311, 64
		c.sess = ss
		return c
	}
	f := &routeFixture{s: s, from: attach("pub")}
	for i := range nsubs {
		c := attach(fmt.Sprintf("sub-%d", i))
		s.subs.Subscribe(c.sess, benchTopic, topic.Options{QoS: qos})
		f.subs = append(f.subs, c)
	}
	f.spares = make([][]byte, nsubs)
	return f
}

// take takes subscriber i's encoded bytes as its writer would and returns
// how many there were.
func (f *routeFixture) take(i int) int {
	c := f.subs[i]
	var n int
	f.bufs, n, _ = c.out.take(f.bufs[:0], &f.spares[i])
	f.spares[i] = c.out.done(f.bufs, 0)
	return n
}

// routeOnce routes m and then does what the clients and writers would:
// acknowledges each QoS 1 delivery (PUBACK) and takes the encoded bytes.
// It fails unless m went to every subscriber, in flight for QoS 1.
func (f *routeFixture) routeOnce(t *testing.T, m *message) {
	if got := f.s.route(f.from, m); got != len(f.subs) {
		t.Fatalf("routed to %d sessions, want %d", got, len(f.subs))
	}
	f.from.flushWakes()
	for i, c := range f.subs {
		if m.qos > 0 {
			ss := c.sess
			ss.mu.Lock()
			n := len(ss.inflight)
			var id uint16
			if n == 1 {
				id = ss.inflight[0].id
			}
			ss.mu.Unlock()
			if ok, _ := ss.ack(c, id, packet.PUBACK); n != 1 || !ok {
				t.Fatalf("%s: %d messages in flight, want 1 to acknowledge", ss.id, n)
			}
		}
		if f.take(i) == 0 {
			t.Fatalf("%s: nothing encoded", c.clientID)
		}
	}
}

// TestRouteAllocBudget asserts the allocations of Server.route, the path
// BenchmarkRouteInternal measures (match in the topic index, merge, encode
// into each subscriber's outbound buffer), per routed message:
//
//   - QoS 0, to 1 or 100 subscribers: 0. The match cache, the route
//     scratch buffers and the outbound buffers are reused, and a QoS 0
//     delivery keeps nothing.
//   - QoS 1, to 1 subscriber: 1; to 100 subscribers: 100. Each delivery
//     keeps one in-flight record (outMsg) until its PUBACK, which is the
//     only allocation per subscriber.
//
// The budgets are the measured values: a new allocation on this path fails
// here (and a change that removes one should lower the budget). The
// acknowledgements and the taking of the outbound bytes run inside the
// measured function and allocate nothing themselves.
func TestRouteAllocBudget(t *testing.T) {
	for _, tc := range []struct {
		qos    byte
		subs   int
		budget float64
	}{
		{0, 1, 0},
		{0, 100, 0},
		{1, 1, 1},
		{1, 100, 100},
	} {
		t.Run(fmt.Sprintf("qos=%d/subs=%d", tc.qos, tc.subs), func(t *testing.T) {
			f := newRouteFixture(t, tc.subs, tc.qos)
			m := &message{topic: benchTopic, qos: tc.qos, payload: bytes.Repeat([]byte{'x'}, benchPayload), created: time.Now()}
			f.routeOnce(t, m) // grows the scratch and outbound buffers to size
			allocs := testing.AllocsPerRun(200, func() { f.routeOnce(t, m) })
			if allocs > tc.budget {
				t.Errorf("%v allocations per routed message, budget %v", allocs, tc.budget)
			}
			if d := f.s.stats.dropped[DropPendingFull].Load(); d != 0 {
				t.Errorf("%d messages dropped", d)
			}
		})
	}
}
