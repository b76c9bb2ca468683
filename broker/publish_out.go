package broker

import (
	"github.com/roostmq/roost/packet"
)

// writePublish encodes one PUBLISH of m for this client into its outbound
// queue. limit > 0 drops it instead when that many bytes are already pending
// (QoS 0 back-pressure). It applies the client's Maximum Packet Size, the
// remaining message expiry and outbound topic aliases. batch: the caller
// is a reader routing a read batch (outbound.appendFn).
func (c *conn) writePublish(m *message, qos byte, id uint16, retain bool, subIDs []uint32, dup bool, limit int, batch bool) (ok, wake bool) {
	p := packet.Publish{Dup: dup && qos > 0, QoS: qos, Retain: retain, PacketID: id, Payload: m.payload} // [MQTT-3.3.1-3]
	if c.version == packet.V5 {
		if m.props != nil {
			p.Properties = *m.props
		}
		p.Properties.SubscriptionIDs = subIDs // [MQTT-3.3.4-3]
		if !m.expiry.IsZero() {
			p.Properties.MessageExpiry = m.remaining(c.srv.clock.Now()) // [MQTT-3.3.2-6]
		}
	}
	if c.tooLarge(m, qos, subIDs) {
		// Checked before appending: a closure that appended nothing would
		// still mark the writer as woken, and it would never wake again.
		return false, false // [MQTT-3.1.2-24]
	}
	// About the packet's size: fixed header, topic, packet id, payload, and
	// room for the 5.0 properties Roost adds.
	need := len(m.topic) + len(m.payload) + 16
	if c.version == packet.V5 {
		need += 64
	}
	ok, wake = c.out.appendFn(limit, need, batch, func(b []byte) []byte {
		c.srv.fault("encode")
		p.Topic = unsafeBytes(m.topic)
		alias, fresh := c.outAliasLocked(m.topic)
		if alias != 0 {
			p.Properties.TopicAlias = alias
			p.Properties.Set(packet.PropTopicAlias)
			if !fresh {
				p.Topic = nil
			}
		}
		return p.Append(b, c.version)
	})
	if ok {
		c.stats.msgsOut[qos&3].Add(1)
	}
	return ok, wake
}

// tooLarge reports whether m can never be sent to this client because of its
// Maximum Packet Size. It measures the largest form the PUBLISH can take
// (the full topic, plus a Topic Alias when the client accepts aliases), so
// that whatever alias is chosen later the packet fits. [MQTT-3.1.2-24] [MQTT-3.1.2-25]
func (c *conn) tooLarge(m *message, qos byte, subIDs []uint32) bool {
	if c.maxOut == 0 {
		return false
	}
	p := packet.Publish{QoS: qos, PacketID: 1, Topic: unsafeBytes(m.topic), Payload: m.payload}
	if c.version == packet.V5 {
		if m.props != nil {
			p.Properties = *m.props
		}
		p.Properties.SubscriptionIDs = subIDs
		if c.aliasMax > 0 {
			p.Properties.TopicAlias = 1
			p.Properties.Set(packet.PropTopicAlias)
		}
	}
	return p.Size(c.version) > c.maxOut
}

// outAliasLocked returns the topic alias for name, assigning one while the
// client's Topic Alias Maximum allows; fresh means the client has not seen
// this mapping yet. Called with out.mu held (from inside appendFn).
// [MQTT-3.1.2-26] [MQTT-3.1.2-27] [MQTT-3.3.2-8] [MQTT-3.3.2-11]
func (c *conn) outAliasLocked(name string) (alias uint16, fresh bool) {
	if c.aliasMax == 0 || c.version != packet.V5 {
		return 0, false
	}
	if a, ok := c.outAliases[name]; ok {
		return a, false
	}
	if len(c.outAliases) >= int(c.aliasMax) {
		return 0, false
	}
	if c.outAliases == nil {
		c.outAliases = make(map[string]uint16)
	}
	a := uint16(len(c.outAliases) + 1)
	c.outAliases[name] = a
	return a, true
}
