package broker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// startServer runs a broker on 127.0.0.1:0 and shuts it down when the test
// ends. modify may change the options first.
func startServer(t testing.TB, modify func(*Options)) (*Server, string) {
	t.Helper()
	return startServerWrapped(t, modify, nil)
}

// startServerWrapped is startServer serving a listener that wrap (when not
// nil) wraps, such as a fault-injecting one.
func startServerWrapped(t testing.TB, modify func(*Options), wrap func(net.Listener) net.Listener) (*Server, string) {
	t.Helper()
	opts := DefaultOptions()
	opts.SysInterval = 0
	opts.Listen = nil
	if modify != nil {
		modify(&opts)
	}
	if opts.Store == nil && testStore != nil {
		opts.Store = testStore(t) // ROOST_TEST_STORE (durable_test.go)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if wrap != nil {
		ln = wrap(ln)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		checkLiveInvariants(t, s) // invariants_test.go
		conns, _ := serverConns(s)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		checkShutdownInvariants(t, s, conns)
	})
	return s, addr
}

// peer is a scripted raw-byte MQTT client for tests.
type peer struct {
	t    testing.TB
	nc   net.Conn
	r    *packet.Reader
	v    packet.Version
	mu   sync.Mutex
	next uint16
}

const peerTimeout = 5 * time.Second

func dial(t testing.TB, addr string, v packet.Version) *peer {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, peerTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &peer{t: t, nc: nc, r: packet.NewReader(nc, 1024, 0), v: v}
}

// connect dials and completes CONNECT/CONNACK, failing the test unless the
// broker accepts.
func connect(t testing.TB, addr string, v packet.Version, c *packet.Connect) (*peer, *packet.Connack) {
	t.Helper()
	p := dial(t, addr, v)
	if c == nil {
		c = &packet.Connect{ClientID: []byte(t.Name()), CleanStart: true}
	}
	c.Version = v
	p.send(c)
	ack := p.expect(packet.CONNACK).(*packet.Connack)
	if ack.ReasonCode != 0 {
		t.Fatalf("CONNACK refused: %v", ack.ReasonCode)
	}
	return p, ack
}

func (p *peer) send(pk packet.Packet) {
	p.t.Helper()
	p.sendRaw(pk.Append(nil, p.v))
}

func (p *peer) sendRaw(b []byte) {
	p.t.Helper()
	_ = p.nc.SetWriteDeadline(time.Now().Add(peerTimeout))
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

// read returns the next packet, or an error (io.EOF when the broker closed).
// At the end of the stream the peer closes its socket, as a client does:
// the broker, which half-closes after a reason and drains until then
// (linger.go), then closes at once.
func (p *peer) read(timeout time.Duration) (packet.Packet, error) {
	_ = p.nc.SetReadDeadline(time.Now().Add(timeout))
	first, body, err := p.r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			_ = p.nc.Close()
		}
		return nil, err
	}
	pk, err := packet.Decode(first, body, p.v)
	if err != nil {
		return nil, err
	}
	return packet.Clone(pk, p.v)
}

// expect reads the next packet and fails unless it has type t.
func (p *peer) expect(t packet.Type) packet.Packet {
	p.t.Helper()
	pk, err := p.read(peerTimeout)
	if err != nil {
		p.t.Fatalf("waiting for %v: %v", t, err)
	}
	if pk.Type() != t {
		p.t.Fatalf("got %v %+v, want %v", pk.Type(), pk, t)
	}
	return pk
}

// expectClosed fails unless the broker closes the connection, optionally
// after a DISCONNECT whose code is returned (0 when none came).
func (p *peer) expectClosed() packet.ReasonCode {
	p.t.Helper()
	var code packet.ReasonCode
	for {
		pk, err := p.read(peerTimeout)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err) {
				return code
			}
			p.t.Fatalf("waiting for close: %v", err)
		}
		if d, ok := pk.(*packet.Disconnect); ok {
			code = d.ReasonCode
		}
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}

// expectNothing fails if a packet arrives within d.
func (p *peer) expectNothing(d time.Duration) {
	p.t.Helper()
	pk, err := p.read(d)
	if err == nil {
		p.t.Fatalf("unexpected %v %+v", pk.Type(), pk)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		p.t.Fatalf("unexpected error %v", err)
	}
}

func (p *peer) id() uint16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	return p.next
}

// subscribe sends SUBSCRIBE and returns the SUBACK codes.
func (p *peer) subscribe(subs ...packet.Subscription) []packet.ReasonCode {
	p.t.Helper()
	id := p.id()
	p.send(&packet.Subscribe{PacketID: id, Subscriptions: subs})
	ack := p.expect(packet.SUBACK).(*packet.Suback)
	if ack.PacketID != id {
		p.t.Fatalf("SUBACK id %d, want %d", ack.PacketID, id)
	}
	return ack.ReasonCodes
}

func sub(filter string, qos byte) packet.Subscription {
	return packet.Subscription{Filter: []byte(filter), QoS: qos}
}

// publish sends a PUBLISH and completes its QoS flow.
func (p *peer) publish(topic string, payload string, qos byte, retain bool) {
	p.t.Helper()
	pub := &packet.Publish{QoS: qos, Retain: retain, Topic: []byte(topic), Payload: []byte(payload)}
	if qos > 0 {
		pub.PacketID = p.id()
	}
	p.send(pub)
	switch qos {
	case 1:
		p.expect(packet.PUBACK)
	case 2:
		p.expect(packet.PUBREC)
		p.send(&packet.Pubrel{Ack: packet.Ack{PacketID: pub.PacketID}})
		p.expect(packet.PUBCOMP)
	}
}

// receive reads a PUBLISH, acknowledges it per its QoS and returns it.
func (p *peer) receive() *packet.Publish {
	p.t.Helper()
	pub := p.expect(packet.PUBLISH).(*packet.Publish)
	p.ack(pub)
	return pub
}

func (p *peer) ack(pub *packet.Publish) {
	p.t.Helper()
	switch pub.QoS {
	case 1:
		p.send(&packet.Puback{Ack: packet.Ack{PacketID: pub.PacketID}})
	case 2:
		p.send(&packet.Pubrec{Ack: packet.Ack{PacketID: pub.PacketID}})
		p.expect(packet.PUBREL)
		p.send(&packet.Pubcomp{Ack: packet.Ack{PacketID: pub.PacketID}})
	}
}

func (p *peer) disconnect() {
	p.send(&packet.Disconnect{})
	_ = p.nc.Close()
}

func eq(t testing.TB, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func eqBytes(t testing.TB, what string, got []byte, want string) {
	t.Helper()
	if !bytes.Equal(got, []byte(want)) {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(peerTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling with a deadline, not synchronisation by sleep
	}
}
