package broker

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

const (
	churnPublishers = 2 // publish to churn/<i>/data, i < churnPublishers
	churnStable     = 4 // subscribed to churn/+/data for the whole run
)

// The filters the churning clients subscribe to and unsubscribe from, in
// turn. matchingFilters match the published topics, so each subscription
// also receives the publishers' messages while it lasts;
// nonmatchingFilters share the published topics' trie branch but match
// none of them, so only the index changes.
var (
	matchingFilters    = []string{"churn/#", "churn/+/data", "churn/0/data", "+/1/data", "churn/1/+", "+/+/data", "#"}
	nonmatchingFilters = []string{"churn/+/status", "churn/7/data", "churn/0/data/x", "+/+/status", "churn/1/+/x"}
)

// BenchmarkSubscriptionChurn measures routing while subscriptions change:
// churnPublishers publishers send 64-byte QoS 0 PUBLISH packets over TCP as
// fast as they can (batches of 256) to topics that churnStable stable
// subscribers match, while 4 other clients each repeat SUBSCRIBE, wait for
// SUBACK, UNSUBSCRIBE, wait for UNSUBACK, with filters that match the
// published topics (and read and discard what those deliver), or with
// filters next to them that match nothing. churn=0 is the same run without
// churning clients, for the ratio. An op is one published message; the
// clock stops when every stable subscriber has read every message, and the
// run fails if one of them misses any or gets anything else. msgs/s is
// published messages per second (each delivered to all stable
// subscribers); sub+unsub/s counts the SUBSCRIBE/UNSUBSCRIBE pairs the
// churning clients completed while the clock ran.
func BenchmarkSubscriptionChurn(b *testing.B) {
	b.Run("churn=0", func(b *testing.B) { benchChurn(b, 0, nil) })
	b.Run("churn=4/matching", func(b *testing.B) { benchChurn(b, 4, matchingFilters) })
	b.Run("churn=4/nonmatching", func(b *testing.B) { benchChurn(b, 4, nonmatchingFilters) })
}

