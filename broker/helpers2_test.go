package broker

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// bothVersions are the protocol levels a statement common to 3.1.1 and 5.0
// is tested under.
var bothVersions = []packet.Version{packet.V311, packet.V5}

// forVersions runs f as one subtest per protocol version.
func forVersions(t *testing.T, vs []packet.Version, f func(t *testing.T, v packet.Version)) {
	t.Helper()
	for _, v := range vs {
		t.Run("v"+v.String(), func(t *testing.T) { f(t, v) })
	}
}

// tryConnect sends c and returns the CONNACK, or nil when the broker closed
// the connection without one.
func tryConnect(t testing.TB, addr string, v packet.Version, c *packet.Connect) (*peer, *packet.Connack) {
	t.Helper()
	p := dial(t, addr, v)
	if c.Version == 0 {
		c.Version = v
	}
	p.send(c)
	pk, err := p.read(peerTimeout)
	if err != nil {
		if isClosedErr(err) {
			return p, nil
		}
		t.Fatalf("waiting for CONNACK: %v", err)
	}
	ack, ok := pk.(*packet.Connack)
	if !ok {
		t.Fatalf("got %v %+v, want CONNACK", pk.Type(), pk)
	}
	return p, ack
}

func isClosedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err)
}

// closedWithin fails unless the broker closes the connection within d; it
// returns the DISCONNECT code seen before the close (0 when none).
func (p *peer) closedWithin(d time.Duration) packet.ReasonCode {
	p.t.Helper()
	deadline := time.Now().Add(d)
	var code packet.ReasonCode
	for {
		pk, err := p.read(time.Until(deadline))
		if err != nil {
			if isClosedErr(err) {
				return code
			}
			p.t.Fatalf("waiting for close: %v", err)
		}
		if dc, ok := pk.(*packet.Disconnect); ok {
			code = dc.ReasonCode
		}
	}
}

// mustRefuse fails unless the broker refuses c: it closes the connection
// after a CONNACK carrying want, or, when want is 0, after no CONNACK at all
// (or one with a failure code, where the protocol offers no better one).
func mustRefuse(t testing.TB, addr string, v packet.Version, c *packet.Connect, want packet.ReasonCode) {
	t.Helper()
	p, ack := tryConnect(t, addr, v, c)
	switch {
	case ack == nil && want != 0:
		t.Fatalf("closed without CONNACK, want CONNACK 0x%02x", byte(want))
	case ack != nil && want != 0 && ack.ReasonCode != want:
		t.Fatalf("CONNACK 0x%02x, want 0x%02x", byte(ack.ReasonCode), byte(want))
	case ack != nil && ack.ReasonCode == 0:
		t.Fatalf("CONNACK accepted, want refusal")
	case ack != nil && ack.SessionPresent:
		t.Fatalf("refusing CONNACK has session present set") // [MQTT-3.2.2-4] (5.0: [MQTT-3.2.2-6])
	}
	if code := p.expectClosed(); code != 0 {
		t.Fatalf("DISCONNECT 0x%02x after a refused CONNECT", byte(code))
	}
}

// connected reports the number of open connections.
func connected(s *Server) int64 { return s.stats.connected.Load() }

// waitConns waits until exactly n connections are open; a closed
// connection's will and session handling are done by then.
func waitConns(t testing.TB, s *Server, n int64) {
	t.Helper()
	waitFor(t, "open connections to settle", func() bool { return connected(s) == n })
}

// hasSession reports whether the broker holds a session for id.
func hasSession(s *Server, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.sessions[id]
	return ok
}

// expectPub reads the next packet, which must be a PUBLISH on topic with
// payload; it is acknowledged and returned.
func (p *peer) expectPub(topic, payload string) *packet.Publish {
	p.t.Helper()
	got := p.receive()
	eqBytes(p.t, "topic", got.Topic, topic)
	eqBytes(p.t, "payload", got.Payload, payload)
	return got
}

// barrier publishes a marker from inside the broker and checks that it is
// the next thing sub receives: whatever the broker routed to sub before
// (a will, say) would arrive first. sub must be subscribed to topic.
func barrier(t testing.TB, s *Server, sub *peer, topic string) {
	t.Helper()
	if err := s.Publish(topic, []byte("marker"), 0, false); err != nil {
		t.Fatal(err)
	}
	sub.expectPub(topic, "marker")
}

// expiryProps returns CONNECT properties with a Session Expiry Interval.
func expiryProps(sec uint32) packet.Properties {
	var pr packet.Properties
	pr.SessionExpiry = sec
	pr.Set(packet.PropSessionExpiry)
	return pr
}

// persistent returns a CONNECT for id whose session outlives the connection:
// clean session 0 in 3.1.1, clean start 0 and the given expiry in 5.0.
func persistent(id string, v packet.Version, expiry uint32) *packet.Connect {
	c := &packet.Connect{ClientID: []byte(id)}
	if v == packet.V5 {
		c.Properties = expiryProps(expiry)
	}
	return c
}

// withWill adds a will on topic to c.
func withWill(c *packet.Connect, topic, payload string, qos byte, retain bool) *packet.Connect {
	c.WillFlag, c.WillTopic, c.WillPayload, c.WillQoS, c.WillRetain = true, []byte(topic), []byte(payload), qos, retain
	return c
}

// abort closes the peer's socket without DISCONNECT: a network failure as
// the broker sees it.
func (p *peer) abort() { _ = p.nc.Close() }

// hookLog records hook calls.
type hookLog struct {
	mu          sync.Mutex
	connects    []string
	disconnects []string
	errs        []error
}

func (h *hookLog) install(o *Options) {
	o.Hooks.OnConnect = func(id string, _ packet.Version, _ net.Addr) {
		h.mu.Lock()
		h.connects = append(h.connects, id)
		h.mu.Unlock()
	}
	o.Hooks.OnDisconnect = func(id string, err error) {
		h.mu.Lock()
		h.disconnects = append(h.disconnects, id)
		h.errs = append(h.errs, err)
		h.mu.Unlock()
	}
}

func (h *hookLog) counts() (int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.connects), len(h.disconnects)
}

// rebind makes p report failures to t (a subtest) until the returned
// function runs; a peer must not fail a parent test from a subtest.
func (p *peer) rebind(t testing.TB) (restore func()) {
	old := p.t
	p.t = t
	return func() { p.t = old }
}
