package broker

import (
	"github.com/roostmq/roost/store"
	"github.com/roostmq/roost/topic"
)

// retain stores, replaces or clears the retained message for m's topic.
// [MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-7] [MQTT-3.3.1-10] (3.1.1)
func (s *Server) retain(m *message) error {
	if len(m.payload) == 0 {
		if s.retained.Delete(m.topic) {
			return s.store.DeleteRetained(m.topic)
		}
		return nil
	}
	if max := s.opts.Retain.MaxMessages; max > 0 && s.retained.Len() >= max {
		if _, ok := s.retained.Get(m.topic); !ok {
			return nil
		}
	}
	s.retained.Set(m.topic, m)
	return s.store.SetRetained(&store.Message{Topic: m.topic, Payload: m.payload, QoS: m.qos, Retain: true,
		Props: m.propsBytes(), Created: m.created, Expiry: m.expiry})
}

// matchRetained returns the retained messages matching filter that have not
// expired, forgetting those that have.
func (s *Server) matchRetained(filter string) []*message {
	now := s.clock.Now()
	var list []*message
	var expired []string
	s.retained.Match(filter, func(name string, m *message) bool {
		if m.expired(now) {
			expired = append(expired, name) // retained messages expire too
			return true
		}
		list = append(list, m)
		return true
	})
	for _, name := range expired {
		if m, ok := s.retained.Get(name); ok && m.expired(now) {
			s.retained.Delete(name)
			_ = s.store.DeleteRetained(name)
		}
	}
	return list
}

// sendRetained delivers retained messages (from matchRetained) to a new
// subscription, with the retain flag set. [MQTT-3.3.1-8] (3.1.1) [MQTT-3.3.1-9]
func (s *Server) sendRetained(c *conn, list []*message, o topic.Options) {
	var ids []uint32
	if o.ID != 0 {
		ids = []uint32{o.ID}
	}
	for _, m := range list {
		if a := s.opts.Authorizer; a != nil && !a.Authorize(c.clientID, c.username, AccessReceive, m.topic) {
			continue
		}
		if w := c.sess.deliver(m, min(m.qos, o.QoS), true, ids); w != nil {
			w.out.wake()
		}
	}
}
