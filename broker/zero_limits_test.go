package broker

import (
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// Sessions.MaxExpiry 0 means no cap for both versions: a 3.1.1 persistent
// session is kept after its connection (it used to end at disconnect, as if
// the client had asked for a clean session), and a 5.0 session gets the
// expiry it asks for. (Review L12.) [MQTT-3.1.2-4]
func TestMaxExpiryZeroIsNoCap_MQTT_3_1_2_4(t *testing.T) {
	clock := newFakeClock()
	s, addr := startServer(t, func(o *Options) { o.Clock = clock; o.Sessions.MaxExpiry = 0 })

	old, _ := connect(t, addr, packet.V311, persistent("old", packet.V311, 0))
	old.subscribe(sub("q", 1))
	old.disconnect()
	p5, ack := connect(t, addr, packet.V5, persistent("new", packet.V5, 0xFFFFFFFF))
	eq(t, "5.0 CONNACK Session Expiry Interval present", ack.Properties.Has(packet.PropSessionExpiry), false)
	p5.disconnect()
	waitConns(t, s, 0)

	pub := clean(t, addr, packet.V311, "pub")
	pub.publish("q", "kept", 1, false)
	clock.Advance(10 * 365 * 24 * time.Hour)
	eq(t, "3.1.1 session", hasSession(s, "old"), true)
	eq(t, "5.0 session", hasSession(s, "new"), true)

	old, ack311 := connect(t, addr, packet.V311, persistent("old", packet.V311, 0))
	eq(t, "3.1.1 session present", ack311.SessionPresent, true)
	old.expectPub("q", "kept")
}
