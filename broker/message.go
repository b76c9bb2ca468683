package broker

import (
	"time"

	"github.com/roostmq/roost/packet"
)

// message is an application message once routed. It is immutable: every
// subscriber encodes its own PUBLISH from it, and nothing changes it after
// routing starts.
type message struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
	props   *packet.Properties // 5.0 properties to forward (no topic alias, no subscription ids); nil: none
	created time.Time
	expiry  time.Time // zero: never expires
}

// newMessage copies what must outlive the read buffer out of a decoded
// PUBLISH: one allocation for topic and payload, plus the properties.
func newMessage(p *packet.Publish, topicName string, v packet.Version, now time.Time) *message {
	m := &message{topic: topicName, qos: p.QoS, retain: p.Retain, created: now}
	if len(p.Payload) > 0 {
		m.payload = append([]byte(nil), p.Payload...)
	}
	if v == packet.V5 {
		m.setProps(&p.Properties, now)
	}
	return m
}

// setProps keeps the properties that travel with the message.
// [MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17]
func (m *message) setProps(in *packet.Properties, now time.Time) {
	if in.Len() == 0 {
		return
	}
	var p packet.Properties
	copyProp := func(id packet.PropID) bool {
		if in.Has(id) {
			p.Set(id)
			return true
		}
		return false
	}
	if copyProp(packet.PropPayloadFormat) {
		p.PayloadFormat = in.PayloadFormat
	}
	if copyProp(packet.PropMessageExpiry) {
		p.MessageExpiry = in.MessageExpiry
		m.expiry = now.Add(time.Duration(in.MessageExpiry) * time.Second)
	}
	if copyProp(packet.PropContentType) {
		p.ContentType = clone(in.ContentType)
	}
	if copyProp(packet.PropResponseTopic) {
		p.ResponseTopic = clone(in.ResponseTopic)
	}
	if copyProp(packet.PropCorrelationData) {
		p.CorrelationData = clone(in.CorrelationData)
	}
	if len(in.User) > 0 {
		p.User = make([]packet.UserProperty, len(in.User))
		for i, u := range in.User {
			p.User[i] = packet.UserProperty{Key: clone(u.Key), Value: clone(u.Value)}
		}
	}
	m.props = &p
}

// propsBytes encodes the forwarded properties for the store.
func (m *message) propsBytes() []byte {
	if m.props == nil {
		return (&packet.Properties{}).Append(nil)
	}
	return m.props.Append(nil)
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// expired reports whether the message expiry has passed. [MQTT-3.3.2-5]
func (m *message) expired(now time.Time) bool {
	return !m.expiry.IsZero() && !now.Before(m.expiry)
}

// remaining is the Message Expiry Interval to forward, in seconds, reduced by
// the time the message waited. [MQTT-3.3.2-6]
func (m *message) remaining(now time.Time) uint32 {
	d := m.expiry.Sub(now)
	if d <= 0 {
		return 0
	}
	return uint32((d + time.Second - 1) / time.Second)
}
