package broker

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

func withExpiry(p *packet.Publish, sec uint32) *packet.Publish {
	p.Properties.MessageExpiry = sec
	p.Properties.Set(packet.PropMessageExpiry)
	return p
}

// TestProps_MQTT_3_3_2_5_ExpiryWhileQueued: messages queued for an offline
// 5.0 session are forwarded with their Message Expiry Interval reduced by
// the time they waited, and dropped once it has passed.
// [MQTT-3.3.2-5] [MQTT-3.3.2-6].
func TestProps_MQTT_3_3_2_5_ExpiryWhileQueued(t *testing.T) {
	clk := newFakeClock()
	srv, addr := startServer(t, func(o *Options) { o.Clock = clk })
	s, _ := resume(t, addr, packet.V5, "sub", true)
	s.subscribe(sub("exp/#", 1))
	s.drop()
	waitDetached(t, srv, "sub")

	p, _ := connect5(t, addr, "pub", nil)
	p.sendPub(withExpiry(&packet.Publish{QoS: 1, Topic: []byte("exp/a"), Payload: []byte("long")}, 10))
	p.sendPub(withExpiry(&packet.Publish{QoS: 1, Topic: []byte("exp/b"), Payload: []byte("short")}, 3))
	p.sendPub(&packet.Publish{QoS: 1, Topic: []byte("exp/c"), Payload: []byte("forever")})
	clk.Advance(4 * time.Second)

	s, present := resume(t, addr, packet.V5, "sub", false)
	eq(t, "session present", present, true)
	m := s.receive()
	eqBytes(t, "first", m.Payload, "long")
	if !m.Properties.Has(packet.PropMessageExpiry) {
		t.Fatal("no Message Expiry Interval")
	}
	eq(t, "remaining expiry", m.Properties.MessageExpiry, uint32(6))
	m = s.receive()
	eqBytes(t, "second (the expired one is dropped)", m.Payload, "forever")
	eq(t, "no expiry property", m.Properties.Has(packet.PropMessageExpiry), false)
	s.expectNothing(quiet)
	eq(t, "expired drops counted", srv.Stats().Dropped[DropExpired.String()], uint64(1))

	// Live delivery forwards the interval unchanged (no time has passed).
	p.sendPub(withExpiry(&packet.Publish{QoS: 1, Topic: []byte("exp/d"), Payload: []byte("live")}, 7))
	eq(t, "live expiry", s.receive().Properties.MessageExpiry, uint32(7))
}

// TestProps_MQTT_3_8_3_3_NoLocal: with No Local the publisher's own messages
// are not sent back to it; other clients' messages are, and a subscription
// without No Local gets its own messages. [MQTT-3.8.3-3].
func TestProps_MQTT_3_8_3_3_NoLocal(t *testing.T) {
	_, addr := startServer(t, nil)
	a, _ := connect5(t, addr, "a", nil)
	a.subscribe(packet.Subscription{Filter: []byte("nl/+"), QoS: 1, NoLocal: true})
	b, _ := connect5(t, addr, "b", nil)
	b.subscribe(sub("nl/+", 1))
	eq(t, "PUBACK with only b matching", code(a.sendPub(&packet.Publish{QoS: 1, Topic: []byte("nl/x"), Payload: []byte("from a")})), packet.Success)
	eqBytes(t, "b gets a's message", b.receive().Payload, "from a")
	a.expectNothing(quiet)
	b.send(&packet.Publish{Topic: []byte("nl/x"), Payload: []byte("from b")}) // QoS 0: no PUBACK to interleave
	eqBytes(t, "a gets b's message", a.receive().Payload, "from b")
	eqBytes(t, "b gets its own message", b.receive().Payload, "from b")

	// With No Local and nobody else subscribed, nobody matched.
	c, _ := connect5(t, addr, "c", nil)
	c.subscribe(packet.Subscription{Filter: []byte("only/c"), QoS: 1, NoLocal: true})
	eq(t, "PUBACK", code(c.sendPub(&packet.Publish{QoS: 1, Topic: []byte("only/c"), Payload: []byte("x")})), packet.NoMatchingSubscribers)
	c.expectNothing(quiet)
}

