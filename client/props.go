package client

import (
	"time"

	"github.com/roostmq/roost/packet"
)

func durSeconds(d time.Duration) uint32 {
	s := (d + time.Second - 1) / time.Second
	if s > 0xffffffff {
		return 0xffffffff
	}
	return uint32(s)
}

func appendUser(dst []packet.UserProperty, ups []UserProperty) []packet.UserProperty {
	for _, u := range ups {
		dst = append(dst, packet.UserProperty{Key: []byte(u.Key), Value: []byte(u.Value)})
	}
	return dst
}

func userProps(ups []packet.UserProperty) []UserProperty {
	if len(ups) == 0 {
		return nil
	}
	out := make([]UserProperty, len(ups))
	for i, u := range ups {
		out[i] = UserProperty{string(u.Key), string(u.Value)}
	}
	return out
}

// toPacket fills the message properties (PUBLISH or will) of pp.
func (p *Properties) toPacket(pp *packet.Properties) {
	if p.PayloadFormat != 0 {
		pp.PayloadFormat = p.PayloadFormat
		pp.Set(packet.PropPayloadFormat)
	}
	if p.MessageExpiry > 0 {
		pp.MessageExpiry = durSeconds(p.MessageExpiry)
		pp.Set(packet.PropMessageExpiry)
	}
	if p.ContentType != "" {
		pp.ContentType = []byte(p.ContentType)
		pp.Set(packet.PropContentType)
	}
	if p.ResponseTopic != "" {
		pp.ResponseTopic = []byte(p.ResponseTopic)
		pp.Set(packet.PropResponseTopic)
	}
	if p.CorrelationData != nil {
		pp.CorrelationData = p.CorrelationData
		pp.Set(packet.PropCorrelationData)
	}
	pp.User = appendUser(pp.User, p.UserProperties)
}

// messageFrom copies a received PUBLISH into a Message the handler may keep.
func messageFrom(p *packet.Publish, topic string) *Message {
	m := &Message{Topic: topic, QoS: p.QoS, Retain: p.Retain, Dup: p.Dup, PacketID: p.PacketID}
	if len(p.Payload) > 0 {
		m.Payload = append([]byte(nil), p.Payload...)
	}
	pp := &p.Properties
	mp := &m.Properties
	if pp.Has(packet.PropPayloadFormat) {
		mp.PayloadFormat = pp.PayloadFormat
	}
	if pp.Has(packet.PropMessageExpiry) {
		mp.MessageExpiry = time.Duration(pp.MessageExpiry) * time.Second
	}
	if pp.Has(packet.PropContentType) {
		mp.ContentType = string(pp.ContentType)
	}
	if pp.Has(packet.PropResponseTopic) {
		mp.ResponseTopic = string(pp.ResponseTopic)
	}
	if pp.Has(packet.PropCorrelationData) {
		mp.CorrelationData = append([]byte{}, pp.CorrelationData...)
	}
	if len(pp.SubscriptionIDs) > 0 {
		mp.SubscriptionIDs = append([]uint32(nil), pp.SubscriptionIDs...)
	}
	mp.UserProperties = userProps(pp.User)
	return m
}

// MarshalBinary encodes m as an MQTT 5 PUBLISH packet: a compact, versioned
// form for storing a message (client/managed's FileQueue uses it).
func (m *Message) MarshalBinary() ([]byte, error) {
	p := packet.Publish{QoS: m.QoS, Retain: m.Retain, Topic: []byte(m.Topic), Payload: m.Payload}
	if p.QoS > 0 {
		p.PacketID = 1
	}
	m.Properties.toPacket(&p.Properties)
	return p.Append(nil, packet.V5), nil
}

// UnmarshalBinary decodes what MarshalBinary wrote.
func (m *Message) UnmarshalBinary(b []byte) error {
	first, body, n, err := packet.Split(b, 0)
	if err != nil {
		return err
	}
	if n != len(b) {
		return packet.MalformedPacket
	}
	var p packet.Publish
	if err := packet.DecodeInto(&p, first, body, packet.V5); err != nil {
		return err
	}
	*m = *messageFrom(&p, string(p.Topic))
	return nil
}
