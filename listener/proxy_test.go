package listener

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/roostmq/roost/internal/testpki"
)

func proxyV2Header(cmd byte, src, dst netip.AddrPort) []byte {
	h := append([]byte{}, proxyV2Sig...)
	fam, body := byte(0x11), []byte{}
	if src.Addr().Is6() {
		fam = 0x21
	}
	body = append(body, src.Addr().AsSlice()...)
	body = append(body, dst.Addr().AsSlice()...)
	body = binary.BigEndian.AppendUint16(body, src.Port())
	body = binary.BigEndian.AppendUint16(body, dst.Port())
	body = append(body, 0x04, 0, 1, 'x') // a TLV (PP2_TYPE_NOOP), skipped
	h = append(h, 0x20|cmd, fam)
	h = binary.BigEndian.AppendUint16(h, uint16(len(body)))
	return append(h, body...)
}

func TestProxyProtocol(t *testing.T) {
	addr, rec := startBroker(t, Config{Type: TCP, Address: "127.0.0.1:0", ProxyProtocol: true})
	for _, tc := range []struct {
		name   string
		header []byte
		want   string // "" means the peer's own address
	}{
		{"v1 tcp4", []byte("PROXY TCP4 192.0.2.7 192.0.2.1 40001 1883\r\n"), "192.0.2.7:40001"},
		{"v1 tcp6", []byte("PROXY TCP6 2001:db8::7 2001:db8::1 40002 1883\r\n"), "[2001:db8::7]:40002"},
		{"v1 unknown", []byte("PROXY UNKNOWN\r\n"), ""},
		{"v2 ipv4", proxyV2Header(1, netip.MustParseAddrPort("198.51.100.9:5000"), netip.MustParseAddrPort("198.51.100.1:1883")), "198.51.100.9:5000"},
		{"v2 ipv6", proxyV2Header(1, netip.MustParseAddrPort("[2001:db8::9]:5001"), netip.MustParseAddrPort("[2001:db8::1]:1883")), "[2001:db8::9]:5001"},
		{"v2 local", proxyV2Header(0, netip.MustParseAddrPort("198.51.100.9:5000"), netip.MustParseAddrPort("198.51.100.1:1883")), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			// The header and CONNECT in one write: nothing after the header
			// may be lost.
			if _, err := nc.Write(append(append([]byte{}, tc.header...), connectPacket("p", "")...)); err != nil {
				t.Fatal(err)
			}
			if err := expect(nc, connack); err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want == "" {
				want = nc.LocalAddr().String()
			}
			if got := rec.next(t).RemoteAddr.String(); got != want {
				t.Errorf("remote %s, want %s", got, want)
			}
		})
	}
}

func TestProxyProtocolMalformed(t *testing.T) {
	addr, rec := startBroker(t, Config{Type: TCP, Address: "127.0.0.1:0", ProxyProtocol: true,
		HandshakeTimeout: 200 * time.Millisecond})
	for name, header := range map[string][]byte{
		"no header":     connectPacket("x", ""),
		"v1 bad ip":     []byte("PROXY TCP4 300.1.1.1 192.0.2.1 1 2\r\n"),
		"v1 wrong fam":  []byte("PROXY TCP4 2001:db8::1 192.0.2.1 1 2\r\n"),
		"v1 too long":   []byte("PROXY TCP4 " + strings.Repeat("1", 120) + "\r\n"),
		"v1 bad port":   []byte("PROXY TCP4 192.0.2.7 192.0.2.1 70000 1883\r\n"),
		"v1 no fields":  []byte("PROXY TCP4\r\n\r\n"),
		"v2 bad ver":    append(append([]byte{}, proxyV2Sig...), 0x11, 0x11, 0, 0),
		"v2 short addr": append(append([]byte{}, proxyV2Sig...), 0x21, 0x11, 0, 4, 1, 2, 3, 4),
		"truncated":     []byte("PROXY TCP4 192.0"),
	} {
		t.Run(name, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if _, err := nc.Write(append(append([]byte{}, header...), connectPacket("p", "")...)); err != nil {
				t.Fatal(err)
			}
			_ = nc.SetReadDeadline(time.Now().Add(ioTimeout))
			if b, err := io.ReadAll(nc); len(b) > 0 || isTimeout(err) {
				t.Errorf("read %x, %v; want the connection closed", b, err)
			}
		})
	}
	select {
	case info := <-rec.infos:
		t.Errorf("a connection with a bad header reached the broker: %+v", info)
	default:
	}
	// The listener still serves good connections.
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write([]byte("PROXY TCP4 192.0.2.7 192.0.2.1 40001 1883\r\n"))
	if err := mqttConnect(nc, "ok", ""); err != nil {
		t.Fatal(err)
	}
}

func TestProxyProtocolTrustedOnly(t *testing.T) {
	addr, _ := startBroker(t, Config{Type: TCP, Address: "127.0.0.1:0", ProxyProtocol: true,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write([]byte("PROXY TCP4 192.0.2.7 192.0.2.1 40001 1883\r\n"))
	if err := mqttConnect(nc, "x", ""); err == nil {
		t.Error("a PROXY header from an untrusted peer was believed")
	}
}

// PROXY then TLS: the header comes before the handshake.
func TestProxyProtocolTLS(t *testing.T) {
	p := testpki.New(t)
	cfg := tlsListener(p, ClientCertsRequired)
	cfg.ProxyProtocol = true
	addr, rec := startBroker(t, cfg)
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.Write(proxyV2Header(1, netip.MustParseAddrPort("203.0.113.5:6000"), netip.MustParseAddrPort("203.0.113.1:8883")))
	nc := tls.Client(raw, p.ClientTLS(p.Client))
	if err := mqttConnect(nc, "t", ""); err != nil {
		t.Fatal(err)
	}
	info := rec.next(t)
	if info.RemoteAddr.String() != "203.0.113.5:6000" || info.Username != "dev1" {
		t.Errorf("remote %s username %q", info.RemoteAddr, info.Username)
	}
}

func TestReadProxyHeaderLeavesTheRest(t *testing.T) {
	r := bytes.NewReader([]byte("PROXY TCP4 192.0.2.7 192.0.2.1 40001 1883\r\nrest"))
	a, err := readProxyHeader(r)
	if err != nil || a.String() != "192.0.2.7:40001" {
		t.Fatalf("%v %v", a, err)
	}
	if rest, _ := io.ReadAll(r); string(rest) != "rest" {
		t.Errorf("rest %q", rest)
	}
}
