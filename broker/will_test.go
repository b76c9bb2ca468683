package broker

import (
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// willSetup starts a broker (with modify) and a watcher subscribed to will/#
// at QoS 2.
func willSetup(t *testing.T, modify func(*Options)) (*Server, string, *peer) {
	t.Helper()
	s, addr := startServer(t, modify)
	w, _ := connect(t, addr, packet.V5, &packet.Connect{ClientID: []byte("watcher"), CleanStart: true})
	w.subscribe(sub("will/#", 2))
	return s, addr, w
}

// willDelay returns will properties with a Will Delay Interval.
func willDelay(sec uint32) packet.Properties {
	var pr packet.Properties
	pr.WillDelay = sec
	pr.Set(packet.PropWillDelay)
	return pr
}

func TestWill_MQTT_3_1_2_8_NetworkClose(t *testing.T) {
	// 3.1.1 [MQTT-3.1.2-8] [MQTT-3.1.2-16]; 5.0 [MQTT-3.1.2-8] [MQTT-3.1.2-14].
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		s, addr, w := willSetup(t, nil)
		c := withWill(&packet.Connect{ClientID: []byte("dying"), CleanStart: true}, "will/dying", "lost", 1, false)
		p, _ := connect(t, addr, v, c)
		p.abort()
		got := w.expectPub("will/dying", "lost")
		eq(t, "qos", got.QoS, byte(1))
		eq(t, "retain", got.Retain, false)
		w.subscribe(sub("will/dying", 0)) // a non-retained will is not stored
		barrier(t, s, w, "will/marker")
	})
}

func TestWill_MQTT_3_1_2_10_NotAfterDisconnect(t *testing.T) {
	// 3.1.1 [MQTT-3.1.2-10] [MQTT-3.14.4-3]; 5.0 [MQTT-3.1.2-10] [MQTT-3.14.4-3].
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		s, addr, w := willSetup(t, nil)
		c := withWill(&packet.Connect{ClientID: []byte("polite"), CleanStart: true}, "will/polite", "x", 0, false)
		p, _ := connect(t, addr, v, c)
		p.send(&packet.Disconnect{})
		p.expectClosed()
		waitConns(t, s, 1)
		barrier(t, s, w, "will/marker")
	})
}

func TestWill_MQTT_3_1_2_12_NoWillFlag(t *testing.T) {
	// 3.1.1 [MQTT-3.1.2-12]: without the will flag nothing is published.
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		s, addr, w := willSetup(t, nil)
		p, _ := connect(t, addr, v, &packet.Connect{ClientID: []byte("nowill"), CleanStart: true})
		p.abort()
		waitConns(t, s, 1)
		barrier(t, s, w, "will/marker")
	})
}

func TestWill_DisconnectWithWill(t *testing.T) {
	// 5.0: DISCONNECT 0x04 closes normally but publishes the will.
	s, addr, w := willSetup(t, nil)
	c := withWill(&packet.Connect{ClientID: []byte("leaving"), CleanStart: true}, "will/leaving", "on purpose", 0, false)
	p, _ := connect(t, addr, packet.V5, c)
	p.send(&packet.Disconnect{ReasonCode: packet.DisconnectWithWill})
	eq(t, "DISCONNECT from the server", p.expectClosed(), packet.ReasonCode(0))
	w.expectPub("will/leaving", "on purpose")
	waitConns(t, s, 1)
}

func TestWill_MQTT_3_1_2_17_Retain(t *testing.T) {
	// 3.1.1 [MQTT-3.1.2-17]; 5.0 [MQTT-3.1.2-15].
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		_, addr, w := willSetup(t, nil)
		c := withWill(&packet.Connect{ClientID: []byte("keeper"), CleanStart: true}, "will/kept", "last words", 1, true)
		p, _ := connect(t, addr, v, c)
		p.abort()
		w.expectPub("will/kept", "last words")
		late, _ := connect(t, addr, v, &packet.Connect{ClientID: []byte("late"), CleanStart: true})
		late.subscribe(sub("will/kept", 1))
		got := late.expectPub("will/kept", "last words")
		eq(t, "retain", got.Retain, true)
		eq(t, "qos", got.QoS, byte(1))
	})
}

func TestWill_MQTT_3_1_3_10_Properties(t *testing.T) {
	// 5.0 [MQTT-3.1.3-10]: the will's properties travel with it, user
	// properties in order.
	_, addr, w := willSetup(t, nil)
	c := withWill(&packet.Connect{ClientID: []byte("props"), CleanStart: true}, "will/props", "p", 0, false)
	c.WillProperties.ContentType = []byte("text/plain")
	c.WillProperties.Set(packet.PropContentType)
	c.WillProperties.User = []packet.UserProperty{{Key: []byte("b"), Value: []byte("1")}, {Key: []byte("a"), Value: []byte("2")}}
	p, _ := connect(t, addr, packet.V5, c)
	p.abort()
	got := w.expectPub("will/props", "p")
	eqBytes(t, "content type", got.Properties.ContentType, "text/plain")
	eq(t, "user properties", len(got.Properties.User), 2)
	eqBytes(t, "first user property", got.Properties.User[0].Key, "b")
	eqBytes(t, "second user property", got.Properties.User[1].Key, "a")
}

func TestWill_MQTT_3_1_2_8_Delay(t *testing.T) {
	clock := newFakeClock()
	s, addr, w := willSetup(t, func(o *Options) { o.Clock = clock })
	c := withWill(persistent("delayed", packet.V5, 100), "will/delayed", "late", 0, false)
	c.WillProperties = willDelay(10)
	p, _ := connect(t, addr, packet.V5, c)
	p.abort()
	waitConns(t, s, 1)
	clock.Advance(9 * time.Second)
	barrier(t, s, w, "will/marker") // not yet
	clock.Advance(time.Second)
	w.expectPub("will/delayed", "late")
	clock.Advance(time.Minute)
	barrier(t, s, w, "will/marker") // only once
}

