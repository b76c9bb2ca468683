package broker

import (
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roostmq/roost/packet"
)

// chunkSize bounds how far the buffer being appended to grows in place:
// beyond it, bytes go into further chunks of this size from a pool, and the
// writer hands them all to one writev. A backlog never costs the copying of
// an ever-larger buffer, nor fresh memory from the OS for each burst.
const chunkSize = 32 << 10

var chunkPool = sync.Pool{New: func() any { b := make([]byte, 0, chunkSize); return &b }}

// newChunk returns an empty buffer for a chunk whose first packet needs
// need bytes: a pooled one, or one of its own for a larger packet.
func newChunk(need int) []byte {
	if need > chunkSize {
		return make([]byte, 0, need)
	}
	return (*chunkPool.Get().(*[]byte))[:0]
}

// recycle returns a written chunk to the pool; other buffers are left to
// the collector.
func recycle(b []byte) {
	if cap(b) == chunkSize {
		b = b[:0]
		chunkPool.Put(&b)
	}
}

// outbound is a connection's queue of encoded bytes. Producers (the
// connection's own reader, publishers' readers, timers) append under mu; the
// writer goroutine alone touches the socket. mu is a leaf lock: nothing is
// called while it is held.
type outbound struct {
	mu      sync.Mutex
	buf     []byte   // guarded by mu: bytes waiting for the writer, after full
	full    [][]byte // guarded by mu: chunks filled before buf, in order
	queued  int      // guarded by mu: bytes in full
	writing int      // guarded by mu: bytes the writer is writing now
	over    int64    // guarded by mu: when appends first failed the pending limit (Unix nanoseconds); 0 when under
	lastOut uint32   // guarded by mu: hibernation tick of the last write
	closed  bool     // guarded by mu: no more appends
	running bool     // guarded by mu: a writer goroutine exists
	// woken: since the writer last took, some producer owes it a wake-up
	// (or has sent one). A reader routing a batch (batch appends) owes it
	// until it is about to block; others may delay behind it.
	woken bool // guarded by mu
	// signalled: a producer that wakes at once (the connection's own
	// replies, timers, wills, $SYS, Server.Publish, acknowledgements that
	// fill the window) has woken the writer, or is about to, since it last
	// took. Such producers never wait behind a batch's owed wake.
	signalled bool // guarded by mu
	notify    chan struct{}
	// idle: the writer was asked to exit, or has exited, because the
	// connection wrote nothing for a while (hibernate.go). The next wake
	// starts a writer again. Set and cleared under mu; read without it by
	// wake, so that an active connection pays one atomic load per wake.
	idle  atomic.Bool
	start func() // starts a writer goroutine; called under mu
}

// appendFn runs fn to append to the buffer unless the connection is closed or
// the pending bytes already exceed limit (limit <= 0: no check). need is
// about how many bytes fn appends (0 for a small packet). It reports
// whether fn ran and whether the caller must wake the writer. batch: the
// caller is a reader that wakes the writers it appended to once its read
// batch is handled (conn.flushWakes), so it need not wake a writer that
// another producer already owes a wake; any other caller wakes at once,
// and must unless a wake was already sent for what it appended.
func (o *outbound) appendFn(limit, need int, batch bool, fn func([]byte) []byte) (ok, wake bool) {
	o.mu.Lock()
	// Deferred: fn encodes, and a panic in it (recovered by the caller's
	// goroutine) must not leave the lock held. On a panic buf keeps what
	// it had; fn's partial append is beyond its length.
	defer o.mu.Unlock()
	if o.closed || (limit > 0 && o.queued+len(o.buf)+o.writing > limit) {
		if !o.closed && o.over == 0 {
			o.over = time.Now().UnixNano()
		}
		return false, false
	}
	if len(o.buf) > 0 && len(o.buf)+need > chunkSize {
		o.full = append(o.full, o.buf)
		o.queued += len(o.buf)
		o.buf = newChunk(need)
	} else if o.buf == nil && need > chunkSize/2 {
		o.buf = newChunk(need)
	}
	o.buf = fn(o.buf)
	if batch {
		wake = !o.woken
	} else {
		wake = !o.signalled
		o.signalled = true
	}
	o.woken = true
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
// to exit.
func (o *outbound) retireIfIdle(idleSince uint32) {
	o.mu.Lock()
	ok := o.running && !o.closed && !o.idle.Load() && len(o.buf) == 0 && len(o.full) == 0 && o.writing == 0 &&
		int32(o.lastOut-idleSince) <= 0
	if ok {
		o.idle.Store(true)
	}
	o.mu.Unlock()
	if ok {
		o.signal()
	}
}

// retired is the writer's last check before it waits: it exits when asked
// to and nothing is queued.
func (o *outbound) retired() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.idle.Load() && len(o.buf) == 0 && len(o.full) == 0 && !o.closed {
		o.running = false
		o.woken, o.signalled = false, false
		if cap(o.buf) > 0 { // a retired writer's connection keeps no buffer
			recycle(o.buf)
			o.buf = nil
		}
		return true
	}
	return false
}

