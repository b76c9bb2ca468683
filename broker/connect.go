package broker

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"time"

	"github.com/roostmq/roost/packet"
	"github.com/roostmq/roost/topic"
)

// willMsg is a will: a message plus the delay before it is published.
type willMsg struct {
	msg   *message
	delay time.Duration
	// clientID and username set the will, for the authorizer's check at
	// publication; "" for a will restored from the store (checked at its
	// CONNECT).
	clientID, username string
}

// handleConnect checks CONNECT, authenticates, claims the session and
// answers CONNACK. An error closes the connection.
func (c *conn) handleConnect(r *packet.Reader, first byte, body []byte) (err error) {
	var p packet.Connect
	defer func() {
		if err != nil && !isNetErr(err) && !errors.Is(err, io.EOF) {
			// Refused before accept set them: name the client as it asked.
			if c.clientID == "" {
				c.clientID = string(p.ClientID)
			}
			if c.username == "" {
				c.username = string(p.Username)
			}
			c.srv.logConn("connection refused", c, "reason", disconnectReason(err, false))
		}
	}()
	err = packet.DecodeInto(&p, first, body, 0)
	c.version = p.Version
	if err != nil {
		if packet.CodeOf(err) == packet.UnsupportedProtocolVersion {
			// [MQTT-3.1.2-2]: 3.1.1 return code 1; 5.0 reason 0x84.
			c.refuse(packet.UnsupportedProtocolVersion)
		} else if c.version == packet.V5 {
			c.refuse(packet.CodeOf(err))
		}
		return err
	}
	err = c.checkConnectStrings(&p)
	if err == nil {
		err = c.checkConnect(r, &p)
	}
	if err != nil {
		if !isNetErr(err) && !errors.Is(err, io.EOF) {
			c.refuse(packet.CodeOf(err))
		}
		return err
	}
	return c.accept(&p)
}

// refuse sends a CONNACK with a failure code, mapped for 3.1.1.
// [MQTT-3.2.2-5] [MQTT-3.2.2-6]
func (c *conn) refuse(code packet.ReasonCode) {
	ack := &packet.Connack{ReasonCode: code}
	v := c.version
	if v != packet.V5 {
		rc, ok := packet.V3ReturnCode(code)
		if !ok {
			return
		}
		ack.ReasonCode = packet.ReasonCode(rc)
		v = packet.V311
	}
	c.send(func(b []byte) []byte { return ack.Append(b, v) })
	c.reasonSent = true
}