func TestWill_MQTT_3_1_3_9_ReconnectCancelsDelayedWill(t *testing.T) {
	clock := newFakeClock()
	s, addr, w := willSetup(t, func(o *Options) { o.Clock = clock })
	c := withWill(persistent("back", packet.V5, 100), "will/back", "should not", 0, false)
	c.WillProperties = willDelay(10)
	p, _ := connect(t, addr, packet.V5, c)
	p.abort()
	waitConns(t, s, 1)
	clock.Advance(5 * time.Second)
	p, ack := connect(t, addr, packet.V5, persistent("back", packet.V5, 100))
	eq(t, "session present", ack.SessionPresent, true)
	clock.Advance(time.Hour)
	barrier(t, s, w, "will/marker")
	p.disconnect()
}

func TestWill_MQTT_3_1_2_8_SessionEndsBeforeDelay(t *testing.T) {
	clock := newFakeClock()
	s, addr, w := willSetup(t, func(o *Options) { o.Clock = clock })
	t.Run("expiry shorter than the delay", func(t *testing.T) {
		defer w.rebind(t)()
		c := withWill(persistent("short", packet.V5, 10), "will/short", "session over", 0, false)
		c.WillProperties = willDelay(100)
		p, _ := connect(t, addr, packet.V5, c)
		p.abort()
		waitConns(t, s, 1)
		clock.Advance(9 * time.Second)
		barrier(t, s, w, "will/marker")
		clock.Advance(time.Second)
		w.expectPub("will/short", "session over")
		eq(t, "session", hasSession(s, "short"), false)
		clock.Advance(time.Hour)
		barrier(t, s, w, "will/marker")
	})
	t.Run("session expiry 0 publishes at once", func(t *testing.T) {
		defer w.rebind(t)()
		c := withWill(&packet.Connect{ClientID: []byte("now"), CleanStart: true}, "will/now", "at once", 0, false)
		c.WillProperties = willDelay(100)
		p, _ := connect(t, addr, packet.V5, c)
		p.abort()
		w.expectPub("will/now", "at once")
	})
}

func TestWill_MQTT_3_1_3_11_WildcardTopicRefused(t *testing.T) {
	// A will topic is a topic name: wildcards are not allowed. 5.0 answers
	// CONNACK 0x90; 3.1.1 has no return code for it and closes.
	_, addr := startServer(t, nil)
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		want := packet.ReasonCode(0)
		if v == packet.V5 {
			want = packet.TopicNameInvalid
		}
		for _, topic := range []string{"will/+", "will/#", "#", ""} {
			c := withWill(&packet.Connect{ClientID: []byte("wild"), CleanStart: true}, topic, "x", 0, false)
			mustRefuse(t, addr, v, c, want)
		}
	})
}

func TestWill_TakeoverPublishesOldWill(t *testing.T) {
	// 5.0 section 3.1.4: on takeover the old connection's will (without a
	// delay) is published.
	_, addr, w := willSetup(t, nil)
	c := withWill(&packet.Connect{ClientID: []byte("twin"), CleanStart: true}, "will/twin", "replaced", 0, false)
	first, _ := connect(t, addr, packet.V5, c)
	connect(t, addr, packet.V5, &packet.Connect{ClientID: []byte("twin"), CleanStart: true})
	eq(t, "DISCONNECT", first.expectClosed(), packet.SessionTakenOver)
	w.expectPub("will/twin", "replaced")
}

func TestWill_MQTT_3_1_2_8_CleanStartEndsSessionBeforeDelay(t *testing.T) {
	// A new connection with Clean Start 1 ends the old session, so a will
	// still waiting on its delay is published then ("the Will Delay
	// Interval has passed or the Session ends, whichever happens first");
	// with Clean Start 0 the session continues and the will is cancelled.
	clock := newFakeClock()
	s, addr, w := willSetup(t, func(o *Options) { o.Clock = clock })
	delayed := func(id string) *packet.Connect {
		c := withWill(persistent(id, packet.V5, 300), "will/"+id, "ended by "+id, 0, false)
		c.WillProperties = willDelay(100)
		return c
	}
	{ // offline session
		p, _ := connect(t, addr, packet.V5, delayed("off"))
		p.abort()
		waitConns(t, s, 1)
		p, _ = connect(t, addr, packet.V5, &packet.Connect{ClientID: []byte("off"), CleanStart: true})
		w.expectPub("will/off", "ended by off")
		p.disconnect()
		waitConns(t, s, 1)
	}
	{ // takeover
		first, _ := connect(t, addr, packet.V5, delayed("on"))
		connect(t, addr, packet.V5, &packet.Connect{ClientID: []byte("on"), CleanStart: true})
		eq(t, "DISCONNECT", first.expectClosed(), packet.SessionTakenOver)
		w.expectPub("will/on", "ended by on")
	}
	{ // [MQTT-3.1.3-9] takeover with clean start 0
		first, _ := connect(t, addr, packet.V5, delayed("keep"))
		second, _ := connect(t, addr, packet.V5, persistent("keep", packet.V5, 300))
		eq(t, "DISCONNECT", first.expectClosed(), packet.SessionTakenOver)
		waitConns(t, s, 3) // watcher, "on", "keep"
		clock.Advance(time.Hour)
		barrier(t, s, w, "will/marker")
		second.disconnect()
	}
}
