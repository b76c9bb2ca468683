package broker

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// Panic containment (review H2; docs/architecture.md, "Failure
// containment"): a panic injected at each point where the broker contains
// one closes only the connection whose goroutine it hit (or ends one round
// of a background task), leaves no lock held, and is counted.

// containInjector panics once at the point it is armed for.
type containInjector struct {
	mu    sync.Mutex
	point string
	fired chan string
}

func newContainInjector() *containInjector {
	return &containInjector{fired: make(chan string, 1)}
}

func (in *containInjector) arm(point string) {
	in.mu.Lock()
	in.point = point
	in.mu.Unlock()
}

func (in *containInjector) at(point string) {
	in.mu.Lock()
	hit := in.point == point
	if hit {
		in.point = ""
	}
	in.mu.Unlock()
	if hit {
		in.fired <- point
		panic("injected panic at " + point)
	}
}

// waitFired waits for the armed panic to happen.
func (in *containInjector) waitFired(t *testing.T, point string) {
	t.Helper()
	select {
	case p := <-in.fired:
		if p != point {
			t.Fatalf("panic at %s, want %s", p, point)
		}
	case <-time.After(peerTimeout):
		t.Fatalf("no panic at %s", point)
	}
}

func startContained(t *testing.T, modify func(*Options)) (*Server, string, *containInjector) {
	t.Helper()
	in := newContainInjector()
	s, addr := startServer(t, func(o *Options) {
		o.testPanicAt = in.at
		if modify != nil {
			modify(o)
		}
	})
	return s, addr, in
}

// containStats returns Stats, failing the test if it blocks (a lock left
// held).
func containStats(t *testing.T, s *Server) Stats {
	t.Helper()
	ch := make(chan Stats, 1)
	go func() { ch <- s.Stats() }()
	select {
	case st := <-ch:
		return st
	case <-time.After(peerTimeout):
		t.Fatal("Stats blocked: a lock stays held")
		return Stats{}
	}
}

// containHealthy checks that the broker still serves everyone: Stats
// returns, it counted want panics, a new client connects and subscribes,
// and a QoS 1 publish reaches it and the given old subscribers of
// "contain/#".
func containHealthy(t *testing.T, s *Server, addr string, want uint64, old ...*peer) {
	t.Helper()
	if st := containStats(t, s); st.Panics != want {
		t.Fatalf("Stats.Panics %d, want %d", st.Panics, want)
	}
	id := fmt.Sprintf("contain-check-%d", time.Now().UnixNano())
	fresh := clean(t, addr, packet.V5, id)
	fresh.subscribe(sub("contain/#", 1))
	pub := clean(t, addr, packet.V311, id+"-pub")
	pub.publish("contain/check", id, 1, false)
	for _, p := range append([]*peer{fresh}, old...) {
		p.expectPub("contain/check", id)
	}
	fresh.disconnect()
	pub.disconnect()
}

// A panic while a PUBLISH is encoded for a subscriber (under that
// subscriber's outbound lock, on the publisher's reader) closes the
// publisher's connection; the subscriber's lock is released, so it goes
// on receiving and its PINGRESP comes.
func TestContainPanicEncoding(t *testing.T) {
	s, addr, in := startContained(t, nil)
	subscriber := clean(t, addr, packet.V311, "contain-sub")
	subscriber.subscribe(sub("contain/#", 0))
	pub := clean(t, addr, packet.V311, "contain-pub")
	in.arm("encode")
	pub.send(&packet.Publish{Topic: []byte("contain/x"), Payload: []byte("boom")})
	in.waitFired(t, "encode")
	pub.closedWithin(peerTimeout)
	subscriber.send(&packet.Pingreq{})
	subscriber.expect(packet.PINGRESP)
	containHealthy(t, s, addr, 1, subscriber)
}

// A panic while a resumed session is attached to its new connection (its
// stored messages decoded and resent, under the session's lock) closes
// that connection only; the session's lock is released, so the client can
// connect again and gets its message.
func TestContainPanicClaim(t *testing.T) {
	s, addr, in := startContained(t, nil)
	p, _ := connect(t, addr, packet.V5, persistent("contain-claim", packet.V5, 300))
	p.subscribe(sub("contain/#", 1))
	p.drop()
	waitDetached(t, s, "contain-claim")
	if err := s.Publish("contain/queued", []byte("waiting"), 1, false); err != nil {
		t.Fatal(err)
	}
	in.arm("claim")
	p2 := dial(t, addr, packet.V5)
	c := persistent("contain-claim", packet.V5, 300)
	c.Version = packet.V5
	p2.send(c)
	in.waitFired(t, "claim")
	p2.closedWithin(peerTimeout)
	p3, ack := connect(t, addr, packet.V5, persistent("contain-claim", packet.V5, 300))
	if !ack.SessionPresent {
		t.Fatal("session lost after the panic")
	}
	p3.expectPub("contain/queued", "waiting")
	containHealthy(t, s, addr, 1, p3)
}

// A panic in a connection's writer closes that connection; the reader ends
// it as after a write error (the session goes offline, the will fires).
func TestContainPanicWriter(t *testing.T) {
	s, addr, in := startContained(t, nil)
	watcher := clean(t, addr, packet.V311, "contain-watch")
	watcher.subscribe(sub("contain/#", 1))
	victim, _ := connect(t, addr, packet.V311, withWill(&packet.Connect{ClientID: []byte("contain-w"), CleanStart: true},
		"contain/will", "gone", 1, false))
	in.arm("writer")
	victim.send(&packet.Pingreq{})
	in.waitFired(t, "writer")
	victim.closedWithin(peerTimeout)
	watcher.expectPub("contain/will", "gone")
	waitGone(t, s, "contain-w")
	containHealthy(t, s, addr, 1, watcher)
}

