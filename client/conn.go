package client

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/roostmq/roost/packet"
)

// send appends b to the outbound queue and wakes the writer. done, when not
// nil, receives the outcome of the write.
func (c *Client) send(b []byte, done chan error) error {
	c.wmu.Lock()
	if c.wclosed {
		c.wmu.Unlock()
		return c.closedErr()
	}
	c.wq = append(c.wq, outbound{b, done})
	c.wmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// closedErr is the error for an operation on a connection that is ending.
func (c *Client) closedErr() error {
	<-c.closing
	if c.err != nil {
		return c.err
	}
	return ErrClosed
}

// writeLoop is the only goroutine that writes the socket after Connect.
func (c *Client) writeLoop() {
	defer close(c.writerDone)
	var tick <-chan time.Time
	if c.keepAlive > 0 {
		t := time.NewTicker(max(c.keepAlive/4, time.Millisecond))
		defer t.Stop()
		tick = t.C
	}
	lastWrite := time.Now()
	var bufs net.Buffers
	var items []outbound
	for {
		select {
		case <-c.closing:
			c.closeWrites()
			return
		case <-c.wake:
		case now := <-tick:
			if ps := c.pingSent.Load(); ps != 0 {
				if now.Sub(time.Unix(0, ps)) >= c.keepAlive {
					c.shutdown(ErrKeepAliveTimeout)
				}
			} else if now.Sub(lastWrite) >= c.keepAlive*3/4 {
				c.pingSent.Store(now.UnixNano())
				c.mu.Lock()
				c.pings = append(c.pings, nil)
				_ = c.send((&packet.Pingreq{}).Append(nil, c.v), nil)
				c.mu.Unlock()
			}
		}
		c.wmu.Lock()
		items, c.wq = c.wq, items[:0]
		c.wmu.Unlock()
		if len(items) == 0 {
			continue
		}
		bufs = bufs[:0]
		for _, it := range items {
			bufs = append(bufs, it.b)
		}
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout))
		_, err := bufs.WriteTo(c.nc)
		if err != nil {
			err = fmt.Errorf("client: write: %w", err)
			c.shutdown(err)
		}
		lastWrite = time.Now()
		for i, it := range items {
			if it.done != nil {
				it.done <- err
			}
			items[i] = outbound{}
		}
	}
}

// closeWrites refuses further sends and fails those still queued.
func (c *Client) closeWrites() {
	c.wmu.Lock()
	c.wclosed = true
	q := c.wq
	c.wq = nil
	c.wmu.Unlock()
	for _, it := range q {
		if it.done != nil {
			it.done <- c.closedErr()
		}
	}
}

// readLoop reads and handles packets until the connection ends, then fails
// what still waits and closes Done.
func (c *Client) readLoop() {
	err := c.readPackets()
	if c.disconnecting.Load() {
		err = ErrClosed
	} else if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		err = fmt.Errorf("client: connection lost: %w", err)
	}
	c.shutdown(err)
	<-c.writerDone
	cerr := c.closedErr()
	c.mu.Lock()
	for id, o := range c.pending {
		delete(c.pending, id)
		if o.quota {
			<-c.sem
		}
		o.ch <- result{err: cerr}
	}
	for _, p := range c.pings {
		if p != nil {
			close(p)
		}
	}
	c.pings = nil
	if c.authWait != nil {
		c.authWait <- cerr
		c.authWait = nil
	}
	c.mu.Unlock()
	close(c.done)
	close(c.inbox)
}

// dispatch runs the message handler, then sends the acknowledgement.
func (c *Client) dispatch() {
	for in := range c.inbox {
		if in.msg != nil && c.opts.OnMessage != nil {
			c.opts.OnMessage(in.msg)
		}
		if in.ack != nil {
			_ = c.send(in.ack, nil)
		}
	}
	if c.opts.OnDisconnect != nil {
		c.opts.OnDisconnect(c.err)
	}
}

// protocolError ends the connection because the server broke the protocol,
// telling it so with DISCONNECT under MQTT 5.
func (c *Client) protocolError(code packet.ReasonCode, format string, args ...any) error {
	if c.v == packet.V5 {
		done := make(chan error, 1)
		if c.send((&packet.Disconnect{ReasonCode: code}).Append(nil, c.v), done) == nil {
			select {
			case <-done:
			case <-time.After(time.Second):
			}
		}
	}
	return &packet.Error{Code: code, Msg: "client: " + fmt.Sprintf(format, args...)}
}

