package broker

import (
	"fmt"
	"sort"
	"testing"

	"github.com/roostmq/roost/packet"
)

// TestSubscribe_MQTT_3_3_5_1_OverlappingHighestQoS: 3.1.1, several
// subscriptions of one client match: one copy at the highest QoS.
// 3.1.1 [MQTT-3.3.5-1]; 5.0 [MQTT-3.3.4-2] [MQTT-3.3.4-3] [MQTT-3.3.4-4]:
// one copy carrying every matching subscription identifier.
func TestSubscribe_MQTT_3_3_5_1_OverlappingHighestQoS(t *testing.T) {
	_, addr := startServer(t, nil)
	eachVersion(t, func(t *testing.T, v packet.Version) {
		s := clean(t, addr, v, "sub")
		id := func(n uint32) uint32 {
			if v == packet.V5 {
				return n
			}
			return 0
		}
		s.subscribeWith(id(1), sub("ov/+", 0))
		s.subscribeWith(id(2), sub("ov/#", 2))
		s.subscribeWith(0, sub("#", 1)) // no identifier
		s.subscribeWith(id(4), sub("ov/nomatch", 2))
		p := clean(t, addr, v, "pub")
		p.publish("ov/a", "x", 2, false)
		got := s.receive()
		eq(t, "QoS", got.QoS, byte(2))
		if v == packet.V5 {
			eq(t, "subscription identifiers", sortedIDs(got.Properties.SubscriptionIDs), []uint32{1, 2})
		} else if len(got.Properties.SubscriptionIDs) != 0 {
			t.Fatalf("3.1.1 PUBLISH with subscription identifiers %v", got.Properties.SubscriptionIDs)
		}
		p.publish("ov/a", "y", 1, false)
		got = s.receive()
		eq(t, "QoS", got.QoS, byte(1))
		eqBytes(t, "payload", got.Payload, "y")
		s.expectNothing(quiet) // one copy only
	})
}

// collectUntil receives PUBLISHes until one on topic end arrives and returns
// the topics before it.
func (p *peer) collectUntil(end string) []string {
	p.t.Helper()
	var got []string
	for {
		m := p.receive()
		if string(m.Topic) == end {
			return got
		}
		got = append(got, string(m.Topic))
	}
}

// TestSubscribe_MQTT_4_7_1_2_Wildcards checks `+` and `#` matching, and that
// filters starting with a wildcard do not match `$` topics.
// 5.0 [MQTT-4.7.1-1] [MQTT-4.7.1-2] [MQTT-4.7.2-1] [MQTT-3.3.2-3];
// 3.1.1 [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.2-1] [MQTT-3.3.2-3].
func TestSubscribe_MQTT_4_7_1_2_Wildcards(t *testing.T) {
	srv, addr := startServer(t, nil)
	topics := []string{"sport", "sport/tennis", "sport/tennis/player1", "sport/tennis/player1/ranking",
		"/finance", "a/b", "a//b", "$SYS/broker/x", "$x/y", "SYS/broker/x"}
	cases := []struct {
		filter string
		want   []string
	}{
		{"sport/tennis/+", []string{"sport/tennis/player1"}},
		{"sport/#", []string{"sport", "sport/tennis", "sport/tennis/player1", "sport/tennis/player1/ranking"}},
		{"sport/+", []string{"sport/tennis"}},
		{"+", []string{"sport"}},
		{"+/+", []string{"sport/tennis", "/finance", "a/b"}},
		{"/+", []string{"/finance"}},
		{"a/+/b", []string{"a//b"}},
		{"#", []string{"sport", "sport/tennis", "sport/tennis/player1", "sport/tennis/player1/ranking",
			"/finance", "a/b", "a//b", "SYS/broker/x"}},
		{"+/broker/#", []string{"SYS/broker/x"}},
		{"+/#", []string{"sport", "sport/tennis", "sport/tennis/player1", "sport/tennis/player1/ranking",
			"/finance", "a/b", "a//b", "SYS/broker/x"}},
		{"$SYS/#", []string{"$SYS/broker/x"}},
		{"$x/+", []string{"$x/y"}},
		{"Sport/#", nil}, // case matters [MQTT-4.7.3-4]
	}
	eachVersion(t, func(t *testing.T, v packet.Version) {
		for i, c := range cases {
			t.Run(c.filter, func(t *testing.T) {
				end := fmt.Sprintf("end/%d", i)
				s := clean(t, addr, v, "sub")
				s.subscribe(sub(c.filter, 0), sub(end, 0))
				for _, name := range topics {
					if err := srv.Publish(name, []byte("x"), 0, false); err != nil {
						t.Fatal(err)
					}
				}
				if err := srv.Publish(end, nil, 0, false); err != nil {
					t.Fatal(err)
				}
				eq(t, "matched topics", s.collectUntil(end), c.want)
				s.disconnect()
			})
		}
	})
}

