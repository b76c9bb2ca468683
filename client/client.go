package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roostmq/roost/packet"
)

// Client is one MQTT connection. Its methods are safe for concurrent use.
type Client struct {
	nc   net.Conn
	v    packet.Version
	opts Options // immutable after Connect
	r    *packet.Reader

	// Immutable after Connect.
	connack        *packet.Connack
	clientID       string
	keepAlive      time.Duration
	maxPacketSize  int  // the server's Maximum Packet Size, 0: none
	maxQoS         byte // the server's Maximum QoS
	retainAvail    bool
	writeTimeout   time.Duration
	sessionPresent bool

	sem   chan struct{} // send quota: one slot per QoS 1/2 PUBLISH in flight (server Receive Maximum)
	inbox chan inbound  // reader -> dispatcher

	wmu     sync.Mutex
	wq      []outbound    // guarded by wmu
	wclosed bool          // guarded by wmu
	wake    chan struct{} // one-slot notification for the writer

	mu       sync.Mutex
	pending  map[uint16]*op  // guarded by mu
	nextID   uint16          // guarded by mu
	pings    []chan struct{} // guarded by mu; nil entries are keepalive pings
	authWait chan error      // guarded by mu; a running re-authentication

	pingSent      atomic.Int64 // unix nanoseconds of the outstanding keepalive PINGREQ, 0: none
	disconnecting atomic.Bool  // Disconnect sent DISCONNECT: the connection ending is no error

	closeOnce  sync.Once
	err        error         // written once before closing is closed
	closing    chan struct{} // closed when the connection starts to end
	writerDone chan struct{}
	done       chan struct{} // closed when reader and writer have stopped
}

type outbound struct {
	b    []byte
	done chan error // buffered; nil when nobody waits
}

type inbound struct {
	msg *Message
	ack []byte // PUBACK or PUBREC to send after the handler
}

// op is an operation waiting for its acknowledgement.
type op struct {
	want  packet.Type // PUBACK, PUBCOMP (after PUBREC), SUBACK, UNSUBACK
	quota bool        // holds a slot of sem
	ch    chan result // buffered 1
}

type result struct {
	p   packet.Packet
	err error
}

// Connect runs the CONNECT exchange over nc and starts the connection's
// goroutines. On failure it closes nc. ctx bounds the exchange only.
func Connect(ctx context.Context, nc net.Conn, opts *Options) (*Client, error) {
	if opts == nil {
		opts = &Options{}
	}
	c := &Client{
		nc:         nc,
		opts:       *opts,
		v:          opts.version(),
		wake:       make(chan struct{}, 1),
		pending:    make(map[uint16]*op),
		closing:    make(chan struct{}),
		writerDone: make(chan struct{}),
		done:       make(chan struct{}),
	}
	if c.v != packet.V31 && c.v != packet.V311 && c.v != packet.V5 {
		nc.Close()
		return nil, fmt.Errorf("client: unsupported protocol version %v", c.v)
	}
	c.writeTimeout = opts.WriteTimeout
	if c.writeTimeout <= 0 {
		c.writeTimeout = 30 * time.Second
	}
	n := opts.InboxSize
	if n <= 0 {
		n = 256
	}
	c.inbox = make(chan inbound, n)
	c.r = packet.NewReader(nc, 4096, int(opts.MaximumPacketSize))

	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	err := c.handshake()
	if !stop() || ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		nc.Close()
		return nil, err
	}
	go c.readLoop()
	go c.writeLoop()
	go c.dispatch()
	return c, nil
}

// handshake writes CONNECT and reads until CONNACK, answering AUTH.
func (c *Client) handshake() error {
	o := &c.opts
	cp := &packet.Connect{
		Version:    c.v,
		CleanStart: o.CleanStart,
		KeepAlive:  uint16(min(durSeconds(o.KeepAlive), 65535)),
		ClientID:   []byte(o.ClientID),
	}
	if c.v == packet.V5 {
		pp := &cp.Properties
		if o.SessionExpiry > 0 {
			pp.SessionExpiry = durSeconds(o.SessionExpiry)
			pp.Set(packet.PropSessionExpiry)
		}
		if o.ReceiveMaximum > 0 {
			pp.ReceiveMaximum = o.ReceiveMaximum
			pp.Set(packet.PropReceiveMaximum)
		}
		if o.TopicAliasMaximum > 0 {
			pp.TopicAliasMaximum = o.TopicAliasMaximum
			pp.Set(packet.PropTopicAliasMaximum)
		}
		if o.MaximumPacketSize > 0 {
			pp.MaximumPacketSize = o.MaximumPacketSize
			pp.Set(packet.PropMaximumPacketSize)
		}
		if o.RequestResponseInfo {
			pp.RequestResponseInfo = 1
			pp.Set(packet.PropRequestResponseInfo)
		}
		pp.User = appendUser(nil, o.UserProperties)
		if o.Auth != nil {
			data, err := o.Auth.Initial()
			if err != nil {
				return fmt.Errorf("client: auth: %w", err)
			}
			pp.AuthMethod = []byte(o.Auth.Method())
			pp.Set(packet.PropAuthMethod)
			if data != nil {
				pp.AuthData = data
				pp.Set(packet.PropAuthData)
			}
		}
	} else if o.Auth != nil {
		return errors.New("client: enhanced authentication needs MQTT 5")
	}
	if w := o.Will; w != nil {
		cp.WillFlag, cp.WillQoS, cp.WillRetain = true, w.QoS, w.Retain
		cp.WillTopic, cp.WillPayload = []byte(w.Topic), w.Payload
		if c.v == packet.V5 {
			w.Properties.toPacket(&cp.WillProperties)
			if o.WillDelay > 0 {
				cp.WillProperties.WillDelay = durSeconds(o.WillDelay)
				cp.WillProperties.Set(packet.PropWillDelay)
			}
		}
	}
	if o.Username != "" {
		cp.UsernameFlag, cp.Username = true, []byte(o.Username)
	}
	if o.Password != nil {
		cp.PasswordFlag, cp.Password = true, o.Password
	}
	if _, err := c.nc.Write(cp.Append(nil, c.v)); err != nil {
		return fmt.Errorf("client: write CONNECT: %w", err)
	}
	for {
		first, body, err := c.r.Read()
		if err != nil {
			return fmt.Errorf("client: waiting for CONNACK: %w", err)
		}
		p, err := packet.Decode(first, body, c.v)
		if err != nil {
			return fmt.Errorf("client: waiting for CONNACK: %w", err)
		}
		switch p := p.(type) {
		case *packet.Connack:
			return c.connected(p)
		case *packet.Auth:
			if o.Auth == nil || p.ReasonCode != packet.ContinueAuthentication ||
				string(p.Properties.AuthMethod) != o.Auth.Method() {
				return fmt.Errorf("client: unexpected AUTH 0x%02x during CONNECT", byte(p.ReasonCode))
			}
			out, err := o.Auth.Step(p.Properties.AuthData)
			if err != nil {
				return fmt.Errorf("client: auth: %w", err)
			}
			if _, err := c.nc.Write(c.authPacket(packet.ContinueAuthentication, out)); err != nil {
				return fmt.Errorf("client: write AUTH: %w", err)
			}
		default:
			return fmt.Errorf("client: got %v before CONNACK", p.Type())
		}
	}
}

