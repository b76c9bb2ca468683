package broker

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// TestLimits_QoS0DroppedForSlowSubscriber: a subscriber that never reads
// loses QoS 0 messages beyond its pending-bytes limit, while another
// subscriber still gets every message and the publisher is never blocked
// (each of its publishes is acknowledged). DESIGN.md section 4.
func TestLimits_QoS0DroppedForSlowSubscriber(t *testing.T) {
	srv, addr := startServer(t, func(o *Options) {
		o.Limits.MaxPendingBytes = 64 << 10
		o.Limits.SlowConsumerAfter = 0
	})
	eachVersion(t, func(t *testing.T, v packet.Version) {
		slow := dial(t, addr, v)
		slow.setReadBuffer(4096)
		slow.send(&packet.Connect{Version: v, ClientID: []byte("slow"), CleanStart: true})
		slow.expect(packet.CONNACK)
		slow.subscribe(sub("flood", 0))
		fast := clean(t, addr, v, "fast")
		fast.subscribe(sub("flood", 0))
		p := clean(t, addr, v, "pub")

		before := srv.Stats().Dropped[DropPendingFull.String()]
		payload := strings.Repeat("x", 32<<10)
		const maxMsgs = 4000 // bound: 128 MiB; the drop comes after a few MiB of socket buffers
		sent, after := 0, -1
		for sent < maxMsgs && (after < 0 || sent < after) {
			// QoS 1 from the publisher, QoS 0 to the subscribers: the PUBACK
			// proves routing finished and the publisher was not blocked.
			msg := fmt.Sprintf("%06d", sent) + payload[6:]
			p.publish("flood", msg, 1, false)
			// Lockstep with the fast subscriber keeps it under its limit.
			m := fast.expect(packet.PUBLISH).(*packet.Publish)
			eq(t, "fast subscriber gets every message in order", string(m.Payload[:6]), msg[:6])
			sent++
			if after < 0 && srv.Stats().Dropped[DropPendingFull.String()] > before {
				after = sent + 10 // a few more after the first drop
			}
		}
		if after < 0 {
			t.Fatalf("no QoS 0 message dropped for the slow subscriber after %d messages", sent)
		}
		fast.expectNothing(quiet / 10) // it got exactly one per publish
		slow.drop()
	})
}

// TestLimits_QueuePolicy fills the session queue of an offline persistent
// session (Limits.MaxQueuedMessages 3) with 5 QoS 1 messages: DropNewest
// keeps the first three, DropOldest the last three. DESIGN.md section 4.
func TestLimits_QueuePolicy(t *testing.T) {
	for _, tc := range []struct {
		policy QueuePolicy
		want   []string
	}{
		{DropNewest, []string{"0", "1", "2"}},
		{DropOldest, []string{"2", "3", "4"}},
	} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			srv, addr := startServer(t, func(o *Options) {
				o.Limits.MaxQueuedMessages = 3
				o.Limits.QueuePolicy = tc.policy
			})
			eachVersion(t, func(t *testing.T, v packet.Version) {
				s, _ := resume(t, addr, v, "q", true)
				s.subscribe(sub("q", 2))
				s.drop()
				waitDetached(t, srv, "q")
				before := srv.Stats().Dropped[DropQueueFull.String()]
				p := clean(t, addr, v, "pub")
				for i := 0; i < 5; i++ {
					p.publish("q", fmt.Sprint(i), 1, false)
				}
				eq(t, "queue-full drops", srv.Stats().Dropped[DropQueueFull.String()]-before, uint64(2))
				s, _ = resume(t, addr, v, "q", false)
				eq(t, "delivered after reconnect", s.payloads(3), tc.want)
				s.expectNothing(quiet)
				s.disconnect()
			})
		})
	}
}

// TestLimits_QueuePolicyDisconnect: with policy Disconnect, an online 5.0
// client whose window and queue are full is disconnected with 0x97.
func TestLimits_QueuePolicyDisconnect(t *testing.T) {
	_, addr := startServer(t, func(o *Options) {
		o.Limits.MaxQueuedMessages = 2
		o.Limits.QueuePolicy = Disconnect
	})
	s, _ := connect5(t, addr, "q", func(p *packet.Properties) {
		p.ReceiveMaximum = 1
		p.Set(packet.PropReceiveMaximum)
	})
	s.subscribe(sub("q", 1))
	p, _ := connect5(t, addr, "pub", nil)
	for i := 0; i < 4; i++ { // 1 in flight, 2 queued, 1 too many
		p.publish("q", fmt.Sprint(i), 1, false)
	}
	eq(t, "DISCONNECT", s.expectClosed(), packet.QuotaExceeded)
}

