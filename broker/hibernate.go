package broker

import (
	"errors"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Hibernation: a connection that has been idle for Options.HibernateAfter
// keeps no goroutine. Its reader exits after handing the socket to a
// poller (epoll on Linux) that starts a new reader when bytes, EOF or an
// error arrive, when the keep-alive deadline passes, or when the server
// closes the connection. Its writer exits when it has written nothing for
// as long, and the next packet queued for the connection starts a new one.
// What stays is the conn and session state and the socket: a few KiB
// instead of two goroutine stacks, the read buffer and the routing scratch.
//
// Plain TCP and Unix socket connections hibernate, and wrappers that
// implement Hibernatable (the WebSocket listener's over plain TCP) when they
// say they hold nothing. TLS does not: crypto/tls may hold bytes already
// read from the socket, which a readiness poller cannot see.

// Hibernatable is implemented by a net.Conn wrapper that can hibernate:
// SyscallConn returns the socket beneath it (an error when there is none,
// as under TLS), and Quiet reports whether the wrapper holds no bytes read
// from that socket that Read has not yet returned.
type Hibernatable interface {
	syscall.Conn
	Quiet() bool
}

// Hibernation states of a connection's reader (conn.hib).
const (
	hibAwake     int32 = iota // a reader goroutine runs
	hibRequested              // the sweeper asked the reader to hibernate
	hibParked                 // no reader goroutine; the poller watches the socket
)

// errHibernated ends a reader goroutine whose connection hibernated.
var errHibernated = errors.New("hibernated")

// aLongTimeAgo is a read deadline that makes a blocked read return at once.
var aLongTimeAgo = time.Unix(1, 0)

// releaseBatch is how many connections must hibernate since memory was last
// returned before the sweeper returns freed memory to the OS.
const releaseBatch = 1024

type hibernator struct {
	srv      *Server
	interval time.Duration // sweep period: one tick
	idle     uint32        // ticks without reads (or writes) before hibernating
	tick     atomic.Uint32 // ticks since start; the coarse clock of lastIn and lastOut
	poll     *poller

	mu     sync.Mutex
	parked map[int32]*conn // guarded by mu: hibernating connections by socket
	closed bool            // guarded by mu: the poller is closed

	sinceRelease atomic.Int64 // connections hibernated since memory was last returned
	lastRelease  time.Time    // sweeper only
	conns        []*conn      // sweeper only: the connections of this sweep, reused
}

// newHibernator returns nil, and hibernation is off, when after is 0 or
// the platform has no poller.
func newHibernator(s *Server, after time.Duration) *hibernator {
	if after <= 0 {
		return nil
	}
	p, err := newPoller()
	if err != nil {
		s.log.Info("connections will not hibernate", "err", err)
		return nil
	}
	iv := min(max(after/4, 5*time.Millisecond), time.Second)
	h := &hibernator{srv: s, interval: iv, idle: uint32((after + iv - 1) / iv), poll: p, parked: map[int32]*conn{}}
	s.bgWG.Add(2)
	go h.sweepLoop()
	go h.pollLoop()
	return h
}

// rawConn returns the socket of a connection that may hibernate, nil for
// any other.
func (h *hibernator) rawConn(nc net.Conn) syscall.RawConn {
	if h == nil {
		return nil
	}
	var sc syscall.Conn
	switch c := nc.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc = c
	case Hibernatable:
		sc = c
	default:
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

func (h *hibernator) sweepLoop() {
	defer h.srv.bgWG.Done()
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		select {
		case <-h.srv.done:
			h.mu.Lock()
			if !h.closed { // else the poller has stopped and closed already
				h.closed = true
				h.poll.wake() // pollLoop exits and closes the poller
			}
			h.mu.Unlock()
			return
		case <-t.C:
			h.sweepContained()
		}
	}
}

// sweepContained is one sweep; a panic in it ends that sweep, not the
// sweeper.
func (h *hibernator) sweepContained() {
	defer h.srv.contain("hibernation sweeper")
	h.sweep()
}

// sweep advances the clock, asks idle readers to hibernate, retires idle
// writers and wakes hibernating connections whose keep-alive ran out.
func (h *hibernator) sweep() {
	since := h.tick.Add(1) - h.idle // activity at or before since is idle
	now := time.Now().UnixNano()
	var expired []*conn
	s := h.srv
	// The walk works on a copy of the list, made under Server.mu: the
	// deadlines and outbound locks it takes per connection keep no CONNECT,
	// disconnect or Stats call waiting. A connection that ends meanwhile
	// is harmless to visit: its socket is closed and its queue too.
	s.mu.Lock()
	list := h.conns[:0]
	for c := range s.conns {
		list = append(list, c)
	}
	s.mu.Unlock()
	for _, c := range list {
		s.fault("sweep")
		switch c.hib.Load() {
		case hibParked:
			if d := c.kaDeadline.Load(); d != 0 && now >= d {
				expired = append(expired, c)
			}
		case hibAwake:
			if c.raw != nil && c.accepted.Load() && !c.kicked.Load() && int32(c.lastIn.Load()-since) <= 0 &&
				c.hib.CompareAndSwap(hibAwake, hibRequested) {
				// The reader's read returns at once; it hibernates, or
				// withdraws the request if a batch raced with it.
				_ = c.nc.SetReadDeadline(aLongTimeAgo)
			}
		}
		c.out.retireIfIdle(since)
	}
	clear(list) // keeps no ended connection alive until the next sweep
	h.conns = list[:0]
	for _, c := range expired {
		c.wakeReader() // the resumed reader finds its deadline past [MQTT-3.1.2-24]
	}
	// Goroutine stacks of hibernated connections are freed by the next
	// collection; after a large batch, hand the memory back at once.
	if h.sinceRelease.Load() >= releaseBatch && time.Since(h.lastRelease) >= 2*time.Second {
		h.sinceRelease.Store(0)
		h.lastRelease = time.Now()
		debug.FreeOSMemory()
	}
}

func (h *hibernator) pollLoop() {
	defer h.srv.bgWG.Done()
	h.waitContained()
	// Shutdown, or the poller failed: no connection may stay parked
	// without it (at shutdown there are none left; kicks woke them).
	h.mu.Lock()
	h.closed = true
	parked := make([]*conn, 0, len(h.parked))
	for _, c := range h.parked {
		h.unparkLocked(c)
		parked = append(parked, c)
	}
	h.poll.close()
	h.mu.Unlock()
	select {
	case <-h.srv.done:
	default:
		h.srv.log.Error("hibernation poller stopped; connections stay awake from now on", "woken", len(parked))
	}
	for _, c := range parked {
		go c.reader(true)
	}
}

// waitContained runs the poller until it stops; a panic stops it too, and
// pollLoop then wakes every parked connection as when the poller fails.
func (h *hibernator) waitContained() {
	defer h.srv.contain("hibernation poller")
	h.poll.wait(func(fd int32) {
		if c := h.unparkFD(fd); c != nil {
			go c.reader(true)
		}
	})
}

// unparkFD takes the connection parked on fd out of the poller and
// returns it; nil for a stale event for a socket already woken.
func (h *hibernator) unparkFD(fd int32) *conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.srv.fault("poll")
	if c := h.parked[fd]; c != nil && h.unparkLocked(c) {
		return c
	}
	return nil
}

