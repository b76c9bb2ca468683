// Package faultconn wraps a net.Conn to inject transport faults in tests:
// reads and writes split into chosen sizes (down to one byte), stalls that
// last until released or for a while, resets, closes and errors, each at a
// chosen byte offset of either direction.
//
// Offsets count the bytes that passed through the wrapper in that direction
// since Wrap. A fault at offset n fires when the n-th byte would be the next
// one to pass: the bytes before it are delivered first (a read returns short
// rather than cross the offset), so a fault at the offset of byte k of a
// packet leaves exactly k bytes of it on the far side.
//
// A stalled operation honours the connection's deadline for that direction
// and ends when the connection is closed, like a read or write blocked on a
// silent network would.
package faultconn

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Dir is a direction of the connection, as seen by whoever holds the
// wrapper: Read is what it receives, Write what it sends.
type Dir int

// Directions.
const (
	Read Dir = iota
	Write
)

func (d Dir) String() string {
	if d == Read {
		return "read"
	}
	return "write"
}

type kind int

const (
	kindStall kind = iota
	kindReset
	kindClose
	kindFail
)

// Fault is what happens at an offset. Make one with Stall, StallFor, Reset,
// Close or Fail.
type Fault struct {
	kind    kind
	release <-chan struct{}
	d       time.Duration
	err     error
	hit     chan struct{}
	once    *sync.Once
}

func newFault(k kind) Fault {
	return Fault{kind: k, hit: make(chan struct{}), once: new(sync.Once)}
}

// Stall blocks the operation that reaches the offset until release is
// closed (or the deadline passes, or the connection is closed); then the
// bytes flow on.
func Stall(release <-chan struct{}) Fault {
	f := newFault(kindStall)
	f.release = release
	return f
}

// StallFor blocks the operation that reaches the offset for d.
func StallFor(d time.Duration) Fault {
	f := newFault(kindStall)
	f.d = d
	return f
}

// Reset aborts the connection at the offset: the underlying connection is
// closed with an RST where the transport allows (TCP linger 0), and the
// operation fails with ECONNRESET.
func Reset() Fault { return newFault(kindReset) }

// Close closes the connection at the offset: a read returns io.EOF, a write
// net.ErrClosed.
func Close() Fault { return newFault(kindClose) }

// Fail makes the operation that reaches the offset, and every later one in
// that direction, fail with err. The connection stays open.
func Fail(err error) Fault {
	f := newFault(kindFail)
	f.err = err
	return f
}

// Hit is closed when the fault first fires (for a stall: when the operation
// starts waiting), so a test can tell that the far side has seen exactly the
// bytes before the offset.
func (f Fault) Hit() <-chan struct{} { return f.hit }

func (f Fault) fire() { f.once.Do(func() { close(f.hit) }) }

// At places a fault at a byte offset.
type At struct {
	Offset int64
	Fault  Fault
}

// Plan describes the faults of one direction.
type Plan struct {
	// Chunks are the sizes of successive transfers: the first read (or
	// underlying write) moves at most Chunks[0] bytes, the next Chunks[1],
	// and the last size repeats. Empty: no splitting. A Write is still
	// written whole, as several underlying writes.
	Chunks []int
	// Gap is a pause before every underlying write after the first of one
	// Write call, so that the chunks leave as separate segments. Writes only.
	Gap time.Duration
	// Faults fire at their offsets, in offset order; several at one offset
	// fire in the order given.
	Faults []At
}

// side is the state of one direction.
type side struct {
	mu       sync.Mutex // serialises operations in this direction
	plan     Plan
	pos      atomic.Int64 // bytes passed; written under mu
	ops      int          // transfers so far (index into Chunks)
	next     int          // index of the next fault to fire
	failed   error        // sticky error from Fail
	deadline deadline
}

// deadline is a settable deadline that a waiting operation can watch.
type deadline struct {
	mu      sync.Mutex
	t       time.Time
	changed chan struct{} // closed and replaced when t changes
}

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	d.t = t
	if d.changed != nil {
		close(d.changed)
	}
	d.changed = make(chan struct{})
	d.mu.Unlock()
}

func (d *deadline) get() (time.Time, <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.changed == nil {
		d.changed = make(chan struct{})
	}
	return d.t, d.changed
}

// Conn is a net.Conn with faults. It is safe for one reader and one writer
// at a time, plus Close and the deadline setters from any goroutine.
type Conn struct {
	net.Conn
	r, w      side
	closeOnce sync.Once
	closed    chan struct{}
	rcOnce    sync.Once
	rclosed   chan struct{} // read side closed (CloseRead or Close)
}

// Wrap returns nc with the read and write plans applied.
func Wrap(nc net.Conn, read, write Plan) *Conn {
	c := &Conn{Conn: nc, closed: make(chan struct{}), rclosed: make(chan struct{})}
	c.r.plan = read
	c.w.plan = write
	sortFaults(c.r.plan.Faults)
	sortFaults(c.w.plan.Faults)
	return c
}

// sortFaults orders faults by offset, keeping the given order at one offset.
func sortFaults(fs []At) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].Offset < fs[j-1].Offset; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

// Offset returns how many bytes have passed in direction d.
func (c *Conn) Offset(d Dir) int64 {
	return c.side(d).pos.Load()
}

func (c *Conn) side(d Dir) *side {
	if d == Read {
		return &c.r
	}
	return &c.w
}

// limit returns how many of want bytes the next transfer may move: up to
// the chunk size and the next fault's offset. Caller holds s.mu.
func (s *side) limit(want int) int {
	n := want
	if k := len(s.plan.Chunks); k > 0 {
		sz := s.plan.Chunks[min(s.ops, k-1)]
		if sz > 0 {
			n = min(n, sz)
		}
	}
	if s.next < len(s.plan.Faults) {
		if left := s.plan.Faults[s.next].Offset - s.pos.Load(); left < int64(n) {
			n = int(max(left, 0))
		}
	}
	return n
}

