package broker

import (
	"github.com/roostmq/roost/packet"
	"github.com/roostmq/roost/topic"
)

// routeScratch is a reader's reusable buffers for matching.
type routeScratch struct {
	ids    []uint32 // subscription identifiers of the targets, reused per route
	subs   []topic.Sub[*session]
	groups []topic.SharedMatch[*session]
	merged map[*session]int // session -> index in targets
	target []target
}

type target struct {
	s      *session
	qos    byte
	retain bool
	recv   uint8 // the receive authorization decided at subscribe time (recvAsk: none)
	subIDs []uint32
}

var (
	errTopicInvalid  = &packet.Error{Code: packet.TopicNameInvalid, Msg: "invalid topic name"}
	errAliasInvalid  = &packet.Error{Code: packet.TopicAliasInvalid, Msg: "topic alias out of range"}
	errAliasUnknown  = &packet.Error{Code: packet.ProtocolError, Msg: "empty topic with an unknown topic alias"}
	errTopicEmpty    = &packet.Error{Code: packet.ProtocolError, Msg: "empty topic name and no topic alias"}
	errRetainOff     = &packet.Error{Code: packet.RetainNotSupported, Msg: "retain is not available"}
	errResponseTopic = &packet.Error{Code: packet.ProtocolError, Msg: "response topic is not a valid topic name"}
	errRecvMax       = &packet.Error{Code: packet.ReceiveMaximumExceeded, Msg: "more unacknowledged QoS 2 publishes than Receive Maximum"}
)

// resolveTopic applies inbound topic aliases and validates the name.
// [MQTT-3.3.2-12] [MQTT-3.3.2-7]
func (c *conn) resolveTopic(p *packet.Publish) (string, error) {
	name := ""
	if alias := p.Properties.TopicAlias; c.version == packet.V5 && p.Properties.Has(packet.PropTopicAlias) {
		if alias == 0 || alias > c.srv.opts.Limits.MaxTopicAliases {
			return "", errAliasInvalid
		}
		if len(p.Topic) == 0 {
			n, ok := c.inAliases[alias]
			if !ok {
				return "", errAliasUnknown
			}
			return n, nil
		}
		if c.inAliases == nil {
			c.inAliases = make(map[uint16]string)
		}
		name = string(p.Topic)
		c.inAliases[alias] = name
	} else {
		name = string(p.Topic)
		if name == "" && c.version == packet.V5 {
			// MQTT 5.0 3.3.2.3.4: "It is a Protocol Error if the Topic
			// Name is zero length and there is no Topic Alias."
			return "", errTopicEmpty
		}
	}
	lim := c.srv.limits()
	if topic.ValidName(name) != nil || topic.CheckLimits(name, lim.MaxTopicLength, lim.MaxTopicLevels) != nil {
		return "", errTopicInvalid // [MQTT-3.3.2-2] [MQTT-4.7.3-1]
	}
	return name, nil
}

// handlePublish handles an inbound PUBLISH: checks, routing, acknowledgement.
func (c *conn) handlePublish(p *packet.Publish) error {
	s := c.srv
	c.stats.msgsIn[p.QoS&3].Add(1)
	if err := c.checkPublishRate(len(p.Payload)); err != nil {
		return err // 5.0: DISCONNECT 0x96 (or 0x97)
	}
	name, err := c.resolveTopic(p)
	if err != nil {
		return err
	}
	if p.Properties.Has(packet.PropResponseTopic) && topic.ValidName(string(p.Properties.ResponseTopic)) != nil {
		return errResponseTopic // [MQTT-3.3.2-14]
	}
	if p.Retain && s.opts.Retain.Disabled {
		return errRetainOff // 5.0: DISCONNECT 0x9A Retain not supported
	}
	if h := s.opts.Hooks.OnPublish; h != nil {
		h(c.clientID, name, p.QoS, len(p.Payload))
	}
	code := packet.Success
	if !s.mayPublish(c.clientID, c.username, name) {
		// 5.0: PUBACK/PUBREC 0x87, QoS 0 dropped; 3.1.1 (which has no way to
		// say no): acknowledged and dropped, as Mosquitto does.
		code = packet.NotAuthorized
	}
	switch p.QoS {
	case 0:
		if code == packet.Success {
			s.route(c, newMessage(p, name, c.version, s.clock.Now()))
		}
		if c.storeErr != nil {
			return c.storeErr
		}
	case 1:
		if code == packet.Success && s.route(c, newMessage(p, name, c.version, s.clock.Now())) == 0 && c.version == packet.V5 {
			code = packet.NoMatchingSubscribers
		}
		if c.storeErr != nil {
			return c.storeErr // [MQTT-4.8.0-2] (3.1.1): never acknowledged
		}
		c.sendPacket(&packet.Puback{Ack: packet.Ack{PacketID: p.PacketID, ReasonCode: code}})
	case 2:
		return c.publishQoS2(p, name, code)
	}
	return nil
}

