package broker

import (
	"errors"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/roostmq/roost/packet"
)

// connStats are a connection's counters, folded into the server totals when
// the connection ends and read by $SYS through the server's list of conns.
type connStats struct {
	msgsIn, msgsOut   qosCounters
	authFailures      atomic.Uint64 // refused by authentication (at most 1)
	bytesIn, bytesOut atomic.Uint64
}

// conn is one network connection. Two goroutines: the reader (serve) decodes
// and handles packets and routes publishes; the writer (writeLoop) owns the
// socket's write side. A hibernating connection (hibernate.go) has neither
// until there is work. Fields used by few connections live behind pointers,
// allocated when needed: an idle connection costs its size in memory.
type conn struct {
	srv      *Server
	nc       net.Conn
	listener string
	out      outbound
	wg       sync.WaitGroup
	stats    connStats

	// Set during CONNECT, then read-only (reader only until then).
	clientID string
	username string
	sess     *session
	maxOut   int // client's Maximum Packet Size, 0: protocol maximum

	// Reader only.
	inAliases  map[uint16]string // topic aliases the client set
	outAliases map[string]uint16 // guarded by out.mu: topic aliases Roost set
	will       *willMsg
	wake       []*conn       // writers to wake after this read batch
	scratch    *routeScratch // routing buffers, reused; dropped on hibernation
	storeErr   error         // the store failed while handling the current packet
	auth       *connAuth     // enhanced authentication, nil if none

	failErr   atomic.Pointer[error]
	closeOnce sync.Once
	// needSync: a store write that a packet queued for this connection
	// depends on has not been synced yet; the writer syncs before writing.
	needSync atomic.Bool
	kicked   atomic.Bool // kick ran: the connection is being closed by the server
	accepted atomic.Bool // CONNACK queued: other goroutines may read the CONNECT fields

	version    packet.Version // set during CONNECT
	problemOff bool           // set during CONNECT: client sent Request Problem Information 0
	disconnect bool           // reader only: a DISCONNECT arrived
	reasonSent bool           // reader only: a DISCONNECT or refusing CONNACK was queued: linger before closing
	keepAlive  uint16         // set during CONNECT
	aliasMax   uint16         // set during CONNECT: client's Topic Alias Maximum

	connGuard // publish rate, listener count, credential expiry (ratelimit.go)

	// Hibernation (hibernate.go). rd belongs to whichever goroutine is the
	// reader; a hibernating connection has none.
	rd         *packet.Reader
	raw        syscall.RawConn // the socket, when the connection may hibernate
	kaDeadline atomic.Int64    // keep-alive deadline of the current read, Unix nanoseconds; 0: none
	lastIn     atomic.Uint32   // hibernation tick of the reader's last batch
	hib        atomic.Int32    // hibAwake, hibRequested or hibParked
	parkFD     int32           // guarded by hibernator.mu: the socket while parked
}

// connAuth is a connection's MQTT 5 enhanced authentication state. Reader
// only.
type connAuth struct {
	method string       // Authentication Method from CONNECT
	data   []byte       // during CONNECT only: final Authentication Data for CONNACK
	reauth AuthExchange // a re-authentication in progress, nil if none
}

// readAhead is how far a connection's read buffer grows while reads keep
// filling it: a busy publisher's packets then arrive many per read. It
// shrinks back when the client slows down, and is dropped on hibernation.
const readAhead = 32 << 10

// readDeadline is the keep-alive deadline of the current read; zero: none.
func (c *conn) readDeadline() time.Time {
	if d := c.kaDeadline.Load(); d != 0 {
		return time.Unix(0, d)
	}
	return time.Time{}
}

func (s *Server) newConn(nc net.Conn, listener string) *conn {
	c := &conn{srv: s, nc: nc, listener: listener}
	c.out.notify = make(chan struct{}, 1)
	c.out.start = c.startWriter
	c.raw = s.hib.rawConn(nc)
	return c
}