// checkConnect validates CONNECT and authenticates the client, running an
// enhanced authentication exchange (reading AUTH packets from r) first when
// CONNECT carries an Authentication Method.
func (c *conn) checkConnect(r *packet.Reader, p *packet.Connect) error {
	s := c.srv
	if ci, ok := c.nc.(CertIdentifier); ok {
		if id, ok := ci.CertIdentity(); ok {
			p.Username, p.UsernameFlag = []byte(id), true // the certificate names the client
		}
	}
	lim := s.limits()
	id := string(p.ClientID)
	if len(id) > lim.MaxClientIDLength {
		return &packet.Error{Code: packet.ClientIdentifierNotValid, Msg: "client id too long"}
	}
	if id == "" {
		// 3.1.1 requires clean session for an empty id [MQTT-3.1.3-7] [MQTT-3.1.3-8];
		// 3.1 requires an id.
		if !lim.AllowEmptyClientID || c.version == packet.V31 || (c.version == packet.V311 && !p.CleanStart) {
			return &packet.Error{Code: packet.ClientIdentifierNotValid, Msg: "empty client id"}
		}
	}
	if n := lim.MaxKeepAlive; n > 0 && c.version != packet.V5 && (p.KeepAlive == 0 || p.KeepAlive > n) {
		// 3.1 and 3.1.1 have no Server Keep Alive to tell the client the
		// limit, and a server that enforced a shorter one would close a
		// client keeping to its own: refused, as Mosquitto does, with the
		// only code that fits (return code 2, identifier rejected).
		return &packet.Error{Code: packet.ClientIdentifierNotValid, Msg: "keep alive 0 or above limits.max_keep_alive"}
	}
	if p.WillFlag {
		if rt := &p.WillProperties; rt.Has(packet.PropResponseTopic) && topic.ValidName(string(rt.ResponseTopic)) != nil {
			return &packet.Error{Code: packet.ProtocolError, Msg: "will response topic is not a valid topic name"} // [MQTT-3.3.2-14]
		}
		if err := topic.ValidName(string(p.WillTopic)); err != nil {
			return &packet.Error{Code: packet.TopicNameInvalid, Msg: "will topic: " + err.Error()}
		}
		if err := topic.CheckLimits(string(p.WillTopic), lim.MaxTopicLength, lim.MaxTopicLevels); err != nil {
			return &packet.Error{Code: packet.TopicNameInvalid, Msg: "will topic: " + err.Error()}
		}
		if s.opts.Retain.Disabled && p.WillRetain {
			return &packet.Error{Code: packet.RetainNotSupported, Msg: "retain is disabled"}
		}
	}
	method := string(p.Properties.AuthMethod)
	enhanced := p.Properties.Has(packet.PropAuthMethod)
	if enhanced && c.enhancedAuth(method) == nil {
		// [MQTT-4.12.0-1]
		return &packet.Error{Code: packet.BadAuthenticationMethod, Msg: "unsupported authentication method"}
	}
	if n := s.limits().MaxConnections; n > 0 && int(s.stats.connected.Load()) > n {
		return &packet.Error{Code: packet.ServerBusy, Msg: "too many connections"}
	}
	if err := c.admit(id, string(p.Username)); err != nil {
		return err // bans, listener limit, connection rate
	}
	if enhanced {
		if err := c.authConnect(r, p); err != nil {
			return err
		}
	}
	if a := s.authenticator(); a != nil {
		info := c.connectInfo(p)
		if err := a.Authenticate(info); err != nil {
			var rc packet.ReasonCode
			if !errors.As(err, &rc) {
				err = &packet.Error{Code: packet.NotAuthorized, Msg: err.Error()} // [MQTT-3.1.4-2]
			}
			s.stats.authFailures.Add(1)
			c.stats.authFailures.Add(1)
			return err
		}
		if info.Username != string(p.Username) {
			// The authenticator named the client (a token's subject, say).
			p.Username, p.UsernameFlag = []byte(info.Username), info.Username != ""
			if err := s.checkBanned(id, info.Username, c.nc.RemoteAddr()); err != nil {
				return err
			}
		}
		if !info.Expiry.IsZero() {
			c.expiresAt = info.Expiry.UnixNano()
		}
	}
	if err := s.checkTakeover(id, string(p.Username)); err != nil {
		return err
	}
	if p.WillFlag && !s.mayPublish(id, string(p.Username), string(p.WillTopic)) {
		return &packet.Error{Code: packet.NotAuthorized, Msg: "will topic not authorized"}
	}
	return nil
}

// accept claims the session and sends CONNACK.
func (c *conn) accept(p *packet.Connect) error {
	s := c.srv
	lim := s.limits()
	c.clientID = string(p.ClientID)
	assigned := false
	if c.clientID == "" {
		c.clientID = newClientID() // [MQTT-3.1.3-6] (5.0) [MQTT-3.1.3-6] (3.1.1)
		assigned = true
	}
	c.username = string(p.Username)
	c.keepAlive = p.KeepAlive
	ack := &packet.Connack{}
	if lim.MaxKeepAlive > 0 && (c.keepAlive == 0 || c.keepAlive > lim.MaxKeepAlive) && c.version == packet.V5 {
		c.keepAlive = lim.MaxKeepAlive // [MQTT-3.1.2-21]: the client uses Server Keep Alive
		ack.Properties.ServerKeepAlive = c.keepAlive
		ack.Properties.Set(packet.PropServerKeepAlive)
	}
	expiry := c.sessionExpiry(p, ack)
	window := int(lim.MaxInflight)
	if c.version == packet.V5 {
		pr := &p.Properties
		if pr.Has(packet.PropReceiveMaximum) && int(pr.ReceiveMaximum) < window {
			window = int(pr.ReceiveMaximum) // [MQTT-3.3.4-7] [MQTT-3.3.4-8]
		}
		if pr.Has(packet.PropMaximumPacketSize) {
			c.maxOut = int(pr.MaximumPacketSize)
		}
		c.aliasMax = pr.TopicAliasMaximum
		c.problemOff = pr.Has(packet.PropRequestProblemInfo) && pr.RequestProblemInfo == 0
		c.setConnackProps(ack, assigned)
		if pr.Has(packet.PropRequestResponseInfo) && pr.RequestResponseInfo == 1 && s.opts.ResponseTopicPrefix != "" {
			// Request Response Information 0 or absent: none. [MQTT-3.1.2-28]
			ack.Properties.ResponseInfo = []byte(s.opts.ResponseTopicPrefix + c.clientID)
			ack.Properties.Set(packet.PropResponseInfo)
		}
	}
	if p.WillFlag {
		c.will = c.newWill(p)
	}
	if err := c.checkConnackSize(ack); err != nil {
		return err // closed without a CONNACK [MQTT-3.1.2-24] (5.0)
	}
	// claim sends CONNACK and resends the session's inflight messages.
	ss, _, err := s.claim(c, p.CleanStart, expiry, window, ack)
	if err != nil {
		c.refuse(packet.CodeOf(err))
		return err
	}
	c.sess = ss
	c.startExpiry(c.expiresAt)
	if h := s.opts.Hooks.OnConnect; h != nil {
		h(c.clientID, c.version, c.nc.RemoteAddr())
	}
	s.logConn("client connected", c, "clean_start", p.CleanStart, "keep_alive", c.keepAlive)
	return nil
}

