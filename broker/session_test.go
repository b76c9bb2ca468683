package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

func TestSession_MQTT_3_1_2_4_ResumeSessionPresent(t *testing.T) {
	// 3.1.1 [MQTT-3.1.2-4] [MQTT-3.2.2-2] [MQTT-3.2.2-3];
	// 5.0 [MQTT-3.1.2-5] [MQTT-3.1.2-6] [MQTT-3.1.2-23] [MQTT-3.2.2-3].
	_, addr := startServer(t, nil)
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		id := "keeper-" + v.String()
		p, ack := connect(t, addr, v, persistent(id, v, 300))
		eq(t, "session present on a new session", ack.SessionPresent, false)
		eq(t, "suback", p.subscribe(sub("keep/+", 1)), []packet.ReasonCode{1})
		p.disconnect()
		p, ack = connect(t, addr, v, persistent(id, v, 300))
		eq(t, "session present on resume", ack.SessionPresent, true)
		other, _ := connect(t, addr, v, &packet.Connect{ClientID: []byte("pub-" + v.String()), CleanStart: true})
		other.publish("keep/a", "still subscribed", 1, false)
		p.expectPub("keep/a", "still subscribed")
	})
}

func TestSession_MQTT_3_1_2_6_CleanStartDiscards(t *testing.T) {
	// 3.1.1 [MQTT-3.1.2-6] [MQTT-3.2.2-1]; 5.0 [MQTT-3.1.2-4] [MQTT-3.2.2-2].
	s, addr := startServer(t, nil)
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		id := "fresh-" + v.String()
		p, _ := connect(t, addr, v, persistent(id, v, 300))
		p.subscribe(sub("old/+", 1))
		p.disconnect()
		waitConns(t, s, 0)
		pub, _ := connect(t, addr, v, &packet.Connect{ClientID: []byte("pub-" + v.String()), CleanStart: true})
		pub.publish("old/queued", "for the old session", 1, false)

		p, ack := connect(t, addr, v, &packet.Connect{ClientID: []byte(id), CleanStart: true})
		eq(t, "session present", ack.SessionPresent, false)
		p.subscribe(sub("marker", 0))
		pub.publish("old/x", "not for the new session", 1, false)
		barrier(t, s, p, "marker") // neither the queued nor the new message came
		pub.disconnect()
		p.disconnect()
		waitConns(t, s, 0)
		eq(t, "session kept after a clean session ended", hasSession(s, id), false)
	})
}

func TestSession_MQTT_3_1_2_5_QueuedWhileOffline(t *testing.T) {
	// 3.1.1 [MQTT-3.1.2-5]; 5.0 [MQTT-3.1.2-23] [MQTT-4.6.0-1] order kept.
	s, addr := startServer(t, nil)
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		id := "away-" + v.String()
		p, _ := connect(t, addr, v, persistent(id, v, 300))
		p.subscribe(sub("q/#", 2))
		p.abort()
		waitConns(t, s, 0)
		pub, _ := connect(t, addr, v, &packet.Connect{ClientID: []byte("pub-" + v.String()), CleanStart: true})
		pub.publish("q/0", "qos0 not queued", 0, false)
		for i := range 3 {
			pub.publish(fmt.Sprintf("q/%d", i+1), fmt.Sprintf("m%d", i+1), 1, false)
		}
		pub.publish("q/4", "m4", 2, false)
		p, ack := connect(t, addr, v, persistent(id, v, 300))
		eq(t, "session present", ack.SessionPresent, true)
		for i := range 3 {
			got := p.expectPub(fmt.Sprintf("q/%d", i+1), fmt.Sprintf("m%d", i+1))
			eq(t, "qos", got.QoS, byte(1))
		}
		eq(t, "qos", p.expectPub("q/4", "m4").QoS, byte(2))
		p.subscribe(sub("marker", 0))
		barrier(t, s, p, "marker")
	})
}