// A handler that panics on the reader (here the OnPublish hook) closes
// that connection, and it is ended as after any error: its session goes
// and its will is published.
func TestContainPanicReader(t *testing.T) {
	s, addr, _ := startContained(t, func(o *Options) {
		o.Hooks.OnPublish = func(id, _ string, _ byte, _ int) {
			if id == "contain-r" {
				panic("hook")
			}
		}
	})
	watcher := clean(t, addr, packet.V311, "contain-watch")
	watcher.subscribe(sub("contain/#", 1))
	victim, _ := connect(t, addr, packet.V311, withWill(&packet.Connect{ClientID: []byte("contain-r"), CleanStart: true},
		"contain/will", "gone", 1, false))
	victim.send(&packet.Publish{Topic: []byte("contain/x"), Payload: []byte("boom")})
	victim.closedWithin(peerTimeout)
	watcher.expectPub("contain/will", "gone")
	waitGone(t, s, "contain-r")
	containHealthy(t, s, addr, 1, watcher)
}

// A panicking timer callback (session expiry here) ends only itself.
func TestContainPanicTimer(t *testing.T) {
	clock := newFakeClock()
	s, addr, in := startContained(t, func(o *Options) { o.Clock = clock })
	p, _ := connect(t, addr, packet.V5, persistent("contain-t", packet.V5, 10))
	p.disconnect()
	waitDetached(t, s, "contain-t")
	in.arm("timer")
	clock.Advance(10 * time.Second) // the panic is contained on this goroutine
	in.waitFired(t, "timer")
	containHealthy(t, s, addr, 1)
}

// A panic in a round of $SYS publishing ends that round; the next comes.
func TestContainPanicSys(t *testing.T) {
	s, addr, in := startContained(t, func(o *Options) { o.SysInterval = 20 * time.Millisecond })
	in.arm("sys")
	in.waitFired(t, "sys")
	watcher := clean(t, addr, packet.V311, "contain-sys")
	watcher.subscribe(sub("$SYS/broker/uptime", 0))
	watcher.pub() // the retained one
	watcher.pub() // a later round
	containHealthy(t, s, addr, 1)
}

// A panic in a hibernation sweep ends that sweep; the sweeper goes on and
// connections still hibernate and wake.
func TestContainPanicSweep(t *testing.T) {
	s, addr, in := startContained(t, func(o *Options) { o.HibernateAfter = hibernateAfter })
	if s.hib == nil {
		t.Skip("connections do not hibernate on this platform")
	}
	p := clean(t, addr, packet.V311, "contain-sweep")
	in.arm("sweep")
	in.waitFired(t, "sweep")
	waitHibernating(t, s, 1)
	p.send(&packet.Pingreq{})
	p.expect(packet.PINGRESP)
	containHealthy(t, s, addr, 1)
}

// A panic in the hibernation poller (while it holds its lock) stops it;
// every parked connection is woken, none parks again, and the lock is
// free.
func TestContainPanicPoller(t *testing.T) {
	s, addr, in := startContained(t, func(o *Options) { o.HibernateAfter = hibernateAfter })
	if s.hib == nil {
		t.Skip("connections do not hibernate on this platform")
	}
	p := clean(t, addr, packet.V311, "contain-poll")
	waitHibernating(t, s, 1)
	in.arm("poll")
	p.send(&packet.Pingreq{})
	in.waitFired(t, "poll")
	p.expect(packet.PINGRESP)
	waitFor(t, "no connection hibernating", func() bool { return containStats(t, s).ClientsHibernating == 0 })
	containHealthy(t, s, addr, 1)
	p.send(&packet.Pingreq{})
	p.expect(packet.PINGRESP)
}

// An in-process subscriber whose function panics loses its subscription's
// deliveries; nothing else is affected, and unsubscribe still returns.
func TestContainPanicInProcessSubscriber(t *testing.T) {
	s, addr, _ := startContained(t, nil)
	unsub, err := s.Subscribe("contain/#", func(Message) { panic("subscriber") })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Publish("contain/x", []byte("boom"), 0, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the panic to be counted", func() bool { return containStats(t, s).Panics == 1 })
	containHealthy(t, s, addr, 1)
	unsub()
}

// containPanicAuthz may block on receive checks (so they run on the
// checker goroutine) and panics when asked about one topic.
type containPanicAuthz struct{}

func (containPanicAuthz) Authorize(_, _ string, access Access, name string) bool {
	if access == AccessReceive && name == "contain/boom" {
		panic("authorizer")
	}
	return true
}

func (containPanicAuthz) TryAuthorizeReceive(_, _, _ string) (bool, bool) { return false, false }

func (containPanicAuthz) ReceiveMayBlock() bool { return true }

// A panic in the goroutine that runs deferred receive checks (here the
// Authorizer's) loses that delivery only: the checker goes on with the
// next.
func TestContainPanicReceiveChecker(t *testing.T) {
	s, addr, _ := startContained(t, func(o *Options) { o.Authorizer = containPanicAuthz{} })
	subscriber := clean(t, addr, packet.V5, "contain-recv")
	subscriber.subscribe(sub("contain/#", 1))
	pub := clean(t, addr, packet.V5, "contain-recv-pub")
	pub.publish("contain/boom", "lost", 1, false)
	waitFor(t, "the panic to be counted", func() bool { return containStats(t, s).Panics == 1 })
	pub.publish("contain/ok", "after", 1, false)
	subscriber.expectPub("contain/ok", "after")
	containHealthy(t, s, addr, 1, subscriber)
}
