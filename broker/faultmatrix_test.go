package broker

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/roostmq/roost/internal/faultconn"
	"github.com/roostmq/roost/packet"
)

// The fault matrix: every packet type a client sends, delivered to the
// broker split at every byte offset (the broker's read stops there until the
// test releases it) and cut by a connection reset at every byte offset.
//
// Split: while the broker holds part of the packet, the complete PUBLISH
// sent just before it reaches its subscriber and another client round-trips
// (review H1); once released, the packet does what it does whole.
// Reset: only that connection closes, its will goes out (the packet never
// completed, so not even a DISCONNECT counts), its session goes, nothing is
// left in the index, and another client still round-trips.
//
// The faults sit on the broker's side of the socket (faultconn wraps what the
// listener accepts), so the broker's reads stop exactly at the offset
// whatever TCP does with the client's writes.

// fmBroker is a broker whose accepted connections take the read plans
// queued with expect, in order; a connection accepted with none queued is
// not wrapped.
type fmBroker struct {
	s     *Server
	addr  string
	mu    sync.Mutex
	plans []faultconn.Plan
}

func (b *fmBroker) wrap(nc net.Conn) net.Conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.plans) == 0 {
		return nc
	}
	p := b.plans[0]
	b.plans = b.plans[1:]
	return faultconn.Wrap(nc, p, faultconn.Plan{})
}

// expect queues the read plan of the next connection accepted.
func (b *fmBroker) expect(p faultconn.Plan) {
	b.mu.Lock()
	b.plans = append(b.plans, p)
	b.mu.Unlock()
}

// startFaultBroker is startServer on a listener that wraps connections,
// with the same invariant checks at the end.
func startFaultBroker(t testing.TB, modify func(*Options)) *fmBroker {
	t.Helper()
	b := &fmBroker{}
	b.s, b.addr = startServerWrapped(t, modify, func(ln net.Listener) net.Listener {
		return &faultconn.Listener{Listener: ln, Wrap: b.wrap}
	})
	return b
}

// fmEnv is one packet type's run: the broker, a victim connection per
// offset, an observer subscribed to what the victim publishes and to its
// will, and a bystander that only round-trips with itself.
type fmEnv struct {
	t        *testing.T
	b        *fmBroker
	v        packet.Version
	victim   *peer
	obs, by  *peer
	subCount int // index entries of the observer and bystander
}

// fmStep is a setup exchange of the victim before the packet under test:
// send, then after (may be nil) checks the answer.
type fmStep struct {
	send  packet.Packet
	after func(e *fmEnv)
}

// fmCase is one packet type.
type fmCase struct {
	name   string
	only5  bool
	auth   bool // the broker runs the toy enhanced authentication; the victim logs in with it
	steps  []fmStep
	pk     packet.Packet  // the packet under test
	effect func(e *fmEnv) // what pk does once whole
	ends   bool           // pk ends the connection normally: no will
}

const fmWillTopic, fmWill = "will/victim", "gone"

// fmConnect is the victim's CONNECT: clean, with a will.
func fmConnect(v packet.Version, auth bool) *packet.Connect {
	c := withWill(&packet.Connect{Version: v, ClientID: []byte("victim"), CleanStart: true}, fmWillTopic, fmWill, 0, false)
	if auth {
		c.Properties = authProps("TOY", "0")
	}
	return c
}

// fmServerSend publishes from inside the broker to the victim's own topic.
func fmServerSend(qos byte) func(e *fmEnv) {
	return func(e *fmEnv) {
		e.victim.expect(packet.SUBACK)
		if err := e.b.s.Publish("self/victim", []byte("m"), qos, false); err != nil {
			e.t.Fatal(err)
		}
		pub := e.victim.pub()
		eq(e.t, "packet id", pub.PacketID, uint16(1))
	}
}

func fmInflightDone(e *fmEnv) {
	waitFor(e.t, "victim's inflight message acknowledged", func() bool {
		e.b.s.mu.Lock()
		ss := e.b.s.sessions["victim"]
		e.b.s.mu.Unlock()
		if ss == nil {
			return false
		}
		ss.mu.Lock()
		defer ss.mu.Unlock()
		return len(ss.inflight) == 0
	})
}

func fmExpect(t packet.Type) func(e *fmEnv) {
	return func(e *fmEnv) { e.victim.expect(t) }
}

