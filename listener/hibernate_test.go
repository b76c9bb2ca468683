package listener

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/roostmq/roost/broker"
)

// Idle connections hibernate over every transport whose wrapper can tell
// it holds no unread bytes (plain TCP, Unix sockets, WebSocket over TCP,
// PROXY protocol over TCP), and work as before when they wake.
func TestHibernateTransports(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(t *testing.T) Config
		dial func(t *testing.T, addr string) net.Conn
	}{
		{"tcp", func(*testing.T) Config { return Config{Type: TCP, Address: "127.0.0.1:0"} }, dialTCP(nil)},
		{"unix", func(t *testing.T) Config {
			return Config{Type: Unix, Address: filepath.Join(t.TempDir(), "roost.sock")}
		}, func(t *testing.T, path string) net.Conn {
			nc, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			return nc
		}},
		{"ws", func(*testing.T) Config { return Config{Type: WS, Address: "127.0.0.1:0"} }, func(t *testing.T, addr string) net.Conn {
			c, _, err := dialWS(t, "ws://"+addr+"/mqtt", nil)
			if err != nil {
				t.Fatal(err)
			}
			return websocket.NetConn(context.Background(), c, websocket.MessageBinary)
		}},
		{"tcp+proxy", func(*testing.T) Config { return Config{Type: TCP, Address: "127.0.0.1:0", ProxyProtocol: true} },
			dialTCP([]byte("PROXY TCP4 192.0.2.7 192.0.2.1 40001 1883\r\n"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, addr, _ := startServer(t, tc.cfg(t), func(o *broker.Options) { o.HibernateAfter = 40 * time.Millisecond })
			nc := tc.dial(t, addr)
			defer nc.Close()
			if err := mqttConnect(nc, "sleeper", ""); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				waitHibernating(t, s, 1)
				roundTrip(t, nc) // wakes reader and writer
			}
		})
	}
}

// dialTCP dials and writes header (a PROXY header, or nil) first.
func dialTCP(header []byte) func(t *testing.T, addr string) net.Conn {
	return func(t *testing.T, addr string) net.Conn {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if header != nil {
			if _, err := nc.Write(header); err != nil {
				t.Fatal(err)
			}
		}
		return nc
	}
}

func waitHibernating(t *testing.T, s *broker.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for s.Stats().ClientsHibernating != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d hibernating, want %d", s.Stats().ClientsHibernating, n)
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
}