// TestProps_MQTT_3_3_2_17_Forwarded: Payload Format Indicator, Content Type,
// Response Topic, Correlation Data and User Properties (in order, duplicates
// kept) reach the subscriber unchanged; a 3.1.1 subscriber gets the message
// without them. [MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17]
// [MQTT-3.3.2-18] [MQTT-3.3.2-20].
func TestProps_MQTT_3_3_2_17_Forwarded(t *testing.T) {
	_, addr := startServer(t, nil)
	s, _ := connect5(t, addr, "sub", nil)
	s.subscribe(sub("props", 2))
	old := clean(t, addr, packet.V311, "old")
	old.subscribe(sub("props", 2))
	p, _ := connect5(t, addr, "pub", nil)
	for qos := byte(0); qos <= 2; qos++ {
		in := &packet.Publish{QoS: qos, Retain: qos == 1, Topic: []byte("props"), Payload: []byte("{}")}
		pr := &in.Properties
		pr.PayloadFormat = 1
		pr.Set(packet.PropPayloadFormat)
		pr.ContentType = []byte("application/json")
		pr.Set(packet.PropContentType)
		pr.ResponseTopic = []byte("reply/here")
		pr.Set(packet.PropResponseTopic)
		pr.CorrelationData = []byte{0, 1, 2, 0xff}
		pr.Set(packet.PropCorrelationData)
		users := []packet.UserProperty{{Key: []byte("z"), Value: []byte("1")}, {Key: []byte("a"), Value: []byte("2")},
			{Key: []byte("z"), Value: []byte("3")}, {Key: []byte("m"), Value: []byte("")}}
		pr.User = users
		if qos == 2 {
			p.sendPub(in)
			p.send(&packet.Pubrel{Ack: packet.Ack{PacketID: in.PacketID}})
			p.expect(packet.PUBCOMP)
		} else {
			p.sendPub(in)
		}
		check := func(what string, m *packet.Publish) {
			t.Helper()
			g := &m.Properties
			eq(t, what+" payload format", g.Has(packet.PropPayloadFormat) && g.PayloadFormat == 1, true)
			eqBytes(t, what+" content type", g.ContentType, "application/json")
			eqBytes(t, what+" response topic", g.ResponseTopic, "reply/here")
			eqBytes(t, what+" correlation data", g.CorrelationData, "\x00\x01\x02\xff")
			eq(t, what+" user properties", fmt.Sprint(g.User), fmt.Sprint(users))
			eq(t, what+" topic alias", g.Has(packet.PropTopicAlias), false)
		}
		check(fmt.Sprintf("QoS %d", qos), s.receive())
		m := old.receive()
		eqBytes(t, "3.1.1 payload", m.Payload, "{}")
		if qos == 1 {
			// The properties are kept with the retained message too.
			r, _ := connect5(t, addr, "late", nil)
			r.subscribe(sub("props", 1))
			check("retained", r.receive())
			r.disconnect()
		}
	}
}

