package broker

import (
	"fmt"
	"testing"

	"github.com/roostmq/roost/packet"
)

// TestPublish_MQTT_3_8_4_8_DeliveredQoSIsMinimum publishes at every QoS to
// subscriptions of every QoS and checks each full acknowledgement flow in
// both directions: delivered QoS = min(published, granted).
// 5.0 [MQTT-3.8.4-8] [MQTT-4.3.1-1] [MQTT-4.3.2-1] [MQTT-4.3.2-4]
// [MQTT-4.3.3-1] [MQTT-4.3.3-4] [MQTT-4.3.3-8] [MQTT-4.3.3-11];
// 3.1.1 [MQTT-3.8.4-6] [MQTT-4.3.1-1] [MQTT-4.3.2-1] [MQTT-4.3.2-2] [MQTT-4.3.3-1] [MQTT-4.3.3-2].
func TestPublish_MQTT_3_8_4_8_DeliveredQoSIsMinimum(t *testing.T) {
	_, addr := startServer(t, nil)
	eachVersion(t, func(t *testing.T, v packet.Version) {
		for subQoS := byte(0); subQoS <= 2; subQoS++ {
			s := clean(t, addr, v, fmt.Sprintf("sub%d", subQoS))
			eq(t, "SUBACK", s.subscribe(sub("qos/+", subQoS)), []packet.ReasonCode{packet.ReasonCode(subQoS)})
			p := clean(t, addr, v, "pub")
			for pubQoS := byte(0); pubQoS <= 2; pubQoS++ {
				want := min(pubQoS, subQoS)
				name := fmt.Sprintf("qos/%d-%d", pubQoS, subQoS)
				// Inbound flow, checked packet by packet.
				in := &packet.Publish{QoS: pubQoS, Topic: []byte(name), Payload: []byte("x")}
				ack := p.sendPub(in)
				switch pubQoS {
				case 1:
					eq(t, "PUBACK id", ack.(*packet.Puback).PacketID, in.PacketID) // [MQTT-4.3.2-4]
				case 2:
					eq(t, "PUBREC id", ack.(*packet.Pubrec).PacketID, in.PacketID) // [MQTT-4.3.3-8]
					p.send(&packet.Pubrel{Ack: packet.Ack{PacketID: in.PacketID}})
					eq(t, "PUBCOMP id", p.expect(packet.PUBCOMP).(*packet.Pubcomp).PacketID, in.PacketID) // [MQTT-4.3.3-11]
				}
				// Outbound flow.
				got := s.pub()
				eqBytes(t, "topic", got.Topic, name)
				eq(t, name+" delivered QoS", got.QoS, want)
				eq(t, "DUP", got.Dup, false)
				if want > 0 && got.PacketID == 0 {
					t.Fatal("QoS > 0 PUBLISH without a packet id")
				}
				switch want {
				case 1:
					s.send(&packet.Puback{Ack: packet.Ack{PacketID: got.PacketID}})
				case 2:
					s.send(&packet.Pubrec{Ack: packet.Ack{PacketID: got.PacketID}})
					eq(t, "PUBREL id", s.expect(packet.PUBREL).(*packet.Pubrel).PacketID, got.PacketID) // [MQTT-4.3.3-4]
					s.send(&packet.Pubcomp{Ack: packet.Ack{PacketID: got.PacketID}})
				}
			}
			s.expectNothing(quiet) // acknowledged messages are not resent
			s.disconnect()
			p.disconnect()
		}
	})
}

// TestPublish_MQTT_4_3_3_2_QoS2NoDuplicate resends an inbound QoS 2 PUBLISH
// (same id, DUP 1) before PUBREL: it is acknowledged again but delivered
// once; after PUBCOMP the id names a new message.
// 3.1.1 [MQTT-4.3.3-2]; 5.0 [MQTT-4.3.3-10] [MQTT-4.3.3-12].
func TestPublish_MQTT_4_3_3_2_QoS2NoDuplicate(t *testing.T) {
	_, addr := startServer(t, nil)
	eachVersion(t, func(t *testing.T, v packet.Version) {
		s := clean(t, addr, v, "sub")
		s.subscribe(sub("dup", 2))
		p := clean(t, addr, v, "pub")
		in := &packet.Publish{QoS: 2, PacketID: 7, Topic: []byte("dup"), Payload: []byte("one")}
		eq(t, "PUBREC", code(p.sendPub(in)), packet.Success)
		in.Dup = true
		eq(t, "PUBREC for the resend", code(p.sendPub(in)), packet.Success)
		eq(t, "PUBREC for the second resend", code(p.sendPub(in)), packet.Success)
		p.send(&packet.Pubrel{Ack: packet.Ack{PacketID: 7}})
		eq(t, "PUBCOMP id", p.expect(packet.PUBCOMP).(*packet.Pubcomp).PacketID, uint16(7))
		eqBytes(t, "payload", s.receive().Payload, "one")
		s.expectNothing(quiet)

		// After PUBCOMP the same id is a new message.
		p.publishWithID(7, "dup", "two", 2)
		eqBytes(t, "payload", s.receive().Payload, "two")
		s.disconnect()
		p.disconnect()
	})
}