// take hands the waiting bytes to the writer, appended to dst in order,
// with their total length. *spare, the writer's previous small buffer,
// takes the place of the buffer it hands over (and is then set to nil).
func (o *outbound) take(dst [][]byte, spare *[]byte) (bufs [][]byte, n int, closed bool) {
	o.mu.Lock()
	dst = append(dst, o.full...)
	clear(o.full)
	o.full = o.full[:0]
	n = o.queued
	o.queued = 0
	if len(o.buf) > 0 {
		dst = append(dst, o.buf)
		n += len(o.buf)
		o.buf = (*spare)[:0]
		*spare = nil
	}
	o.writing = n
	o.woken, o.signalled = false, false
	o.over = 0
	closed = o.closed
	o.mu.Unlock()
	return dst, n, closed
}

// done takes back the written buffers: the last one, unless larger than a
// chunk, is returned as the writer's next spare; pooled chunks before it go
// back to the pool.
// tick is the hibernation clock at the end of the write.
func (o *outbound) done(bufs [][]byte, tick uint32) (spare []byte) {
	o.mu.Lock()
	o.writing = 0
	if len(bufs) > 0 {
		o.lastOut = tick
	}
	o.mu.Unlock()
	for i, b := range bufs {
		if cap(b) <= chunkSize && i == len(bufs)-1 {
			spare = b[:0]
		} else {
			recycle(b)
		}
		bufs[i] = nil
	}
	return spare
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
	defer c.containWriter()
	timeout := c.srv.limits().WriteTimeout
	var bufs, vec [][]byte // reused: what take returned, and writev's copy
	var spare []byte       // the last small buffer written, appended to next
	for {
		for {
			var n int
			var closed bool
			bufs, n, closed = c.out.take(bufs[:0], &spare)
			// Taken first, then synced: every store write that a packet in
			// bufs depends on set needSync before the packet was queued.
			if n > 0 && c.needSync.Swap(false) {
				if err := c.srv.store.Sync(); err != nil {
					c.srv.log.Error("store: sync failed; closing the connection before acknowledging", "client", c.clientID, "err", err)
					c.out.done(bufs, 0)
					c.fail(err)
					return
				}
			}
			if n > 0 {
				c.srv.fault("writer")
				_ = c.nc.SetWriteDeadline(time.Now().Add(timeout))
				var err error
				if len(bufs) == 1 {
					_, err = c.nc.Write(bufs[0])
				} else {
					vec = append(vec[:0], bufs...) // WriteTo consumes its slice
					nb := net.Buffers(vec)
					_, err = nb.WriteTo(c.nc)
					clear(vec)
				}
				spare = c.out.done(bufs, c.srv.hibTick())
				if err != nil {
					c.fail(err)
					return
				}
				c.stats.bytesOut.Add(uint64(n))
				continue
			}
			// Nothing taken: take set writing to 0 and there is nothing to hand back.
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

// containWriter recovers a panic in the writer: it is logged and counted,
// and the connection is closed (its reader then ends it as after a write
// error).
func (c *conn) containWriter() {
	if r := recover(); r != nil {
		c.srv.stats.panics.Add(1)
		c.srv.log.Error("connection writer panicked; closing only this connection",
			"client", c.clientID, "remote", c.nc.RemoteAddr().String(), "panic", r, "stack", string(debug.Stack()))
		c.fail(errPanicked)
	}
}

// dropSlow disconnects a slow consumer (5.0: DISCONNECT 0x97 is queued, but
// it rarely gets through). Its writer is stuck in a write to a socket the
// client does not read, so draining the queue, as kick alone does, would
// keep the connection until WriteTimeout: the socket is closed at once.
// The caller set kicked: one goroutine per connection, however many
// messages are dropped meanwhile.
func (c *conn) dropSlow() {
	c.srv.fault("slow consumer")
	c.closeKicked(packet.QuotaExceeded)
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
	if _, wake := c.out.appendFn(0, 0, false, fn); wake {
		c.out.wake()
	}
}
