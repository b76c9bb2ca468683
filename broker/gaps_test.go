package broker

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// requestResponseInfo returns CONNECT properties carrying Request Response
// Information v.
func requestResponseInfo(v byte) func(*packet.Properties) {
	return func(p *packet.Properties) {
		p.RequestResponseInfo = v
		p.Set(packet.PropRequestResponseInfo)
	}
}

// TestMQTT_3_1_2_28_ResponseInformation: a 5.0 client that sets Request
// Response Information 1 gets Options.ResponseTopicPrefix followed by its
// client id as Response Information in CONNACK; with 0 or without the
// property it gets none. [MQTT-3.1.2-28]
func TestMQTT_3_1_2_28_ResponseInformation(t *testing.T) {
	_, addr := startServer(t, nil)

	t.Run("requested", func(t *testing.T) {
		_, ack := connect5(t, addr, "ri-1", requestResponseInfo(1))
		if !ack.Properties.Has(packet.PropResponseInfo) {
			t.Fatal("no Response Information")
		}
		eqBytes(t, "Response Information", ack.Properties.ResponseInfo, "roost/response/ri-1")
	})
	t.Run("requested with an assigned client id", func(t *testing.T) {
		_, ack := connect5(t, addr, "", requestResponseInfo(1))
		id := string(ack.Properties.AssignedClientID)
		if id == "" {
			t.Fatal("no Assigned Client Identifier")
		}
		eqBytes(t, "Response Information", ack.Properties.ResponseInfo, "roost/response/"+id)
	})
	t.Run("MQTT-3.1.2-28 request 0", func(t *testing.T) {
		_, ack := connect5(t, addr, "ri-0", requestResponseInfo(0))
		eq(t, "Response Information present", ack.Properties.Has(packet.PropResponseInfo), false)
	})
	t.Run("MQTT-3.1.2-28 not requested", func(t *testing.T) {
		_, ack := connect5(t, addr, "ri-none", nil)
		eq(t, "Response Information present", ack.Properties.Has(packet.PropResponseInfo), false)
	})

	t.Run("configured prefix", func(t *testing.T) {
		_, addr := startServer(t, func(o *Options) { o.ResponseTopicPrefix = "$replies/" })
		_, ack := connect5(t, addr, "c", requestResponseInfo(1))
		eqBytes(t, "Response Information", ack.Properties.ResponseInfo, "$replies/c")
	})
	t.Run("empty prefix sends none", func(t *testing.T) {
		_, addr := startServer(t, func(o *Options) { o.ResponseTopicPrefix = "" })
		_, ack := connect5(t, addr, "c", requestResponseInfo(1))
		eq(t, "Response Information present", ack.Properties.Has(packet.PropResponseInfo), false)
	})
	t.Run("prefix with a wildcard is refused", func(t *testing.T) {
		o := DefaultOptions()
		o.ResponseTopicPrefix = "a/#/"
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "response_topic_prefix") {
			t.Fatalf("Validate: %v", err)
		}
	})
}

// TestSubscribe_SharedV311: 3.1.1 clients may use $share/{group}/{filter}
// too (as with EMQX, HiveMQ and Mosquitto): a group of two 3.1.1 members
// gets each message exactly once, spread over both, while a plain 3.1.1
// subscriber gets every message. [MQTT-4.8.2-3] for 3.1.1 clients.
func TestSubscribe_SharedV311(t *testing.T) {
	_, addr := startServer(t, nil)
	a := clean(t, addr, packet.V311, "a")
	b := clean(t, addr, packet.V311, "b")
	members := []*peer{a, b}
	for _, m := range members {
		eq(t, "SUBACK", m.subscribe(sub("$share/g/s311/+", 1)), []packet.ReasonCode{1})
	}
	plain := clean(t, addr, packet.V311, "plain")
	plain.subscribe(sub("s311/+", 1))
	p := clean(t, addr, packet.V311, "pub")
	const n = 10
	var want []string
	for i := 0; i < n; i++ {
		want = append(want, fmt.Sprintf("%02d", i))
		p.publish("s311/x", want[i], 1, false)
	}
	eq(t, "plain subscriber", plain.payloads(n), want)
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
			eq(t, "member QoS", pub.QoS, byte(1))
			m.ack(pub)
			got = append(got, string(pub.Payload))
			counts[i]++
			progressed = true
		}
		if !progressed {
			t.Fatalf("group stalled after %v", got)
		}
	}
	sort.Strings(got)
	eq(t, "group got each message once", got, want)
	for i, c := range counts {
		if c == 0 {
			t.Errorf("member %d got nothing: %v", i, counts)
		}
	}
	for _, m := range members {
		m.expectNothing(quiet)
	}

	// Unsubscribing the shared filter works for 3.1.1 as well.
	for _, m := range members {
		m.unsubscribe("$share/g/s311/+")
	}
	p.publish("s311/x", "after", 1, false)
	eq(t, "plain subscriber", plain.payloads(1), []string{"after"})
	for _, m := range members {
		m.expectNothing(quiet)
	}
}