// TestProps_MQTT_3_3_2_12_InboundTopicAlias: the broker accepts every alias
// from 1 to its Topic Alias Maximum; a PUBLISH with an empty topic uses the
// alias's topic; an alias of 0 or above the maximum closes the connection
// with 0x94, an unknown alias with an empty topic with 0x82, and aliases do
// not carry over to another connection.
// [MQTT-3.3.2-12] [MQTT-3.3.2-7] [MQTT-3.2.2-17] [MQTT-4.13.1-1].
func TestProps_MQTT_3_3_2_12_InboundTopicAlias(t *testing.T) {
	_, addr := startServer(t, func(o *Options) { o.Limits.MaxTopicAliases = 3 })
	s, _ := connect5(t, addr, "sub", nil)
	s.subscribe(sub("ta/#", 0))
	withAlias := func(name string, alias uint16, payload string) *packet.Publish {
		p := &packet.Publish{Topic: []byte(name), Payload: []byte(payload)}
		p.Properties.TopicAlias = alias
		p.Properties.Set(packet.PropTopicAlias)
		return p
	}
	p, ack := connect5(t, addr, "pub", nil)
	eq(t, "CONNACK Topic Alias Maximum", ack.Properties.TopicAliasMaximum, uint16(3))
	p.send(withAlias("ta/one", 1, "1"))
	p.send(withAlias("ta/three", 3, "2"))
	p.send(withAlias("", 1, "3"))
	p.send(withAlias("", 3, "4"))
	p.send(withAlias("ta/other", 1, "5")) // remaps alias 1
	p.send(withAlias("", 1, "6"))
	var got []string
	for range 6 {
		m := s.receive()
		got = append(got, string(m.Topic)+"="+string(m.Payload))
	}
	eq(t, "deliveries", got, []string{"ta/one=1", "ta/three=2", "ta/one=3", "ta/three=4", "ta/other=5", "ta/other=6"})

	t.Run("MQTT-3.3.2-7 aliases do not carry over", func(t *testing.T) {
		p.disconnect()
		p, _ := connect5(t, addr, "pub", nil)
		p.send(withAlias("", 1, "x"))
		eq(t, "DISCONNECT", p.expectClosed(), packet.ProtocolError)
	})
	t.Run("alias above the maximum", func(t *testing.T) {
		p, _ := connect5(t, addr, "pub", nil)
		p.send(withAlias("ta/x", 4, "x"))
		eq(t, "DISCONNECT", p.expectClosed(), packet.TopicAliasInvalid)
	})
	t.Run("alias 0", func(t *testing.T) {
		p, _ := connect5(t, addr, "pub", nil)
		p.send(withAlias("ta/x", 0, "x"))
		eq(t, "DISCONNECT", p.expectClosed(), packet.TopicAliasInvalid)
	})
	t.Run("unknown alias with an empty topic", func(t *testing.T) {
		p, _ := connect5(t, addr, "pub", nil)
		p.send(withAlias("ta/x", 1, "x"))
		p.send(withAlias("", 2, "x"))
		eq(t, "DISCONNECT", p.expectClosed(), packet.ProtocolError)
	})
	s.receive() // "ta/x" from the last subtest
	s.expectNothing(quiet)
}

// TestProps_MQTT_3_1_2_26_OutboundTopicAlias: a client that declares a
// Topic Alias Maximum gets aliases (never 0, never above its maximum): the
// first message on a topic carries topic and alias, later ones only the
// alias; a client without a maximum gets none.
// [MQTT-3.1.2-26] [MQTT-3.1.2-27] [MQTT-3.3.2-8] [MQTT-3.3.2-11].
func TestProps_MQTT_3_1_2_26_OutboundTopicAlias(t *testing.T) {
	_, addr := startServer(t, nil)
	s, _ := connect5(t, addr, "sub", func(p *packet.Properties) {
		p.TopicAliasMaximum = 2
		p.Set(packet.PropTopicAliasMaximum)
	})
	s.subscribe(sub("oa/#", 1))
	none, _ := connect5(t, addr, "none", nil)
	none.subscribe(sub("oa/#", 1))
	p, _ := connect5(t, addr, "pub", nil)
	aliases := map[uint16]string{}
	for _, name := range []string{"oa/1", "oa/1", "oa/2", "oa/3", "oa/2", "oa/3", "oa/1"} {
		p.publish(name, name, 1, false)
		m := s.receive()
		eqBytes(t, "payload", m.Payload, name)
		topic := string(m.Topic)
		if m.Properties.Has(packet.PropTopicAlias) {
			a := m.Properties.TopicAlias
			if a == 0 || a > 2 {
				t.Fatalf("topic alias %d outside 1..2", a)
			}
			if topic == "" {
				topic = aliases[a]
			} else {
				aliases[a] = topic
			}
		} else if topic == "" {
			t.Fatal("empty topic without an alias")
		}
		eq(t, "resolved topic", topic, name)
		n := none.receive()
		eqBytes(t, "topic without aliases", n.Topic, name)
		eq(t, "alias to a client without Topic Alias Maximum", n.Properties.Has(packet.PropTopicAlias), false)
	}
	if len(aliases) != 2 {
		t.Fatalf("aliases used: %v", aliases)
	}
	// The second message on oa/1 used the alias alone.
	p.publish("oa/1", "again", 1, false)
	m := s.receive()
	eq(t, "empty topic with alias", len(m.Topic) == 0 && m.Properties.Has(packet.PropTopicAlias), true)
	none.receive()
}

