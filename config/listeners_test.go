package config

import (
	"crypto/tls"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/roostmq/roost/listener"
)

const listenersFile = `listeners:
  - type: tcp
    address: "127.0.0.1:1883"
  - type: tcp
    address: ":1884"
    proxy_protocol: true
    trusted_proxies: ["10.0.0.0/8", "192.0.2.7"]
  - type: tls
    handshake_timeout: 3s
    tls:
      cert_file: /etc/roost/server.pem
      key_file: /etc/roost/server.key
      ca_file: /etc/roost/ca.pem
      client_certs: optional
      min_version: 1.3
      cert_identity: subject
  - type: ws
    websocket:
      path: /ws
      allowed_origins: ["https://app.example.com", "*"]
    trusted_proxies: ["::1"]
  - type: wss
    address: "[::1]:9001"
    tls:
      cert_file: s.pem
      key_file: s.key
  - type: unix
    address: /run/roost/mqtt.sock
    unix:
      mode: "0600"
`

func TestParseListeners(t *testing.T) {
	f, err := Parse([]byte(listenersFile), "roost.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []listener.Config{
		{Type: "tcp", Address: "127.0.0.1:1883"},
		{Type: "tcp", Address: ":1884", ProxyProtocol: true,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}},
		{Type: "tls", Address: ":8883", HandshakeTimeout: 3 * time.Second, TLS: &listener.TLSConfig{
			CertFile: "/etc/roost/server.pem", KeyFile: "/etc/roost/server.key", CAFile: "/etc/roost/ca.pem",
			ClientCerts: "optional", MinVersion: tls.VersionTLS13, CertIdentity: "subject"}},
		{Type: "ws", Address: ":8083", WebSocket: &listener.WSConfig{Path: "/ws", AllowedOrigins: []string{"https://app.example.com", "*"}},
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("::1/128")}},
		{Type: "wss", Address: "[::1]:9001", TLS: &listener.TLSConfig{CertFile: "s.pem", KeyFile: "s.key"}},
		{Type: "unix", Address: "/run/roost/mqtt.sock", Unix: &listener.UnixConfig{Mode: 0o600}},
	}
	if !reflect.DeepEqual(f.Listeners, want) {
		t.Errorf("listeners:\n got %+v\nwant %+v", f.Listeners, want)
	}
	if want := []string{"127.0.0.1:1883"}; !reflect.DeepEqual(f.Options.Listen, want) {
		t.Errorf("Options.Listen %v, want %v", f.Options.Listen, want)
	}
}

func TestParseListenerErrors(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"tls on tcp", "listeners:\n  - type: tcp\n    tls:\n      cert_file: a\n      key_file: b\n",
			"roost.yaml:3: listeners[0].tls: only tls and wss listeners take a tls section, not tcp"},
		{"websocket on tls", "listeners:\n  - type: tls\n    tls: {cert_file: a, key_file: b}\n    websocket: {path: /x}\n",
			"roost.yaml:4: listeners[0].websocket: only ws and wss listeners take a websocket section, not tls"},
		{"unix section on ws", "listeners:\n  - type: ws\n    unix: {mode: \"0600\"}\n",
			"roost.yaml:3: listeners[0].unix: only unix listeners take a unix section, not ws"},
		{"no key file", "listeners:\n  - type: tls\n    tls:\n      cert_file: a\n",
			"roost.yaml:4: listeners[0].tls: cert_file and key_file are required"},
		{"required without ca", "listeners:\n  - type: tls\n    tls: {cert_file: a, key_file: b, client_certs: required}\n",
			"roost.yaml:3: listeners[0].tls.client_certs: client_certs required needs a ca_file to check certificates against"},
		{"ca with none", "listeners:\n  - type: tls\n    tls:\n      cert_file: a\n      key_file: b\n      client_certs: none\n      ca_file: c\n",
			"roost.yaml:7: listeners[0].tls.ca_file: set, but client_certs is none"},
		{"crl without ca", "listeners:\n  - type: tls\n    tls:\n      cert_file: a\n      key_file: b\n      crl_file: c.crl\n",
			"roost.yaml:6: listeners[0].tls.crl_file: set, but there is no ca_file: revocation lists apply to client certificates"},
		{"bad client_certs", "listeners:\n  - type: tls\n    tls: {cert_file: a, key_file: b, client_certs: maybe}\n",
			`roost.yaml:3: listeners[0].tls.client_certs: "maybe" is not one of none, optional, required`},
		{"bad min_version", "listeners:\n  - type: tls\n    tls: {cert_file: a, key_file: b, min_version: 1.1}\n",
			`roost.yaml:3: listeners[0].tls.min_version: "1.1" is not a TLS version Roost accepts ("1.2" or "1.3")`},
		{"bad identity", "listeners:\n  - type: tls\n    tls: {cert_file: a, key_file: b, cert_identity: email}\n",
			`roost.yaml:3: listeners[0].tls.cert_identity: "email" is not one of cn, subject, none`},
		{"unknown tls key", "listeners:\n  - type: tls\n    tls: {cert_file: a, key_file: b, ciphers: x}\n",
			`roost.yaml:3: listeners[0].tls.ciphers: unknown key`},
		{"bad path", "listeners:\n  - type: ws\n    websocket: {path: mqtt}\n",
			`roost.yaml:3: listeners[0].websocket.path: "mqtt" is not a URL path such as /mqtt`},
		{"bad origin", "listeners:\n  - type: ws\n    websocket:\n      allowed_origins: [app.example.com]\n",
			`roost.yaml:4: listeners[0].websocket.allowed_origins[0]: "app.example.com" is not an origin such as https://app.example.com (or *)`},
		{"bad proxy", "listeners:\n  - type: ws\n    trusted_proxies: [\"10.0.0.0/33\"]\n",
			`roost.yaml:3: listeners[0].trusted_proxies[0]: "10.0.0.0/33" is neither an IP address nor a CIDR prefix such as 10.0.0.0/8`},
		{"bad mode", "listeners:\n  - type: unix\n    address: /tmp/s\n    unix: {mode: \"0999\"}\n",
			`roost.yaml:4: listeners[0].unix.mode: "0999" is not an octal file mode from 0001 to 0777 (such as "0660")`},
		{"proxy_protocol not bool", "listeners:\n  - proxy_protocol: yes\n",
			`roost.yaml:2: listeners[0].proxy_protocol: expected true or false, got string "yes"`},
		{"same unix path", "listeners:\n  - type: unix\n    address: /tmp/s\n  - type: unix\n    address: /tmp/s\n",
			`roost.yaml:5: listeners[1].address: "/tmp/s" is already listed at line 3`},
		{"same address, other type", "listeners:\n  - type: ws\n    address: \":1883\"\n  - type: tcp\n",
			`roost.yaml:4: listeners[1].address: ":1883" is already listed at line 3`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.file), "roost.yaml")
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}

// Port 0 picks a free port each time, so it may be listed more than once.
func TestParseListenersPortZeroTwice(t *testing.T) {
	f, err := Parse([]byte("listeners:\n  - address: 127.0.0.1:0\n  - type: ws\n    address: 127.0.0.1:0\n"), "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Listeners) != 2 {
		t.Errorf("listeners %+v", f.Listeners)
	}
}

func TestParseUnixModeUnquoted(t *testing.T) {
	f, err := Parse([]byte("listeners:\n  - type: unix\n    address: /tmp/s\n    unix:\n      mode: 0640\n"), "x")
	if err != nil {
		t.Fatal(err)
	}
	if m := f.Listeners[0].Unix.Mode; m != 0o640 {
		t.Errorf("mode %o", m)
	}
}
