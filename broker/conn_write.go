package broker

import (
	"sync"

	"github.com/roostmq/roost/packet"
	"time"
)

// outbound is a connection's queue of encoded bytes. Producers (the
// connection's own reader, publishers' readers, timers) append under mu; the
// writer goroutine alone touches the socket. mu is a leaf lock: nothing is
// called while it is held.
type outbound struct {
	mu      sync.Mutex
	buf     []byte    // guarded by mu: bytes waiting for the writer
	spare   []byte    // guarded by mu: the writer's previous buffer, reused
	writing int       // guarded by mu: bytes the writer is writing now
	closed  bool      // guarded by mu: no more appends
	woken   bool      // guarded by mu: a wake-up is pending for buf
	over    time.Time // guarded by mu: when appends first failed the pending limit; zero when under
	notify  chan struct{}
}

// appendFn runs fn to append to the buffer unless the connection is closed or
// the pending bytes already exceed limit (limit <= 0: no check). It reports
// whether fn ran and whether the caller must wake the writer.
func (o *outbound) appendFn(limit int, fn func([]byte) []byte) (ok, wake bool) {
	o.mu.Lock()
	if o.closed || (limit > 0 && len(o.buf)+o.writing > limit) {
		if !o.closed && o.over.IsZero() {
			o.over = time.Now()
		}
		o.mu.Unlock()
		return false, false
	}
	o.buf = fn(o.buf)
	wake = !o.woken
	o.woken = true
	o.mu.Unlock()
	return true, wake
}

// overSince reports how long appends have been refused for the pending
// limit without the writer making progress; zero when they are not.
func (o *outbound) overSince(now time.Time) time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.over.IsZero() {
		return 0
	}
	return now.Sub(o.over)
}

// wake tells the writer there is work; it never blocks.
func (o *outbound) wake() {
	select {
	case o.notify <- struct{}{}:
	default:
	}
}

// take hands the waiting bytes to the writer.
func (o *outbound) take() (b []byte, closed bool) {
	o.mu.Lock()
	b = o.buf
	o.buf = o.spare[:0]
	o.spare = nil
	o.writing = len(b)
	o.woken = false
	o.over = time.Time{}
	closed = o.closed
	o.mu.Unlock()
	return b, closed
}

// done returns the written buffer for reuse; a large one is dropped so an
// idle connection keeps little memory.
func (o *outbound) done(b []byte) {
	o.mu.Lock()
	o.writing = 0
	if cap(b) <= 64<<10 && o.spare == nil {
		o.spare = b[:0]
	}
	o.mu.Unlock()
}

// closeQueue stops further appends.
func (o *outbound) closeQueue() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.wake()
}

// writeLoop is the connection's writer goroutine: the only code that writes
// to the socket. It exits when the queue is closed and drained, or on a
// write error (which also closes the socket so the reader stops).
func (c *conn) writeLoop() {
	defer c.wg.Done()
	timeout := c.srv.limits().WriteTimeout
	for {
		<-c.out.notify
		for {
			b, closed := c.out.take()
			// Taken first, then synced: every store write that a packet in b
			// depends on set needSync before the packet was queued.
			if len(b) > 0 && c.needSync.Swap(false) {
				if err := c.srv.store.Sync(); err != nil {
					c.srv.log.Error("store: sync failed; closing the connection before acknowledging", "client", c.clientID, "err", err)
					c.out.done(b)
					c.fail(err)
					return
				}
			}
			if len(b) > 0 {
				_ = c.nc.SetWriteDeadline(time.Now().Add(timeout))
				_, err := c.nc.Write(b)
				c.out.done(b)
				if err != nil {
					c.fail(err)
					return
				}
				c.stats.bytesOut.Add(uint64(len(b)))
				continue
			}
			c.out.done(b)
			if closed {
				if tc, ok := c.nc.(interface{ CloseWrite() error }); ok {
					_ = tc.CloseWrite()
				}
				return
			}
			break
		}
	}
}

// dropSlow disconnects a slow consumer (5.0: DISCONNECT 0x97 is queued, but
// it rarely gets through). Its writer is stuck in a write to a socket the
// client does not read, so draining the queue, as kick alone does, would
// keep the connection until WriteTimeout: the socket is closed at once.
func (c *conn) dropSlow() {
	c.kick(packet.QuotaExceeded)
	c.fail(packet.QuotaExceeded)
}

// sendPacket queues one packet of the connection's own (acknowledgements,
// CONNACK, DISCONNECT) and wakes the writer.
func (c *conn) sendPacket(p packet.Packet) {
	v := c.version
	if v == 0 {
		v = packet.V311
	}
	c.send(func(b []byte) []byte { return p.Append(b, v) })
}

// send appends one encoded packet and wakes the writer at once; for the
// connection's own replies.
func (c *conn) send(fn func([]byte) []byte) {
	if _, wake := c.out.appendFn(0, fn); wake {
		c.out.wake()
	}
}
