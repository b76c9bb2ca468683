package broker

import (
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// Tests of the writer wake-ups: batching one wake per read batch must never
// let one client hold back what is queued for another.

// wakePrompt is how soon a delivery that waits for no one must arrive; the
// stalls these tests look for last a keep-alive or for ever.
const wakePrompt = 2 * time.Second

// wakePublishBytes encodes a QoS 0 PUBLISH for a 3.1.1 client.
func wakePublishBytes(topic, payload string) []byte {
	return (&packet.Publish{Topic: []byte(topic), Payload: []byte(payload)}).Append(nil, packet.V311)
}

// wakeExpectPubPing reads, each within wakePrompt, a PUBLISH of payload on
// topic and the PINGRESP for a PINGREQ the test sent, in either order (the
// PINGREQ may be handled before the PUBLISH is routed).
func wakeExpectPubPing(t *testing.T, p *peer, topic, payload string) {
	t.Helper()
	var pubs, pings int
	for range 2 {
		pk, err := p.read(wakePrompt)
		if err != nil {
			t.Fatalf("waiting for the PUBLISH and PINGRESP (got %d and %d): %v", pubs, pings, err)
		}
		switch pk := pk.(type) {
		case *packet.Publish:
			eqBytes(t, "topic", pk.Topic, topic)
			eqBytes(t, "payload", pk.Payload, payload)
			pubs++
		case *packet.Pingresp:
			pings++
		default:
			t.Fatalf("got %v, want PUBLISH or PINGRESP", pk.Type())
		}
	}
	if pubs != 1 || pings != 1 {
		t.Fatalf("got %d PUBLISH and %d PINGRESP, want one each", pubs, pings)
	}
}

// A publisher that sends one whole PUBLISH and the first byte of the next,
// then nothing, must not hold back the delivery of the first, nor the
// subscriber's own PINGRESP: the reader wakes the writers it collected
// whenever it is about to block, whatever bytes of a partial packet it
// holds. With keep-alive 0 the stall used to last for ever.
func TestWakePartialPacketDoesNotStallSubscribers(t *testing.T) {
	for _, ka := range []uint16{0, 60} {
		t.Run(map[uint16]string{0: "keepalive0", 60: "keepalive60"}[ka], func(t *testing.T) {
			s, addr := startServer(t, nil)
			subscriber := clean(t, addr, packet.V311, "wake-sub")
			subscriber.subscribe(sub("wake/t", 0))
			pub, _ := connect(t, addr, packet.V311, &packet.Connect{ClientID: []byte("wake-pub"), CleanStart: true, KeepAlive: ka})
			b := wakePublishBytes("wake/t", "hello")
			next := wakePublishBytes("wake/t", "second")
			pub.sendRaw(append(append([]byte(nil), b...), next[0]))
			// The PINGREQ goes out once "hello" has been routed: Stats counts
			// the PUBLISH when the publisher's reader handles it.
			waitFor(t, "the PUBLISH to be handled", func() bool { return s.Stats().MessagesIn == 1 })
			subscriber.send(&packet.Pingreq{})
			wakeExpectPubPing(t, subscriber, "wake/t", "hello")
			// The rest of the packet completes it; the publisher is healthy.
			pub.sendRaw(next[1:])
			got := subscriber.pub()
			eqBytes(t, "payload", got.Payload, "second")
			pub.send(&packet.Pingreq{})
			pub.expect(packet.PINGRESP)
		})
	}
}

// The same with hibernation on: the stalled publisher's reader is asked to
// hibernate every tick and refuses while it holds a partial packet, and
// deliveries are not held back meanwhile. Once the packet is complete, the
// connection hibernates as any idle one does.
func TestWakePartialPacketWithHibernation(t *testing.T) {
	s, addr := startHibernating(t)
	subscriber := clean(t, addr, packet.V311, "wake-hsub")
	subscriber.subscribe(sub("wake/h", 0))
	pub := clean(t, addr, packet.V311, "wake-hpub")
	waitHibernating(t, s, 2)
	first := wakePublishBytes("wake/h", "one")
	second := wakePublishBytes("wake/h", "two")
	third := wakePublishBytes("wake/h", "three")
	pub.sendRaw(append(append([]byte(nil), first...), second[0]))
	waitFor(t, "the PUBLISH to be handled", func() bool { return s.Stats().MessagesIn == 1 })
	subscriber.send(&packet.Pingreq{})
	wakeExpectPubPing(t, subscriber, "wake/h", "one")
	// Several sweeps ask the publisher to hibernate; it cannot with a
	// partial packet buffered, and stays awake.
	waitTicks(t, s, 3*s.hib.idle)
	if n := s.Stats().ClientsHibernating; n > 1 {
		t.Fatalf("%d connections hibernating, want at most the subscriber", n)
	}
	// The rest of "two", all of "three" and again one byte of a fourth.
	pub.sendRaw(append(append(append([]byte(nil), second[1:]...), third...), first[0]))
	waitFor(t, "the PUBLISHes to be handled", func() bool { return s.Stats().MessagesIn == 3 })
	subscriber.send(&packet.Pingreq{})
	eqBytes(t, "payload", subscriber.pub().Payload, "two")
	wakeExpectPubPing(t, subscriber, "wake/h", "three")
	pub.sendRaw(first[1:])
	eqBytes(t, "payload", subscriber.pub().Payload, "one")
	waitHibernating(t, s, 2)
}

// A reader that is slow inside its batch (here an OnPublish hook that
// blocks on the second of two PUBLISHes read at once) owes the subscriber a
// wake for the first. That must not silence the subscriber's own replies
// (PINGRESP) nor producers that are not readers (Server.Publish): they
// signal the writer themselves, which sends everything queued so far.
func TestWakeOwnRepliesNotHeldByAnotherReader(t *testing.T) {
	block := make(chan struct{})
	entered := make(chan struct{}, 1)
	s, addr := startServer(t, func(o *Options) {
		o.Hooks.OnPublish = func(id, name string, _ byte, _ int) {
			if id == "wake-slow" && name == "wake/slow/2" {
				entered <- struct{}{}
				<-block
			}
		}
	})
	subscriber := clean(t, addr, packet.V311, "wake-sub2")
	subscriber.subscribe(sub("wake/#", 0))
	pub := clean(t, addr, packet.V311, "wake-slow")
	b := append(wakePublishBytes("wake/slow/1", "first"), wakePublishBytes("wake/slow/2", "second")...)
	pub.sendRaw(b)
	<-entered
	defer close(block)
	subscriber.send(&packet.Pingreq{})
	wakeExpectPubPing(t, subscriber, "wake/slow/1", "first")
	if err := s.Publish("wake/embedded", []byte("x"), 0, false); err != nil {
		t.Fatal(err)
	}
	pk, err := subscriber.read(wakePrompt)
	if err != nil {
		t.Fatalf("waiting for the embedded PUBLISH: %v", err)
	}
	if p, ok := pk.(*packet.Publish); !ok || string(p.Topic) != "wake/embedded" {
		t.Fatalf("got %v, want the embedded PUBLISH", pk.Type())
	}
}
