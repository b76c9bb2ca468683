package broker

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
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
// socket's write side.
type conn struct {
	srv      *Server
	nc       net.Conn
	listener string
	out      outbound
	wg       sync.WaitGroup
	stats    connStats
	log      *slog.Logger

	// Set during CONNECT, then read-only (reader only until then).
	version    packet.Version
	clientID   string
	username   string
	keepAlive  uint16
	sess       *session
	maxOut     int    // client's Maximum Packet Size, 0: protocol maximum
	aliasMax   uint16 // client's Topic Alias Maximum
	problemOff bool   // client sent Request Problem Information 0

	// Reader only.
	inAliases  map[uint16]string // topic aliases the client set
	outAliases map[string]uint16 // guarded by out.mu: topic aliases Roost set
	will       *willMsg
	wake       []*conn // writers to wake after this read batch
	matchBuf   routeScratch
	disconnect bool         // a DISCONNECT arrived
	storeErr   error        // the store failed while handling the current packet
	authMethod string       // enhanced Authentication Method from CONNECT, "" if none
	authData   []byte       // during CONNECT only: final Authentication Data for CONNACK
	reauth     AuthExchange // a re-authentication in progress, nil if none

	// needSync: a store write that a packet queued for this connection
	// depends on has not been synced yet; the writer syncs before writing.
	needSync  atomic.Bool
	kicked    atomic.Bool // kick ran: the connection is being closed by the server
	accepted  atomic.Bool // CONNACK queued: other goroutines may read the CONNECT fields
	closeOnce sync.Once
	failErr   atomic.Pointer[error]
	connGuard // publish rate, listener count, credential expiry (ratelimit.go)
}

func (s *Server) newConn(nc net.Conn, listener string) *conn {
	c := &conn{srv: s, nc: nc, listener: listener, log: s.log}
	c.out.notify = make(chan struct{}, 1)
	return c
}

// fail records the first error and closes the socket, which stops both
// goroutines.
func (c *conn) fail(err error) {
	c.failErr.CompareAndSwap(nil, &err)
	c.closeOnce.Do(func() { _ = c.nc.Close() })
}

// serve runs the reader for the connection's whole life.
func (c *conn) serve() {
	defer c.srv.connDone(c)
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("connection handler panicked; closing only this connection",
				"client", c.clientID, "remote", c.nc.RemoteAddr().String(), "panic", r, "stack", string(debug.Stack()))
			c.fail(errors.New("internal error"))
		}
	}()
	c.wg.Add(1)
	go c.writeLoop()
	err := c.run()
	c.finish(err)
}

// run reads CONNECT, then every following packet, until an error.
func (c *conn) run() error {
	lim := c.srv.limits()
	r := packet.NewReader(c.nc, 512, lim.MaxPacketSize)
	_ = c.nc.SetReadDeadline(time.Now().Add(lim.ConnectTimeout))
	first, body, err := r.Read()
	if err != nil {
		return err
	}
	if packet.Type(first>>4) != packet.CONNECT {
		return errors.New("first packet is not CONNECT") // [MQTT-3.1.0-1]
	}
	if err := c.handleConnect(r, first, body); err != nil {
		return err
	}
	return c.readLoop(r)
}

func (c *conn) readLoop(r *packet.Reader) error {
	var deadline time.Duration
	if c.keepAlive > 0 {
		deadline = time.Duration(c.keepAlive) * 1500 * time.Millisecond // [MQTT-3.1.2-24] (5.0: [MQTT-3.1.2-22])
	} else {
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	var pub packet.Publish
	for {
		if r.Buffered() == 0 {
			c.flushWakes()
			if deadline > 0 {
				_ = c.nc.SetReadDeadline(time.Now().Add(deadline))
			}
		}
		first, body, err := r.Read()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() && deadline > 0 {
				return packet.KeepAliveTimeout
			}
			return err
		}
		if c.kicked.Load() {
			// Closed by the server (takeover, shutdown): what the client sent
			// since is not processed. [MQTT-3.1.4-3]
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

// flushWakes wakes every writer that routing appended to in this batch.
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
	}
	if err != nil && !errors.Is(err, io.EOF) && !isNetErr(err) {
		c.log.Debug("closing connection", "client", c.clientID, "remote", c.nc.RemoteAddr().String(), "err", err)
	}
	c.out.closeQueue()
	c.wg.Wait()
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
	if !c.kicked.CompareAndSwap(false, true) {
		return
	}
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
	} else {
		c.fail(code)
	}
}