// publishWithID publishes with a chosen packet id and completes the flow.
func (p *peer) publishWithID(id uint16, name, payload string, qos byte) {
	p.t.Helper()
	p.sendPub(&packet.Publish{QoS: qos, PacketID: id, Topic: []byte(name), Payload: []byte(payload)})
	if qos == 2 {
		p.send(&packet.Pubrel{Ack: packet.Ack{PacketID: id}})
		p.expect(packet.PUBCOMP)
	}
}

// TestPublish_MQTT_4_4_0_1_ResendAfterReconnect leaves QoS 1 and 2 messages
// unacknowledged, one QoS 2 message at the PUBREC stage, drops the
// connection and resumes the session: the PUBLISHes come again in their
// original order with DUP 1 and their original ids, and PUBREL (not the
// PUBLISH) for the message whose PUBREC arrived.
// [MQTT-4.4.0-1] [MQTT-4.6.0-1] [MQTT-3.3.1-1] [MQTT-4.3.3-6] (5.0) / [MQTT-4.3.3-1] (3.1.1).
func TestPublish_MQTT_4_4_0_1_ResendAfterReconnect(t *testing.T) {
	srv, addr := startServer(t, nil)
	eachVersion(t, func(t *testing.T, v packet.Version) {
		s, _ := resume(t, addr, v, "resend", true)
		s.subscribe(sub("r/#", 2))
		p := clean(t, addr, v, "pub")
		p.publish("r/a", "A", 1, false)
		p.publish("r/b", "B", 2, false)
		p.publish("r/c", "C", 2, false)
		p.publish("r/d", "D", 1, false)
		first := make([]*packet.Publish, 4)
		for i := range first {
			first[i] = s.pub()
			eq(t, "first delivery DUP", first[i].Dup, false)
		}
		eqBytes(t, "third", first[2].Payload, "C")
		s.send(&packet.Pubrec{Ack: packet.Ack{PacketID: first[2].PacketID}})
		eq(t, "PUBREL id", s.expect(packet.PUBREL).(*packet.Pubrel).PacketID, first[2].PacketID)
		s.drop()
		waitDetached(t, srv, "resend")

		s, present := resume(t, addr, v, "resend", false)
		eq(t, "session present", present, true)
		for _, i := range []int{0, 1} {
			got := s.pub()
			eqBytes(t, "resent payload", got.Payload, string(first[i].Payload))
			eq(t, "resent id", got.PacketID, first[i].PacketID)
			eq(t, "resent DUP", got.Dup, true)
			eq(t, "resent QoS", got.QoS, first[i].QoS)
		}
		eq(t, "PUBREL resent", s.expect(packet.PUBREL).(*packet.Pubrel).PacketID, first[2].PacketID)
		got := s.pub()
		eqBytes(t, "resent payload", got.Payload, "D")
		eq(t, "resent id", got.PacketID, first[3].PacketID)
		eq(t, "resent DUP", got.Dup, true)

		s.send(&packet.Puback{Ack: packet.Ack{PacketID: first[0].PacketID}})
		s.send(&packet.Pubrec{Ack: packet.Ack{PacketID: first[1].PacketID}})
		s.expect(packet.PUBREL)
		s.send(&packet.Pubcomp{Ack: packet.Ack{PacketID: first[1].PacketID}})
		s.send(&packet.Pubcomp{Ack: packet.Ack{PacketID: first[2].PacketID}})
		s.send(&packet.Puback{Ack: packet.Ack{PacketID: first[3].PacketID}})
		// Everything acknowledged: a new message flows, nothing else comes back.
		p.publish("r/e", "E", 1, false)
		got = s.receive()
		eqBytes(t, "after resume", got.Payload, "E")
		eq(t, "new message DUP", got.Dup, false)
		s.drop()
		waitDetached(t, srv, "resend")
		s, _ = resume(t, addr, v, "resend", false)
		s.expectNothing(quiet) // nothing left to resend
		s.disconnect()
		p.disconnect()
	})
}

