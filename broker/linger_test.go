package broker

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// Closing with a reason the client can read: after a DISCONNECT with a
// reason code or a refusing CONNACK, the broker half-closes and drains
// what the client still sends for a bounded time, so the client reads the
// reason instead of a reset, and its writes meanwhile do not fail.

// lingerKeepWriting writes PINGREQs on p's socket and reads what comes,
// for window: every write must succeed and reads see only the end of the
// stream (the broker half-closed). It fails the test on a write error.
func lingerKeepWriting(t *testing.T, p *peer, window time.Duration) {
	t.Helper()
	until := time.Now().Add(window)
	ping := (&packet.Pingreq{}).Append(nil, p.v)
	for time.Now().Before(until) {
		_ = p.nc.SetWriteDeadline(time.Now().Add(peerTimeout))
		if _, err := p.nc.Write(ping); err != nil {
			t.Fatalf("write after the broker's reason: %v", err)
		}
		_ = p.nc.SetReadDeadline(time.Now().Add(20 * time.Millisecond)) // paces the writes
		var b [64]byte
		if n, err := p.nc.Read(b[:]); n > 0 || (err != nil && !errors.Is(err, io.EOF) && !isTimeout(err)) {
			t.Fatalf("read after the broker's reason: %d bytes, %v; want the end of the stream", n, err)
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// lingerBounded keeps writing until the broker closes for good, which it
// must do within lingerTime (and some slack) of its reason.
func lingerBounded(t *testing.T, p *peer, since time.Time) {
	t.Helper()
	ping := (&packet.Pingreq{}).Append(nil, p.v)
	for {
		_ = p.nc.SetWriteDeadline(time.Now().Add(peerTimeout))
		if _, err := p.nc.Write(ping); err != nil {
			break // the broker closed: reset
		}
		if time.Since(since) > lingerTime+3*time.Second {
			t.Fatal("the broker still reads long after its reason")
		}
		_ = p.nc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		var b [64]byte
		_, _ = p.nc.Read(b[:])
	}
	if d := time.Since(since); d < lingerTime/2 {
		t.Fatalf("closed after %v: lingered too little", d)
	}
}

// A 5.0 client that overruns the broker's Receive Maximum with QoS 2
// publishes, and answers the PUBRECs it gets meanwhile, reads DISCONNECT
// 0x93 and none of its writes fail. [MQTT-3.3.4-9] [MQTT-4.13.1-1]
func TestLingerReceiveMaximumExceeded(t *testing.T) {
	_, addr := startServer(t, func(o *Options) { o.Limits.ReceiveMaximum = 2 })
	p, _ := connect5(t, addr, "linger-rm", nil)
	var burst []byte
	for id := uint16(1); id <= 3; id++ {
		burst = (&packet.Publish{QoS: 2, PacketID: id, Topic: []byte("linger/t"), Payload: []byte("x")}).Append(burst, packet.V5)
	}
	p.sendRaw(burst)
	var code packet.ReasonCode
	var at time.Time
	for code == 0 {
		pk, err := p.read(peerTimeout)
		if err != nil {
			t.Fatalf("before DISCONNECT: %v", err)
		}
		switch pk := pk.(type) {
		case *packet.Pubrec:
			p.send(&packet.Pubrel{Ack: packet.Ack{PacketID: pk.PacketID}}) // fails the test on a write error
		case *packet.Disconnect:
			code, at = pk.ReasonCode, time.Now()
		default:
			t.Fatalf("got %v", pk.Type())
		}
	}
	if code != packet.ReceiveMaximumExceeded {
		t.Fatalf("DISCONNECT 0x%02x, want 0x93", byte(code))
	}
	lingerKeepWriting(t, p, 300*time.Millisecond)
	lingerBounded(t, p, at)
}

// A refused CONNECT whose client goes on sending (here a SUBSCRIBE right
// behind CONNECT, and more after) reads its CONNACK, with no reset.
func TestLingerRefusedConnack(t *testing.T) {
	_, addr := startServer(t, func(o *Options) { o.Authenticator = lingerRefuseAll{} })
	for _, v := range bothVersions {
		p := dial(t, addr, v)
		b := (&packet.Connect{Version: v, ClientID: []byte("linger-refused"), CleanStart: true}).Append(nil, v)
		b = (&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{sub("linger/#", 0)}}).Append(b, v)
		p.sendRaw(b)
		pk, err := p.read(peerTimeout)
		if err != nil {
			t.Fatalf("v%v: waiting for CONNACK: %v", v, err)
		}
		if ack, ok := pk.(*packet.Connack); !ok || ack.ReasonCode == 0 {
			t.Fatalf("v%v: got %v, want a refusing CONNACK", v, pk.Type())
		}
		lingerKeepWriting(t, p, 200*time.Millisecond)
		p.drop()
	}
}

type lingerRefuseAll struct{}

func (lingerRefuseAll) Authenticate(*ConnectInfo) error {
	return packet.NotAuthorized
}