func TestSession_MQTT_3_1_2_23_Expiry0EndsOnDisconnect(t *testing.T) {
	s, addr := startServer(t, nil)
	for _, c := range []*packet.Connect{
		{ClientID: []byte("noexp")},                               // no property: 0
		{ClientID: []byte("zeroexp"), Properties: expiryProps(0)}, // explicit 0
		{ClientID: []byte("cleanexp"), CleanStart: true, Properties: expiryProps(0)},
	} {
		id := string(c.ClientID)
		p, _ := connect(t, addr, packet.V5, c)
		p.subscribe(sub("gone/#", 1))
		p.abort()
		waitConns(t, s, 0)
		eq(t, "session after disconnect", hasSession(s, id), false)
		p, ack := connect(t, addr, packet.V5, &packet.Connect{ClientID: []byte(id), Properties: expiryProps(60)})
		eq(t, "session present", ack.SessionPresent, false)
		p.subscribe(sub("marker", 0))
		if err := s.Publish("gone/x", []byte("x"), 1, false); err != nil {
			t.Fatal(err)
		}
		barrier(t, s, p, "marker")
		p.disconnect()
	}
}

func TestSession_MQTT_3_1_2_23_ExpiryInterval(t *testing.T) {
	clock := newFakeClock()
	s, addr := startServer(t, func(o *Options) { o.Clock = clock })
	p, _ := connect(t, addr, packet.V5, persistent("exp", packet.V5, 10))
	p.subscribe(sub("exp/#", 1))
	p.disconnect()
	waitConns(t, s, 0)
	clock.Advance(9 * time.Second)
	eq(t, "session before the interval", hasSession(s, "exp"), true)
	if err := s.Publish("exp/a", []byte("kept"), 1, false); err != nil {
		t.Fatal(err)
	}
	p, ack := connect(t, addr, packet.V5, persistent("exp", packet.V5, 10))
	eq(t, "session present", ack.SessionPresent, true)
	p.expectPub("exp/a", "kept")
	p.disconnect()
	waitConns(t, s, 0)
	clock.Advance(9 * time.Second) // the interval restarts at each disconnect
	eq(t, "session 9 s after the second disconnect", hasSession(s, "exp"), true)
	clock.Advance(time.Second)
	eq(t, "session after the interval", hasSession(s, "exp"), false)
	eq(t, "subscriptions after expiry", s.subs.Count(), 0)
	p, ack = connect(t, addr, packet.V5, persistent("exp", packet.V5, 10))
	eq(t, "session present after expiry", ack.SessionPresent, false)
	p.subscribe(sub("marker", 0))
	barrier(t, s, p, "marker")
}

func TestSession_MQTT_3_1_2_4_PersistentSessionMaxExpiry(t *testing.T) {
	// A 3.1.1 clean session 0 session lives Sessions.MaxExpiry after its
	// connection ends; 5.0 requests are capped by it.
	clock := newFakeClock()
	s, addr := startServer(t, func(o *Options) { o.Clock = clock; o.Sessions.MaxExpiry = time.Hour })
	p, _ := connect(t, addr, packet.V311, persistent("old", packet.V311, 0))
	p.disconnect()
	p5, ack := connect(t, addr, packet.V5, persistent("new", packet.V5, 0xFFFFFFFF))
	if !ack.Properties.Has(packet.PropSessionExpiry) || ack.Properties.SessionExpiry != 3600 {
		t.Fatalf("CONNACK Session Expiry Interval %d (present %v), want 3600", ack.Properties.SessionExpiry,
			ack.Properties.Has(packet.PropSessionExpiry))
	}
	p5.disconnect()
	waitConns(t, s, 0)
	clock.Advance(time.Hour - time.Second)
	eq(t, "3.1.1 session before max expiry", hasSession(s, "old"), true)
	eq(t, "5.0 session before max expiry", hasSession(s, "new"), true)
	clock.Advance(time.Second)
	eq(t, "3.1.1 session after max expiry", hasSession(s, "old"), false)
	eq(t, "5.0 session after max expiry", hasSession(s, "new"), false)
}

func TestSession_DisconnectChangesExpiry(t *testing.T) {
	clock := newFakeClock()
	s, addr := startServer(t, func(o *Options) { o.Clock = clock })
	t.Run("longer", func(t *testing.T) {
		p, _ := connect(t, addr, packet.V5, persistent("longer", packet.V5, 10))
		p.send(&packet.Disconnect{Properties: expiryProps(100)})
		p.expectClosed()
		waitConns(t, s, 0)
		clock.Advance(50 * time.Second)
		eq(t, "session at 50 s", hasSession(s, "longer"), true)
		clock.Advance(50 * time.Second)
		eq(t, "session at 100 s", hasSession(s, "longer"), false)
	})
	t.Run("zero", func(t *testing.T) {
		p, _ := connect(t, addr, packet.V5, persistent("zero", packet.V5, 100))
		p.send(&packet.Disconnect{Properties: expiryProps(0)})
		p.expectClosed()
		waitConns(t, s, 0)
		eq(t, "session after DISCONNECT with expiry 0", hasSession(s, "zero"), false)
	})
}