// TestServerSubscribe_Retained: an in-process subscription gets the
// matching retained messages first, with Retain set, as a client
// subscription with retain handling 0 does, then live messages; a shared
// in-process subscription gets no retained messages. [MQTT-3.3.1-9]
// [MQTT-3.8.4-4] (for the embedded API)
func TestServerSubscribe_Retained(t *testing.T) {
	srv, _ := startServer(t, nil)
	for _, tp := range []string{"er/a", "er/b"} {
		if err := srv.Publish(tp, []byte("kept "+tp), 1, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Publish("other/c", []byte("x"), 0, true); err != nil {
		t.Fatal(err)
	}
	next := func(ch chan Message) Message {
		t.Helper()
		select {
		case m := <-ch:
			return m
		case <-time.After(peerTimeout):
			t.Fatal("no message")
		}
		return Message{}
	}

	got := make(chan Message, 16)
	unsub, err := srv.Subscribe("er/+", func(m Message) { got <- m })
	if err != nil {
		t.Fatal(err)
	}
	defer unsub()
	var retained []string
	for i := 0; i < 2; i++ {
		m := next(got)
		eq(t, "retain flag on a retained message", m.Retain, true)
		eq(t, "QoS", m.QoS, byte(1))
		retained = append(retained, m.Topic+"="+string(m.Payload))
	}
	sort.Strings(retained)
	eq(t, "retained", retained, []string{"er/a=kept er/a", "er/b=kept er/b"})
	if err := srv.Publish("er/a", []byte("live"), 0, false); err != nil {
		t.Fatal(err)
	}
	m := next(got)
	eq(t, "live", m.Topic+"="+string(m.Payload), "er/a=live")
	eq(t, "retain flag on a live message", m.Retain, false)

	shared := make(chan Message, 16)
	unsubShared, err := srv.Subscribe("$share/g/er/+", func(m Message) { shared <- m })
	if err != nil {
		t.Fatal(err)
	}
	defer unsubShared()
	if err := srv.Publish("er/b", []byte("live"), 0, false); err != nil {
		t.Fatal(err)
	}
	m = next(shared)
	eq(t, "first message of a shared subscription", m.Topic+"="+string(m.Payload), "er/b=live")
	eq(t, "retain flag", m.Retain, false)
}

// TestSubscribe_SharedNoMemberLeftDropped: the unacknowledged messages of a
// shared-subscription member whose session ends, when no member of the
// group is left to take them, are dropped and counted as DropNoSubscriber
// (Stats and the OnDropped hook).
func TestSubscribe_SharedNoMemberLeftDropped(t *testing.T) {
	var mu sync.Mutex
	var hooked []string
	srv, addr := startServer(t, func(o *Options) {
		o.Hooks.OnDropped = func(id, tp string, why DropReason) {
			mu.Lock()
			hooked = append(hooked, id+" "+tp+" "+why.String())
			mu.Unlock()
		}
	})
	a, _ := connect5(t, addr, "a", func(p *packet.Properties) {
		p.ReceiveMaximum = 1
		p.Set(packet.PropReceiveMaximum)
	})
	a.subscribe(sub("$share/g/nm", 1))
	p, _ := connect5(t, addr, "pub", nil)
	for i := 0; i < 3; i++ { // one in flight, two queued
		p.publish("nm", fmt.Sprint(i), 1, false)
	}
	a.pub()
	a.drop() // the session ends (expiry 0); nobody else is in group g
	name := DropNoSubscriber.String()
	eq(t, "reason name", name, "no_subscriber")
	waitFor(t, "3 no_subscriber drops", func() bool { return srv.Stats().Dropped[name] == 3 })
	mu.Lock()
	defer mu.Unlock()
	eq(t, "OnDropped", hooked, []string{"a nm no_subscriber", "a nm no_subscriber", "a nm no_subscriber"})
}

// TestLimits_MaxQueuedBytesOffline: an offline persistent session queues
// QoS 1 messages up to Limits.MaxQueuedBytes of payload; with DropNewest a
// message that would pass the bound is dropped and counted, while a later,
// smaller one that fits is still queued. DESIGN.md section 4.
func TestLimits_MaxQueuedBytesOffline(t *testing.T) {
	eachVersion(t, func(t *testing.T, v packet.Version) {
		srv, addr := startServer(t, func(o *Options) {
			o.Limits.MaxQueuedBytes = 100
			o.Limits.MaxQueuedMessages = 1000
			o.Limits.QueuePolicy = DropNewest
		})
		s, _ := resume(t, addr, v, "qb", true)
		s.subscribe(sub("qb", 1))
		s.disconnect()
		waitDetached(t, srv, "qb")
		p := clean(t, addr, v, "pub")
		msgs := []string{
			"a" + strings.Repeat("x", 39), // 40 bytes queued
			"b" + strings.Repeat("x", 39), // 80
			"c" + strings.Repeat("x", 39), // 120 > 100: dropped
			"d" + strings.Repeat("x", 19), // 100: fits exactly
			"e",                           // 101: dropped
		}
		for _, m := range msgs {
			p.publish("qb", m, 1, false)
		}
		eq(t, "queue-full drops", srv.Stats().Dropped[DropQueueFull.String()], uint64(2))
		s, present := resume(t, addr, v, "qb", false)
		eq(t, "session present", present, true)
		eq(t, "delivered after reconnect", s.payloads(3), []string{msgs[0], msgs[1], msgs[3]})
		s.expectNothing(quiet)
	})
}

// TestLimits_SlowConsumerDisconnected: a QoS 0 subscriber that never reads
// and stays over Limits.MaxPendingBytes for Limits.SlowConsumerAfter is
// disconnected (5.0: DISCONNECT 0x97, which it may never see since it does
// not read), while a subscriber that keeps up goes on receiving every
// message. DESIGN.md section 4.
func TestLimits_SlowConsumerDisconnected(t *testing.T) {
	srv, addr := startServer(t, func(o *Options) {
		o.Limits.MaxPendingBytes = 64 << 10
		o.Limits.SlowConsumerAfter = 200 * time.Millisecond
	})
	eachVersion(t, func(t *testing.T, v packet.Version) {
		slow := dial(t, addr, v)
		slow.setReadBuffer(4096)
		slow.send(&packet.Connect{Version: v, ClientID: []byte("slow"), CleanStart: true})
		slow.expect(packet.CONNACK)
		slow.subscribe(sub("sc", 0))
		fast := clean(t, addr, v, "fast")
		fast.subscribe(sub("sc", 0))
		p := clean(t, addr, v, "pub")

		payload := strings.Repeat("x", 32<<10)
		deadline := time.Now().Add(10 * time.Second)
		sent := 0
		for hasSession(srv, "slow") {
			if time.Now().After(deadline) {
				t.Fatalf("slow subscriber still connected after %d messages", sent)
			}
			// QoS 1 from the publisher paces it; lockstep with the fast
			// subscriber keeps that one under its limit.
			msg := fmt.Sprintf("%06d", sent) + payload[6:]
			p.publish("sc", msg, 1, false)
			m := fast.expect(packet.PUBLISH).(*packet.Publish)
			eq(t, "fast subscriber gets every message in order", string(m.Payload[:6]), msg[:6])
			sent++
		}
		waitConns(t, srv, 2) // fast and pub
		// The broker closed the slow subscriber's socket. Draining what it
		// never read through a 4 KiB window would take minutes; instead
		// anything it sends now is answered with a reset (or EOF).
		slow.send(&packet.Pingreq{})
		if code := slow.closedWithin(5 * time.Second); code != 0 && !(v == packet.V5 && code == packet.QuotaExceeded) {
			t.Fatalf("slow subscriber: DISCONNECT 0x%02x, want none or 0x97", byte(code))
		}
		eq(t, "fast subscriber online", hasSession(srv, "fast"), true)
		p.publish("sc", "after", 1, false)
		fast.expectPub("sc", "after")
		fast.expectNothing(quiet)
		fast.disconnect()
		p.disconnect()
		waitConns(t, srv, 0)
	})
}

// TestMQTT_3_10_4_3_UnsubscribeCompletesInflight: after UNSUBSCRIBE, QoS 1
// and QoS 2 deliveries already under way for the filter are completed: the
// PUBACK for the message in flight is accepted, and the messages that were
// waiting for the window follow and complete their flows. New messages are
// no longer delivered. [MQTT-3.10.4-3]
func TestMQTT_3_10_4_3_UnsubscribeCompletesInflight(t *testing.T) {
	eachVersion(t, func(t *testing.T, v packet.Version) {
		_, addr := startServer(t, func(o *Options) { o.Limits.MaxInflight = 1 })
		s := clean(t, addr, v, "sub")
		s.subscribe(sub("u", 2))
		p := clean(t, addr, v, "pub")
		p.publish("u", "m1", 1, false)
		p.publish("u", "m2", 2, false) // waits for the window of 1
		p.publish("u", "m3", 1, false)
		first := s.pub()
		eqBytes(t, "in flight", first.Payload, "m1")
		if ack := s.unsubscribe("u"); v == packet.V5 {
			eq(t, "UNSUBACK", ack.ReasonCodes, []packet.ReasonCode{packet.Success})
		}
		s.ack(first) // PUBACK after UNSUBSCRIBE is accepted: the window moves on
		m2 := s.expectPub("u", "m2")
		eq(t, "m2 QoS", m2.QoS, byte(2)) // expectPub ran PUBREC/PUBREL/PUBCOMP
		m3 := s.expectPub("u", "m3")
		eq(t, "m3 QoS", m3.QoS, byte(1))
		p.publish("u", "m4", 1, false)
		s.expectNothing(quiet)
	})
}
