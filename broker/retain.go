package broker

import (
	"sync"

	"github.com/roostmq/roost/store"
	"github.com/roostmq/roost/topic"
)

// retainStripes is the number of locks that order retained writes.
const retainStripes = 64

// retainOrder orders the writes of retained messages per topic: the change
// in memory (topic.Retained) and its write to the store happen under one
// lock for the topic, so two publishers on a topic, or a publisher and the
// removal of an expired message, reach memory and the store in the same
// order and a restart finds what the broker held. Topics share the locks
// by hash. A stripe lock is a leaf but for the store's own locks: taken
// after session.mu (embed.Subscribe), never before.
type retainOrder struct {
	mu [retainStripes]sync.Mutex
}

// lock locks the stripe of topic and returns it for Unlock.
func (o *retainOrder) lock(topic string) *sync.Mutex {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(topic); i++ {
		h = (h ^ uint32(topic[i])) * 16777619
	}
	mu := &o.mu[h%retainStripes]
	mu.Lock()
	return mu
}

// retain stores, replaces or clears the retained message for m's topic.
// [MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-7] [MQTT-3.3.1-10] (3.1.1)
func (s *Server) retain(m *message) error {
	mu := s.retainOrder.lock(m.topic)
	defer mu.Unlock()
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

// deleteRetained removes the retained message of name, in memory and in
// the store, if it is still old (nil: whatever it is), and reports whether
// it did.
func (s *Server) deleteRetained(name string, old *message) (bool, error) {
	mu := s.retainOrder.lock(name)
	defer mu.Unlock()
	if !s.retained.DeleteIf(name, func(cur *message) bool { return old == nil || cur == old }) {
		return false, nil
	}
	return true, s.store.DeleteRetained(name)
}

// matchRetained returns the retained messages matching filter that have not
// expired, forgetting those that have.
func (s *Server) matchRetained(filter string) []*message {
	now := s.clock.Now()
	var list, expired []*message
	s.retained.Match(filter, func(_ string, m *message) bool {
		if m.expired(now) {
			expired = append(expired, m) // retained messages expire too
			return true
		}
		list = append(list, m)
		return true
	})
	for _, m := range expired {
		// Only the message found expired: one set since then is kept.
		if _, err := s.deleteRetained(m.topic, m); err != nil {
			s.log.Error("store: deleting an expired retained message", "topic", m.topic, "err", err)
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
		if a := s.authorizer(); a != nil && !a.Authorize(c.clientID, c.username, AccessReceive, m.topic) {
			continue
		}
		if w := c.sess.deliver(m, min(m.qos, o.QoS), true, ids); w != nil {
			w.out.wake()
		}
	}
}
