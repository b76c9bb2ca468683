package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/roostmq/roost/packet"
)

// register allocates a free packet identifier for an operation.
func (c *Client) register(want packet.Type, quota bool) (uint16, *op, error) {
	o := &op{want: want, quota: quota, ch: make(chan result, 1)}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.closing:
		return 0, nil, c.closedErr()
	default:
	}
	for range 65535 {
		c.nextID++
		if c.nextID == 0 {
			c.nextID = 1
		}
		if _, used := c.pending[c.nextID]; !used {
			c.pending[c.nextID] = o
			return c.nextID, o, nil
		}
	}
	return 0, nil, ErrNoPacketID
}

// unregister drops an operation that was never sent.
func (c *Client) unregister(id uint16) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// wait waits for an operation's acknowledgement. When ctx ends first the
// operation stays registered, so its identifier and send quota are released
// when the acknowledgement arrives or the connection ends.
func (c *Client) wait(ctx context.Context, o *op) (packet.Packet, error) {
	select {
	case r := <-o.ch:
		return r.p, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// write queues b and waits until it is written.
func (c *Client) write(ctx context.Context, b []byte) error {
	done := make(chan error, 1)
	if err := c.send(b, done); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) checkSize(n int) error {
	if c.maxPacketSize > 0 && n > c.maxPacketSize {
		return &packet.Error{Code: packet.PacketTooLarge,
			Msg: fmt.Sprintf("client: packet of %d bytes exceeds the server's maximum of %d", n, c.maxPacketSize)}
	}
	return nil
}

// Publish sends a message. QoS 0 returns once the message is written to the
// socket, QoS 1 when the PUBACK arrives, QoS 2 when the PUBCOMP arrives. A
// QoS 1 or 2 publish first waits for a free slot of the server's Receive
// Maximum. A failure reason code from the server is returned as an
// *AckError (errors.As finds its packet.ReasonCode). When ctx ends, Publish
// returns ctx.Err(); a message already handed to the writer may still be
// delivered, and its flow completes in the background.
func (c *Client) Publish(ctx context.Context, m *Message) error {
	wait, err := c.PublishAsync(ctx, m)
	if err != nil {
		return err
	}
	return wait(ctx)
}

// PublishAsync is Publish in two steps: it returns once the message is
// handed to the writer, in call order, and wait blocks until the flow
// completes as Publish would (at once for QoS 0). Calls made one after
// another keep their order on the wire while several messages are in
// flight, up to the server's Receive Maximum. wait must be called once for
// a QoS 1 or 2 message: it frees the message's slot.
func (c *Client) PublishAsync(ctx context.Context, m *Message) (wait func(context.Context) error, err error) {
	if m.QoS > 2 {
		return nil, fmt.Errorf("client: QoS %d", m.QoS)
	}
	if m.QoS > c.maxQoS {
		return nil, &packet.Error{Code: packet.QoSNotSupported, Msg: fmt.Sprintf("client: the server's maximum QoS is %d", c.maxQoS)}
	}
	if m.Retain && !c.retainAvail {
		return nil, &packet.Error{Code: packet.RetainNotSupported, Msg: "client: the server does not support retained messages"}
	}
	if m.Topic == "" {
		return nil, &packet.Error{Code: packet.TopicNameInvalid, Msg: "client: empty topic"}
	}
	p := &packet.Publish{QoS: m.QoS, Retain: m.Retain, Topic: []byte(m.Topic), Payload: m.Payload}
	if c.v == packet.V5 {
		m.Properties.toPacket(&p.Properties)
	}
	if err := c.checkSize(p.Size(c.v)); err != nil {
		return nil, err
	}
	if m.QoS == 0 {
		if err := c.write(ctx, p.Append(nil, c.v)); err != nil {
			return nil, err
		}
		return func(context.Context) error { return nil }, nil
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.closing:
		return nil, c.closedErr()
	}
	want := packet.PUBACK
	if m.QoS == 2 {
		want = packet.PUBCOMP
	}
	id, o, err := c.register(want, true)
	if err != nil {
		<-c.sem
		return nil, err
	}
	p.PacketID = id
	if err := c.send(p.Append(nil, c.v), nil); err != nil {
		c.unregister(id)
		<-c.sem
		return nil, err
	}
	return func(ctx context.Context) error {
		_, err := c.wait(ctx, o)
		return err
	}, nil
}

// Subscribe subscribes to topic filters and returns the server's reason
// code for each (the granted QoS, or a failure code). When some filter is
// refused the error is an *AckError with the first failure code.
func (c *Client) Subscribe(ctx context.Context, subs ...Subscription) ([]packet.ReasonCode, error) {
	return c.SubscribeWith(ctx, 0, nil, subs...)
}

// SubscribeWith is Subscribe with an MQTT 5 Subscription Identifier (0 for
// none) and user properties.
func (c *Client) SubscribeWith(ctx context.Context, subID uint32, user []UserProperty, subs ...Subscription) ([]packet.ReasonCode, error) {
	if len(subs) == 0 {
		return nil, errors.New("client: Subscribe without filters")
	}
	p := &packet.Subscribe{Subscriptions: make([]packet.Subscription, len(subs))}
	for i, s := range subs {
		p.Subscriptions[i] = packet.Subscription{Filter: []byte(s.Filter), QoS: s.QoS,
			NoLocal: s.NoLocal, RetainAsPublished: s.RetainAsPublished, RetainHandling: s.RetainHandling}
	}
	if c.v == packet.V5 {
		if subID > 0 {
			p.Properties.SubscriptionIDs = []uint32{subID}
		}
		p.Properties.User = appendUser(nil, user)
	}
	r, err := c.request(ctx, packet.SUBACK, func(id uint16) []byte {
		p.PacketID = id
		return p.Append(nil, c.v)
	})
	if err != nil {
		return nil, err
	}
	codes := r.(*packet.Suback).ReasonCodes
	if len(codes) != len(subs) {
		return codes, fmt.Errorf("client: SUBACK with %d codes for %d filters", len(codes), len(subs))
	}
	for _, rc := range codes {
		if rc.IsError() {
			return codes, &AckError{Op: packet.SUBACK, Code: rc, Reason: string(r.(*packet.Suback).Properties.ReasonString)}
		}
	}
	return codes, nil
}

// Unsubscribe removes subscriptions. Under MQTT 5 it returns a reason code
// per filter (nil under 3.1.1).
func (c *Client) Unsubscribe(ctx context.Context, filters ...string) ([]packet.ReasonCode, error) {
	if len(filters) == 0 {
		return nil, errors.New("client: Unsubscribe without filters")
	}
	p := &packet.Unsubscribe{Filters: make([][]byte, len(filters))}
	for i, f := range filters {
		p.Filters[i] = []byte(f)
	}
	r, err := c.request(ctx, packet.UNSUBACK, func(id uint16) []byte {
		p.PacketID = id
		return p.Append(nil, c.v)
	})
	if err != nil {
		return nil, err
	}
	codes := r.(*packet.Unsuback).ReasonCodes
	for _, rc := range codes {
		if rc.IsError() {
			return codes, &AckError{Op: packet.UNSUBACK, Code: rc}
		}
	}
	return codes, nil
}

// request sends a SUBSCRIBE or UNSUBSCRIBE and waits for its answer.
func (c *Client) request(ctx context.Context, want packet.Type, encode func(id uint16) []byte) (packet.Packet, error) {
	id, o, err := c.register(want, false)
	if err != nil {
		return nil, err
	}
	b := encode(id)
	if err := c.checkSize(len(b)); err != nil {
		c.unregister(id)
		return nil, err
	}
	if err := c.send(b, nil); err != nil {
		c.unregister(id)
		return nil, err
	}
	return c.wait(ctx, o)
}

// Ping sends PINGREQ and waits for the PINGRESP.
func (c *Client) Ping(ctx context.Context) error {
	ch := make(chan struct{})
	c.mu.Lock()
	select {
	case <-c.closing:
		c.mu.Unlock()
		return c.closedErr()
	default:
	}
	c.pings = append(c.pings, ch)
	err := c.send((&packet.Pingreq{}).Append(nil, c.v), nil)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case <-ch:
		select {
		case <-c.done:
			return c.closedErr()
		default:
			return nil
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Disconnect sends DISCONNECT with reason code code (MQTT 5; use
// packet.NormalDisconnection, or packet.DisconnectWithWill to have the will
// published) and closes the connection. It waits until the connection's
// goroutines have stopped or ctx ends.
func (c *Client) Disconnect(ctx context.Context, code packet.ReasonCode) error {
	d := &packet.Disconnect{ReasonCode: code}
	c.disconnecting.Store(true)
	err := c.write(ctx, d.Append(nil, c.v))
	c.shutdown(ErrClosed)
	select {
	case <-c.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err != nil && !errors.Is(err, ErrClosed) {
		return err
	}
	return nil
}

// Close closes the connection without DISCONNECT (so the server publishes
// the will) and waits for the connection's goroutines to stop.
func (c *Client) Close() error {
	c.shutdown(ErrClosed)
	<-c.done
	return nil
}

// Reauthenticate runs an MQTT 5 re-authentication with Options.Auth.
func (c *Client) Reauthenticate(ctx context.Context) error {
	a := c.opts.Auth
	if a == nil || c.v != packet.V5 {
		return errors.New("client: re-authentication needs MQTT 5 and Options.Auth")
	}
	data, err := a.Initial()
	if err != nil {
		return err
	}
	ch := make(chan error, 1)
	c.mu.Lock()
	if c.authWait != nil {
		c.mu.Unlock()
		return errors.New("client: a re-authentication is already running")
	}
	select {
	case <-c.closing:
		c.mu.Unlock()
		return c.closedErr()
	default:
	}
	c.authWait = ch
	c.mu.Unlock()
	if err := c.send(c.authPacket(packet.ReAuthenticate, data), nil); err != nil {
		return err
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