// startWriter starts a writer goroutine; outbound calls it under its mu.
func (c *conn) startWriter() {
	c.wg.Add(1)
	go c.writeLoop()
}

// fail records the first error and closes the socket, which stops both
// goroutines (and wakes a hibernating reader to see it).
func (c *conn) fail(err error) {
	c.failErr.CompareAndSwap(nil, &err)
	c.closeOnce.Do(func() {
		_ = c.nc.Close()
		c.wakeReader()
	})
}

// serve runs the reader from CONNECT on; a writer goroutine runs beside it.
func (c *conn) serve() {
	c.out.mu.Lock()
	c.out.running = true
	c.startWriter()
	c.out.mu.Unlock()
	c.reader(false)
}

// reader runs the read side until the connection ends or hibernates; a
// hibernating connection's reader is started again with resumed set.
func (c *conn) reader(resumed bool) {
	parked := false
	defer func() {
		if !parked {
			c.srv.connDone(c)
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			c.srv.stats.panics.Add(1)
			c.srv.log.Error("connection handler panicked; closing only this connection",
				"client", c.clientID, "remote", c.nc.RemoteAddr().String(), "panic", r, "stack", string(debug.Stack()))
			c.fail(errPanicked)
			c.finishContained() // the session, the will and the writer end as after any error
		}
	}()
	var err error
	if resumed {
		err = c.readLoop(true)
	} else {
		err = c.run()
	}
	if err == errHibernated {
		parked = true
		return
	}
	c.finish(err)
}

// run reads CONNECT, then every following packet, until an error.
func (c *conn) run() error {
	lim := c.srv.limits()
	c.rd = packet.NewReader(c.nc, 512, lim.MaxPacketSize)
	c.rd.ReadAhead = readAhead
	r := c.rd
	_ = c.nc.SetReadDeadline(time.Now().Add(lim.ConnectTimeout))
	first, body, err := readConnect(r, lim) // type and size checked before the body is read
	if err != nil {
		return err
	}
	if err := c.handleConnect(r, first, body); err != nil {
		return err
	}
	r.MaxSize = lim.MaxPacketSize
	return c.readLoop(false)
}

// readLoop reads and handles packets after CONNECT. resumed: the connection
// was hibernating, and its keep-alive deadline runs on from before.
func (c *conn) readLoop(resumed bool) error {
	r := c.rd
	var deadline time.Duration
	if c.keepAlive > 0 {
		deadline = time.Duration(c.keepAlive) * 1500 * time.Millisecond // [MQTT-3.1.2-24] (5.0: [MQTT-3.1.2-22])
	} else if !resumed {
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	h := c.srv.hib
	var pub packet.Publish
	for {
		if !r.Ready() {
			// Read is about to block: wake every writer this batch appended
			// to first, even when part of the next packet is buffered, or a
			// client that stops halfway through a packet would hold back
			// every subscriber it published to.
			c.flushWakes()
		}
		if r.Buffered() == 0 {
			if resumed {
				resumed = false
				_ = c.nc.SetReadDeadline(c.readDeadline())
			} else if deadline > 0 {
				d := time.Now().Add(deadline)
				c.kaDeadline.Store(d.UnixNano())
				_ = c.nc.SetReadDeadline(d)
			}
			if h != nil {
				// Loads first: a busy connection writes these once per tick,
				// not once per batch.
				if t := h.tick.Load(); c.lastIn.Load() != t {
					c.lastIn.Store(t)
				}
				// A request to hibernate that raced with this batch is
				// withdrawn; the sweeper asks again if the client stays idle.
				if c.hib.Load() == hibRequested {
					c.hib.CompareAndSwap(hibRequested, hibAwake)
				}
			}
		}
		first, body, err := r.Read()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				if deadline > 0 && !time.Now().Before(c.readDeadline()) {
					return packet.KeepAliveTimeout
				}
				if h != nil {
					if c.hibernate() {
						return errHibernated
					}
					// The timeout was the sweeper's request, withdrawn or
					// refused: the keep-alive deadline stands.
					_ = c.nc.SetReadDeadline(c.readDeadline())
					continue
				}
			}
			return err
		}
		if c.kicked.Load() {
			// Closed by the server (takeover, shutdown): what the client sent
			// since is not processed [MQTT-3.1.4-3], except that a DISCONNECT
			// still discards the will (kickedDisconnect).
			c.kickedDisconnect(first, body)
			return nil
		}
		c.stats.bytesIn.Add(uint64(len(body) + 2))
		if err := c.handle(first, body, &pub); err != nil {
			return err
		}
		if c.disconnect {
			return nil
		}
	}
}

