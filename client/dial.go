package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Dial connects to the broker at rawURL and runs Connect. Schemes:
// mqtt:// and tcp:// (default port 1883), mqtts://, ssl:// and tls://
// (port 8883, with Options.TLSConfig), ws:// and wss:// (ports 8083 and
// 8084, path /mqtt unless the URL has one; subprotocol "mqtt", binary
// frames). A user and password in the URL are used when
// Options.Username is empty. unix:///path/to/socket (or unix:relative)
// connects through a Unix domain socket. A bare "host:port" means mqtt://.
func Dial(ctx context.Context, rawURL string, opts *Options) (*Client, error) {
	if opts == nil {
		opts = &Options{}
	}
	nc, u, err := dialTransport(ctx, rawURL, opts)
	if err != nil {
		return nil, err
	}
	o := *opts
	if u.User != nil && o.Username == "" {
		o.Username = u.User.Username()
		if pw, ok := u.User.Password(); ok {
			o.Password = []byte(pw)
		}
	}
	return Connect(ctx, nc, &o)
}

// DialTransport opens the byte stream Dial would run MQTT over, for a
// caller that speaks MQTT itself (a load generator, a proxy): the same
// schemes, TLS settings (Options.TLSConfig) and Options.Dialer. A user in
// the URL is left to the caller.
func DialTransport(ctx context.Context, rawURL string, opts *Options) (net.Conn, error) {
	if opts == nil {
		opts = &Options{}
	}
	nc, _, err := dialTransport(ctx, rawURL, opts)
	return nc, err
}

func dialTransport(ctx context.Context, rawURL string, o *Options) (net.Conn, *url.URL, error) {
	if !strings.Contains(rawURL, "://") && !strings.HasPrefix(rawURL, "unix:") {
		rawURL = "mqtt://" + rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("client: %w", err)
	}
	d := o.Dialer
	if d == nil {
		d = &net.Dialer{Timeout: 30 * time.Second}
	}
	var port string
	secure := false
	switch u.Scheme {
	case "mqtt", "tcp":
		port = "1883"
	case "mqtts", "ssl", "tls":
		port, secure = "8883", true
	case "ws", "wss":
		nc, err := dialWebSocket(ctx, u, o)
		return nc, u, err
	case "unix":
		path := u.Opaque
		if path == "" {
			path = u.Host + u.Path
		}
		if path == "" {
			return nil, nil, fmt.Errorf("client: unix URL %q names no socket", rawURL)
		}
		dd := *d
		dd.LocalAddr = nil // a TCP bind address does not apply
		nc, err := dd.DialContext(ctx, "unix", path)
		if err != nil {
			return nil, nil, fmt.Errorf("client: %w", err)
		}
		return nc, u, nil
	default:
		return nil, nil, fmt.Errorf("client: unknown URL scheme %q (want mqtt, mqtts, ws, wss or unix)", u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		host = "localhost"
	}
	if p := u.Port(); p != "" {
		port = p
	}
	addr := net.JoinHostPort(host, port)
	var nc net.Conn
	if secure {
		cfg := o.TLSConfig
		if cfg == nil {
			cfg = &tls.Config{}
		} else {
			cfg = cfg.Clone()
		}
		if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
			cfg.ServerName = host
		}
		td := &tls.Dialer{NetDialer: d, Config: cfg}
		nc, err = td.DialContext(ctx, "tcp", addr)
	} else {
		nc, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("client: %w", err)
	}
	return nc, u, nil
}