// publishQoS2 routes a QoS 2 message once, however often it is resent before
// PUBREL. [MQTT-4.3.3-2] (3.1.1: method B, [MQTT-4.3.3-2])
func (c *conn) publishQoS2(p *packet.Publish, name string, code packet.ReasonCode) error {
	ss := c.sess
	ss.mu.Lock()
	_, seen := ss.inbound[p.PacketID]
	if !seen && code == packet.Success {
		if len(ss.inbound) >= int(c.srv.opts.Limits.ReceiveMaximum) {
			ss.mu.Unlock()
			return errRecvMax // [MQTT-3.3.4-9]
		}
		ss.addInboundLocked(p.PacketID)
		if ss.persistLocked() {
			// Durable before PUBREC: a resend after a crash is still known.
			if err := c.srv.store.AddInbound(ss.id, p.PacketID); err != nil {
				ss.mu.Unlock()
				return &packet.Error{Code: packet.UnspecifiedError, Msg: "store: " + err.Error()}
			}
			c.needSync.Store(true)
		}
	}
	ss.mu.Unlock()
	if !seen && code == packet.Success {
		if c.srv.route(c, newMessage(p, name, c.version, c.srv.clock.Now())) == 0 && c.version == packet.V5 {
			code = packet.NoMatchingSubscribers
		}
		if c.storeErr != nil {
			return c.storeErr
		}
	}
	c.sendPacket(&packet.Pubrec{Ack: packet.Ack{PacketID: p.PacketID, ReasonCode: code}})
	return nil
}

// route delivers m to every matching subscription and stores it when
// retained. It returns the number of sessions it went to. from is the
// publishing connection (nil for in-process and will messages); writers to
// wake are collected on it, or woken at once without it.
func (s *Server) route(from *conn, m *message) int {
	if m.retain {
		if err := s.retain(m); err != nil {
			s.log.Error("storing a retained message", "topic", m.topic, "err", err)
			if from != nil {
				// The publisher's connection is closed before it is acknowledged.
				from.storeErr = &packet.Error{Code: packet.UnspecifiedError, Msg: "store: " + err.Error()}
			}
		} else if from != nil && m.qos > 0 && s.durable {
			from.needSync.Store(true) // PUBACK/PUBREC after the retained message is durable
		}
	}
	var sc *routeScratch
	var sender *session // for No Local; not kept with m, which may outlive the session
	if from != nil {
		if from.scratch == nil {
			from.scratch = &routeScratch{}
		}
		sc = from.scratch
		sender = from.sess
	} else {
		sc = &routeScratch{}
	}
	sc.subs, sc.groups = s.subs.Match(m.topic, sc.subs[:0], sc.groups[:0])
	targets := sc.merge(m, sender)
	n := len(targets)
	for i := range targets {
		t := &targets[i]
		s.deliverTo(from, t.s, m, t.qos, t.retain, t.subIDs, "", "", t.recv)
	}
	for _, g := range sc.groups {
		if s.deliverShared(from, g, m) {
			n++
		}
	}
	return n
}

// deliverShared gives m to one member of a shared subscription group,
// preferring members that are online, within the QoS granted to that member.
// [MQTT-4.8.2-3]
func (s *Server) deliverShared(from *conn, g topic.SharedMatch[*session], m *message) bool {
	// A member the authorizer keeps from the topic is passed over: the
	// message goes to another one (deliverTo checks again).
	sub, ok := g.PickWhere(func(x topic.Sub[*session]) bool { return x.Key.online() && s.mayReceive(x.Key, m.topic, x.Opts.Tag) })
	if !ok {
		sub, ok = g.PickWhere(func(x topic.Sub[*session]) bool { return s.mayReceive(x.Key, m.topic, x.Opts.Tag) })
	}
	if !ok {
		if sub, ok = g.Pick(); !ok {
			return false
		}
	}
	var ids []uint32
	if sub.Opts.ID != 0 {
		ids = []uint32{sub.Opts.ID}
	}
	s.deliverTo(from, sub.Key, m, min(m.qos, sub.Opts.QoS), false, ids, g.Group, g.Filter, sub.Opts.Tag)
	return true
}

