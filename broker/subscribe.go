package broker

import (
	"github.com/roostmq/roost/packet"
	"github.com/roostmq/roost/topic"
)

// handleSubscribe adds each filter and answers SUBACK with one code per
// filter, in order. [MQTT-3.8.4-1] [MQTT-3.8.4-5] [MQTT-3.9.3-1]
// The session is saved once per packet; if that fails, the packet's
// subscriptions are undone and refused (0x80), so no SUBACK grants a
// subscription the store does not have.
func (c *conn) handleSubscribe(p *packet.Subscribe) error {
	s := c.srv
	ss := c.sess
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
	var undo []subUndo
	for i := range p.Subscriptions {
		sub := &p.Subscriptions[i]
		filter := string(sub.Filter)
		code := c.checkFilter(filter, sub)
		if code == packet.ProtocolError {
			// Not a SUBACK code: the connection closes (DISCONNECT 0x82). [MQTT-3.8.3-4]
			ss.undoSubs(undo)
			return &packet.Error{Code: code, Msg: "no local on a shared subscription"}
		}
		if code.IsError() {
			ack.ReasonCodes[i] = c.failCode(code)
			continue
		}
		o := topic.Options{QoS: sub.QoS, NoLocal: sub.NoLocal, RetainAsPublished: sub.RetainAsPublished,
			RetainHandling: sub.RetainHandling, ID: subID}
		_, inner, _, _ := topic.ParseShared(filter)
		o.Tag = c.subscribeRecvTag(inner)
		u, ok := ss.subscribe(filter, o)
		if !ok {
			// The session ended (taken over with clean start): this
			// connection is closing and its session is gone.
			ack.ReasonCodes[i] = packet.UnspecifiedError
			continue
		}
		u.index = i
		undo = append(undo, u)
		ack.ReasonCodes[i] = packet.ReasonCode(sub.QoS) // granted QoS [MQTT-3.8.4-6]
		_, _, shared, _ := topic.ParseShared(filter)
		// Retain handling: 0 always, 1 only for a new subscription, 2 never;
		// never for a shared subscription. [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11] [MQTT-3.8.4-4]
		if !shared && (o.RetainHandling == 0 || (o.RetainHandling == 1 && !u.existed)) {
			// Matched now, before SUBACK: a message the client publishes
			// after it sees the SUBACK arrives live only, not twice.
			sendRetained = append(sendRetained, retainReq{s.matchRetained(filter), o})
		}
	}
	if len(undo) > 0 && s.saveSession(ss) != nil {
		ss.undoSubs(undo)
		for _, u := range undo {
			ack.ReasonCodes[u.index] = packet.UnspecifiedError
		}
		sendRetained = nil
		undo = nil
	}
	if h := s.opts.Hooks.OnSubscribe; h != nil {
		for _, u := range undo {
			h(c.clientID, u.filter, byte(ack.ReasonCodes[u.index]))
		}
	}
	// SUBACK first, the retained messages behind it, and then one wake: the
	// client cannot see the SUBACK (and, say, make something publish on a
	// topic it just subscribed to) before its retained messages are queued.
	v := c.version
	c.out.appendFn(0, 0, false, func(b []byte) []byte { return ack.Append(b, v) })
	for _, r := range sendRetained {
		s.sendRetained(c, r.msgs, r.opts)
	}
	c.out.wake()
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
	if a := s.authorizer(); a != nil && !a.Authorize(c.clientID, c.username, AccessSubscribe, inner) {
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
// The session is saved once per packet; if that fails, the filters are
// restored and 5.0 gets 0x80 for each, while 3.1.1, whose UNSUBACK cannot
// refuse, is disconnected without one.
func (c *conn) handleUnsubscribe(p *packet.Unsubscribe) error {
	ss := c.sess
	ack := &packet.Unsuback{PacketID: p.PacketID}
	var undo []subUndo
	for _, f := range p.Filters {
		code := packet.Success
		if u, ok := ss.unsubscribe(string(f)); ok {
			u.index = len(ack.ReasonCodes)
			undo = append(undo, u)
		} else {
			code = packet.NoSubscriptionExisted
		}
		ack.ReasonCodes = append(ack.ReasonCodes, code)
	}
	if len(undo) > 0 && c.srv.saveSession(ss) != nil {
		ss.undoSubs(undo)
		if c.version != packet.V5 {
			return &packet.Error{Code: packet.UnspecifiedError, Msg: "store: the session could not be saved"}
		}
		for _, u := range undo {
			ack.ReasonCodes[u.index] = packet.UnspecifiedError
		}
	}
	c.sendPacket(ack)
	return nil
}

// subUndo is how to take back one change to a session's subscriptions.
type subUndo struct {
	filter  string
	prev    topic.Options // the options replaced, when existed
	existed bool          // the filter was subscribed before the change
	index   int           // the filter's place in its packet
}

// subscribe records a filter in the session and the index, and says how to
// undo it (whether the subscription already existed, and was replaced).
// Both change under ss.mu, so a takeover that ends the session cannot slip
// between them and leave an index entry behind (review M1); an ended
// session takes nothing (ok false). [MQTT-3.8.4-3]
func (ss *session) subscribe(filter string, o topic.Options) (u subUndo, ok bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.ended {
		return u, false
	}
	u.filter = filter
	u.prev, u.existed = ss.subs[filter]
	ss.setSubLocked(filter, o)
	ss.srv.subs.Subscribe(ss, filter, o)
	return u, true
}

// unsubscribe removes a filter; ok is false when there was none. Messages
// it already brought in (in flight or queued for the window) stay and are
// completed. [MQTT-3.10.4-3]
func (ss *session) unsubscribe(filter string) (u subUndo, ok bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	prev, existed := ss.subs[filter]
	if !existed || ss.ended {
		return u, false
	}
	delete(ss.subs, filter)
	ss.srv.subs.Unsubscribe(ss, filter)
	return subUndo{filter: filter, prev: prev, existed: true}, true
}

// undoSubs takes back changes made by subscribe or unsubscribe, latest
// first.
func (ss *session) undoSubs(list []subUndo) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.ended {
		return
	}
	for i := len(list) - 1; i >= 0; i-- {
		u := list[i]
		if u.existed {
			ss.setSubLocked(u.filter, u.prev)
			ss.srv.subs.Subscribe(ss, u.filter, u.prev)
		} else {
			delete(ss.subs, u.filter)
			ss.srv.subs.Unsubscribe(ss, u.filter)
		}
	}
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
