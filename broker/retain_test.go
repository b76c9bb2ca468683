package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// TestRetain_MQTT_3_3_1_5_SetReplaceClear covers the life of a retained
// message: stored on RETAIN 1, replaced by the next, left alone by RETAIN 0,
// sent with RETAIN 1 to a new subscription, and cleared by an empty payload
// (which is itself delivered to live subscribers but never stored).
// 5.0 [MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-7] [MQTT-3.3.1-8] [MQTT-3.3.1-9] [MQTT-3.3.1-12];
// 3.1.1 [MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-7] [MQTT-3.3.1-8] [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11] [MQTT-3.3.1-12].
func TestRetain_MQTT_3_3_1_5_SetReplaceClear(t *testing.T) {
	srv, addr := startServer(t, nil)
	eachVersion(t, func(t *testing.T, v packet.Version) {
		p := clean(t, addr, v, "pub")
		live := clean(t, addr, v, "live")
		live.subscribe(sub("ret/#", 1)) // QoS 1: no QoS 2 flow to interleave with later messages

		p.publish("ret/a", "first", 1, true)
		m := live.receive()
		eq(t, "live delivery RETAIN", m.Retain, false) // 5.0 [MQTT-3.3.1-12], 3.1.1 [MQTT-3.3.1-9]
		p.publish("ret/a", "second", 2, true)          // replaces
		live.receive()
		p.publish("ret/a", "not retained", 0, false) // RETAIN 0 leaves it alone
		live.receive()
		p.publish("ret/b", "other", 0, true)
		live.receive()

		s := clean(t, addr, v, "sub")
		s.subscribe(sub("ret/+", 2))
		got := map[string]*packet.Publish{}
		for _, m := range s.receiveN(2) {
			got[string(m.Topic)] = m
		}
		eqBytes(t, "retained ret/a", got["ret/a"].Payload, "second")
		eq(t, "RETAIN flag", got["ret/a"].Retain, true)
		eq(t, "QoS", got["ret/a"].QoS, byte(2))
		eqBytes(t, "retained ret/b", got["ret/b"].Payload, "other")
		eq(t, "QoS", got["ret/b"].QoS, byte(0))
		s.expectNothing(quiet)

		// An empty retained payload goes to live subscribers and clears the topic.
		p.publish("ret/a", "", 1, true)
		m = live.receive()
		eqBytes(t, "cleared payload", m.Payload, "")
		eq(t, "live delivery RETAIN", m.Retain, false)
		m = s.receive()
		eqBytes(t, "cleared payload", m.Payload, "")
		p.publish("ret/b", "", 0, true)
		live.receive()
		s.receive()
		waitFor(t, "retained store empty", func() bool { return srv.retained.Len() == 0 })

		s2 := clean(t, addr, v, "sub2")
		s2.subscribe(sub("ret/#", 2))
		s2.expectNothing(quiet) // the empty messages were not stored
	})
}

// TestRetain_QoSIsMinimum: a retained message is sent to a new subscription
// at min(its QoS, the granted QoS). 5.0 [MQTT-3.8.4-8]; 3.1.1 [MQTT-3.8.4-6].
func TestRetain_QoSIsMinimum(t *testing.T) {
	_, addr := startServer(t, nil)
	eachVersion(t, func(t *testing.T, v packet.Version) {
		p := clean(t, addr, v, "pub")
		p.publish("rq", "x", 2, true)
		for q := byte(0); q <= 2; q++ {
			s := clean(t, addr, v, "sub")
			s.subscribe(sub("rq", q))
			m := s.receive()
			eq(t, "QoS", m.QoS, q)
			eq(t, "RETAIN", m.Retain, true)
			s.disconnect()
		}
		p.publish("rq", "", 0, true)
	})
}

// TestRetain_MQTT_3_8_4_3_ResubscribeResends: subscribing again to an
// existing filter resends the retained messages (retain handling 0).
// 3.1.1 [MQTT-3.8.4-3]; 5.0 [MQTT-3.8.4-4].
func TestRetain_MQTT_3_8_4_3_ResubscribeResends(t *testing.T) {
	_, addr := startServer(t, nil)
	eachVersion(t, func(t *testing.T, v packet.Version) {
		p := clean(t, addr, v, "pub")
		p.publish("rr", "kept", 1, true)
		s := clean(t, addr, v, "sub")
		s.subscribe(sub("rr", 1))
		eqBytes(t, "first", s.receive().Payload, "kept")
		s.subscribe(sub("rr", 1))
		m := s.receive()
		eqBytes(t, "again", m.Payload, "kept")
		eq(t, "RETAIN", m.Retain, true)
		s.expectNothing(quiet)
		p.publish("rr", "", 0, true)
	})
}

