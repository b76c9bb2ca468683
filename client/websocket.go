package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/coder/websocket"
)

// dialWebSocket opens MQTT over WebSocket: subprotocol "mqtt", every MQTT
// byte in binary messages (MQTT 5.0 section 6).
func dialWebSocket(ctx context.Context, u *url.URL, o *Options) (net.Conn, error) {
	target := *u
	target.User = nil
	if target.Port() == "" {
		port := "8083"
		if u.Scheme == "wss" {
			port = "8084"
		}
		target.Host = net.JoinHostPort(u.Hostname(), port)
	}
	if target.Path == "" {
		target.Path = "/mqtt"
	}
	tr := &http.Transport{Proxy: nil}
	if u.Scheme == "wss" && o.TLSConfig != nil {
		tr.TLSClientConfig = o.TLSConfig.Clone()
	} else if u.Scheme == "wss" {
		tr.TLSClientConfig = &tls.Config{}
	}
	if d := o.Dialer; d != nil {
		tr.DialContext = d.DialContext
	}
	hc := &http.Client{Transport: tr} // the context bounds the handshake
	ws, resp, err := websocket.Dial(ctx, target.String(), &websocket.DialOptions{HTTPClient: hc, Subprotocols: []string{"mqtt"}})
	if err != nil {
		return nil, fmt.Errorf("client: websocket: %w", err)
	}
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if ws.Subprotocol() != "mqtt" {
		_ = ws.Close(websocket.StatusProtocolError, "mqtt subprotocol required")
		return nil, fmt.Errorf("client: server did not accept the mqtt subprotocol")
	}
	ws.SetReadLimit(-1) // MQTT framing, not WebSocket messages, bounds packets
	return websocket.NetConn(context.Background(), ws, websocket.MessageBinary), nil
}