// TestSubscribe_MQTT_4_7_1_1_InvalidFilters: invalid filters are refused
// with 0x80 (3.1.1) / 0x8F (5.0) while the valid filters of the same
// SUBSCRIBE succeed. 5.0 [MQTT-4.7.1-1] [MQTT-3.8.4-5] [MQTT-3.9.3-1];
// 3.1.1 [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-3.8.4-4] [MQTT-3.9.3-1] [MQTT-3.9.3-2].
func TestSubscribe_MQTT_4_7_1_1_InvalidFilters(t *testing.T) {
	_, addr := startServer(t, nil)
	eachVersion(t, func(t *testing.T, v packet.Version) {
		bad := packet.UnspecifiedError
		if v == packet.V5 {
			bad = packet.TopicFilterInvalid
		}
		s := clean(t, addr, v, "sub")
		codes := s.subscribe(sub("ok/a", 1), sub("a/#/b", 1), sub("a/b#", 0), sub("a+/b", 2),
			sub("ok/+", 2), sub("#/", 0), sub("ok/#", 0))
		eq(t, "SUBACK", codes, []packet.ReasonCode{1, bad, bad, bad, 2, bad, 0})
		p := clean(t, addr, v, "pub")
		p.publish("ok/a", "x", 2, false)
		eq(t, "QoS of the overlapping valid subscriptions", s.receive().QoS, byte(2))
	})
}

// TestSubscribe_NotAuthorized: a denied filter gets 0x80 (3.1.1) / 0x87
// (5.0); the others in the same SUBSCRIBE are granted and work.
// 5.0 [MQTT-3.9.3-2]; 3.1.1 [MQTT-3.9.3-2].
func TestSubscribe_NotAuthorized(t *testing.T) {
	_, addr := startServer(t, func(o *Options) {
		o.Authorizer = &DenyList{Subscribe: []string{"secret/#"}}
	})
	eachVersion(t, func(t *testing.T, v packet.Version) {
		denied := packet.UnspecifiedError
		if v == packet.V5 {
			denied = packet.NotAuthorized
		}
		s := clean(t, addr, v, "sub")
		// "#" only overlaps the denied filter: granted, and the denied
		// topics are filtered out of its deliveries (as Mosquitto).
		codes := s.subscribe(sub("secret/a", 1), sub("public/+", 1), sub("#", 0), sub("secret/#", 2))
		eq(t, "SUBACK", codes, []packet.ReasonCode{denied, 1, 0, denied})
		p := clean(t, addr, v, "pub")
		p.publish("secret/a", "hidden", 1, false)
		p.publish("public/a", "shown", 1, false)
		eqBytes(t, "payload", s.receive().Payload, "shown")
		s.expectNothing(quiet)
	})
}

// With RefuseOverlapping (auth.wildcard_subscriptions: refuse) a
// subscription that could match a denied topic is refused.
func TestSubscribe_DenyListRefuseOverlapping(t *testing.T) {
	_, addr := startServer(t, func(o *Options) {
		o.Authorizer = &DenyList{Subscribe: []string{"secret/#"}, RefuseOverlapping: true}
	})
	s := clean(t, addr, packet.V5, "sub")
	codes := s.subscribe(sub("public/+", 1), sub("#", 0), sub("+/a", 0))
	eq(t, "SUBACK", codes, []packet.ReasonCode{1, packet.NotAuthorized, packet.NotAuthorized})
}