// TestRetain_MQTT_3_3_1_9_RetainHandling covers the 5.0 subscription option
// Retain Handling: 0 sends retained messages on every subscribe, 1 only
// when the subscription is new, 2 never.
// [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11].
func TestRetain_MQTT_3_3_1_9_RetainHandling(t *testing.T) {
	_, addr := startServer(t, nil)
	p, _ := connect5(t, addr, "pub", nil)
	p.publish("rh/x", "kept", 1, true)
	for rh, want := range [][2]bool{{true, true}, {true, false}, {false, false}} {
		t.Run(fmt.Sprintf("retain handling %d", rh), func(t *testing.T) {
			s, _ := connect5(t, addr, "sub", nil)
			o := packet.Subscription{Filter: []byte("rh/+"), QoS: 1, RetainHandling: byte(rh)}
			s.subscribe(o)
			if want[0] {
				eqBytes(t, "on first subscribe", s.receive().Payload, "kept")
			}
			s.expectNothing(quiet)
			s.subscribe(o)
			if want[1] {
				eqBytes(t, "on repeated subscribe", s.receive().Payload, "kept")
			}
			s.expectNothing(quiet)
			s.disconnect()
		})
	}
}

// TestRetain_MQTT_3_3_1_12_RetainAsPublished: with Retain As Published 0 a
// live delivery has RETAIN 0; with 1 it keeps the publisher's flag.
// [MQTT-3.3.1-12] [MQTT-3.3.1-13].
func TestRetain_MQTT_3_3_1_12_RetainAsPublished(t *testing.T) {
	_, addr := startServer(t, nil)
	for _, rap := range []bool{false, true} {
		t.Run(fmt.Sprintf("retain as published %v", rap), func(t *testing.T) {
			s, _ := connect5(t, addr, "sub", nil)
			s.subscribe(packet.Subscription{Filter: []byte("rap"), QoS: 1, RetainAsPublished: rap})
			p, _ := connect5(t, addr, "pub", nil)
			p.publish("rap", "r", 1, true)
			eq(t, "RETAIN of a retained publish", s.receive().Retain, rap)
			p.publish("rap", "n", 1, false)
			eq(t, "RETAIN of an ordinary publish", s.receive().Retain, false)
			p.publish("rap", "", 1, true)
			eq(t, "RETAIN of the clearing publish", s.receive().Retain, rap)
		})
	}
}

// TestRetain_MQTT_3_3_2_5_Expiry: a retained message with a Message Expiry
// Interval is sent with the remaining interval, and not at all once it has
// expired (the broker forgets it). [MQTT-3.3.2-5] [MQTT-3.3.2-6].
func TestRetain_MQTT_3_3_2_5_Expiry(t *testing.T) {
	clk := newFakeClock()
	srv, addr := startServer(t, func(o *Options) { o.Clock = clk })
	p, _ := connect5(t, addr, "pub", nil)
	pub := &packet.Publish{QoS: 1, Retain: true, Topic: []byte("rx"), Payload: []byte("soon gone")}
	pub.Properties.MessageExpiry = 10
	pub.Properties.Set(packet.PropMessageExpiry)
	p.sendPub(pub)
	clk.Advance(4 * time.Second)

	s, _ := connect5(t, addr, "sub", nil)
	s.subscribe(sub("rx", 1))
	m := s.receive()
	if !m.Properties.Has(packet.PropMessageExpiry) {
		t.Fatal("retained message sent without its Message Expiry Interval")
	}
	eq(t, "remaining expiry", m.Properties.MessageExpiry, uint32(6))
	s.disconnect()

	clk.Advance(6 * time.Second)
	s, _ = connect5(t, addr, "sub", nil)
	s.subscribe(sub("rx", 1))
	s.expectNothing(quiet)
	waitFor(t, "expired retained message removed", func() bool { return srv.retained.Len() == 0 })

	// A 3.1.1 subscriber gets no expired retained message either.
	p.sendPub(pub)
	clk.Advance(11 * time.Second)
	s3 := clean(t, addr, packet.V311, "sub311")
	s3.subscribe(sub("rx", 1))
	s3.expectNothing(quiet)
}

// TestRetain_MaxMessages: with Retain.MaxMessages reached, a new topic is
// not retained while an existing one can still be replaced.
func TestRetain_MaxMessages(t *testing.T) {
	_, addr := startServer(t, func(o *Options) { o.Retain.MaxMessages = 1 })
	p := clean(t, addr, packet.V311, "pub")
	p.publish("m/a", "a1", 0, true)
	p.publish("m/b", "b", 0, true) // over the limit: not stored
	p.publish("m/a", "a2", 0, true)
	// The broker handles a client's packets in order: after PINGRESP the
	// three publishes have been stored (or refused).
	p.send(&packet.Pingreq{})
	p.expect(packet.PINGRESP)
	s := clean(t, addr, packet.V311, "sub")
	s.subscribe(sub("m/#", 0))
	eqBytes(t, "retained", s.receive().Payload, "a2")
	s.expectNothing(quiet)
}

// TestRetain_Disabled: with Retain.Disabled, a 5.0 CONNACK says Retain
// Available 0 and a retained PUBLISH is refused with DISCONNECT 0x9A.
// 5.0 [MQTT-3.2.2-14].
func TestRetain_Disabled(t *testing.T) {
	_, addr := startServer(t, func(o *Options) { o.Retain.Disabled = true })
	p, ack := connect5(t, addr, "pub", nil)
	if !ack.Properties.Has(packet.PropRetainAvailable) || ack.Properties.RetainAvailable != 0 {
		t.Fatal("CONNACK does not say Retain Available 0")
	}
	p.send(&packet.Publish{Retain: true, Topic: []byte("x"), Payload: []byte("x")})
	eq(t, "DISCONNECT", p.expectClosed(), packet.RetainNotSupported)
}
