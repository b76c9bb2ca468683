package broker

import (
	"net"
	"sort"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// Helpers for the publish, subscribe, retain, properties and limits tests.

// eachVersion runs fn once for MQTT 3.1.1 and once for 5.0, as subtests.
func eachVersion(t *testing.T, fn func(t *testing.T, v packet.Version)) {
	t.Helper()
	for _, v := range []packet.Version{packet.V311, packet.V5} {
		t.Run(vname(v), func(t *testing.T) { fn(t, v) })
	}
}

func vname(v packet.Version) string {
	if v == packet.V5 {
		return "v5"
	}
	return "v311"
}

// clean connects a clean-session client with the given id.
func clean(t testing.TB, addr string, v packet.Version, id string) *peer {
	t.Helper()
	p, _ := connect(t, addr, v, &packet.Connect{ClientID: []byte(id), CleanStart: true})
	return p
}

// connect5 connects a 5.0 client whose CONNECT properties props may set.
func connect5(t testing.TB, addr, id string, props func(*packet.Properties)) (*peer, *packet.Connack) {
	t.Helper()
	c := &packet.Connect{ClientID: []byte(id), CleanStart: true}
	if props != nil {
		props(&c.Properties)
	}
	return connect(t, addr, packet.V5, c)
}

// resume connects a client whose session outlives the connection: clean
// session 0 for 3.1.1, clean start 0 with a session expiry for 5.0. first
// says whether to start from a clean slate (clean start 1 with an expiry in
// 5.0; 3.1.1 has no such combination, so it connects clean first and then
// reconnects). It returns the peer and whether the session was present.
func resume(t testing.TB, addr string, v packet.Version, id string, first bool) (*peer, bool) {
	t.Helper()
	if first && v != packet.V5 {
		p := clean(t, addr, v, id)
		p.disconnect()
	}
	c := &packet.Connect{ClientID: []byte(id), CleanStart: first && v == packet.V5}
	if v == packet.V5 {
		c.Properties.SessionExpiry = 300
		c.Properties.Set(packet.PropSessionExpiry)
	}
	p, ack := connect(t, addr, v, c)
	return p, ack.SessionPresent
}

// waitDetached waits until the broker has detached the session of id.
func waitDetached(t testing.TB, s *Server, id string) {
	t.Helper()
	waitFor(t, "session "+id+" offline", func() bool {
		s.mu.Lock()
		ss := s.sessions[id]
		s.mu.Unlock()
		if ss == nil {
			return true
		}
		return !ss.online()
	})
}

// waitGone waits until the broker has removed the session of id.
func waitGone(t testing.TB, s *Server, id string) {
	t.Helper()
	waitFor(t, "session "+id+" gone", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.sessions[id] == nil
	})
}

// drop closes the socket without DISCONNECT.
func (p *peer) drop() { _ = p.nc.Close() }

// pub reads the next packet, which must be a PUBLISH, without acknowledging it.
func (p *peer) pub() *packet.Publish {
	p.t.Helper()
	return p.expect(packet.PUBLISH).(*packet.Publish)
}

// sendPub sends pub (assigning a packet id for QoS > 0 when it has none)
// and returns the first acknowledgement (PUBACK or PUBREC) without
// completing a QoS 2 flow; nil for QoS 0.
func (p *peer) sendPub(pub *packet.Publish) packet.Packet {
	p.t.Helper()
	if pub.QoS > 0 && pub.PacketID == 0 {
		pub.PacketID = p.id()
	}
	p.send(pub)
	switch pub.QoS {
	case 1:
		return p.expect(packet.PUBACK)
	case 2:
		return p.expect(packet.PUBREC)
	}
	return nil
}

// unsubscribe sends UNSUBSCRIBE and returns the UNSUBACK.
func (p *peer) unsubscribe(filters ...string) *packet.Unsuback {
	p.t.Helper()
	u := &packet.Unsubscribe{PacketID: p.id()}
	for _, f := range filters {
		u.Filters = append(u.Filters, []byte(f))
	}
	p.send(u)
	ack := p.expect(packet.UNSUBACK).(*packet.Unsuback)
	eq(p.t, "UNSUBACK packet id", ack.PacketID, u.PacketID)
	return ack
}

// subscribeWith sends a SUBSCRIBE with a subscription identifier (5.0) and
// returns the SUBACK codes.
func (p *peer) subscribeWith(id uint32, subs ...packet.Subscription) []packet.ReasonCode {
	p.t.Helper()
	s := &packet.Subscribe{PacketID: p.id(), Subscriptions: subs}
	if id != 0 {
		s.Properties.SubscriptionIDs = []uint32{id}
	}
	p.send(s)
	ack := p.expect(packet.SUBACK).(*packet.Suback)
	eq(p.t, "SUBACK packet id", ack.PacketID, s.PacketID)
	return ack.ReasonCodes
}

// receiveN receives n PUBLISHes, then acknowledges them all (so that QoS 2
// flows do not interleave with later PUBLISHes), and returns them.
func (p *peer) receiveN(n int) []*packet.Publish {
	p.t.Helper()
	pubs := make([]*packet.Publish, n)
	for i := range pubs {
		pubs[i] = p.pub()
	}
	for _, pk := range pubs {
		p.ack(pk)
	}
	return pubs
}

// payloads is receiveN returning the payloads.
func (p *peer) payloads(n int) []string {
	p.t.Helper()
	var out []string
	for _, pk := range p.receiveN(n) {
		out = append(out, string(pk.Payload))
	}
	return out
}

// quiet is how long expectNothing waits where a test proves an absence.
// Positive results are never timed; this only bounds how long a test waits
// to be reasonably sure nothing more arrives.
const quiet = 100 * time.Millisecond

// code returns the reason code of an acknowledgement packet.
func code(pk packet.Packet) packet.ReasonCode {
	switch a := pk.(type) {
	case *packet.Puback:
		return a.ReasonCode
	case *packet.Pubrec:
		return a.ReasonCode
	case *packet.Pubrel:
		return a.ReasonCode
	case *packet.Pubcomp:
		return a.ReasonCode
	}
	return 0xFF
}

func sortedIDs(ids []uint32) []uint32 {
	out := append([]uint32(nil), ids...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// setReadBuffer shrinks the client's socket receive buffer so that a
// subscriber that never reads fills up quickly.
func (p *peer) setReadBuffer(n int) {
	if tc, ok := p.nc.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(n)
	}
}