// finishContained runs finish after the reader panicked, under a recover
// of its own: a second panic there leaves the session as it is, but not
// the process.
func (c *conn) finishContained() {
	defer c.srv.contain("closing a connection after a panic")
	c.finish(errPanicked)
}

// flushWakes wakes every writer that routing appended to in this batch
// (the reader owes each a wake: outbound.appendFn with batch set).
func (c *conn) flushWakes() {
	for i, w := range c.wake {
		w.out.wake()
		c.wake[i] = nil
	}
	c.wake = c.wake[:0]
}

// finish runs once the reader stops: tell the client why when the protocol
// allows, release the session, fire the will.
func (c *conn) finish(err error) {
	if p := c.failErr.Load(); p != nil {
		err = *p // kicked: the reason outranks the EOF the reader saw
	}
	c.flushWakes()
	code := disconnectCode(err)
	if c.sess != nil && c.version == packet.V5 && code != 0 && !c.disconnect && !isNetErr(err) {
		// [MQTT-4.13.1-1] a 5.0 peer learns why it is being disconnected.
		c.sendPacket(&packet.Disconnect{ReasonCode: code})
		c.reasonSent = !c.kicked.Load() // a kick closed the read side: nothing to drain
	}
	if err != nil && !errors.Is(err, io.EOF) && !isNetErr(err) {
		c.srv.log.Debug("closing connection", "client", c.clientID, "remote", c.nc.RemoteAddr().String(), "err", err)
	}
	c.out.closeQueue()
	c.wg.Wait() // the writer has flushed and half-closed
	if c.reasonSent {
		c.linger()
	}
	c.fail(err)
	c.releaseGuards()
	if c.sess != nil {
		c.srv.detach(c, err)
	}
}

// disconnectCode maps a reader error to the DISCONNECT reason code.
func disconnectCode(err error) packet.ReasonCode {
	if err == nil || errors.Is(err, io.EOF) {
		return 0
	}
	var rc packet.ReasonCode
	if errors.As(err, &rc) && rc >= 0x80 {
		return rc
	}
	return 0
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF)
}

// kick closes the connection from another goroutine, first sending a 5.0
// DISCONNECT with code.
func (c *conn) kick(code packet.ReasonCode) {
	if c.kicked.CompareAndSwap(false, true) {
		c.closeKicked(code)
	}
}

// closeKicked is kick's work, for a caller that set kicked itself (once
// per connection: at most one goroutine is started to close it).
func (c *conn) closeKicked(code packet.ReasonCode) {
	// Only after CONNACK [MQTT-3.14.0-1]; before it, c.version is the reader's.
	if c.accepted.Load() && c.version == packet.V5 && code != 0 {
		c.sendPacket(&packet.Disconnect{ReasonCode: code})
	}
	c.out.closeQueue()
	err := error(code)
	c.failErr.CompareAndSwap(nil, &err)
	// Closing the read side stops the reader; the writer drains what is queued.
	if tc, ok := c.nc.(interface{ CloseRead() error }); ok {
		_ = tc.CloseRead()
		c.wakeReader()
	} else {
		c.fail(code)
	}
}
