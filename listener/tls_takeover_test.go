package listener

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/internal/testpki"
)

// willConnectPacket is connectPacket (no username) with a QoS 0 will on
// will/t.
func willConnectPacket(id string) []byte {
	payload := appendString(appendString(appendString(nil, id), "will/t"), "lost")
	vh := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x06, 0, 30} // clean session, will flag
	return frame(0x10, append(vh, payload...))
}

// takeoverWillRace checks, 20 times, that a client that sends DISCONNECT,
// closes and reconnects with the same client id at once never has its will
// published: the takeover stops the old connection's reads without
// dropping the DISCONNECT already sent. dial opens a raw connection and
// returns how to close it abruptly.
// [MQTT-3.1.2-10] [MQTT-3.14.4-3]
func takeoverWillRace(t *testing.T, s *broker.Server, dial func() (net.Conn, func(), error)) {
	t.Helper()
	got := make(chan string, 64)
	unsub, err := s.Subscribe("will/#", func(m broker.Message) { got <- m.Topic })
	if err != nil {
		t.Fatal(err)
	}
	defer unsub()
	for i := range 20 {
		id := fmt.Sprintf("quick-%d", i)
		nc, abort, err := dial()
		if err != nil {
			t.Fatal(err)
		}
		_ = nc.SetDeadline(time.Now().Add(ioTimeout))
		if _, err := nc.Write(willConnectPacket(id)); err != nil {
			t.Fatal(err)
		}
		if err := expect(nc, connack); err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Write([]byte{0xE0, 0}); err != nil {
			t.Fatal(err)
		}
		abort()
		nc2, _, err := dial()
		if err != nil {
			t.Fatal(err)
		}
		if err := mqttConnect(nc2, id, ""); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(ioTimeout)
		for s.Stats().ClientsConnected != 1 { // the old connection is done
			if time.Now().After(deadline) {
				t.Fatal("the old connection did not end")
			}
			time.Sleep(time.Millisecond) // polling with a deadline
		}
		if err := s.Publish("will/marker", []byte("m"), 0, false); err != nil {
			t.Fatal(err)
		}
		select {
		case topic := <-got:
			if topic != "will/marker" {
				t.Fatalf("round %d: will published after DISCONNECT", i)
			}
		case <-time.After(ioTimeout):
			t.Fatal("marker not received")
		}
		_ = nc2.Close()
	}
}

func TestTLSNoWillAfterDisconnectThenTakeover(t *testing.T) {
	p := testpki.New(t)
	cfg := tlsListener(p, "")
	cfg.TLS.CAFile = ""
	s, addr, _ := startServer(t, cfg, nil)
	takeoverWillRace(t, s, func() (net.Conn, func(), error) {
		nc, err := tls.DialWithDialer(&net.Dialer{Timeout: ioTimeout}, "tcp", addr, p.ClientTLS(nil))
		if err != nil {
			return nil, nil, err
		}
		return nc, func() { _ = nc.Close() }, nil
	})
}

func TestWebSocketNoWillAfterDisconnectThenTakeover(t *testing.T) {
	s, addr, _ := startServer(t, Config{Type: WS, Address: "127.0.0.1:0"}, nil)
	takeoverWillRace(t, s, func() (net.Conn, func(), error) {
		c, _, err := dialWS(t, "ws://"+addr+"/mqtt", nil)
		if err != nil {
			return nil, nil, err
		}
		return websocket.NetConn(context.Background(), c, websocket.MessageBinary), func() { _ = c.CloseNow() }, nil
	})
}
