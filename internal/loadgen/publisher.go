package loadgen

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/roostmq/roost/packet"
)

// publisher publishes to one topic until its count or the deadline.
type publisher struct {
	cfg    *Config
	idx    uint32
	topic  string
	c      *mconn
	window chan struct{} // QoS 1/2 slots
	sent   atomic.Uint64 // PUBLISH packets written
	flow   *flow         // nil: no bound on outstanding deliveries
	acked  atomic.Uint64 // completed QoS 1/2 flows (or written, for QoS 0)
	done   chan struct{} // the ack reader ended
	err    error
}

// ackLoop reads acknowledgements, answers PUBREC with PUBREL and frees window
// slots.
func (p *publisher) ackLoop() {
	defer close(p.done)
	for {
		first, body, err := p.c.r.Read()
		if err != nil {
			return
		}
		switch packet.Type(first >> 4) {
		case packet.PUBACK, packet.PUBCOMP:
			p.acked.Add(1)
			<-p.window
		case packet.PUBREC:
			var rec packet.Pubrec
			if packet.DecodeInto(&rec, first, body, p.c.v) == nil {
				_ = p.c.write(&packet.Pubrel{Ack: packet.Ack{PacketID: rec.PacketID}})
			}
		}
	}
}

// run publishes; per is the pacing interval (0 floods).
func (p *publisher) run(ctx context.Context, start time.Time, per time.Duration) error {
	cfg := p.cfg
	payload := make([]byte, cfg.PayloadSize)
	pub := packet.Publish{QoS: cfg.QoS, Topic: []byte(p.topic), Payload: payload}
	var id uint16
	batch := make([]byte, 0, 64<<10)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		p.c.wmu.Lock()
		_, err := p.c.nc.Write(batch)
		p.c.wmu.Unlock()
		batch = batch[:0]
		return err
	}
	deadline := start.Add(cfg.Duration)
	for seq := uint64(0); ; seq++ {
		if cfg.Count > 0 && seq >= uint64(cfg.Count) {
			break
		}
		if cfg.Count == 0 && !time.Now().Before(deadline) {
			break
		}
		if ctx.Err() != nil {
			break
		}
		if per > 0 {
			if err := flush(); err != nil {
				return err
			}
			if wait := time.Until(start.Add(time.Duration(seq) * per)); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
				}
			}
		}
		if cfg.QoS > 0 {
			select {
			case p.window <- struct{}{}:
			default:
				if err := flush(); err != nil {
					return err
				}
				select {
				case p.window <- struct{}{}:
				case <-p.done:
					return errors.New("connection lost")
				case <-ctx.Done():
					return nil
				}
			}
			id++
			if id == 0 {
				id = 1
			}
			pub.PacketID = id
		}
		if p.flow != nil && seq%64 == 0 && p.flow.over() {
			if err := flush(); err != nil {
				return err
			}
			if !p.flow.wait(ctx, p.done) {
				break
			}
		}
		stamp(payload, p.idx, seq, time.Now())
		batch = pub.Append(batch, cfg.Version)
		p.sent.Add(1)
		if p.flow != nil {
			p.flow.sent.Add(p.flow.copies)
		}
		if cfg.QoS == 0 {
			p.acked.Add(1)
		}
		if len(batch) >= 32<<10 || per > 0 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// drain waits until every QoS 1/2 flow completed or the timeout passed.
func (p *publisher) drain(timeout time.Duration) {
	if p.cfg.QoS == 0 {
		return
	}
	deadline := time.Now().Add(timeout)
	for p.acked.Load() < p.sent.Load() && time.Now().Before(deadline) {
		select {
		case <-p.done:
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// flow bounds the deliveries outstanding between all publishers and all
// subscribers of a flood.
type flow struct {
	copies    uint64 // deliveries per published message
	max       uint64
	sent      atomic.Uint64 // deliveries owed: messages published x copies
	delivered atomic.Uint64 // deliveries received
	off       atomic.Bool   // stalled: no longer bounding
}

func (f *flow) over() bool {
	return !f.off.Load() && f.sent.Load() > f.delivered.Load()+f.max
}

// wait blocks while too much is outstanding; false when the run or the
// connection ended. When deliveries stop for a second (the broker dropped
// messages, which never arrive), flow control turns itself off so the run
// still ends. It polls: the generator's own pacing, not a test.
func (f *flow) wait(ctx context.Context, done <-chan struct{}) bool {
	last, since := f.delivered.Load(), time.Now()
	for !f.off.Load() && f.sent.Load() > f.delivered.Load()+f.max/2 {
		if d := f.delivered.Load(); d != last {
			last, since = d, time.Now()
		} else if time.Since(since) > time.Second {
			f.off.Store(true)
		}
		select {
		case <-ctx.Done():
			return false
		case <-done:
			return false
		case <-time.After(50 * time.Microsecond):
		}
	}
	return true
}
