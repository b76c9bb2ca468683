package broker

import (
	"time"

	"github.com/roostmq/roost/packet"
)

var (
	errSecondConnect = &packet.Error{Code: packet.ProtocolError, Msg: "second CONNECT"} // [MQTT-3.1.0-2]
	errServerPacket  = &packet.Error{Code: packet.ProtocolError, Msg: "a client may not send this packet"}
	errNoAuth        = &packet.Error{Code: packet.ProtocolError, Msg: "AUTH without an authentication method in CONNECT"} // [MQTT-4.12.0-7]
)

// handle decodes and handles one packet after CONNECT.
func (c *conn) handle(first byte, body []byte, pub *packet.Publish) error {
	t := packet.Type(first >> 4)
	if t == packet.PUBLISH {
		if err := packet.DecodeInto(pub, first, body, c.version); err != nil {
			return err
		}
		if err := c.checkInboundPublish(pub); err != nil {
			return err
		}
		return c.handlePublish(pub)
	}
	switch t {
	case packet.CONNECT:
		return errSecondConnect // whatever it holds [MQTT-3.1.0-2]
	case packet.CONNACK, packet.SUBACK, packet.UNSUBACK, packet.PINGRESP:
		return errServerPacket
	}
	p, err := packet.Decode(first, body, c.version)
	if err != nil {
		return err
	}
	switch p := p.(type) {
	case *packet.Puback:
		if _, wrong := c.sess.ack(c, p.PacketID, packet.PUBACK); wrong {
			return errWrongAck // PUBACK for a QoS 2 message
		}
	case *packet.Pubrec:
		return c.handlePubrec(p)
	case *packet.Pubrel:
		return c.handlePubrel(p)
	case *packet.Pubcomp:
		if _, wrong := c.sess.ack(c, p.PacketID, packet.PUBCOMP); wrong {
			return errWrongAck // PUBCOMP for a QoS 1 message, or before PUBREC
		}
	case *packet.Subscribe:
		if err := c.checkFilterStrings(p); err != nil {
			return err
		}
		if err := c.checkAckFits(len(p.Subscriptions)); err != nil {
			return err
		}
		return c.handleSubscribe(p)
	case *packet.Unsubscribe:
		if err := c.checkFilterStrings(p); err != nil {
			return err
		}
		if err := c.checkAckFits(len(p.Filters)); err != nil {
			return err
		}
		return c.handleUnsubscribe(p)
	case *packet.Pingreq:
		c.sendPacket(&packet.Pingresp{}) // [MQTT-3.12.4-1]
	case *packet.Disconnect:
		return c.handleDisconnect(p)
	case *packet.Auth:
		return c.handleAuth(p)
	default:
		return errServerPacket
	}
	return nil
}

// handlePubrec answers PUBREC with PUBREL [MQTT-4.3.3-3]. A PUBREC for a
// message in flight at QoS 1 is a protocol error (5.0: DISCONNECT 0x82); one
// for an unknown id gets PUBREL (5.0: 0x92 Packet Identifier not found).
func (c *conn) handlePubrec(p *packet.Pubrec) error {
	rel := &packet.Pubrel{Ack: packet.Ack{PacketID: p.PacketID}}
	if p.ReasonCode.IsError() {
		// 5.0: a PUBREC with a failure code ends the exchange.
		if c.sess.drop(p.PacketID) {
			return errWrongAck
		}
		return nil
	}
	found, wrong, err := c.sess.received(c, p.PacketID)
	if wrong {
		return errWrongAck
	}
	if err != nil {
		// The record could not say released: no PUBREL yet, or a crash
		// would resend the PUBLISH after it. The client's PUBREC after it
		// reconnects tries again.
		return &packet.Error{Code: packet.UnspecifiedError, Msg: "store: " + err.Error()}
	}
	if !found && c.version == packet.V5 {
		rel.ReasonCode = packet.PacketIdentifierNotFound
	}
	c.sendPacket(rel)
	return nil
}

// handlePubrel completes an inbound QoS 2 exchange. [MQTT-4.3.3-9]
// If the store cannot forget the id, PUBCOMP is not sent and the connection
// closes: the id stays known, and the client's PUBREL after it reconnects
// tries again. [MQTT-4.4.0-1]
func (c *conn) handlePubrel(p *packet.Pubrel) error {
	ss := c.sess
	ss.mu.Lock()
	_, ok := ss.inbound[p.PacketID]
	if ok && ss.persistLocked() {
		// The id must be forgotten on disk before PUBCOMP lets the client
		// reuse it, or a new message with it would be taken for a resend.
		if err := c.srv.store.DeleteInbound(ss.id, p.PacketID); err != nil {
			ss.mu.Unlock()
			c.srv.log.Error("store: deleting an inbound QoS 2 id", "client", ss.id, "err", err)
			return &packet.Error{Code: packet.UnspecifiedError, Msg: "store: " + err.Error()}
		}
		c.needSync.Store(true)
	}
	delete(ss.inbound, p.PacketID)
	ss.mu.Unlock()
	comp := &packet.Pubcomp{Ack: packet.Ack{PacketID: p.PacketID}}
	if !ok && c.version == packet.V5 {
		comp.ReasonCode = packet.PacketIdentifierNotFound
	}
	c.sendPacket(comp)
	return nil
}

// handleDisconnect processes a client's DISCONNECT. [MQTT-3.14.4-3]
func (c *conn) handleDisconnect(p *packet.Disconnect) error {
	if c.version == packet.V5 && p.Properties.Has(packet.PropSessionExpiry) {
		c.sess.mu.Lock()
		was := c.sess.expiry
		c.sess.mu.Unlock()
		if was == 0 && p.Properties.SessionExpiry != 0 {
			// MQTT 5.0 section 3.14.2.2.2 (no statement ID; [MQTT-3.14.2-2] is about the server)
			return &packet.Error{Code: packet.ProtocolError, Msg: "session expiry set on DISCONNECT after 0 on CONNECT"}
		}
		d := time.Duration(p.Properties.SessionExpiry) * time.Second
		if p.Properties.SessionExpiry == 0xFFFFFFFF {
			d = -1
		}
		if max := c.srv.opts.Sessions.MaxExpiry; max > 0 && (d < 0 || d > max) {
			d = max
		}
		c.sess.mu.Lock()
		c.sess.expiry = d
		c.sess.mu.Unlock()
	}
	if p.ReasonCode != packet.DisconnectWithWill {
		c.will = nil // [MQTT-3.1.2-10] (3.1.1: [MQTT-3.1.2-10] [MQTT-3.14.4-3])
	}
	c.disconnect = true
	return nil
}

// kickedDisconnect handles a packet that a connection closed by the server
// (taken over, say) read after the kick: a DISCONNECT the client sent before
// it learned of the kick still discards its will, though the session is no
// longer this connection's to change. A client that sends DISCONNECT, closes
// its socket and reconnects at once otherwise loses the race against its own
// takeover. [MQTT-3.1.2-10] [MQTT-3.14.4-3]
func (c *conn) kickedDisconnect(first byte, body []byte) {
	if packet.Type(first>>4) != packet.DISCONNECT {
		return
	}
	p, err := packet.Decode(first, body, c.version)
	if err != nil {
		return
	}
	if d, ok := p.(*packet.Disconnect); ok && d.ReasonCode != packet.DisconnectWithWill {
		c.will = nil
	}
}