func fmCases() []fmCase {
	subSelf := func(qos byte) *packet.Subscribe {
		return &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{sub("self/victim", qos)}}
	}
	pubP := func(qos byte, id uint16) *packet.Publish {
		return &packet.Publish{QoS: qos, PacketID: id, Topic: []byte("data/p"), Payload: []byte("P")}
	}
	obsP := func(e *fmEnv) { e.obs.expectPub("data/p", "P") }
	return []fmCase{
		{name: "CONNECT"},
		{name: "PUBLISH-q0", pk: pubP(0, 0), effect: obsP},
		{name: "PUBLISH-q1", pk: pubP(1, 7), effect: func(e *fmEnv) { e.victim.expect(packet.PUBACK); obsP(e) }},
		{name: "PUBLISH-q2", pk: pubP(2, 7), effect: func(e *fmEnv) { e.victim.expect(packet.PUBREC); obsP(e) }},
		{name: "PUBACK", steps: []fmStep{{subSelf(1), fmServerSend(1)}},
			pk: &packet.Puback{Ack: packet.Ack{PacketID: 1}}, effect: fmInflightDone},
		{name: "PUBREC", steps: []fmStep{{subSelf(2), fmServerSend(2)}},
			pk: &packet.Pubrec{Ack: packet.Ack{PacketID: 1}}, effect: fmExpect(packet.PUBREL)},
		{name: "PUBREL", steps: []fmStep{{pubP(2, 9), func(e *fmEnv) { e.victim.expect(packet.PUBREC); obsP(e) }}},
			pk: &packet.Pubrel{Ack: packet.Ack{PacketID: 9}}, effect: fmExpect(packet.PUBCOMP)},
		{name: "PUBCOMP", steps: []fmStep{{subSelf(2), fmServerSend(2)}, {&packet.Pubrec{Ack: packet.Ack{PacketID: 1}}, fmExpect(packet.PUBREL)}},
			pk: &packet.Pubcomp{Ack: packet.Ack{PacketID: 1}}, effect: fmInflightDone},
		{name: "SUBSCRIBE", pk: &packet.Subscribe{PacketID: 5, Subscriptions: []packet.Subscription{sub("x/+/y", 1)}},
			effect: fmExpect(packet.SUBACK)},
		{name: "UNSUBSCRIBE", steps: []fmStep{{subSelf(1), fmExpect(packet.SUBACK)}},
			pk: &packet.Unsubscribe{PacketID: 6, Filters: [][]byte{[]byte("self/victim")}}, effect: fmExpect(packet.UNSUBACK)},
		{name: "PINGREQ", pk: &packet.Pingreq{}, effect: fmExpect(packet.PINGRESP)},
		{name: "DISCONNECT", pk: &packet.Disconnect{}, ends: true, effect: func(e *fmEnv) { e.victim.expectClosed() }},
		{name: "AUTH", only5: true, auth: true, pk: authPacket(packet.ReAuthenticate, "TOY", "0"),
			effect: func(e *fmEnv) { e.victim.expectAuth(packet.Success) }},
	}
}

func TestFaultMatrix(t *testing.T) {
	for _, v := range bothVersions {
		for _, c := range fmCases() {
			if c.only5 && v != packet.V5 {
				continue
			}
			t.Run(vname(v)+"/"+c.name, func(t *testing.T) {
				b := startFaultBroker(t, func(o *Options) {
					if c.auth {
						o.EnhancedAuth = &toyAuth{}
					}
				})
				e := &fmEnv{t: t, b: b, v: v}
				e.obs = clean(t, b.addr, v, "observer")
				e.obs.subscribe(sub("data/#", 0), sub("will/#", 0))
				e.by = clean(t, b.addr, v, "bystander")
				e.by.subscribe(sub("rt/by", 0))
				e.subCount = b.s.subs.Count()
				size := len(fmPacket(c, v).Append(nil, v))
				for k := 0; k < size; k++ {
					e.run(c, false, k)
					e.run(c, true, k)
					if t.Failed() {
						return
					}
				}
			})
		}
	}
}

// fmPacket returns the packet under test.
func fmPacket(c fmCase, v packet.Version) packet.Packet {
	if c.pk == nil {
		return fmConnect(v, c.auth)
	}
	return c.pk
}

