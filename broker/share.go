package broker

// handoff is a message that a shared-subscription member accepted but will
// never acknowledge, because its session ended.
type handoff struct {
	client        string // the ended member's session id
	group, filter string
	msg           *message
}

// takeSharedLocked takes from an ending session the messages it received
// through shared subscriptions and did not finish: queued ones, and QoS 1
// ones in flight. A QoS 2 message already sent stays with the session and
// ends with it. [MQTT-4.8.2-5]
func (ss *session) takeSharedLocked() []handoff {
	var out []handoff
	if ss.srv.durable && (ss.onDisk || ss.diskQueued > 0) && ss.hasSharedLocked() {
		ss.loadAllLocked()
	}
	for _, m := range ss.inflight {
		if m.group != "" && m.qos == 1 {
			out = append(out, handoff{ss.id, m.group, m.filter, m.msg})
		}
	}
	for _, q := range ss.queue {
		if q.group != "" {
			out = append(out, handoff{ss.id, q.group, q.filter, q.msg})
		}
	}
	return out
}

// handOff gives each message of an ended shared-subscription member to
// another member of the same group, as MQTT 5.0 section 4.8.2 recommends
// ("the Server SHOULD send the Application Message to another Client that is
// subscribed to the same Shared Subscription"). Call it without locks held,
// after the ended session left the index. A message that no member is left
// to take is dropped and counted (DropNoSubscriber).
func (s *Server) handOff(list []handoff) {
	if len(list) == 0 {
		return
	}
	now := s.clock.Now()
	var sc routeScratch
	for _, h := range list {
		if h.msg.expired(now) {
			s.dropHandoff(h, DropExpired)
			continue
		}
		sc.subs, sc.groups = s.subs.Match(h.msg.topic, sc.subs[:0], sc.groups[:0])
		delivered := false
		for _, g := range sc.groups {
			if g.Group == h.group && g.Filter == h.filter {
				delivered = s.deliverShared(nil, g, h.msg)
				break
			}
		}
		if !delivered {
			s.dropHandoff(h, DropNoSubscriber)
		}
	}
}

// dropHandoff counts a handed-off message that went to no one, reporting it
// against the member that had it.
func (s *Server) dropHandoff(h handoff, why DropReason) {
	s.stats.dropped[why].Add(1)
	if f := s.opts.Hooks.OnDropped; f != nil {
		f(h.client, h.msg.topic, why)
	}
}