// unparkLocked takes c out of the poller if it is parked and reports
// whether it was; the caller then starts its reader.
func (h *hibernator) unparkLocked(c *conn) bool {
	if c.hib.Load() != hibParked {
		return false
	}
	c.hib.Store(hibAwake)
	if h.parked[c.parkFD] == c {
		delete(h.parked, c.parkFD)
	}
	if !h.closed {
		h.poll.del(c.raw) // a closed socket has already left the poller
	}
	return true
}

// hibernating reports how many connections have no goroutine.
func (h *hibernator) hibernating() int {
	if h == nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.parked)
}

// hibTick is the hibernation clock, 0 when hibernation is off.
func (s *Server) hibTick() uint32 {
	if s.hib == nil {
		return 0
	}
	return s.hib.tick.Load()
}

// hibernate is the reader's answer to the sweeper's request, after its read
// timed out: it hands the socket to the poller and reports true, and the
// reader goroutine exits; or it withdraws the request and reports false.
func (c *conn) hibernate() bool {
	h := c.srv.hib
	quiet := true
	if q, ok := c.nc.(Hibernatable); ok {
		quiet = q.Quiet()
	}
	if c.hib.Load() != hibRequested || (c.auth != nil && c.auth.reauth != nil) || c.rd.Buffered() > 0 || !quiet {
		// A partial packet is buffered, AUTH is under way, or the
		// connection's wrapper holds bytes: stay awake.
		c.hib.CompareAndSwap(hibRequested, hibAwake)
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	// kicked is checked under mu: a kick that comes later finds the
	// connection parked and wakes it (wakeReader).
	if h.closed || c.kicked.Load() || !c.hib.CompareAndSwap(hibRequested, hibParked) {
		c.hib.CompareAndSwap(hibRequested, hibAwake)
		return false
	}
	fd, err := h.poll.add(c.raw)
	if err != nil { // closed meanwhile: the reader sees it
		c.hib.Store(hibAwake)
		return false
	}
	c.parkFD = fd
	h.parked[fd] = c
	c.rd.Release()
	c.scratch = nil
	c.wake = nil
	h.sinceRelease.Add(1)
	return true
}

// wakeReader starts a reader for a hibernating connection; for any other
// it does nothing. The server calls it after closing a connection.
func (c *conn) wakeReader() {
	h := c.srv.hib
	if h == nil || c.hib.Load() != hibParked {
		return
	}
	h.mu.Lock()
	ok := h.unparkLocked(c)
	h.mu.Unlock()
	if ok {
		go c.reader(true)
	}
}
