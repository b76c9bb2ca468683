package broker

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"

	"github.com/roostmq/roost/packet"
)

// A burst of large messages sent in one write crosses the read buffer's
// growth (ReadAhead) on the publisher's side and the pooled outbound chunks
// and writev on the subscriber's: every message arrives once, in order,
// intact. With small socket buffers on both ends, and the subscriber
// reading nothing until the burst is queued, its backlog spans many chunks.
func TestLargeBurstInOrder(t *testing.T) {
	eachVersion(t, func(t *testing.T, v packet.Version) {
		s, addr := startServer(t, nil)
		subscriber := clean(t, addr, v, "burst-sub")
		subscriber.setReadBuffer(16 << 10)
		subscriber.subscribe(sub("burst/t", 0))
		// Small socket buffers on both ends: the kernel holds little of the
		// burst, the broker's outbound queue the rest.
		s.mu.Lock()
		sc := s.sessions["burst-sub"]
		s.mu.Unlock()
		sc.mu.Lock()
		_ = sc.conn.nc.(*net.TCPConn).SetWriteBuffer(16 << 10)
		sc.mu.Unlock()
		pub := clean(t, addr, v, "burst-pub")
		const n, size = 400, 4096 // 1.6 MB: about 50 chunks
		var burst []byte
		for i := range n {
			payload := bytes.Repeat([]byte{byte(i)}, size)
			binary.BigEndian.PutUint32(payload, uint32(i))
			burst = (&packet.Publish{Topic: []byte("burst/t"), Payload: payload}).Append(burst, v)
		}
		done := make(chan error, 1)
		go func() {
			_, err := pub.nc.Write(burst)
			done <- err
		}()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the backlog to span chunks", func() bool { return s.Metrics().PendingBytes > 8*chunkSize })
		for i := range n {
			got := subscriber.expect(packet.PUBLISH).(*packet.Publish)
			if len(got.Payload) != size || binary.BigEndian.Uint32(got.Payload) != uint32(i) ||
				!bytes.Equal(got.Payload[4:], bytes.Repeat([]byte{byte(i)}, size-4)) {
				t.Fatalf("message %d: wrong payload (seq %d, %d bytes)", i, binary.BigEndian.Uint32(got.Payload), len(got.Payload))
			}
		}
		subscriber.expectNothing(quiet)
	})
}
