package broker

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// A first packet that is not a CONNECT is refused on its first byte, with
// no need for its body; a CONNECT that claims more than max_connect_size is
// refused on its fixed header. Both close at once, long before the connect
// timeout. [MQTT-3.1.0-1]
func TestSecFirstPacketCheckedBeforeBody(t *testing.T) {
	_, addr := startServer(t, func(o *Options) { o.Limits.ConnectTimeout = 30 * time.Second })
	for _, tc := range []struct {
		name string
		head []byte
	}{
		{"PUBLISH first byte alone", []byte{0x30}},
		{"PUBLISH claiming 1 MiB", []byte{0x30, 0xf9, 0xff, 0x3f}},
		{"SUBSCRIBE claiming 1 MiB", []byte{0x82, 0xf9, 0xff, 0x3f}},
		{"CONNECT claiming 1 MiB", []byte{0x10, 0xf9, 0xff, 0x3f}},
		{"CONNECT claiming 64 KiB + 1", []byte{0x10, 0xfd, 0xff, 0x03}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := dial(t, addr, packet.V5)
			p.sendRaw(tc.head)
			p.closedWithin(2 * time.Second)
		})
	}
}

// A CONNECT up to max_connect_size is fine (a 60,000-byte will payload);
// a larger one is refused, unless the limit is raised or 0.
func TestSecConnectSizeLimit(t *testing.T) {
	will := func(n int) *packet.Connect {
		return withWill(&packet.Connect{ClientID: []byte("big-connect"), CleanStart: true}, "w/"+strings.Repeat("t", 100), strings.Repeat("x", n), 0, false)
	}
	_, addr := startServer(t, nil)
	eachVersion(t, func(t *testing.T, v packet.Version) {
		p, _ := connect(t, addr, v, will(60000))
		p.disconnect()
		p, ack := tryConnect(t, addr, v, will(65535))
		if ack != nil {
			t.Fatalf("CONNECT over 64 KiB: CONNACK %v", ack.ReasonCode)
		}
		p.closedWithin(2 * time.Second)
	})
	_, addr = startServer(t, func(o *Options) { o.Limits.MaxConnectSize = 0 })
	p, _ := connect(t, addr, packet.V311, will(65535))
	p.disconnect()
}

// 200 connections that each claim a 1 MiB first packet (a CONNECT or a
// PUBLISH) and send 128 KiB of it are closed on their fixed header: the
// broker does not buffer what they send (before, it held every one whole
// until the packet completed: 60 MB for 200).
func TestSecFirstPacketMemory(t *testing.T) {
	_, addr := startServer(t, func(o *Options) { o.Limits.ConnectTimeout = 30 * time.Second })
	const n = 200
	junk := make([]byte, 128<<10)
	before := secLiveHeap()
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	for i := range conns {
		nc, err := net.DialTimeout("tcp", addr, peerTimeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nc.Close() })
		conns[i] = nc
		head := []byte{0x10, 0xf9, 0xff, 0x3f}
		if i%2 == 1 {
			head[0] = 0x30
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = nc.SetWriteDeadline(time.Now().Add(peerTimeout))
			if _, err := nc.Write(head); err == nil {
				_, _ = nc.Write(junk) // fails once the broker has closed
			}
		}()
	}
	wg.Wait()
	grown := int64(secLiveHeap()) - int64(before)
	t.Logf("%d connections claiming 1 MiB first packets: heap grew %d bytes", n, grown)
	if grown > 8<<20 {
		t.Errorf("heap grew %d bytes", grown)
	}
	buf := make([]byte, 4096)
	for i, nc := range conns {
		_ = nc.SetReadDeadline(time.Now().Add(peerTimeout))
		for {
			if _, err := nc.Read(buf); err != nil {
				if !isClosedErr(err) {
					t.Fatalf("connection %d: %v, want closed by the broker", i, err)
				}
				break
			}
		}
	}
}