// deny.subscribe holding one topic does not refuse broad subscriptions (#,
// +/+, $share/g/#), and the denied topic reaches none of them: live,
// retained at subscribe, or through the shared group.
func TestSubscribe_DenyListWildcardFilterLeaksNothing(t *testing.T) {
	_, addr := startServer(t, func(o *Options) {
		o.Authorizer = &DenyList{Subscribe: []string{"test/nosubscribe"}}
	})
	eachVersion(t, func(t *testing.T, v packet.Version) {
		p := clean(t, addr, v, "pub")
		p.publish("test/nosubscribe", "retained-hidden", 1, true)
		p.publish("test/ok", "retained-shown", 1, true)
		s := clean(t, addr, v, "sub")
		codes := s.subscribe(sub("#", 1), sub("+/+", 1), sub("$share/g/#", 1), sub("test/nosubscribe", 1))
		denied := packet.UnspecifiedError
		if v == packet.V5 {
			denied = packet.NotAuthorized
		}
		eq(t, "SUBACK", codes, []packet.ReasonCode{1, 1, 1, denied})
		for range 10 {
			p.publish("test/nosubscribe", "hidden", 1, false)
		}
		p.publish("test/end", "end", 1, false)
		ends := 0
		for ends < 2 { // once for # and +/+, once through the shared group
			m := s.receive()
			if string(m.Topic) == "test/nosubscribe" {
				t.Fatalf("denied topic delivered: %q", m.Payload)
			}
			if m.QoS > 0 {
				s.ack(m)
			}
			if string(m.Topic) == "test/end" {
				ends++
			}
		}
		p.publish("test/nosubscribe", "", 1, true) // clear, for the next version
		p.publish("test/ok", "", 1, true)
	})
}

// TestSubscribe_MQTT_3_10_4_2_UnsubscribeStops: UNSUBSCRIBE removes exactly
// the filters named (literally), delivery stops, UNSUBACK carries the id
// and (5.0) 0x11 for a filter that had no subscription.
// [MQTT-3.10.4-1] [MQTT-3.10.4-2] [MQTT-3.10.4-4] [MQTT-3.10.4-5] [MQTT-3.10.4-6]; 5.0 [MQTT-3.11.3-1].
func TestSubscribe_MQTT_3_10_4_2_UnsubscribeStops(t *testing.T) {
	_, addr := startServer(t, nil)
	eachVersion(t, func(t *testing.T, v packet.Version) {
		s := clean(t, addr, v, "sub")
		s.subscribe(sub("u/a", 1), sub("u/+", 1), sub("u/#", 1))
		ack := s.unsubscribe("u/+", "u/unknown", "u/#")
		if v == packet.V5 {
			eq(t, "UNSUBACK codes", ack.ReasonCodes, []packet.ReasonCode{packet.Success, packet.NoSubscriptionExisted, packet.Success})
		} else if len(ack.ReasonCodes) != 0 {
			t.Fatalf("3.1.1 UNSUBACK with reason codes %v", ack.ReasonCodes)
		}
		p := clean(t, addr, v, "pub")
		p.publish("u/b", "gone", 1, false)
		p.publish("u/a", "kept", 1, false) // "u/a" was not removed by "u/+"
		eqBytes(t, "payload", s.receive().Payload, "kept")
		s.expectNothing(quiet)
		// An UNSUBACK comes even when nothing at all was removed.
		s.unsubscribe("never")
		s.unsubscribe("u/a")
		p.publish("u/a", "gone", 1, false)
		s.expectNothing(quiet)
	})
}

// TestSubscribe_MQTT_3_8_4_3_ResubscribeReplaces: subscribing again to the
// same filter replaces the options: one copy, at the new QoS.
// 5.0 [MQTT-3.8.4-3]; 3.1.1 [MQTT-3.8.4-3].
func TestSubscribe_MQTT_3_8_4_3_ResubscribeReplaces(t *testing.T) {
	_, addr := startServer(t, nil)
	eachVersion(t, func(t *testing.T, v packet.Version) {
		s := clean(t, addr, v, "sub")
		eq(t, "SUBACK", s.subscribe(sub("re", 0)), []packet.ReasonCode{0})
		eq(t, "SUBACK", s.subscribe(sub("re", 2)), []packet.ReasonCode{2})
		p := clean(t, addr, v, "pub")
		p.publish("re", "x", 2, false)
		eq(t, "QoS", s.receive().QoS, byte(2))
		s.expectNothing(quiet)
		eq(t, "SUBACK", s.subscribe(sub("re", 1)), []packet.ReasonCode{1})
		p.publish("re", "y", 2, false)
		eq(t, "QoS", s.receive().QoS, byte(1))
		s.expectNothing(quiet)
	})
}