func (c *Client) readPackets() error {
	var (
		pub     packet.Publish
		aliases map[uint16]string
		qos2in  = make(map[uint16]bool)
	)
	for {
		first, body, err := c.r.Read()
		if err != nil {
			select {
			case <-c.closing:
				return c.err
			default:
			}
			if errors.Is(err, packet.PacketTooLarge) {
				return c.protocolError(packet.PacketTooLarge, "%v", err)
			}
			return err
		}
		t := packet.Type(first >> 4)
		if t == packet.PUBLISH {
			if err := packet.DecodeInto(&pub, first, body, c.v); err != nil {
				return c.protocolError(packet.CodeOf(err), "%v", err)
			}
			topic := string(pub.Topic)
			if c.v == packet.V5 && pub.Properties.Has(packet.PropTopicAlias) {
				a := pub.Properties.TopicAlias
				if a == 0 || a > c.opts.TopicAliasMaximum {
					return c.protocolError(packet.TopicAliasInvalid, "topic alias %d", a)
				}
				if topic != "" {
					if aliases == nil {
						aliases = make(map[uint16]string)
					}
					aliases[a] = topic
				} else if topic = aliases[a]; topic == "" {
					return c.protocolError(packet.ProtocolError, "unknown topic alias %d", a)
				}
			} else if topic == "" {
				return c.protocolError(packet.ProtocolError, "PUBLISH without a topic")
			}
			in := inbound{msg: messageFrom(&pub, topic)}
			switch pub.QoS {
			case 1:
				in.ack = (&packet.Puback{Ack: packet.Ack{PacketID: pub.PacketID}}).Append(nil, c.v)
			case 2:
				in.ack = (&packet.Pubrec{Ack: packet.Ack{PacketID: pub.PacketID}}).Append(nil, c.v)
				if qos2in[pub.PacketID] {
					in.msg = nil // already delivered, waiting for PUBREL [MQTT-4.3.3-9]
				}
				qos2in[pub.PacketID] = true
			}
			select {
			case c.inbox <- in:
			case <-c.closing:
				return c.err
			}
			continue
		}
		p, err := packet.Decode(first, body, c.v)
		if err != nil {
			return c.protocolError(packet.CodeOf(err), "%v", err)
		}
		if err := c.handle(p, qos2in); err != nil {
			return err
		}
	}
}

// handle processes one packet other than PUBLISH.
func (c *Client) handle(p packet.Packet, qos2in map[uint16]bool) error {
	switch p := p.(type) {
	case *packet.Puback:
		c.complete(packet.PUBACK, p.PacketID, p, ackErr(packet.PUBACK, &p.Ack))
	case *packet.Pubrec:
		if err := ackErr(packet.PUBREC, &p.Ack); err != nil {
			c.complete(packet.PUBCOMP, p.PacketID, p, err)
			return nil
		}
		rel := &packet.Pubrel{Ack: packet.Ack{PacketID: p.PacketID}}
		c.mu.Lock()
		if _, ok := c.pending[p.PacketID]; !ok && c.v == packet.V5 {
			rel.ReasonCode = packet.PacketIdentifierNotFound
		}
		c.mu.Unlock()
		return c.sendOrErr(rel.Append(nil, c.v))
	case *packet.Pubcomp:
		c.complete(packet.PUBCOMP, p.PacketID, p, ackErr(packet.PUBCOMP, &p.Ack))
	case *packet.Pubrel:
		delete(qos2in, p.PacketID)
		return c.sendOrErr((&packet.Pubcomp{Ack: packet.Ack{PacketID: p.PacketID}}).Append(nil, c.v))
	case *packet.Suback:
		c.complete(packet.SUBACK, p.PacketID, p, nil)
	case *packet.Unsuback:
		c.complete(packet.UNSUBACK, p.PacketID, p, nil)
	case *packet.Pingresp:
		c.pingSent.Store(0)
		c.mu.Lock()
		if len(c.pings) > 0 {
			if ch := c.pings[0]; ch != nil {
				close(ch)
			}
			c.pings = c.pings[1:]
		}
		c.mu.Unlock()
	case *packet.Disconnect:
		return &DisconnectError{Code: p.ReasonCode,
			Reason:          string(p.Properties.ReasonString),
			ServerReference: string(p.Properties.ServerReference)}
	case *packet.Auth:
		return c.handleAuth(p)
	default:
		return c.protocolError(packet.ProtocolError, "unexpected %v from the server", p.Type())
	}
	return nil
}

func (c *Client) sendOrErr(b []byte) error {
	if err := c.send(b, nil); err != nil {
		return err
	}
	return nil
}

// ackErr turns a failure reason code of an acknowledgement into an error.
func ackErr(t packet.Type, a *packet.Ack) error {
	if !a.ReasonCode.IsError() {
		return nil
	}
	return &AckError{Op: t, Code: a.ReasonCode, Reason: string(a.Properties.ReasonString)}
}

// complete finishes the operation waiting for packet id with acknowledgement
// type t. Acknowledgements for unknown identifiers are ignored.
func (c *Client) complete(t packet.Type, id uint16, p packet.Packet, err error) {
	c.mu.Lock()
	o := c.pending[id]
	if o == nil || o.want != t {
		c.mu.Unlock()
		return
	}
	delete(c.pending, id)
	c.mu.Unlock()
	if o.quota {
		<-c.sem
	}
	if err == nil {
		// Keep the packet past the next read; SUBACK and UNSUBACK need it.
		if p.Type() == packet.SUBACK || p.Type() == packet.UNSUBACK {
			p, err = packet.Clone(p, c.v)
		}
	}
	o.ch <- result{p, err}
}

// handleAuth handles AUTH during a re-authentication.
func (c *Client) handleAuth(p *packet.Auth) error {
	a := c.opts.Auth
	if a == nil || !bytes.Equal(p.Properties.AuthMethod, []byte(a.Method())) {
		return c.protocolError(packet.ProtocolError, "unexpected AUTH")
	}
	var err error
	switch p.ReasonCode {
	case packet.ContinueAuthentication:
		var out []byte
		if out, err = a.Step(p.Properties.AuthData); err == nil {
			return c.sendOrErr(c.authPacket(packet.ContinueAuthentication, out))
		}
	case packet.Success:
		err = a.Finish(p.Properties.AuthData)
	default:
		return c.protocolError(packet.ProtocolError, "AUTH with reason code 0x%02x", byte(p.ReasonCode))
	}
	c.mu.Lock()
	w := c.authWait
	c.authWait = nil
	c.mu.Unlock()
	if w != nil {
		w <- err
	}
	if err != nil {
		return c.protocolError(packet.NotAuthorized, "re-authentication: %v", err)
	}
	return nil
}