// run runs one offset: the packet split at byte k (reset false) or the
// connection reset at byte k.
func (e *fmEnv) run(c fmCase, reset bool, k int) {
	t := e.t
	mode := "split"
	if reset {
		mode = "reset"
	}
	t.Logf("%s at byte %d", mode, k) // shown only when the run fails
	v := e.v
	isConnect := c.pk == nil
	conn := fmConnect(v, c.auth)
	pk := fmPacket(c, v)
	var pre []byte // the victim's bytes before the packet under test
	var lead []byte
	if !isConnect {
		pre = conn.Append(nil, v)
		for _, st := range c.steps {
			pre = st.send.Append(pre, v)
		}
		lead = (&packet.Publish{Topic: []byte("data/a"), Payload: []byte("A")}).Append(nil, v)
	}
	off := int64(len(pre) + len(lead) + k)
	var fault faultconn.Fault
	release := make(chan struct{})
	if reset {
		fault = faultconn.Reset()
	} else {
		fault = faultconn.Stall(release)
	}
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	e.b.expect(faultconn.Plan{Faults: []faultconn.At{{Offset: off, Fault: fault}}})
	nc, err := net.DialTimeout("tcp", e.b.addr, peerTimeout)
	if err != nil {
		// A reset at offset 0 happens at the broker's first read, which can
		// come before the client's connect has returned: then the client
		// sees the reset as a failed connect.
		if !(reset && off == 0 && isClosedErr(err)) {
			t.Fatal(err)
		}
		<-fault.Hit()
		e.afterVictim("reset", k)
		return
	}
	t.Cleanup(func() { _ = nc.Close() })
	e.victim = &peer{t: t, nc: nc, r: packet.NewReader(nc, 1024, 0), v: v}
	if !isConnect {
		e.victim.send(conn)
		ack := e.victim.expect(packet.CONNACK).(*packet.Connack)
		eq(t, "CONNACK", ack.ReasonCode, packet.Success)
		for _, st := range c.steps {
			e.victim.send(st.send)
			if st.after != nil {
				st.after(e)
			}
		}
	}
	// One write: the broker reads them together. A reset at offset 0 may
	// beat it to the socket.
	_ = nc.SetWriteDeadline(time.Now().Add(peerTimeout))
	if _, err := nc.Write(append(lead, pk.Append(nil, v)...)); err != nil && !(reset && isClosedErr(err)) {
		t.Fatalf("write: %v", err)
	}
	select {
	case <-fault.Hit():
	case <-time.After(peerTimeout):
		t.Fatalf("%s at byte %d: the broker never read up to it", mode, k)
	}
	if !isConnect {
		e.obs.expectPub("data/a", "A") // the complete PUBLISH before the cut is routed [review H1]
	}
	e.roundTrip()
	switch {
	case reset:
		if !isConnect {
			e.obs.expectPub(fmWillTopic, fmWill) // [MQTT-3.1.2-8]: the connection closed without DISCONNECT
		}
		e.victim.expectClosed()
	default:
		close(release)
		if isConnect {
			e.victim.expect(packet.CONNACK)
		} else {
			c.effect(e)
		}
		if !c.ends {
			e.victim.disconnect() // [MQTT-3.1.2-10] the will is dropped
		}
	}
	_ = e.victim.nc.Close()
	e.afterVictim(mode, k)
}

// afterVictim checks what the victim's connection leaves behind.
func (e *fmEnv) afterVictim(mode string, k int) {
	t := e.t
	waitConns(t, e.b.s, 2)
	if hasSession(e.b.s, "victim") {
		t.Fatalf("%s at byte %d: the victim's clean session outlived its connection", mode, k)
	}
	if n := e.b.s.subs.Count(); n != e.subCount {
		t.Fatalf("%s at byte %d: %d index entries, want %d", mode, k, n, e.subCount)
	}
	// Nothing else reached the observer: no will after a clean DISCONNECT,
	// no second copy of anything.
	barrier(t, e.b.s, e.obs, "data/barrier")
	e.roundTrip()
}

// roundTrip checks that the bystander still gets its own message back.
func (e *fmEnv) roundTrip() {
	e.t.Helper()
	e.by.publish("rt/by", "ping", 0, false)
	e.by.expectPub("rt/by", "ping")
}

// TestFaultMatrixCoversClientPackets keeps the matrix honest: it covers
// every packet type a client may send.
func TestFaultMatrixCoversClientPackets(t *testing.T) {
	seen := map[packet.Type]bool{}
	for _, c := range fmCases() {
		seen[fmPacket(c, packet.V5).Type()] = true
	}
	for _, typ := range []packet.Type{packet.CONNECT, packet.PUBLISH, packet.PUBACK, packet.PUBREC, packet.PUBREL,
		packet.PUBCOMP, packet.SUBSCRIBE, packet.UNSUBSCRIBE, packet.PINGREQ, packet.DISCONNECT, packet.AUTH} {
		if !seen[typ] {
			t.Errorf("no fault-matrix case for %v", typ)
		}
	}
}