// TestSubscribe_MQTT_3_8_4_1_SubackFlow: every SUBSCRIBE gets a SUBACK with
// its packet id and one code per filter, in order.
// [MQTT-3.8.4-1] [MQTT-3.8.4-2] (5.0 [MQTT-3.8.4-6] / 3.1.1 [MQTT-3.8.4-5]) [MQTT-3.9.3-1].
func TestSubscribe_MQTT_3_8_4_1_SubackFlow(t *testing.T) {
	_, addr := startServer(t, nil)
	eachVersion(t, func(t *testing.T, v packet.Version) {
		s := clean(t, addr, v, "sub")
		s.send(&packet.Subscribe{PacketID: 4242, Subscriptions: []packet.Subscription{sub("x/2", 2), sub("x/0", 0), sub("x/1", 1)}})
		ack := s.expect(packet.SUBACK).(*packet.Suback)
		eq(t, "packet id", ack.PacketID, uint16(4242))
		eq(t, "codes", ack.ReasonCodes, []packet.ReasonCode{2, 0, 1})
	})
}

// TestSubscribe_Shared covers $share/{group}/{filter} (5.0): each message
// goes to exactly one member of a group, every group gets its copy, a
// member receives within its granted QoS, and a shared subscribe gets no
// retained messages. [MQTT-4.8.2-1] [MQTT-4.8.2-2] [MQTT-4.8.2-3] [MQTT-3.8.3-4].
func TestSubscribe_Shared(t *testing.T) {
	_, addr := startServer(t, nil)
	const n = 20

	t.Run("MQTT-4.8.2-3 one member per group", func(t *testing.T) {
		var members []*peer
		for i := 0; i < 3; i++ {
			m, _ := connect5(t, addr, fmt.Sprint("g1-", i), nil)
			eq(t, "SUBACK", m.subscribe(sub("$share/g1/sh/+", 1)), []packet.ReasonCode{1})
			members = append(members, m)
		}
		other, _ := connect5(t, addr, "g2", nil)
		other.subscribe(sub("$share/g2/sh/#", 0))
		plain, _ := connect5(t, addr, "plain", nil)
		plain.subscribe(sub("sh/+", 2))
		p, _ := connect5(t, addr, "pub", nil)
		var want []string
		for i := 0; i < n; i++ {
			want = append(want, fmt.Sprintf("%02d", i))
			p.publish("sh/x", want[i], 2, false)
		}
		// The ordinary subscriber and the second group each get every message.
		eq(t, "plain subscriber", plain.payloads(n), want)
		var g2 []string
		for range want {
			m := other.receive()
			eq(t, "group g2 QoS", m.QoS, byte(0))
			g2 = append(g2, string(m.Payload))
		}
		eq(t, "group g2", g2, want)
		// Group g1: round-robin, so each member got n/3 or so; collect them
		// by reading each member until the union has every message.
		var got []string
		counts := make([]int, len(members))
		for len(got) < n {
			progressed := false
			for i, m := range members {
				pk, err := m.read(quiet)
				if err != nil {
					continue
				}
				pub := pk.(*packet.Publish)
				eq(t, "member QoS", pub.QoS, byte(1)) // within the granted QoS [MQTT-4.8.2-3]
				m.ack(pub)
				got = append(got, string(pub.Payload))
				counts[i]++
				progressed = true
			}
			if !progressed {
				t.Fatalf("group g1 got %d of %d messages", len(got), n)
			}
		}
		sort.Strings(got)
		eq(t, "group g1 got each message once", got, want)
		for i, c := range counts {
			if c == 0 {
				t.Errorf("member %d got nothing: %v", i, counts)
			}
		}
		for _, m := range members {
			m.expectNothing(quiet)
		}
	})

	t.Run("no retained messages on a shared subscribe", func(t *testing.T) {
		p, _ := connect5(t, addr, "pub", nil)
		p.publish("shr/a", "kept", 1, true)
		s, _ := connect5(t, addr, "member", nil)
		s.subscribe(sub("$share/g/shr/#", 1))
		s.expectNothing(quiet)
		p.publish("shr/a", "live", 1, true)
		m := s.receive()
		eqBytes(t, "payload", m.Payload, "live")
		eq(t, "retain flag", m.Retain, false)
		p.publish("shr/a", "", 0, true) // clean up the retained message
	})

	t.Run("MQTT-4.8.2-1 invalid share names", func(t *testing.T) {
		s, _ := connect5(t, addr, "sub", nil)
		codes := s.subscribe(sub("$share/g", 0), sub("$share//a", 0), sub("$share/g+/a", 0), sub("$share/g#/a", 0), sub("$share/g/a", 0))
		bad := packet.TopicFilterInvalid
		eq(t, "SUBACK", codes, []packet.ReasonCode{bad, bad, bad, bad, 0})
	})

	t.Run("MQTT-3.8.3-4 no local on a shared subscription", func(t *testing.T) {
		s, _ := connect5(t, addr, "sub", nil)
		s.send(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: []byte("$share/g/nl"), NoLocal: true}}})
		eq(t, "DISCONNECT", s.expectClosed(), packet.ProtocolError)
	})

	t.Run("unsubscribe a shared subscription", func(t *testing.T) {
		s, _ := connect5(t, addr, "sub", nil)
		s.subscribe(sub("$share/g/us", 1))
		eq(t, "UNSUBACK", s.unsubscribe("$share/g/us", "$share/other/us").ReasonCodes,
			[]packet.ReasonCode{packet.Success, packet.NoSubscriptionExisted})
		p, _ := connect5(t, addr, "pub", nil)
		eq(t, "PUBACK", code(p.sendPub(&packet.Publish{QoS: 1, Topic: []byte("us"), Payload: []byte("x")})), packet.NoMatchingSubscribers)
		s.expectNothing(quiet)
	})
}

