package listener

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// The PROXY protocol (HAProxy's, versions 1 and 2) puts the client's address
// in front of the stream a load balancer forwards. The header is read
// exactly, a byte at a time where its length is not known up front, so that
// nothing after it is consumed and no buffer outlives it.

// proxyV2Sig starts every version 2 header.
var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

const proxyV1Max = 107 // the longest v1 line, CRLF included

// proxyPrep reads the mandatory PROXY header of each connection. With
// trusted non-empty, peers outside it are refused.
func proxyPrep(trusted []netip.Prefix) prepFunc {
	return func(nc net.Conn) (net.Conn, error) {
		local := nc.RemoteAddr().Network() == "unix" // a local peer: trusted
		if len(trusted) > 0 && !local && !inPrefixes(addrOf(nc.RemoteAddr()), trusted) {
			return nil, fmt.Errorf("PROXY header from %s, which is not a trusted proxy", nc.RemoteAddr())
		}
		remote, err := readProxyHeader(nc)
		if err != nil {
			return nil, fmt.Errorf("PROXY protocol: %w", err)
		}
		if remote == nil {
			return nc, nil // LOCAL or UNKNOWN: the proxy's own connection
		}
		return &addrConn{Conn: nc, remote: remote}, nil
	}
}

// readProxyHeader reads a v1 or v2 header from r and returns the source
// address it carries; nil for a LOCAL (v2) or UNKNOWN (v1) header.
func readProxyHeader(r io.Reader) (net.Addr, error) {
	var start [12]byte
	if _, err := io.ReadFull(r, start[:]); err != nil {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	switch {
	case bytes.Equal(start[:], proxyV2Sig):
		return readProxyV2(r)
	case bytes.HasPrefix(start[:], []byte("PROXY ")):
		return readProxyV1(r, start[:])
	}
	return nil, errors.New("no PROXY header")
}

// readProxyV1 reads the rest of a text header whose first bytes are in
// start: "PROXY TCP4 192.0.2.1 192.0.2.2 56324 1883\r\n".
func readProxyV1(r io.Reader, start []byte) (net.Addr, error) {
	line := make([]byte, len(start), proxyV1Max)
	copy(line, start)
	var b [1]byte
	for !bytes.HasSuffix(line, []byte("\r\n")) {
		if len(line) == proxyV1Max {
			return nil, errors.New("v1 header longer than 107 bytes")
		}
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("reading the v1 header: %w", err)
		}
		line = append(line, b[0])
	}
	f := strings.Split(string(line[:len(line)-2]), " ")
	if len(f) >= 2 && f[1] == "UNKNOWN" {
		return nil, nil
	}
	if len(f) != 6 || (f[1] != "TCP4" && f[1] != "TCP6") {
		return nil, fmt.Errorf("malformed v1 header %q", line)
	}
	src, err1 := netip.ParseAddr(f[2])
	_, err2 := netip.ParseAddr(f[3])
	port, err3 := strconv.ParseUint(f[4], 10, 16)
	_, err4 := strconv.ParseUint(f[5], 10, 16)
	if err := errors.Join(err1, err2, err3, err4); err != nil || src.Is4() != (f[1] == "TCP4") || src.Zone() != "" {
		return nil, fmt.Errorf("malformed v1 header %q", line)
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, uint16(port))), nil
}

// readProxyV2 reads the rest of a binary header after its signature.
func readProxyV2(r io.Reader) (net.Addr, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("reading the v2 header: %w", err)
	}
	if h[0]>>4 != 2 {
		return nil, fmt.Errorf("v2 header with version %d", h[0]>>4)
	}
	cmd, family := h[0]&0x0f, h[1]
	n := int(binary.BigEndian.Uint16(h[2:]))
	if n > 4096 {
		return nil, fmt.Errorf("v2 header of %d bytes", n)
	}
	body := make([]byte, n) // addresses and TLVs
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("reading the v2 addresses: %w", err)
	}
	switch cmd {
	case 0: // LOCAL: a health check from the proxy itself
		return nil, nil
	case 1: // PROXY
	default:
		return nil, fmt.Errorf("v2 header with command %d", cmd)
	}
	var size int
	switch family {
	case 0x11, 0x12: // TCP or UDP over IPv4
		size = 4
	case 0x21, 0x22: // over IPv6
		size = 16
	case 0x00, 0x31, 0x32: // UNSPEC, unix: no IP address to report
		return nil, nil
	default:
		return nil, fmt.Errorf("v2 header with address family 0x%02x", family)
	}
	if n < 2*size+4 {
		return nil, fmt.Errorf("v2 header too short for its addresses (%d bytes)", n)
	}
	src, _ := netip.AddrFromSlice(body[:size])
	port := binary.BigEndian.Uint16(body[2*size:])
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, port)), nil
}

// addrOf returns the IP of a TCP address; invalid for other addresses.
func addrOf(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(t.IP)
		return ip.Unmap()
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

func inPrefixes(ip netip.Addr, ps []netip.Prefix) bool {
	if !ip.IsValid() {
		return false
	}
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