// TestLimits_MaxSubscriptions: beyond Limits.MaxSubscriptions a new filter
// is refused (5.0 0x97, 3.1.1 0x80) while replacing an existing one works.
func TestLimits_MaxSubscriptions(t *testing.T) {
	_, addr := startServer(t, func(o *Options) { o.Limits.MaxSubscriptions = 2 })
	eachVersion(t, func(t *testing.T, v packet.Version) {
		refused := packet.UnspecifiedError
		if v == packet.V5 {
			refused = packet.QuotaExceeded
		}
		s := clean(t, addr, v, "sub")
		eq(t, "SUBACK", s.subscribe(sub("a", 0), sub("b", 0), sub("c", 0)), []packet.ReasonCode{0, 0, refused})
		eq(t, "SUBACK replacing", s.subscribe(sub("b", 1)), []packet.ReasonCode{1})
		s.unsubscribe("a")
		eq(t, "SUBACK after unsubscribe", s.subscribe(sub("c", 0)), []packet.ReasonCode{0})
	})
}

// TestLimits_MaxTopicLevels: a filter with more levels than
// Limits.MaxTopicLevels is refused in SUBACK; a PUBLISH to such a topic
// closes the connection (5.0: DISCONNECT 0x90).
func TestLimits_MaxTopicLevels(t *testing.T) {
	_, addr := startServer(t, func(o *Options) { o.Limits.MaxTopicLevels = 3 })
	eachVersion(t, func(t *testing.T, v packet.Version) {
		bad, closeCode := packet.UnspecifiedError, packet.ReasonCode(0)
		if v == packet.V5 {
			bad, closeCode = packet.TopicFilterInvalid, packet.TopicNameInvalid
		}
		s := clean(t, addr, v, "sub")
		eq(t, "SUBACK", s.subscribe(sub("a/b/c", 0), sub("a/b/c/d", 0), sub("a/+/#", 0)), []packet.ReasonCode{0, bad, 0})
		p := clean(t, addr, v, "pub")
		p.publish("a/b/c", "ok", 1, false)
		s.receive()
		p.send(&packet.Publish{Topic: []byte("a/b/c/d"), Payload: []byte("x")})
		eq(t, "DISCONNECT", p.expectClosed(), closeCode)
	})
}

// TestLimits_Sys: with a small SysInterval a subscriber to $SYS/broker/#
// receives version, uptime and clients/connected, which a `#` subscriber
// never sees. [MQTT-4.7.2-1]
func TestLimits_Sys(t *testing.T) {
	_, addr := startServer(t, func(o *Options) { o.SysInterval = 20 * time.Millisecond })
	eachVersion(t, func(t *testing.T, v packet.Version) {
		all := clean(t, addr, v, "all")
		all.subscribe(sub("#", 0), sub("+/broker/#", 0))
		s := clean(t, addr, v, "sys")
		s.subscribe(sub("$SYS/broker/#", 0))
		want := map[string]bool{"$SYS/broker/version": false, "$SYS/broker/uptime": false, "$SYS/broker/clients/connected": false}
		seen := 0
		for seen < len(want) {
			m := s.receive()
			name := string(m.Topic)
			if done, ok := want[name]; ok && !done {
				want[name] = true
				seen++
				if len(m.Payload) == 0 {
					t.Fatalf("%s: empty payload", name)
				}
				if name == "$SYS/broker/version" && !strings.Contains(string(m.Payload), Version) {
					t.Fatalf("version %q", m.Payload)
				}
			}
		}
		// Wait for one more round to be published: all must not see it.
		for string(s.receive().Topic) != "$SYS/broker/uptime" {
		}
		all.send(&packet.Publish{Topic: []byte("mark"), Payload: []byte("x")})
		eqBytes(t, "first thing # sees", all.receive().Topic, "mark")
	})
}