// due reports the fault to fire now, if any. Caller holds s.mu.
func (s *side) due() (Fault, bool) {
	if s.next < len(s.plan.Faults) && s.plan.Faults[s.next].Offset <= s.pos.Load() {
		return s.plan.Faults[s.next].Fault, true
	}
	return Fault{}, false
}

// Read reads with the read plan's splitting and faults.
func (c *Conn) Read(p []byte) (int, error) {
	s := &c.r
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(p) == 0 {
		return c.Conn.Read(p)
	}
	for {
		if s.failed != nil {
			return 0, s.failed
		}
		if f, ok := s.due(); ok {
			if err := c.apply(Read, s, f); err != nil {
				return 0, err
			}
			continue
		}
		n, err := c.Conn.Read(p[:s.limit(len(p))])
		s.pos.Add(int64(n))
		s.ops++
		return n, err
	}
}

// Write writes all of p (unless an error or fault stops it) in the write
// plan's chunks.
func (c *Conn) Write(p []byte) (int, error) {
	s := &c.w
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(p) == 0 {
		return c.Conn.Write(p)
	}
	total, gap := 0, false
	for len(p) > 0 {
		if s.failed != nil {
			return total, s.failed
		}
		if f, ok := s.due(); ok {
			if err := c.apply(Write, s, f); err != nil {
				return total, err
			}
			gap = false // a fault is pause enough
			continue
		}
		if gap && s.plan.Gap > 0 {
			if err := c.wait(Write, nil, time.After(s.plan.Gap)); err != nil {
				return total, err
			}
		}
		gap = true
		n, err := c.Conn.Write(p[:s.limit(len(p))])
		s.pos.Add(int64(n))
		s.ops++
		total += n
		p = p[n:]
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// apply fires f in direction d; a nil error means the operation goes on.
// Caller holds s.mu.
func (c *Conn) apply(d Dir, s *side, f Fault) error {
	f.fire()
	switch f.kind {
	case kindStall:
		var timer <-chan time.Time
		if f.d > 0 {
			t := time.NewTimer(f.d)
			defer t.Stop()
			timer = t.C
		}
		if err := c.wait(d, f.release, timer); err != nil {
			return err // the stall stays: a later operation waits again
		}
	case kindReset:
		c.reset()
		s.next++
		return c.opErr(d, syscall.ECONNRESET)
	case kindClose:
		_ = c.Close()
		s.next++
		if d == Read {
			return io.EOF
		}
		return c.opErr(d, net.ErrClosed)
	case kindFail:
		s.failed = f.err
		s.next++
		return f.err
	}
	s.next++
	return nil
}

// wait blocks until release is closed or timer fires (nil error), or the
// deadline passes or the connection closes (an error).
func (c *Conn) wait(d Dir, release <-chan struct{}, timer <-chan time.Time) error {
	closed := c.closed
	if d == Read {
		closed = c.rclosed
	}
	dl := &c.side(d).deadline
	for {
		t, changed := dl.get()
		var expire <-chan time.Time
		if !t.IsZero() {
			left := time.Until(t)
			if left <= 0 {
				return c.opErr(d, os.ErrDeadlineExceeded)
			}
			tm := time.NewTimer(left)
			expire = tm.C
			defer tm.Stop()
		}
		select {
		case <-release:
			return nil
		case <-timer:
			return nil
		case <-closed:
			if d == Read {
				return io.EOF
			}
			return c.opErr(d, net.ErrClosed)
		case <-expire:
			return c.opErr(d, os.ErrDeadlineExceeded)
		case <-changed:
		}
	}
}

func (c *Conn) opErr(d Dir, err error) error {
	op := "read"
	if d == Write {
		op = "write"
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// reset closes the underlying connection, with an RST where it can.
func (c *Conn) reset() {
	if l, ok := c.Conn.(interface{ SetLinger(int) error }); ok {
		_ = l.SetLinger(0)
	}
	_ = c.Close()
}

// Close closes the connection; stalled operations end.
func (c *Conn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		close(c.closed)
		c.rcOnce.Do(func() { close(c.rclosed) })
		err = c.Conn.Close()
	})
	return err
}

// CloseRead shuts the read side down (the whole connection when the
// wrapped one cannot); a stalled read ends with io.EOF.
func (c *Conn) CloseRead() error {
	c.rcOnce.Do(func() { close(c.rclosed) })
	if cr, ok := c.Conn.(interface{ CloseRead() error }); ok {
		return cr.CloseRead()
	}
	return c.Close()
}

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.r.deadline.set(t)
	c.w.deadline.set(t)
	return c.Conn.SetDeadline(t)
}

// SetReadDeadline sets the read deadline; a stalled read honours it.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.r.deadline.set(t)
	return c.Conn.SetReadDeadline(t)
}

// SetWriteDeadline sets the write deadline; a stalled write honours it.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.w.deadline.set(t)
	return c.Conn.SetWriteDeadline(t)
}

// ErrInjected is a ready-made error for Fail.
var ErrInjected = errors.New("faultconn: injected failure")

// Listener wraps the connections another listener accepts.
type Listener struct {
	net.Listener
	// Wrap is applied to each accepted connection; nil leaves it as is.
	Wrap func(net.Conn) net.Conn
}

// Accept accepts and wraps the next connection.
func (l *Listener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil || l.Wrap == nil {
		return nc, err
	}
	return l.Wrap(nc), nil
}
