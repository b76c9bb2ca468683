package broker

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

const (
	benchTopic   = "bench/route/qos0"
	benchPayload = 64
)

// benchSubscriberCounts are the fan-outs the routing benchmarks measure.
var benchSubscriberCounts = []int{1, 100}

// BenchmarkRouteQoS0 measures routing end to end: one publisher sends b.N
// QoS 0 PUBLISH packets (64-byte payload) over TCP to an in-process broker,
// which fans each out to every subscriber's TCP connection; subscribers
// read and discard. An op is one published message, delivered to all
// subscribers; the clock stops when the last byte has been read. allocs/op
// counts the whole process (broker, publisher and readers); MB/s counts the
// bytes published, not the bytes fanned out.
func BenchmarkRouteQoS0(b *testing.B) {
	for _, n := range benchSubscriberCounts {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) { benchRouteTCP(b, n) })
	}
}

func benchRouteTCP(b *testing.B, nsubs int) {
	s, addr := startServer(b, func(o *Options) {
		o.Limits.MaxPendingBytes = 64 << 20 // a benchmark, not a back-pressure test
	})
	pkt := (&packet.Publish{Topic: []byte(benchTopic), Payload: bytes.Repeat([]byte{'x'}, benchPayload)}).Append(nil, packet.V311)
	size := int64(len(pkt))

	var (
		received atomic.Int64             // bytes read by all subscribers
		progress = make(chan struct{}, 1) // a reader made progress
		readers  sync.WaitGroup
		socks    []net.Conn
	)
	for i := range nsubs {
		p, _ := connect(b, addr, packet.V311, &packet.Connect{ClientID: []byte(fmt.Sprintf("bench-sub-%d", i)), CleanStart: true})
		if codes := p.subscribe(sub(benchTopic, 0)); codes[0] != 0 {
			b.Fatalf("SUBACK %v", codes)
		}
		_ = p.nc.SetReadDeadline(time.Time{})
		socks = append(socks, p.nc)
		readers.Add(1)
		go func(nc net.Conn) {
			defer readers.Done()
			buf := make([]byte, 64<<10)
			for {
				n, err := nc.Read(buf)
				if n > 0 {
					received.Add(int64(n))
					select {
					case progress <- struct{}{}:
					default:
					}
				}
				if err != nil {
					return
				}
			}
		}(p.nc)
	}
	b.Cleanup(func() {
		for _, nc := range socks {
			_ = nc.Close()
		}
		readers.Wait()
	})
	pub, _ := connect(b, addr, packet.V311, &packet.Connect{ClientID: []byte("bench-pub"), CleanStart: true})

	// Publish in batches, as a client with a buffered writer would.
	const batch = 256
	chunk := bytes.Repeat(pkt, batch)
	droppedBefore := s.stats.dropped[DropPendingFull].Load()
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for left := b.N; left > 0; left -= batch {
		pub.sendRaw(chunk[:min(left, batch)*int(size)])
	}
	// PINGRESP comes after the broker has routed every PUBLISH before it.
	pub.send(&packet.Pingreq{})
	pub.expect(packet.PINGRESP)
	dropped := int64(s.stats.dropped[DropPendingFull].Load() - droppedBefore)
	want := (int64(b.N)*int64(nsubs) - dropped) * size
	deadline := time.After(time.Minute)
	for received.Load() < want {
		select {
		case <-progress:
		case <-deadline:
			b.Fatalf("subscribers read %d of %d bytes", received.Load(), want)
		}
	}
	b.StopTimer()
	if got := received.Load(); got != want {
		b.Fatalf("subscribers read %d bytes, want %d", got, want)
	}
	b.ReportMetric(float64(dropped)/float64(b.N), "drops/op")
}

// BenchmarkRouteInternal measures the routing path alone, without sockets:
// Server.route matching a pre-built QoS 0 message in the topic index and
// encoding a PUBLISH into each subscriber's outbound queue. The queues are
// drained in place of the writer goroutines every drainEvery messages.
func BenchmarkRouteInternal(b *testing.B) {
	for _, n := range benchSubscriberCounts {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) { benchRouteInternal(b, n) })
	}
}

func benchRouteInternal(b *testing.B, nsubs int) {
	f := newRouteFixture(b, nsubs, 0)
	s, from := f.s, f.from
	m := &message{topic: benchTopic, payload: bytes.Repeat([]byte{'x'}, benchPayload), created: time.Now()}
	drain := func() {
		for i := range f.subs {
			f.take(i)
		}
		from.flushWakes()
	}
	const drainEvery = 64
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if got := s.route(from, m); got != nsubs {
			b.Fatalf("routed to %d sessions, want %d", got, nsubs)
		}
		if i%drainEvery == drainEvery-1 {
			drain()
		}
	}
	b.StopTimer()
	drain()
	if d := s.stats.dropped[DropPendingFull].Load(); d != 0 {
		b.Fatalf("%d messages dropped", d)
	}
}
