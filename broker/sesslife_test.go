package broker

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// Session lifecycle: claim, takeover, detach and expiry racing each other.

// slRounds is how often a racy case is tried; each round is bounded by the
// peer's timeouts.
const slRounds = 20

// A client that sends DISCONNECT (0x00), closes its socket and reconnects
// with the same client id at once never has its will published, whichever
// of the old connection's DISCONNECT and the new connection's takeover the
// broker handles first. [MQTT-3.1.2-10] [MQTT-3.14.4-3]
func TestSessLifeNoWillAfterDisconnectThenTakeover_MQTT_3_1_2_10(t *testing.T) {
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		s, addr, w := willSetup(t, nil)
		for i := range slRounds {
			id := fmt.Sprintf("quick-%d", i)
			c := withWill(&packet.Connect{ClientID: []byte(id), CleanStart: true}, "will/quick", "lost", 0, false)
			p, _ := connect(t, addr, v, c)
			p.send(&packet.Disconnect{})
			p.abort()
			q, _ := connect(t, addr, v, &packet.Connect{ClientID: []byte(id), CleanStart: true})
			waitConns(t, s, 2) // the old connection is done: its will would have been routed
			barrier(t, s, w, "will/marker")
			q.disconnect()
			waitConns(t, s, 1)
		}
	})
}

// The same with a will delay and a persistent session in 5.0: the takeover
// must not publish it either, nor leave it pending. [MQTT-3.1.2-10]
func TestSessLifeNoDelayedWillAfterDisconnectThenTakeover_v5(t *testing.T) {
	s, addr, w := willSetup(t, nil)
	for i := range slRounds {
		id := fmt.Sprintf("quickd-%d", i)
		c := withWill(persistent(id, packet.V5, 60), "will/quickd", "lost", 0, false)
		c.WillProperties = willDelay(0)
		p, _ := connect(t, addr, packet.V5, c)
		p.send(&packet.Disconnect{})
		p.abort()
		q, _ := connect(t, addr, packet.V5, &packet.Connect{ClientID: []byte(id), CleanStart: true})
		waitConns(t, s, 2)
		barrier(t, s, w, "will/marker")
		q.disconnect()
		waitConns(t, s, 1)
	}
}

// A session that ends with its connection (3.1.1 clean session 1, 5.0
// session expiry 0) is not resumed by a connection that takes it over with
// clean session 0: the takeover ends the old connection and so the session.
// [MQTT-3.1.2-6] (5.0 3.1.2.4, 3.1.2.11)
func TestSessLifeCleanSessionNotResumedByTakeover_MQTT_3_1_2_6(t *testing.T) {
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		s, addr := startServer(t, nil)
		a, _ := connect(t, addr, v, &packet.Connect{ClientID: []byte("cs"), CleanStart: v == packet.V311})
		a.subscribe(sub("cs/t", 1))
		b, ack := connect(t, addr, v, persistent("cs", v, 60))
		eq(t, "session present", ack.SessionPresent, false)
		a.expectClosed()
		if err := s.Publish("cs/t", []byte("x"), 1, false); err != nil {
			t.Fatal(err)
		}
		b.expectNothing(quiet) // A's subscription ended with A
		eq(t, "subscriptions", s.Stats().Subscriptions, 0)
		b.disconnect()
	})
}

// A second CONNACK to an MQTT 3.1 client resuming a session has a first
// byte of 0: 3.1 has no Session Present flag and reserves the byte.
func TestSessLifeConnackV31NoSessionPresent(t *testing.T) {
	_, addr := startServer(t, nil)
	for i := range 2 {
		p := dial(t, addr, packet.V311)
		p.sendRaw((&packet.Connect{Version: packet.V31, ClientID: []byte("old31")}).Append(nil, packet.V31))
		var b [4]byte
		_ = p.nc.SetReadDeadline(time.Now().Add(peerTimeout))
		if _, err := io.ReadFull(p.nc, b[:]); err != nil {
			t.Fatalf("CONNACK %d: %v", i, err)
		}
		if b != [4]byte{0x20, 2, 0, 0} {
			t.Fatalf("CONNACK %d: % x, want 20 02 00 00", i, b)
		}
		p.disconnect()
	}
}
