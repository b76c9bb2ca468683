package listener

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/coder/websocket"

	"github.com/roostmq/roost/internal/testpki"
)

// dialWS opens a WebSocket to the listener at addr with subprotocol mqtt.
func dialWS(t testing.TB, url string, opts *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	if opts.Subprotocols == nil {
		opts.Subprotocols = []string{"mqtt"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	return websocket.Dial(ctx, url, opts)
}

func TestWebSocketFraming(t *testing.T) {
	addr, rec := startBroker(t, Config{Type: WS, Address: "127.0.0.1:0"})
	c, resp, err := dialWS(t, "ws://"+addr+"/mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "mqtt" { // [MQTT-6.0.0-4]
		t.Errorf("subprotocol %q", got)
	}
	ctx := context.Background()
	// A packet spanning two frames.
	conn := connectPacket("ws1", "")
	if err := c.Write(ctx, websocket.MessageBinary, conn[:5]); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(ctx, websocket.MessageBinary, conn[5:]); err != nil {
		t.Fatal(err)
	}
	nc := websocket.NetConn(ctx, c, websocket.MessageBinary)
	if err := expect(nc, connack); err != nil {
		t.Fatal(err)
	}
	// Two packets in one frame.
	if err := c.Write(ctx, websocket.MessageBinary, append(append([]byte{}, subscribe...), publish...)); err != nil {
		t.Fatal(err)
	}
	if err := expect(nc, append(append([]byte{}, suback...), publish...)); err != nil {
		t.Fatal(err)
	}
	if h, _, _ := net.SplitHostPort(rec.next(t).RemoteAddr.String()); h != "127.0.0.1" {
		t.Errorf("remote host %q", h)
	}
}

func TestWebSocketRefusals(t *testing.T) {
	addr, _ := startBroker(t, Config{Type: WS, Address: "127.0.0.1:0",
		WebSocket: &WSConfig{Path: "/ws", AllowedOrigins: []string{"https://app.example.com"}}})

	// Wrong path.
	if _, resp, err := dialWS(t, "ws://"+addr+"/mqtt", nil); err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("wrong path: %v %v", resp, err)
	}
	// An origin not on the list.
	h := http.Header{"Origin": {"https://evil.example.com"}}
	if _, resp, err := dialWS(t, "ws://"+addr+"/ws", &websocket.DialOptions{HTTPHeader: h}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("bad origin: %v %v", resp, err)
	}
	// An origin on the list.
	h = http.Header{"Origin": {"https://app.example.com"}}
	c, _, err := dialWS(t, "ws://"+addr+"/ws", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("allowed origin: %v", err)
	}
	c.CloseNow()
	// No mqtt subprotocol: the server closes.
	c, _, err = dialWS(t, "ws://"+addr+"/ws", &websocket.DialOptions{Subprotocols: []string{"chat"}})
	if err == nil {
		_, _, err = c.Read(context.Background())
		if websocket.CloseStatus(err) != websocket.StatusProtocolError {
			t.Errorf("no subprotocol: %v", err)
		}
		c.CloseNow()
	}
}

func TestWebSocketSameOriginByDefault(t *testing.T) {
	addr, _ := startBroker(t, Config{Type: WS, Address: "127.0.0.1:0"})
	if _, _, err := dialWS(t, "ws://"+addr+"/mqtt", &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"http://elsewhere.example"}}}); err == nil {
		t.Error("a cross-origin page connected with no allow-list")
	}
	c, _, err := dialWS(t, "ws://"+addr+"/mqtt", &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"http://" + addr}}})
	if err != nil {
		t.Fatal(err)
	}
	c.CloseNow()
}

func TestWebSocketForwardedFor(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		xff     []string
		want    string
	}{
		{"untrusted peer", nil, []string{"198.51.100.3"}, "127.0.0.1"},
		{"trusted peer", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, []string{"198.51.100.3"}, "198.51.100.3:0"},
		{"chain", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")},
			[]string{"203.0.113.1, 198.51.100.3", "10.1.1.1"}, "198.51.100.3:0"},
		{"spoofed left part ignored", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			[]string{"10.9.9.9, 198.51.100.3"}, "198.51.100.3:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, rec := startBroker(t, Config{Type: WS, Address: "127.0.0.1:0", TrustedProxies: tc.trusted})
			c, _, err := dialWS(t, "ws://"+addr+"/mqtt", &websocket.DialOptions{HTTPHeader: http.Header{"X-Forwarded-For": tc.xff}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			nc := websocket.NetConn(context.Background(), c, websocket.MessageBinary)
			if err := mqttConnect(nc, "x", ""); err != nil {
				t.Fatal(err)
			}
			got := rec.next(t).RemoteAddr.String()
			if tc.want == "127.0.0.1" {
				if h, _, _ := net.SplitHostPort(got); h != tc.want {
					t.Errorf("remote %s, want the peer", got)
				}
			} else if got != tc.want {
				t.Errorf("remote %s, want %s", got, tc.want)
			}
		})
	}
}

func TestWSSClientCert(t *testing.T) {
	p := testpki.New(t)
	cfg := Config{Type: WSS, Address: "127.0.0.1:0", TLS: &TLSConfig{
		CertFile: p.CertFile, KeyFile: p.KeyFile, CAFile: p.CAFile}}
	addr, rec := startBroker(t, cfg)
	client := func(cert *testpki.Cert) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: p.ClientTLS(cert)}}
	}
	c, _, err := dialWS(t, "wss://"+addr+"/mqtt", &websocket.DialOptions{HTTPClient: client(p.Client)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	nc := websocket.NetConn(context.Background(), c, websocket.MessageBinary)
	if err := mqttConnect(nc, "w", ""); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, nc)
	if info := rec.next(t); info.Username != "dev1" {
		t.Errorf("username %q", info.Username)
	}
	if _, _, err := dialWS(t, "wss://"+addr+"/mqtt", &websocket.DialOptions{HTTPClient: client(nil)}); err == nil {
		t.Error("no client certificate: connected")
	}
}

func TestUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roost.sock")
	_, rec := startBroker(t, Config{Type: Unix, Address: path, Unix: &UnixConfig{Mode: 0o600}})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("mode %v", fi.Mode())
	}
	nc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := mqttConnect(nc, "u", ""); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, nc)
	rec.next(t)
	// A second listener on the same live socket is refused.
	if ln, err := Listen(Config{Type: Unix, Address: path}, nil); err == nil {
		ln.Close()
		t.Error("listening twice on one socket")
	}
}

func TestUnixStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roost.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close() // leaves the file behind, like a crashed process
	ln, err := Listen(Config{Type: Unix, Address: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if fi, _ := os.Stat(path); fi.Mode().Perm() != DefaultUnixMode {
		t.Errorf("mode %v", fi.Mode())
	}
}