// TestProps_MQTT_3_3_4_9_ReceiveMaximumOutbound: with a client Receive
// Maximum of 2, at most 2 QoS 1/2 messages are unacknowledged; the rest
// follow as acknowledgements arrive, in order, and other packets are not
// held back meanwhile. [MQTT-3.3.4-9] [MQTT-3.3.4-10] [MQTT-4.9.0-2] [MQTT-4.9.0-3].
func TestProps_MQTT_3_3_4_9_ReceiveMaximumOutbound(t *testing.T) {
	_, addr := startServer(t, nil)
	s, _ := connect5(t, addr, "sub", func(p *packet.Properties) {
		p.ReceiveMaximum = 2
		p.Set(packet.PropReceiveMaximum)
	})
	s.subscribe(sub("rm", 2))
	p, _ := connect5(t, addr, "pub", nil)
	for i := 0; i < 6; i++ {
		p.publish("rm", fmt.Sprint(i), 1+byte(i%2), false)
	}
	a, b := s.pub(), s.pub()
	eq(t, "first two", string(a.Payload)+string(b.Payload), "01")
	s.expectNothing(quiet)
	// Quota is zero: PINGREQ and SUBSCRIBE are still answered.
	s.send(&packet.Pingreq{})
	s.expect(packet.PINGRESP)
	s.subscribe(sub("rm/other", 0))
	// QoS 1: PUBACK frees a slot.
	s.send(&packet.Puback{Ack: packet.Ack{PacketID: a.PacketID}})
	c := s.pub()
	eqBytes(t, "third", c.Payload, "2")
	s.expectNothing(quiet)
	// QoS 2: the slot is freed by PUBCOMP, not PUBREC.
	s.send(&packet.Pubrec{Ack: packet.Ack{PacketID: b.PacketID}})
	s.expect(packet.PUBREL)
	s.expectNothing(quiet)
	s.send(&packet.Pubcomp{Ack: packet.Ack{PacketID: b.PacketID}})
	d := s.pub()
	eqBytes(t, "fourth", d.Payload, "3")
	s.ack(d) // QoS 2 first: its PUBCOMP frees a slot, and the next PUBLISH follows
	s.ack(c)
	eq(t, "rest", s.payloads(2), []string{"4", "5"})
	s.expectNothing(quiet)
}

