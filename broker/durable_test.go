package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
	"github.com/roostmq/roost/store"
)

// startOn serves a broker on st until the returned stop function (also run
// at cleanup) shuts it down, which closes st.
func startOn(t *testing.T, st store.Store, modify func(*Options)) (*Server, string, func()) {
	t.Helper()
	opts := DefaultOptions()
	opts.SysInterval = 0
	opts.Listen = nil
	opts.Store = st
	if modify != nil {
		modify(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			if err := <-done; !errors.Is(err, ErrServerClosed) {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return s, ln.Addr().String(), stop
}

func openDisk(t *testing.T, dir string) *store.Disk {
	t.Helper()
	d, err := store.OpenDisk(dir, store.DiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Everything a restart must keep comes back from the disk store: sessions
// with their subscriptions, queued messages, messages in flight with their
// packet ids and PUBREL state, inbound QoS 2 ids (a resent PUBLISH is not
// routed twice), retained messages and a will waiting on its delay.
func TestDurableRestart(t *testing.T) {
	eachVersion(t, func(t *testing.T, v packet.Version) {
		dir := t.TempDir()
		_, addr, stop := startOn(t, openDisk(t, dir), nil)

		sub, _ := connect(t, addr, v, persistent("sub", v, 3600))
		sub.subscribe(sub1("d/#", 2))
		sub.disconnect()

		infl, _ := connect(t, addr, v, persistent("infl", v, 3600))
		infl.subscribe(sub1("i/#", 2))

		pub := clean(t, addr, v, "pub")
		for _, q := range []byte{1, 2, 1, 2} {
			pub.publish("d/x", string('0'+q), q, false)
		}
		pub.publish("r/x", "kept", 1, true)
		pub.publish("i/2", "two", 2, false)
		p2 := infl.pub() // QoS 2: PUBREC sent, PUBCOMP not
		infl.send(&packet.Pubrec{Ack: packet.Ack{PacketID: p2.PacketID}})
		infl.expect(packet.PUBREL)
		pub.publish("i/1", "one", 1, false)
		p1 := infl.pub() // QoS 1: never acknowledged
		infl.drop()

		in, _ := connect(t, addr, v, persistent("in", v, 3600))
		in.sendPub(&packet.Publish{QoS: 2, PacketID: 9, Topic: []byte("d/in"), Payload: []byte("once")})
		in.drop()

		if v == packet.V5 {
			w := persistent("will", v, 3600)
			withWill(w, "d/will", "bye", 1, false)
			w.WillProperties.WillDelay = 1
			w.WillProperties.Set(packet.PropWillDelay)
			wp, _ := connect(t, addr, v, w)
			wp.drop()
		}
		pub.disconnect()
		stop()

		s2, addr, _ := startOn(t, openDisk(t, dir), nil)
		// The inbound QoS 2 id survived: the resend is answered, not routed.
		in, ack := connect(t, addr, v, persistent("in", v, 3600))
		eq(t, "in: session present", ack.SessionPresent, true)
		dup := &packet.Publish{Dup: true, QoS: 2, PacketID: 9, Topic: []byte("d/in"), Payload: []byte("once")}
		in.sendPub(dup)
		in.send(&packet.Pubrel{Ack: packet.Ack{PacketID: 9}})
		in.expect(packet.PUBCOMP)

		sub, ack = connect(t, addr, v, persistent("sub", v, 3600))
		eq(t, "sub: session present", ack.SessionPresent, true)
		want := []string{"d/x 1", "d/x 2", "d/x 1", "d/x 2", "d/in once"}
		if v == packet.V5 {
			want = append(want, "d/will bye")
		}
		eq(t, "delivered after restart", fmt.Sprint(collect(sub, len(want))), fmt.Sprint(want))
		if err := s2.Publish("d/marker", []byte("m"), 0, false); err != nil {
			t.Fatal(err)
		}
		eq(t, "nothing more", fmt.Sprint(collect(sub, 1)), "[d/marker m]")

		infl, ack = connect(t, addr, v, persistent("infl", v, 3600))
		eq(t, "infl: session present", ack.SessionPresent, true)
		rel := infl.expect(packet.PUBREL).(*packet.Pubrel)
		eq(t, "PUBREL id", rel.PacketID, p2.PacketID)
		again := infl.pub()
		eq(t, "resent id", again.PacketID, p1.PacketID)
		eq(t, "resent DUP", again.Dup, true)
		eqBytes(t, "resent payload", again.Payload, "one")

		r := clean(t, addr, v, "r")
		r.subscribe(sub1("r/#", 1))
		got := r.receive()
		eqBytes(t, "retained", got.Payload, "kept")
		eq(t, "retain flag", got.Retain, true)
	})
}

// collect reads n PUBLISHes ("topic payload"), completing every QoS flow
// as the packets come, interleaved or not.
func collect(p *peer, n int) []string {
	p.t.Helper()
	var got []string
	for len(got) < n {
		pk, err := p.read(peerTimeout)
		if err != nil {
			p.t.Fatalf("after %v: %v", got, err)
		}
		switch pk := pk.(type) {
		case *packet.Publish:
			got = append(got, string(pk.Topic)+" "+string(pk.Payload))
			switch pk.QoS {
			case 1:
				p.send(&packet.Puback{Ack: packet.Ack{PacketID: pk.PacketID}})
			case 2:
				p.send(&packet.Pubrec{Ack: packet.Ack{PacketID: pk.PacketID}})
			}
		case *packet.Pubrel:
			p.send(&packet.Pubcomp{Ack: packet.Ack{PacketID: pk.PacketID}})
		default:
			p.t.Fatalf("unexpected %v", pk.Type())
		}
	}
	return got
}

// sub1 is a subscription to filter at qos.
func sub1(filter string, qos byte) packet.Subscription { return sub(filter, qos) }

// An offline durable session keeps its queue on disk, not in memory, within
// its budget; the count survives a restart.
func TestDurableOfflineQueueOnDisk(t *testing.T) {
	dir := t.TempDir()
	limit := func(o *Options) { o.Limits.MaxQueuedMessages = 5 }
	s, addr, stop := startOn(t, openDisk(t, dir), limit)
	sub, _ := connect(t, addr, packet.V311, persistent("q", packet.V311, 0))
	sub.subscribe(sub1("q/#", 1))
	sub.disconnect()
	waitDetached(t, s, "q")
	pub := clean(t, addr, packet.V311, "pub")
	for i := range 8 {
		pub.publish("q/x", string(rune('a'+i)), 1, false)
	}
	s.mu.Lock()
	ss := s.sessions["q"]
	s.mu.Unlock()
	ss.mu.Lock()
	inMem, total, dropped := len(ss.queue)+len(ss.inflight), ss.queuedLocked(), ss.droppedLocked(DropQueueFull)
	ss.mu.Unlock()
	eq(t, "messages in memory", inMem, 0)
	eq(t, "queued", total, 5)
	eq(t, "dropped", dropped, uint64(3))
	pub.disconnect()
	stop()

	s, addr, _ = startOn(t, openDisk(t, dir), limit)
	s.mu.Lock()
	ss = s.sessions["q"]
	s.mu.Unlock()
	ss.mu.Lock()
	total = ss.queuedLocked()
	ss.mu.Unlock()
	eq(t, "queued after restart", total, 5)
	sub, _ = connect(t, addr, packet.V311, persistent("q", packet.V311, 0))
	for _, want := range []string{"a", "b", "c", "d", "e"} {
		sub.expectPub("q/x", want)
	}
	sub.expectNothing(100 * time.Millisecond)
}

// gateStore holds every Sync while hold is set, until one is released.
type gateStore struct {
	*store.Memory
	hold atomic.Bool
	gate chan struct{}
}

func (g *gateStore) Sync() error {
	if g.hold.Load() {
		<-g.gate
	}
	return g.Memory.Sync()
}

// PUBACK and PUBREC for a message Roost keeps are sent only after the store
// synced it. [principle 2]
func TestAckWaitsForSync(t *testing.T) {
	g := &gateStore{Memory: store.NewMemoryDurable(), gate: make(chan struct{})}
	_, addr, _ := startOn(t, g, nil)
	sub, _ := connect(t, addr, packet.V311, persistent("s", packet.V311, 0))
	sub.subscribe(sub1("t", 2))
	sub.disconnect()
	pub := clean(t, addr, packet.V311, "p")
	other := clean(t, addr, packet.V311, "o")
	other.subscribe(sub1("u", 1))
	g.hold.Store(true)
	for _, q := range []byte{1, 2} {
		pub.send(&packet.Publish{QoS: q, PacketID: uint16(q), Topic: []byte("t"), Payload: []byte("x")})
		pub.expectNothing(200 * time.Millisecond)
		g.gate <- struct{}{}
		if q == 1 {
			pub.expect(packet.PUBACK)
		} else {
			pub.expect(packet.PUBREC)
		}
	}
	// A message no durable session keeps needs no sync.
	pub.send(&packet.Publish{QoS: 1, PacketID: 3, Topic: []byte("u"), Payload: []byte("y")})
	pub.expect(packet.PUBACK)
	g.hold.Store(false)
	close(g.gate)
}

// An online durable session keeps at most queueHead queued messages in
// memory; the rest are read from disk, in order, as the window drains.
func TestDurableQueueSpillsToDisk(t *testing.T) {
	s, addr, _ := startOn(t, store.NewMemoryDurable(), nil)
	c := persistent("spill", packet.V5, 3600)
	c.Properties.ReceiveMaximum = 2
	c.Properties.Set(packet.PropReceiveMaximum)
	sub, _ := connect(t, addr, packet.V5, c)
	sub.subscribe(sub1("s", 1))
	const n = 3*queueHead + 7
	pub := clean(t, addr, packet.V311, "pub")
	for i := range n {
		pub.publish("s", fmt.Sprint(i), 1, false)
	}
	s.mu.Lock()
	ss := s.sessions["spill"]
	s.mu.Unlock()
	ss.mu.Lock()
	inMem, total := len(ss.queue), ss.queuedLocked()
	ss.mu.Unlock()
	if inMem > queueHead || total != n-2 {
		t.Fatalf("in memory %d (at most %d), queued %d (want %d)", inMem, queueHead, total, n-2)
	}
	got := collect(sub, n)
	for i, g := range got {
		if g != fmt.Sprintf("s %d", i) {
			t.Fatalf("message %d: %q", i, g)
		}
	}
}
