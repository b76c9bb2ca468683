package admin

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/listener"
	"github.com/roostmq/roost/packet"
)

// The admin listener's /mqtt forwards MQTT over WebSocket to the broker's
// ws listener, which has no allowed_origins: a page of the dashboard's own
// origin gets through, another origin is refused by the admin server, and
// the admin credentials are required.
func TestOps17TapProxy(t *testing.T) {
	opts := broker.DefaultOptions()
	opts.Listen = nil
	opts.SysInterval = 0
	srv, err := broker.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := listener.Listen(listener.Config{Type: listener.WS, Address: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ws) }()
	a, err := New(Options{Broker: srv, Config: Config{Token: "tok"},
		WebSocketURLs: []string{"ws://:" + ops17PortOf(t, ws.Addr()) + "/mqtt"}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-served
	})
	wsURL := "ws" + strings.TrimPrefix(hs.URL, "http") + "/mqtt"
	dial := func(origin string, auth bool) (*websocket.Conn, int, error) {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		if auth {
			h.Set("Authorization", "Bearer tok")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: h, Subprotocols: []string{"mqtt"}})
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		return c, code, err
	}
	if _, code, err := dial("http://evil.example", true); err == nil || code != http.StatusForbidden {
		t.Errorf("cross-origin: %d %v, want 403", code, err)
	}
	if _, code, err := dial(hs.URL, false); err == nil || code != http.StatusUnauthorized {
		t.Errorf("without credentials: %d %v, want 401", code, err)
	}
	c, _, err := dial(hs.URL, true)
	if err != nil {
		t.Fatalf("same origin: %v", err)
	}
	defer c.CloseNow()
	// An MQTT 3.1.1 CONNECT through the proxy gets its CONNACK.
	connect := []byte{0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 30, 0, 0}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageBinary, connect); err != nil {
		t.Fatal(err)
	}
	_, got, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0] != 0x20 || got[3] != byte(packet.Success) {
		t.Errorf("CONNACK % x", got)
	}
	var info Info
	req, _ := http.NewRequest("GET", hs.URL+"/api/v1/info", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || info.TapPath != "/mqtt" {
		t.Errorf("info tap_path %q (%v)", info.TapPath, err)
	}
}

func ops17PortOf(t *testing.T, a net.Addr) string {
	t.Helper()
	_, p, err := net.SplitHostPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	return p
}