// TestPublish_MQTT_3_3_1_3_OutgoingDupNotCopied sends an inbound PUBLISH
// with DUP 1: the subscriber's copy is a first delivery, DUP 0.
func TestPublish_MQTT_3_3_1_3_OutgoingDupNotCopied(t *testing.T) {
	_, addr := startServer(t, nil)
	eachVersion(t, func(t *testing.T, v packet.Version) {
		s := clean(t, addr, v, "sub")
		s.subscribe(sub("d", 1))
		p := clean(t, addr, v, "pub")
		p.sendPub(&packet.Publish{QoS: 1, Dup: true, Topic: []byte("d"), Payload: []byte("x")})
		eq(t, "DUP", s.receive().Dup, false)
	})
}

// TestPublish_MQTT_4_6_0_6_Ordered checks that messages from one client on
// one topic reach a subscriber in order, at each QoS.
// 5.0 [MQTT-4.6.0-5] [MQTT-4.6.0-6]; 3.1.1 [MQTT-4.6.0-5] [MQTT-4.6.0-6].
func TestPublish_MQTT_4_6_0_6_Ordered(t *testing.T) {
	_, addr := startServer(t, nil)
	eachVersion(t, func(t *testing.T, v packet.Version) {
		s := clean(t, addr, v, "sub")
		s.subscribe(sub("o", 2))
		p := clean(t, addr, v, "pub")
		for qos := byte(0); qos <= 2; qos++ {
			var want, got []string
			for i := 0; i < 20; i++ {
				want = append(want, fmt.Sprint(i))
				p.publish("o", want[i], qos, false)
			}
			var pubs []*packet.Publish
			for range want {
				pk := s.pub()
				pubs = append(pubs, pk)
				got = append(got, string(pk.Payload))
			}
			eq(t, fmt.Sprintf("QoS %d order", qos), got, want)
			for _, pk := range pubs {
				s.ack(pk)
			}
		}
	})
}

// TestPublish_MQTT_3_3_5_2_NotAuthorized publishes to a denied topic: 5.0
// answers PUBACK/PUBREC 0x87; 3.1.1 acknowledges normally. Either way
// nothing is delivered. 3.1.1 [MQTT-3.3.5-2]; 5.0 PUBACK/PUBREC reason 0x87.
func TestPublish_MQTT_3_3_5_2_NotAuthorized(t *testing.T) {
	_, addr := startServer(t, func(o *Options) {
		o.Authorizer = &DenyList{Publish: []string{"secret/#"}}
	})
	eachVersion(t, func(t *testing.T, v packet.Version) {
		s := clean(t, addr, v, "sub")
		s.subscribe(sub("#", 2))
		p := clean(t, addr, v, "pub")
		want := packet.Success
		if v == packet.V5 {
			want = packet.NotAuthorized
		}
		eq(t, "QoS 0 accepted", p.sendPub(&packet.Publish{Topic: []byte("secret/a"), Payload: []byte("0")}), nil)
		eq(t, "PUBACK code", code(p.sendPub(&packet.Publish{QoS: 1, Topic: []byte("secret/a"), Payload: []byte("1")})), want)
		rec := p.sendPub(&packet.Publish{QoS: 2, Topic: []byte("secret/b"), Payload: []byte("2")})
		eq(t, "PUBREC code", code(rec), want)
		if v != packet.V5 {
			// 3.1.1 has no failure PUBREC: the flow completes normally.
			p.send(&packet.Pubrel{Ack: packet.Ack{PacketID: rec.(*packet.Pubrec).PacketID}})
			p.expect(packet.PUBCOMP)
		}
		// An allowed topic still flows, and is the first thing the subscriber sees.
		p.publish("public", "ok", 1, false)
		eqBytes(t, "first delivery", s.receive().Payload, "ok")
		s.expectNothing(quiet)
	})
}