func (c *Client) authPacket(code packet.ReasonCode, data []byte) []byte {
	a := &packet.Auth{ReasonCode: code}
	a.Properties.AuthMethod = []byte(c.opts.Auth.Method())
	a.Properties.Set(packet.PropAuthMethod)
	if data != nil {
		a.Properties.AuthData = data
		a.Properties.Set(packet.PropAuthData)
	}
	return a.Append(nil, packet.V5)
}

// v3Codes maps 3.1.1 CONNACK return codes to MQTT 5 reason codes.
var v3Codes = [...]packet.ReasonCode{0, packet.UnsupportedProtocolVersion, packet.ClientIdentifierNotValid,
	packet.ServerUnavailable, packet.BadUsernameOrPassword, packet.NotAuthorized}

// connected applies an accepted CONNACK, or turns a refusal into an error.
func (c *Client) connected(p *packet.Connack) error {
	code := p.ReasonCode
	if c.v != packet.V5 && int(code) < len(v3Codes) {
		code = v3Codes[code]
	}
	if code != packet.Success {
		return &DisconnectError{Code: code, Connack: true,
			Reason:          string(p.Properties.ReasonString),
			ServerReference: string(p.Properties.ServerReference)}
	}
	cl, err := packet.Clone(p, c.v)
	if err != nil {
		return err
	}
	c.connack = cl.(*packet.Connack)
	pp := &c.connack.Properties
	c.sessionPresent = p.SessionPresent
	c.clientID = c.opts.ClientID
	if pp.Has(packet.PropAssignedClientID) {
		c.clientID = string(pp.AssignedClientID)
	}
	c.keepAlive = c.opts.KeepAlive
	if pp.Has(packet.PropServerKeepAlive) {
		c.keepAlive = time.Duration(pp.ServerKeepAlive) * time.Second
	}
	recvMax := 65535
	if pp.Has(packet.PropReceiveMaximum) {
		recvMax = int(pp.ReceiveMaximum)
	}
	c.sem = make(chan struct{}, recvMax)
	if pp.Has(packet.PropMaximumPacketSize) {
		c.maxPacketSize = int(pp.MaximumPacketSize)
	}
	c.maxQoS = 2
	if pp.Has(packet.PropMaximumQoS) {
		c.maxQoS = pp.MaximumQoS
	}
	c.retainAvail = !pp.Has(packet.PropRetainAvailable) || pp.RetainAvailable == 1
	if a := c.opts.Auth; a != nil {
		if err := a.Finish(pp.AuthData); err != nil {
			return fmt.Errorf("client: auth: %w", err)
		}
	}
	return nil
}

// ClientID is the client identifier in use (the server's assigned one when
// Options.ClientID was empty under MQTT 5).
func (c *Client) ClientID() string { return c.clientID }

// SessionPresent reports the CONNACK's Session Present flag.
func (c *Client) SessionPresent() bool { return c.sessionPresent }

// Version is the protocol version of the connection.
func (c *Client) Version() packet.Version { return c.v }

// Connack returns a copy of the server's CONNACK (its properties included).
func (c *Client) Connack() *packet.Connack {
	p, _ := packet.Clone(c.connack, c.v)
	return p.(*packet.Connack)
}

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err reports why the connection ended: nil while it is up, ErrClosed after
// Disconnect or Close, a *DisconnectError when the server sent DISCONNECT,
// or the I/O or protocol error otherwise.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// shutdown starts ending the connection with cause err (first cause wins).
func (c *Client) shutdown(err error) {
	c.closeOnce.Do(func() {
		c.err = err
		close(c.closing)
		c.nc.Close()
	})
}