func TestSession_DisconnectExpiryAfterZeroIsProtocolError(t *testing.T) {
	// MQTT 5.0 section 3.14.2.2.2: setting a non-zero Session Expiry
	// Interval on DISCONNECT after 0 on CONNECT is a Protocol Error; the will
	// is then published as for any abnormal close.
	s, addr := startServer(t, nil)
	w, _ := connect(t, addr, packet.V5, &packet.Connect{ClientID: []byte("watcher"), CleanStart: true})
	w.subscribe(sub("will/#", 0))
	p, _ := connect(t, addr, packet.V5, withWill(&packet.Connect{ClientID: []byte("sneaky"), CleanStart: true},
		"will/sneaky", "bye", 0, false))
	p.send(&packet.Disconnect{Properties: expiryProps(60)})
	eq(t, "DISCONNECT", p.expectClosed(), packet.ProtocolError)
	waitConns(t, s, 1)
	eq(t, "session kept", hasSession(s, "sneaky"), false)
	w.expectPub("will/sneaky", "bye")
}

func TestSession_MQTT_3_1_4_3_TakeoverResumes(t *testing.T) {
	// The new connection takes the live session over: with clean start 0
	// it is present and keeps its subscriptions and unacknowledged messages.
	s, addr := startServer(t, nil)
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		id := "twin-" + v.String()
		first, _ := connect(t, addr, v, persistent(id, v, 300))
		first.subscribe(sub("tk/#", 1))
		if err := s.Publish("tk/1", []byte("unacked"), 1, false); err != nil {
			t.Fatal(err)
		}
		first.expect(packet.PUBLISH) // never acknowledged
		second, ack := connect(t, addr, v, persistent(id, v, 300))
		eq(t, "session present", ack.SessionPresent, true)
		code := first.expectClosed()
		if v == packet.V5 {
			eq(t, "DISCONNECT", code, packet.SessionTakenOver)
		}
		got := second.expectPub("tk/1", "unacked") // [MQTT-4.4.0-1] resent with DUP
		eq(t, "dup", got.Dup, true)
		if err := s.Publish("tk/2", []byte("new"), 1, false); err != nil {
			t.Fatal(err)
		}
		second.expectPub("tk/2", "new")
		second.disconnect()
		waitConns(t, s, 0)
	})
}

func TestSession_MQTT_3_2_0_1_ConnackFirstOnResume(t *testing.T) {
	// While messages keep arriving for a persistent session, a reconnecting
	// client still gets CONNACK before any PUBLISH. [MQTT-3.2.0-1]
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		s, addr := startServer(t, nil)
		p, _ := connect(t, addr, v, persistent("racer", v, 300))
		p.subscribe(sub("race/#", 0))
		p.abort()
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
					_ = s.Publish("race/x", []byte("x"), 0, false)
				}
			}
		}()
		defer func() { close(stop); <-done }()
		for i := range 200 {
			p := dial(t, addr, v)
			p.send(&packet.Connect{Version: v, ClientID: []byte("racer"), Properties: expiryProps(300)})
			pk, err := p.read(peerTimeout)
			if err != nil {
				t.Fatal(err)
			}
			if pk.Type() != packet.CONNACK {
				t.Fatalf("attempt %d: first packet %v, want CONNACK", i, pk.Type())
			}
			p.abort()
		}
	})
}

func TestSession_ExpiryNever(t *testing.T) {
	// 0xFFFFFFFF: the session does not expire (with no MaxExpiry cap).
	clock := newFakeClock()
	s, addr := startServer(t, func(o *Options) { o.Clock = clock; o.Sessions.MaxExpiry = 0 })
	p, ack := connect(t, addr, packet.V5, persistent("forever", packet.V5, 0xFFFFFFFF))
	eq(t, "CONNACK Session Expiry", ack.Properties.Has(packet.PropSessionExpiry), false)
	p.disconnect()
	waitConns(t, s, 0)
	clock.Advance(100 * 365 * 24 * time.Hour)
	eq(t, "session after a century", hasSession(s, "forever"), true)
	_, ack = connect(t, addr, packet.V5, persistent("forever", packet.V5, 0xFFFFFFFF))
	eq(t, "session present", ack.SessionPresent, true)
}