// TestProps_MQTT_3_3_4_9_ReceiveMaximumInbound: the broker advertises its
// Receive Maximum, and a client that leaves more QoS 2 PUBLISHes
// unacknowledged than that is disconnected with 0x93.
func TestProps_MQTT_3_3_4_9_ReceiveMaximumInbound(t *testing.T) {
	_, addr := startServer(t, func(o *Options) { o.Limits.ReceiveMaximum = 2 })
	p, ack := connect5(t, addr, "pub", nil)
	eq(t, "CONNACK Receive Maximum", ack.Properties.ReceiveMaximum, uint16(2))
	p.sendPub(&packet.Publish{QoS: 2, Topic: []byte("in"), Payload: []byte("1")})
	p.sendPub(&packet.Publish{QoS: 2, Topic: []byte("in"), Payload: []byte("2")})
	// A resend of one already received does not count twice.
	p.sendPub(&packet.Publish{QoS: 2, Dup: true, PacketID: 1, Topic: []byte("in"), Payload: []byte("1")})
	p.send(&packet.Publish{QoS: 2, PacketID: 3, Topic: []byte("in"), Payload: []byte("3")})
	eq(t, "DISCONNECT", p.expectClosed(), packet.ReceiveMaximumExceeded)

	// Completing the flows frees the quota.
	p, _ = connect5(t, addr, "pub", nil)
	for i := uint16(1); i <= 5; i++ {
		p.publishWithID(i, "in", "x", 2)
	}
}

// TestProps_MQTT_3_1_2_24_MaximumPacketSize: a message too large for one
// client's Maximum Packet Size is dropped for that client alone (treated as
// delivered, so the QoS 1 window does not stick) while others receive it.
// [MQTT-3.1.2-24] [MQTT-3.1.2-25].
func TestProps_MQTT_3_1_2_24_MaximumPacketSize(t *testing.T) {
	srv, addr := startServer(t, nil)
	small, _ := connect5(t, addr, "small", func(p *packet.Properties) {
		p.MaximumPacketSize = 100
		p.Set(packet.PropMaximumPacketSize)
		p.ReceiveMaximum = 1
		p.Set(packet.PropReceiveMaximum)
	})
	small.subscribe(sub("big/#", 1))
	big, _ := connect5(t, addr, "big", nil)
	big.subscribe(sub("big/#", 1))
	p, _ := connect5(t, addr, "pub", nil)
	large := strings.Repeat("x", 200)
	for _, qos := range []byte{0, 1, 1} {
		p.publish("big/a", large, qos, false)
		eqBytes(t, "large to the unlimited client", big.receive().Payload, large)
		p.publish("big/a", "small", qos, false)
		eqBytes(t, "large to the unlimited client", big.receive().Payload, "small")
		eqBytes(t, fmt.Sprintf("QoS %d: only the small one to the limited client", qos), small.receive().Payload, "small")
	}
	small.expectNothing(quiet)
	eq(t, "too-large drops counted", srv.Stats().Dropped[DropTooLarge.String()], uint64(3))
}

// TestProps_SubscriptionIdentifiers: a subscription's identifier travels
// with each message it matches, retained ones included, and a subscription
// without one adds none. [MQTT-3.3.4-3] [MQTT-3.3.4-5].
func TestProps_SubscriptionIdentifiers(t *testing.T) {
	_, addr := startServer(t, nil)
	p, _ := connect5(t, addr, "pub", nil)
	p.publish("sid/r", "kept", 1, true)
	s, _ := connect5(t, addr, "sub", nil)
	s.subscribeWith(77, sub("sid/+", 1))
	eq(t, "retained message ids", s.receive().Properties.SubscriptionIDs, []uint32{77})
	s.subscribeWith(0, sub("sid/none", 1))
	p.publish("sid/none", "x", 1, false)
	eq(t, "ids", sortedIDs(s.receive().Properties.SubscriptionIDs), []uint32{77})
	s.unsubscribe("sid/+")
	p.publish("sid/none", "x", 1, false)
	eq(t, "ids", len(s.receive().Properties.SubscriptionIDs), 0)
	// Shared: the member's own identifier.
	g, _ := connect5(t, addr, "member", nil)
	g.subscribeWith(9, sub("$share/g/sid/+", 1))
	p.publish("sid/x", "x", 1, false)
	eq(t, "shared ids", g.receive().Properties.SubscriptionIDs, []uint32{9})
	p.publish("sid/r", "", 0, true)
}