// TestPublish_NoMatchingSubscribers: 5.0 PUBACK and PUBREC carry 0x10 when
// nobody subscribed, and 0x00 when someone did.
func TestPublish_NoMatchingSubscribers(t *testing.T) {
	_, addr := startServer(t, nil)
	p, _ := connect5(t, addr, "pub", nil)
	eq(t, "PUBACK", code(p.sendPub(&packet.Publish{QoS: 1, Topic: []byte("nobody"), Payload: []byte("x")})), packet.NoMatchingSubscribers)
	rec := p.sendPub(&packet.Publish{QoS: 2, Topic: []byte("nobody"), Payload: []byte("x")})
	eq(t, "PUBREC", code(rec), packet.NoMatchingSubscribers)
	// 0x10 is a success code: the QoS 2 flow continues.
	p.send(&packet.Pubrel{Ack: packet.Ack{PacketID: rec.(*packet.Pubrec).PacketID}})
	eq(t, "PUBCOMP", code(p.expect(packet.PUBCOMP)), packet.Success)
	s, _ := connect5(t, addr, "sub", nil)
	s.subscribe(sub("nobody", 0))
	eq(t, "PUBACK", code(p.sendPub(&packet.Publish{QoS: 1, Topic: []byte("nobody"), Payload: []byte("x")})), packet.Success)
}

// TestPublish_MQTT_3_3_2_2_WildcardTopicName: a PUBLISH topic with a
// wildcard closes the connection (5.0: DISCONNECT 0x90).
// [MQTT-3.3.2-2] [MQTT-4.7.0-1] (5.0) / [MQTT-4.7.1-1] (3.1.1).
func TestPublish_MQTT_3_3_2_2_WildcardTopicName(t *testing.T) {
	_, addr := startServer(t, nil)
	eachVersion(t, func(t *testing.T, v packet.Version) {
		for _, name := range []string{"a/+", "a/#"} {
			p := clean(t, addr, v, "pub")
			p.send(&packet.Publish{Topic: []byte(name), Payload: []byte("x")})
			want := packet.ReasonCode(0)
			if v == packet.V5 {
				want = packet.TopicNameInvalid
			}
			eq(t, "DISCONNECT code", p.expectClosed(), want)
		}
	})
}

// TestPublish_InProcess covers Server.Publish and Server.Subscribe: an
// in-process publish reaches a TCP subscriber, an in-process subscriber
// receives a TCP client's publish, and unsubscribe stops it.
func TestPublish_InProcess(t *testing.T) {
	srv, addr := startServer(t, nil)
	eachVersion(t, func(t *testing.T, v packet.Version) {
		s := clean(t, addr, v, "sub")
		s.subscribe(sub("embed/#", 2))
		if err := srv.Publish("embed/x", []byte("from inside"), 1, false); err != nil {
			t.Fatal(err)
		}
		got := s.receive()
		eqBytes(t, "topic", got.Topic, "embed/x")
		eqBytes(t, "payload", got.Payload, "from inside")
		eq(t, "QoS", got.QoS, byte(1))
		if err := srv.Publish("embed/+", nil, 0, false); err == nil {
			t.Fatal("Server.Publish accepted a wildcard topic")
		}
		if err := srv.Publish("embed/x", nil, 3, false); err == nil {
			t.Fatal("Server.Publish accepted QoS 3")
		}

		msgs := make(chan Message, 16)
		unsub, err := srv.Subscribe("in/+", func(m Message) { msgs <- m })
		if err != nil {
			t.Fatal(err)
		}
		p := clean(t, addr, v, "pub")
		p.publish("in/a", "to inside", 2, false)
		m := <-msgs
		eq(t, "topic", m.Topic, "in/a")
		eqBytes(t, "payload", m.Payload, "to inside")
		eq(t, "QoS", m.QoS, byte(2))
		unsub()
		unsub() // idempotent
		p.publish("in/a", "after", 1, false)
		// Nothing is delivered after unsubscribe; the publisher's PUBACK
		// above came after routing, so a delivery would already be queued.
		select {
		case m := <-msgs:
			t.Fatalf("delivered after unsubscribe: %+v", m)
		default:
		}
		if _, err := srv.Subscribe("a/#/b", func(Message) {}); err == nil {
			t.Fatal("Server.Subscribe accepted an invalid filter")
		}
	})
}
