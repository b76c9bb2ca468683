package broker

import (
	"github.com/roostmq/roost/packet"
	"github.com/roostmq/roost/topic"
)

// handleSubscribe adds each filter and answers SUBACK with one code per
// filter, in order. [MQTT-3.8.4-1] [MQTT-3.8.4-5] [MQTT-3.9.3-1]
func (c *conn) handleSubscribe(p *packet.Subscribe) error {
	s := c.srv
	ack := &packet.Suback{PacketID: p.PacketID, ReasonCodes: make([]packet.ReasonCode, len(p.Subscriptions))}
	var subID uint32
	if len(p.Properties.SubscriptionIDs) > 0 {
		subID = p.Properties.SubscriptionIDs[0]
	}
	type retainReq struct {
		msgs []*message
		opts topic.Options
	}
	var sendRetained []retainReq
	for i := range p.Subscriptions {
		sub := &p.Subscriptions[i]
		filter := string(sub.Filter)
		code := c.checkFilter(filter, sub)
		if code == packet.ProtocolError {
			// Not a SUBACK code: the connection closes (DISCONNECT 0x82). [MQTT-3.8.3-4]
			return &packet.Error{Code: code, Msg: "no local on a shared subscription"}
		}
		if code.IsError() {
			ack.ReasonCodes[i] = c.failCode(code)
			continue
		}
		o := topic.Options{QoS: sub.QoS, NoLocal: sub.NoLocal, RetainAsPublished: sub.RetainAsPublished,
			RetainHandling: sub.RetainHandling, ID: subID}
		existed := c.sess.subscribe(filter, o)
		ack.ReasonCodes[i] = packet.ReasonCode(sub.QoS) // granted QoS [MQTT-3.8.4-6]
		if h := s.opts.Hooks.OnSubscribe; h != nil {
			h(c.clientID, filter, sub.QoS)
		}
		_, _, shared, _ := topic.ParseShared(filter)
		// Retain handling: 0 always, 1 only for a new subscription, 2 never;
		// never for a shared subscription. [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11] [MQTT-3.8.4-4]
		if !shared && (o.RetainHandling == 0 || (o.RetainHandling == 1 && !existed)) {
			// Matched now, before SUBACK: a message the client publishes
			// after it sees the SUBACK arrives live only, not twice.
			sendRetained = append(sendRetained, retainReq{s.matchRetained(filter), o})
		}
	}
	c.sendPacket(ack) // SUBACK before the retained messages
	for _, r := range sendRetained {
		s.sendRetained(c, r.msgs, r.opts)
	}
	return nil
}

// checkFilter validates one filter and asks the authorizer.
func (c *conn) checkFilter(filter string, sub *packet.Subscription) packet.ReasonCode {
	s := c.srv
	lim := s.limits()
	_, inner, shared, err := topic.ParseShared(filter)
	if err != nil || topic.CheckLimits(filter, lim.MaxTopicLength, lim.MaxTopicLevels) != nil {
		return packet.TopicFilterInvalid // [MQTT-4.7.1-1] [MQTT-4.7.1-2] [MQTT-4.8.2-1] [MQTT-4.8.2-2]
	}
	if shared && sub.NoLocal {
		return packet.ProtocolError // [MQTT-3.8.3-4]
	}
	// $share/{group}/{filter} is an MQTT 5 feature that Roost, like EMQX,
	// HiveMQ and Mosquitto, also grants to 3.1.1 clients.
	if n := lim.MaxSubscriptions; n > 0 && c.sess.count() >= n && !c.sess.has(filter) {
		return packet.QuotaExceeded
	}
	if a := s.opts.Authorizer; a != nil && !a.Authorize(c.clientID, c.username, AccessSubscribe, inner) {
		return packet.NotAuthorized
	}
	return packet.GrantedQoS0
}

// failCode maps a refusal to what the protocol version can say: 3.1.1 has
// only 0x80. [MQTT-3.9.3-2] (3.1.1)
func (c *conn) failCode(code packet.ReasonCode) packet.ReasonCode {
	if c.version != packet.V5 {
		return packet.UnspecifiedError
	}
	return code
}

// handleUnsubscribe removes filters and answers UNSUBACK. [MQTT-3.10.4-4] [MQTT-3.10.4-5]
func (c *conn) handleUnsubscribe(p *packet.Unsubscribe) {
	ack := &packet.Unsuback{PacketID: p.PacketID}
	for _, f := range p.Filters {
		code := packet.Success
		if !c.sess.unsubscribe(string(f)) {
			code = packet.NoSubscriptionExisted
		}
		ack.ReasonCodes = append(ack.ReasonCodes, code)
	}
	c.sendPacket(ack)
}

// subscribe records a filter in the session and the index; it reports whether
// the subscription already existed (and was replaced). [MQTT-3.8.4-3]
func (ss *session) subscribe(filter string, o topic.Options) bool {
	ss.mu.Lock()
	_, existed := ss.subs[filter]
	ss.setSubLocked(filter, o)
	ss.mu.Unlock()
	ss.srv.subs.Subscribe(ss, filter, o)
	ss.srv.saveSession(ss)
	return existed
}

// unsubscribe removes a filter. Messages it already brought in (in flight
// or queued for the window) stay and are completed. [MQTT-3.10.4-3]
func (ss *session) unsubscribe(filter string) bool {
	ss.mu.Lock()
	_, existed := ss.subs[filter]
	delete(ss.subs, filter)
	ss.mu.Unlock()
	if existed {
		ss.srv.subs.Unsubscribe(ss, filter)
		ss.srv.saveSession(ss)
	}
	return existed
}

func (ss *session) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.subs)
}

func (ss *session) has(filter string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	_, ok := ss.subs[filter]
	return ok
}

func (ss *session) online() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.conn != nil || ss.local != nil
}

func (ss *session) username() string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.ownerLocked()
}

// ownerLocked is the username of the session's connection, or offline the
// one it last connected with (claim sets both at once).
func (ss *session) ownerLocked() string {
	if ss.conn != nil {
		return ss.conn.username
	}
	return ss.owner
}

// removeSubsLocked drops every subscription from the index (session end).
func (ss *session) removeSubsLocked() {
	for f := range ss.subs {
		ss.srv.subs.Unsubscribe(ss, f)
	}
	clear(ss.subs)
}
