package broker

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
	"github.com/roostmq/roost/store"
	"github.com/roostmq/roost/topic"
)

// The retained set of BenchmarkRetainedSubscribe: site/<s>/dev/<d>/temp for
// 100 sites of 10,000 devices, a 16-byte payload each.
const (
	retainedSites   = 100
	retainedDevices = 10_000
	retainedTotal   = retainedSites * retainedDevices
)

// BenchmarkRetainedSubscribe measures what a SUBSCRIBE costs a client when
// the broker holds 1,000,000 retained messages: an op is one SUBSCRIBE
// (QoS 0, retain handling 0, so every op gets the retained messages again)
// until the client has read the SUBACK and every matching retained PUBLISH,
// over loopback TCP. The filters match 1, 100 and 10,000 of the messages,
// and none. ns/match divides an op by its matches. B/retained is the heap
// the broker (index and memory store) holds per retained message, measured
// once per run as the HeapAlloc growth from before the store was filled to
// after the broker loaded it; index-B/retained counts only what New loaded
// from the store into the broker's index. Each op checks every PUBLISH: the
// retain flag, a topic the filter matches, and the count; an untimed first
// subscribe also checks that no topic comes twice.
func BenchmarkRetainedSubscribe(b *testing.B) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc

	st := store.NewMemoryShared()         // filled here, read by the broker at start
	payload := []byte("21.5 C, ok, 0001") // 16 bytes
	created := time.Now()
	name := make([]byte, 0, 64)
	for s := range retainedSites {
		for d := range retainedDevices {
			name = append(name[:0], "site/"...)
			name = strconv.AppendInt(name, int64(s), 10)
			name = append(name, "/dev/"...)
			name = strconv.AppendInt(name, int64(d), 10)
			name = append(name, "/temp"...)
			if err := st.SetRetained(&store.Message{Topic: string(name), Payload: payload, Retain: true, Created: created}); err != nil {
				b.Fatal(err)
			}
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	filled := ms.HeapAlloc

	s, addr := startServer(b, func(o *Options) {
		o.Store = st
		o.Limits.MaxPendingBytes = 64 << 20 // a benchmark, not a back-pressure test
	})
	if n := s.retained.Len(); n != retainedTotal {
		b.Fatalf("broker loaded %d retained messages, want %d", n, retainedTotal)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	perMsg := float64(ms.HeapAlloc-before) / retainedTotal
	indexPerMsg := float64(ms.HeapAlloc-filled) / retainedTotal

	for _, tc := range []struct {
		name    string
		filter  string
		matches int
	}{
		{"matches=1", "site/42/dev/4242/temp", 1},
		{"matches=100", "site/+/dev/4242/temp", 100},
		{"matches=10000", "site/42/dev/+/temp", 10_000},
		{"matches=0", "site/42/dev/4242/humidity", 0},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p, _ := connect(b, addr, packet.V311, &packet.Connect{ClientID: []byte("bench-retained-" + tc.name), CleanStart: true})
			req := (&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{sub(tc.filter, 0)}}).Append(nil, packet.V311)
			seen := map[string]bool{}
			readRetained(b, p, req, tc.filter, tc.matches, seen) // untimed: checks the set once
			if len(seen) != tc.matches {
				b.Fatalf("%s: %d distinct topics, want %d", tc.filter, len(seen), tc.matches)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				readRetained(b, p, req, tc.filter, tc.matches, nil)
			}
			b.StopTimer()
			// Nothing more than the matches came: PINGRESP is next.
			p.send(&packet.Pingreq{})
			p.expect(packet.PINGRESP)
			if tc.matches > 0 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(tc.matches), "ns/match")
			}
			b.ReportMetric(perMsg, "B/retained")
			b.ReportMetric(indexPerMsg, "index-B/retained")
		})
	}
}

// readRetained sends the encoded SUBSCRIBE req (packet id 1) and reads its
// SUBACK and then want retained PUBLISHes, failing on anything else. seen,
// when not nil, collects the topics and fails on a repeated one.
func readRetained(b *testing.B, p *peer, req []byte, filter string, want int, seen map[string]bool) {
	p.sendRaw(req)
	_ = p.nc.SetReadDeadline(time.Now().Add(time.Minute))
	first, body, err := p.r.Read()
	if err != nil {
		b.Fatalf("waiting for SUBACK: %v", err)
	}
	var ack packet.Suback
	if err := packet.DecodeInto(&ack, first, body, packet.V311); err != nil {
		b.Fatalf("waiting for SUBACK: %v", err)
	}
	if ack.PacketID != 1 || len(ack.ReasonCodes) != 1 || ack.ReasonCodes[0] != 0 {
		b.Fatalf("SUBACK %+v", ack)
	}
	var pub packet.Publish
	for i := range want {
		first, body, err := p.r.Read()
		if err != nil {
			b.Fatalf("%s: read %d of %d retained messages: %v", filter, i, want, err)
		}
		if err := packet.DecodeInto(&pub, first, body, packet.V311); err != nil {
			b.Fatalf("%s: message %d: %v", filter, i, err)
		}
		if !pub.Retain || !topic.Match(filter, string(pub.Topic)) {
			b.Fatalf("%s: message %d on %q, retain %v", filter, i, pub.Topic, pub.Retain)
		}
		if seen != nil {
			if seen[string(pub.Topic)] {
				b.Fatalf("%s: %q came twice", filter, pub.Topic)
			}
			seen[string(pub.Topic)] = true
		}
	}
}
