package loadgen

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/roostmq/roost/packet"
)

// subscriber receives messages, acknowledges them and records latency,
// duplicates and per-publisher sequence coverage.
type subscriber struct {
	c        *mconn
	received atomic.Uint64
	mu       sync.Mutex
	lat      histogram
	seen     map[uint32]*bitset // publisher -> sequence numbers received
	unique   uint64
	dups     uint64
	done     chan struct{}
	flow     *flow // nil: no bound
}

type bitset struct{ words []uint64 }

// set marks i and reports whether it was already set.
func (b *bitset) set(i uint64) bool {
	w := i / 64
	for uint64(len(b.words)) <= w {
		b.words = append(b.words, 0)
	}
	m := uint64(1) << (i % 64)
	old := b.words[w]&m != 0
	b.words[w] |= m
	return old
}

func (s *subscriber) loop() {
	defer close(s.done)
	var pub packet.Publish
	acks := make([]byte, 0, 4096)
	batch := 0 // packets handled since the socket was last drained
	for {
		if s.c.r.Buffered() == 0 {
			if len(acks) > 0 {
				s.c.wmu.Lock()
				_, err := s.c.nc.Write(acks)
				s.c.wmu.Unlock()
				if err != nil {
					return
				}
				acks = acks[:0]
			}
			// In a flood, a broker that writes each message on its own makes
			// every read return one or two: pausing briefly lets a batch
			// build up, which costs the generator far fewer reads (and far
			// less kernel time) at a latency cost under 100 µs.
			if s.flow != nil && batch > 0 && batch < 8 {
				time.Sleep(100 * time.Microsecond)
			}
			batch = 0
		}
		batch++
		first, body, err := s.c.r.Read()
		if err != nil {
			return
		}
		switch packet.Type(first >> 4) {
		case packet.PUBLISH:
			if packet.DecodeInto(&pub, first, body, s.c.v) != nil {
				return
			}
			s.record(&pub)
			switch pub.QoS {
			case 1:
				acks = (&packet.Puback{Ack: packet.Ack{PacketID: pub.PacketID}}).Append(acks, s.c.v)
			case 2:
				acks = (&packet.Pubrec{Ack: packet.Ack{PacketID: pub.PacketID}}).Append(acks, s.c.v)
			}
		case packet.PUBREL:
			var rel packet.Pubrel
			if packet.DecodeInto(&rel, first, body, s.c.v) == nil {
				acks = (&packet.Pubcomp{Ack: packet.Ack{PacketID: rel.PacketID}}).Append(acks, s.c.v)
			}
		}
	}
}

func (s *subscriber) record(p *packet.Publish) {
	now := time.Now().UnixNano()
	s.received.Add(1)
	if s.flow != nil {
		s.flow.delivered.Add(1)
	}
	idx, seq, sent, ok := unstamp(p.Payload)
	if !ok {
		return
	}
	s.mu.Lock()
	s.lat.add(time.Duration(now - sent))
	b := s.seen[idx]
	if b == nil {
		b = &bitset{}
		s.seen[idx] = b
	}
	if b.set(seq) {
		s.dups++
	} else {
		s.unique++
	}
	s.mu.Unlock()
}