// mayReceive reports whether ss may receive a message on name now: allowed
// and known (a member whose answer is not at hand yet is passed over).
func (s *Server) mayReceive(ss *session, name string, tag uint8) bool {
	ok, known := s.receiveDecision(ss, name, tag)
	return ok && known
}

// deliverTo gives m to ss if ss may receive it. recv is the subscription's
// receive authorization decided at subscribe time (recvAsk: none). When the
// authorizer cannot answer without blocking, the delivery is decided off
// this goroutine (deferReceive).
func (s *Server) deliverTo(from *conn, ss *session, m *message, qos byte, retain bool, ids []uint32, group, filter string, recv uint8) {
	if ok, known := s.receiveDecision(ss, m.topic, recv); !known {
		s.deferReceive(ss, m, qos, retain, ids, group, filter, false)
		return
	} else if !ok {
		s.refusedDelivery(ss, m)
		return
	} else if s.recv.behind(ss) {
		s.deferReceive(ss, m, qos, retain, ids, group, filter, true) // in order behind its checks
		return
	}
	s.deliverAllowed(from, ss, m, qos, retain, ids, group, filter)
}

// deliverAllowed gives m to ss, which may receive it.
func (s *Server) deliverAllowed(from *conn, ss *session, m *message, qos byte, retain bool, ids []uint32, group, filter string) {
	w, st := ss.deliverVia(m, qos, retain, ids, group, filter, from != nil)
	if from != nil {
		switch st {
		case storedRecord:
			from.needSync.Store(true) // the acknowledgement waits for the record
		case storeFailed:
			from.storeErr = &packet.Error{Code: packet.UnspecifiedError, Msg: "store: a message could not be written"}
		}
	}
	if w != nil {
		if from != nil {
			from.wake = append(from.wake, w)
		} else {
			w.out.wake()
		}
	}
}

// merge folds overlapping subscriptions of one session into one delivery at
// the highest granted QoS carrying every subscription identifier.
// [MQTT-3.3.4-2] [MQTT-3.3.4-3] (3.1.1: [MQTT-3.3.5-1])
func (sc *routeScratch) merge(m *message, sender *session) []target {
	sc.target = sc.target[:0]
	sc.ids = sc.ids[:0]
	if len(sc.subs) > 1 {
		if sc.merged == nil {
			sc.merged = make(map[*session]int)
		}
		clear(sc.merged)
	}
	for _, sub := range sc.subs {
		if sub.Opts.NoLocal && sub.Key == sender {
			continue // [MQTT-3.8.3-3]
		}
		qos := min(m.qos, sub.Opts.QoS)                  // [MQTT-3.8.4-8] (3.1.1: [MQTT-3.8.4-6])
		retain := m.retain && sub.Opts.RetainAsPublished // [MQTT-3.3.1-12] [MQTT-3.3.1-13]
		i, seen := -1, false
		if len(sc.subs) > 1 {
			i, seen = sc.merged[sub.Key]
		}
		if !seen {
			if len(sc.subs) > 1 {
				sc.merged[sub.Key] = len(sc.target)
			}
			t := target{s: sub.Key, qos: qos, retain: retain, recv: sub.Opts.Tag}
			if sub.Opts.ID != 0 {
				// A one-element window of the reused arena: no allocation per
				// delivery; a second identifier (overlap) makes append copy it.
				n := len(sc.ids)
				sc.ids = append(sc.ids, sub.Opts.ID)
				t.subIDs = sc.ids[n : n+1 : n+1]
			}
			sc.target = append(sc.target, t)
			continue
		}
		t := &sc.target[i]
		if sub.Opts.Tag != recvAsk {
			t.recv = sub.Opts.Tag // one client, one topic: every decision is the same
		}
		t.qos = max(t.qos, qos)
		t.retain = t.retain || retain
		if sub.Opts.ID != 0 {
			t.subIDs = append(t.subIDs, sub.Opts.ID)
		}
	}
	return sc.target
}
