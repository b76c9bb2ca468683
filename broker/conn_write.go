package broker

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/roostmq/roost/packet"
)

// outbound is a connection's queue of encoded bytes. Producers (the
// connection's own reader, publishers' readers, timers) append under mu; the
// writer goroutine alone touches the socket. mu is a leaf lock: nothing is
// called while it is held.
type outbound struct {
	mu      sync.Mutex
	buf     []byte // guarded by mu: bytes waiting for the writer
	spare   []byte // guarded by mu: the writer's previous buffer, reused
	writing int    // guarded by mu: bytes the writer is writing now
	over    int64  // guarded by mu: when appends first failed the pending limit (Unix nanoseconds); 0 when under
	lastOut uint32 // guarded by mu: hibernation tick of the last write
	closed  bool   // guarded by mu: no more appends
	woken   bool   // guarded by mu: a wake-up is pending for buf
	running bool   // guarded by mu: a writer goroutine exists
	notify  chan struct{}
	// idle: the writer was asked to exit, or has exited, because the
	// connection wrote nothing for a while (hibernate.go). The next wake
	// starts a writer again. Set and cleared under mu; read without it by
	// wake, so that an active connection pays one atomic load per wake.
	idle  atomic.Bool
	start func() // starts a writer goroutine; called under mu
}

// appendFn runs fn to append to the buffer unless the connection is closed or
// the pending bytes already exceed limit (limit <= 0: no check). It reports
// whether fn ran and whether the caller must wake the writer.
func (o *outbound) appendFn(limit int, fn func([]byte) []byte) (ok, wake bool) {
	o.mu.Lock()
	if o.closed || (limit > 0 && len(o.buf)+o.writing > limit) {
		if !o.closed && o.over == 0 {
			o.over = time.Now().UnixNano()
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
	if o.over == 0 {
		return 0
	}
	return now.Sub(time.Unix(0, o.over))
}

// wake tells the writer there is work, starting one if the connection's
// writer has retired; it never blocks.
func (o *outbound) wake() {
	if o.idle.Load() {
		o.restart()
		return
	}
	o.signal()
}

func (o *outbound) signal() {
	select {
	case o.notify <- struct{}{}:
	default:
	}
}

// restart cancels a retirement the writer has not acted on yet, or starts a
// new writer when the old one has exited.
func (o *outbound) restart() {
	o.mu.Lock()
	o.idle.Store(false)
	if o.running || o.closed {
		o.mu.Unlock()
		o.signal()
		return
	}
	o.running = true
	o.start()
	o.mu.Unlock()
}

// retireIfIdle asks a writer that has written nothing since tick idleSince
// to exit. It reports whether it asked.
func (o *outbound) retireIfIdle(idleSince uint32) bool {
	o.mu.Lock()
	ok := o.running && !o.closed && !o.idle.Load() && len(o.buf) == 0 && o.writing == 0 &&
		int32(o.lastOut-idleSince) <= 0
	if ok {
		o.idle.Store(true)
	}
	o.mu.Unlock()
	if ok {
		o.signal()
	}
	return ok
}

// retired is the writer's last check before it waits: it exits when asked
// to and nothing is queued.
func (o *outbound) retired() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.idle.Load() && len(o.buf) == 0 && !o.closed {
		o.running = false
		o.woken = false
		return true
	}
	return false
}

// take hands the waiting bytes to the writer.
func (o *outbound) take() (b []byte, closed bool) {
	o.mu.Lock()
	b = o.buf
	o.buf = o.spare[:0]
	o.spare = nil
	o.writing = len(b)
	o.woken = false
	o.over = 0
	closed = o.closed
	o.mu.Unlock()
	return b, closed
}

// done returns the written buffer for reuse; a large one is dropped so an
// idle connection keeps little memory. tick is the hibernation clock at
// the end of the write.
func (o *outbound) done(b []byte, tick uint32) {
	o.mu.Lock()
	o.writing = 0
	if len(b) > 0 {
		o.lastOut = tick
	}
	if cap(b) <= 64<<10 && o.spare == nil {
		o.spare = b[:0]
	}
	o.mu.Unlock()
}

// closeQueue stops further appends; a writer runs to drain the queue and
// close the write side. Once closed, no writer is started again, so the
// reader's wait for the writer cannot race with a new one.
func (o *outbound) closeQueue() {
	o.mu.Lock()
	o.closed = true
	o.idle.Store(false)
	if !o.running {
		o.running = true
		o.start()
	}
	o.mu.Unlock()
	o.signal()
}

// writeLoop is the connection's writer goroutine: the only code that writes
// to the socket. It exits when the queue is closed and drained, on a write
// error (which also closes the socket so the reader stops), or when the
// connection has been idle long enough to retire it (hibernate.go); the
// next wake then starts another. It drains before it first waits, so a
// writer started for queued bytes needs no signal.
func (c *conn) writeLoop() {
	defer c.wg.Done()
	timeout := c.srv.limits().WriteTimeout
	for {
		for {
			b, closed := c.out.take()
			// Taken first, then synced: every store write that a packet in b
			// depends on set needSync before the packet was queued.
			if len(b) > 0 && c.needSync.Swap(false) {
				if err := c.srv.store.Sync(); err != nil {
					c.srv.log.Error("store: sync failed; closing the connection before acknowledging", "client", c.clientID, "err", err)
					c.out.done(b, 0)
					c.fail(err)
					return
				}
			}
			if len(b) > 0 {
				_ = c.nc.SetWriteDeadline(time.Now().Add(timeout))
				_, err := c.nc.Write(b)
				c.out.done(b, c.srv.hibTick())
				if err != nil {
					c.fail(err)
					return
				}
				c.stats.bytesOut.Add(uint64(len(b)))
				continue
			}
			c.out.done(b, c.srv.hibTick())
			if closed {
				if tc, ok := c.nc.(interface{ CloseWrite() error }); ok {
					_ = tc.CloseWrite()
				}
				return
			}
			break
		}
		if c.out.retired() {
			return
		}
		<-c.out.notify
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