// TestSubscribe_SharedMemberLeaves: a member whose session ends with QoS 1
// messages unacknowledged (or still queued) hands them to another member of
// the group; QoS 2 messages already under way are not given to anyone else.
// MQTT 5.0 section 4.8.2 ("the Server SHOULD send the Application Message
// to another Client that is subscribed to the same Shared Subscription");
// [MQTT-4.8.2-5] for QoS 2.
func TestSubscribe_SharedMemberLeaves(t *testing.T) {
	srv, addr := startServer(t, nil)
	// The leaving member has a receive window of 1, so one message is in
	// flight and the rest wait in its session queue.
	a, _ := connect5(t, addr, "a", func(p *packet.Properties) {
		p.ReceiveMaximum = 1
		p.Set(packet.PropReceiveMaximum)
	})
	a.subscribe(sub("$share/g/lv", 2))
	b, _ := resume(t, addr, packet.V5, "b", true)
	b.subscribe(sub("$share/g/lv", 2))
	// b goes offline for a moment so that every message is routed to a.
	b.drop()
	waitDetached(t, srv, "b")
	p, _ := connect5(t, addr, "pub", nil)
	p.publish("lv", "q1-inflight", 1, false)
	p.publish("lv", "q1-queued", 1, false)
	p.publish("lv", "q2-queued", 2, false)
	first := a.pub()
	eqBytes(t, "in flight at a", first.Payload, "q1-inflight")
	b, _ = resume(t, addr, packet.V5, "b", false)
	// a leaves without acknowledging; its session ends (expiry 0).
	a.drop()
	waitGone(t, srv, "a")
	got := map[string]byte{}
	for i := 0; i < 3; i++ {
		m := b.receive()
		got[string(m.Payload)] = m.QoS
	}
	eq(t, "redelivered to b", got, map[string]byte{"q1-inflight": 1, "q1-queued": 1, "q2-queued": 2})
	b.expectNothing(quiet)
}

// TestSubscribe_MQTT_4_8_2_5_SharedQoS2NotHandedOff: a QoS 2 message already
// sent to a shared-subscription member whose session then ends is not given
// to another member. [MQTT-4.8.2-5]
func TestSubscribe_MQTT_4_8_2_5_SharedQoS2NotHandedOff(t *testing.T) {
	srv, addr := startServer(t, nil)
	a, _ := connect5(t, addr, "a", nil)
	a.subscribe(sub("$share/g/q2", 2))
	b, _ := resume(t, addr, packet.V5, "b", true)
	b.subscribe(sub("$share/g/q2", 2))
	b.drop()
	waitDetached(t, srv, "b")
	p, _ := connect5(t, addr, "pub", nil)
	p.publish("q2", "started", 2, false)
	eqBytes(t, "in flight at a", a.pub().Payload, "started")
	b, _ = resume(t, addr, packet.V5, "b", false)
	a.drop()
	waitGone(t, srv, "a")
	b.expectNothing(quiet)
}