// queueConnack queues CONNACK without waking the writer; the caller wakes it
// (c.out.wake) once the client may see it. It runs before the session can
// route to c, so CONNACK is the first packet the client gets. [MQTT-3.2.0-1]
func (c *conn) queueConnack(ack *packet.Connack) {
	v := c.version
	c.out.appendFn(0, 0, false, func(b []byte) []byte { return ack.Append(b, v) })
}

// sessionExpiry works out how long the session outlives the connection.
func (c *conn) sessionExpiry(p *packet.Connect, ack *packet.Connack) time.Duration {
	max := c.srv.opts.Sessions.MaxExpiry
	if c.version != packet.V5 {
		if p.CleanStart {
			return 0 // [MQTT-3.1.2-6]
		}
		if max == 0 {
			return -1 // no cap: the session is kept until the client ends it [MQTT-3.1.2-4]
		}
		return max // [MQTT-3.1.2-4]
	}
	if !p.Properties.Has(packet.PropSessionExpiry) {
		return 0
	}
	v := p.Properties.SessionExpiry
	d := time.Duration(v) * time.Second
	if v == 0xFFFFFFFF {
		d = -1 // never expires
	}
	if max > 0 && (d < 0 || d > max) {
		d = max
		ack.Properties.SessionExpiry = uint32(max / time.Second)
		ack.Properties.Set(packet.PropSessionExpiry)
	}
	return d
}

// setConnackProps advertises what Roost supports to a 5.0 client.
func (c *conn) setConnackProps(ack *packet.Connack, assigned bool) {
	s := c.srv
	pr := &ack.Properties
	if assigned {
		pr.AssignedClientID = []byte(c.clientID) // [MQTT-3.1.3-7]
		pr.Set(packet.PropAssignedClientID)
	}
	pr.ReceiveMaximum = s.opts.Limits.ReceiveMaximum
	pr.Set(packet.PropReceiveMaximum)
	pr.MaximumPacketSize = uint32(s.limits().MaxPacketSize)
	pr.Set(packet.PropMaximumPacketSize)
	pr.TopicAliasMaximum = s.opts.Limits.MaxTopicAliases
	pr.Set(packet.PropTopicAliasMaximum)
	if c.auth != nil {
		// [MQTT-4.12.0-5] a successful CONNACK repeats the CONNECT's method.
		pr.AuthMethod = []byte(c.auth.method)
		pr.Set(packet.PropAuthMethod)
		if c.auth.data != nil {
			pr.AuthData = c.auth.data
			pr.Set(packet.PropAuthData)
		}
		c.auth.data = nil
	}
	if s.opts.Retain.Disabled {
		pr.RetainAvailable = 0
		pr.Set(packet.PropRetainAvailable)
	}
}

func (c *conn) newWill(p *packet.Connect) *willMsg {
	now := c.srv.clock.Now()
	m := &message{topic: string(p.WillTopic), qos: p.WillQoS, retain: p.WillRetain, created: now}
	if len(p.WillPayload) > 0 {
		m.payload = append([]byte(nil), p.WillPayload...)
	}
	w := &willMsg{msg: m, clientID: c.clientID, username: c.username}
	if c.version == packet.V5 {
		m.setProps(&p.WillProperties, now) // [MQTT-3.1.3-10]
		w.delay = time.Duration(p.WillProperties.WillDelay) * time.Second
	}
	return w
}

func newClientID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "roost-" + hex.EncodeToString(b[:])
}