func benchChurn(b *testing.B, nchurn int, filters []string) {
	var stableDrops atomic.Int64 // messages the broker dropped for a stable subscriber
	s, addr := startServer(b, func(o *Options) {
		o.Limits.MaxPendingBytes = 64 << 20 // a benchmark, not a back-pressure test
		o.Hooks.OnDropped = func(clientID, _ string, _ DropReason) {
			if strings.HasPrefix(clientID, "churn-stable-") {
				stableDrops.Add(1)
			}
		}
	})
	payload := bytes.Repeat([]byte{'x'}, benchPayload)
	var pkts [][]byte // one encoded PUBLISH per publisher, all the same size
	for i := range churnPublishers {
		pkts = append(pkts, (&packet.Publish{Topic: []byte("churn/" + strconv.Itoa(i) + "/data"), Payload: payload}).Append(nil, packet.V311))
	}
	size := len(pkts[0])

	var (
		wg       sync.WaitGroup
		socks    []net.Conn
		failure  atomic.Pointer[error] // the first error of a helper goroutine
		stop     atomic.Bool           // churners stop after their current pair
		progress = make(chan struct{}, 1)
	)
	fail := func(err error) { failure.CompareAndSwap(nil, &err) }
	b.Cleanup(func() {
		stop.Store(true)
		for _, nc := range socks {
			_ = nc.Close()
		}
		wg.Wait()
	})

	// Stable subscribers count the PUBLISH packets they read.
	got := make([]atomic.Int64, churnStable)
	for i := range churnStable {
		p, _ := connect(b, addr, packet.V311, &packet.Connect{ClientID: []byte("churn-stable-" + strconv.Itoa(i)), CleanStart: true})
		if codes := p.subscribe(sub("churn/+/data", 0)); codes[0] != 0 {
			b.Fatalf("SUBACK %v", codes)
		}
		_ = p.nc.SetReadDeadline(time.Time{})
		socks = append(socks, p.nc)
		r := packet.NewReader(p.nc, 64<<10, 0) // nothing is buffered in p.r after the SUBACK
		wg.Go(func() {
			for {
				first, body, err := r.Read()
				if err != nil {
					return // closed at the end
				}
				if packet.Type(first>>4) != packet.PUBLISH || len(body) != size-2 {
					fail(fmt.Errorf("stable subscriber %d: got packet type %d of %d bytes", i, first>>4, len(body)))
					return
				}
				got[i].Add(1)
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		})
	}

	// Churners.
	var pairs atomic.Int64
	for i := range nchurn {
		p, _ := connect(b, addr, packet.V311, &packet.Connect{ClientID: []byte("churn-" + strconv.Itoa(i)), CleanStart: true})
		_ = p.nc.SetReadDeadline(time.Time{})
		socks = append(socks, p.nc)
		wg.Go(func() {
			if err := churn(p, i, filters, &stop, &pairs); err != nil && !stop.Load() {
				fail(fmt.Errorf("churner %d: %w", i, err))
			}
		})
	}
	// Let every churner complete a pair before the clock starts.
	deadline := time.Now().Add(time.Minute)
	for pairs.Load() < int64(nchurn) && failure.Load() == nil {
		if time.Now().After(deadline) {
			b.Fatalf("churners completed %d pairs in a minute", pairs.Load())
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}

	pubs := make([]*peer, churnPublishers)
	for i := range pubs {
		pubs[i], _ = connect(b, addr, packet.V311, &packet.Connect{ClientID: []byte("churn-pub-" + strconv.Itoa(i)), CleanStart: true})
	}
	droppedBefore := s.stats.dropped[DropPendingFull].Load()
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	pairsBefore := pairs.Load()
	var pubWG sync.WaitGroup
	for i, p := range pubs {
		n := b.N / churnPublishers
		if i == 0 {
			n += b.N % churnPublishers
		}
		pubWG.Go(func() {
			if err := publishBatches(p, pkts[i], n); err != nil {
				fail(fmt.Errorf("publisher %d: %w", i, err))
			}
		})
	}
	pubWG.Wait()
	want := int64(b.N)
	deadline = time.Now().Add(time.Minute)
	for i := range got {
		for got[i].Load() < want {
			if failure.Load() != nil || stableDrops.Load() != 0 {
				break
			}
			select {
			case <-progress:
			case <-time.After(10 * time.Millisecond): // another subscriber's progress may have taken the signal
			}
			if time.Now().After(deadline) {
				b.Fatalf("stable subscriber %d read %d of %d messages (%d dropped for full pending buffers)",
					i, got[i].Load(), want, s.stats.dropped[DropPendingFull].Load()-droppedBefore)
			}
		}
	}
	elapsed := time.Since(start)
	done := pairs.Load() - pairsBefore
	b.StopTimer()
	stop.Store(true)
	if p := failure.Load(); p != nil {
		b.Fatal(*p)
	}
	if n := stableDrops.Load(); n != 0 {
		b.Fatalf("the broker dropped %d messages for stable subscribers (pending buffers full)", n)
	}
	// PINGRESP on each publisher came after the broker routed its last
	// PUBLISH, so nothing more is on the way: the counts are final.
	for i := range got {
		if n := got[i].Load(); n != want {
			b.Fatalf("stable subscriber %d read %d messages, want %d", i, n, want)
		}
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(done)/elapsed.Seconds(), "sub+unsub/s")
}

// publishBatches sends n copies of the encoded PUBLISH pkt in batches of
// 256, then PINGREQ, and waits for the PINGRESP: the broker has routed
// every PUBLISH by then.
func publishBatches(p *peer, pkt []byte, n int) error {
	const batch = 256
	chunk := bytes.Repeat(pkt, batch)
	_ = p.nc.SetWriteDeadline(time.Now().Add(time.Minute))
	for left := n; left > 0; left -= batch {
		if _, err := p.nc.Write(chunk[:min(left, batch)*len(pkt)]); err != nil {
			return err
		}
	}
	if _, err := p.nc.Write((&packet.Pingreq{}).Append(nil, packet.V311)); err != nil {
		return err
	}
	_ = p.nc.SetReadDeadline(time.Now().Add(time.Minute))
	first, _, err := p.r.Read()
	if err != nil {
		return err
	}
	if packet.Type(first>>4) != packet.PINGRESP {
		return fmt.Errorf("got packet type %d, want PINGRESP", first>>4)
	}
	return nil
}

// churn repeats SUBSCRIBE/UNSUBSCRIBE pairs on p, going through filters,
// until stop, counting the pairs whose UNSUBACK came. PUBLISH packets the subscriptions deliver are
// read and discarded.
func churn(p *peer, i int, filters []string, stop *atomic.Bool, pairs *atomic.Int64) error {
	r := packet.NewReader(p.nc, 64<<10, 0) // nothing is buffered in p.r after the CONNACK
	var id uint16
	nextID := func() uint16 {
		id++
		if id == 0 {
			id = 1
		}
		return id
	}
	// await reads until the acknowledgement of type t with packet id want.
	await := func(t packet.Type, want uint16) error {
		_ = p.nc.SetReadDeadline(time.Now().Add(time.Minute))
		for {
			first, body, err := r.Read()
			if err != nil {
				return err
			}
			switch packet.Type(first >> 4) {
			case packet.PUBLISH:
				continue
			case t:
				pk, err := packet.Decode(first, body, packet.V311)
				if err != nil {
					return err
				}
				var got uint16
				switch a := pk.(type) {
				case *packet.Suback:
					got = a.PacketID
					if len(a.ReasonCodes) != 1 || a.ReasonCodes[0] != 0 {
						return fmt.Errorf("SUBACK %v", a.ReasonCodes)
					}
				case *packet.Unsuback:
					got = a.PacketID
				}
				if got != want {
					return fmt.Errorf("%v for packet id %d, want %d", t, got, want)
				}
				return nil
			default:
				return fmt.Errorf("got packet type %d, waiting for %v", first>>4, t)
			}
		}
	}
	for k := i; !stop.Load(); k++ {
		f := []byte(filters[k%len(filters)])
		sid := nextID()
		if _, err := p.nc.Write((&packet.Subscribe{PacketID: sid, Subscriptions: []packet.Subscription{{Filter: f}}}).Append(nil, packet.V311)); err != nil {
			return err
		}
		if err := await(packet.SUBACK, sid); err != nil {
			return err
		}
		uid := nextID()
		if _, err := p.nc.Write((&packet.Unsubscribe{PacketID: uid, Filters: [][]byte{f}}).Append(nil, packet.V311)); err != nil {
			return err
		}
		if err := await(packet.UNSUBACK, uid); err != nil {
			return err
		}
		pairs.Add(1)
	}
	return nil
}
