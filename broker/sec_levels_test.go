package broker

import (
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/roostmq/roost/packet"
)

// secLiveHeap returns the live heap after a full collection.
func secLiveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// By default a topic name, filter or will topic holds at most 200 levels,
// as in Mosquitto: more is refused (SUBACK 0x8F / 0x80, DISCONNECT 0x90,
// CONNACK 0x90), 200 is fine.
func TestSecDefaultTopicLevelCap(t *testing.T) {
	eq(t, "default MaxTopicLevels", DefaultOptions().Limits.MaxTopicLevels, 200)
	_, addr := startServer(t, nil)
	ok := "x" + strings.Repeat("/x", 199)
	over := ok + "/x"
	eachVersion(t, func(t *testing.T, v packet.Version) {
		bad := packet.UnspecifiedError
		if v == packet.V5 {
			bad = packet.TopicFilterInvalid
		}
		s := clean(t, addr, v, "levels-sub-"+vname(v))
		eq(t, "SUBACK", s.subscribe(sub(ok, 0), sub(over, 0), sub("$share/g/"+ok, 0)), []packet.ReasonCode{0, bad, bad})
		p := clean(t, addr, v, "levels-pub-"+vname(v))
		p.publish(ok, "fine", 1, false)
		s.expectPub(ok, "fine")
		p.send(&packet.Publish{Topic: []byte(over), Payload: []byte("x")})
		want := packet.ReasonCode(0)
		if v == packet.V5 {
			want = packet.TopicNameInvalid
		}
		eq(t, "DISCONNECT", p.expectClosed(), want)
		will := withWill(&packet.Connect{ClientID: []byte("levels-will"), CleanStart: true}, over, "w", 0, false)
		if v == packet.V5 {
			mustRefuse(t, addr, v, will, packet.TopicNameInvalid)
		} else {
			mustRefuse(t, addr, v, will, 0)
		}
	})
}

// The SUBSCRIBEs of the report: one of 15 filters of 65,001 levels (975 KB)
// is refused whole and costs nothing; the worst one the cap allows, 1 MiB of
// 200-level filters that share no level, grows the heap by a small multiple
// of its size (it grew it by 190 MB when the index kept a node per level).
func TestSecSubscribeLevelsDoNotAmplify(t *testing.T) {
	s, addr := startServer(t, nil)
	c := clean(t, addr, packet.V5, "levels-amplify")

	huge := &packet.Subscribe{PacketID: 1}
	for i := 0; i < 15; i++ {
		huge.Subscriptions = append(huge.Subscriptions, sub(strconv.Itoa(i)+strings.Repeat("/", 65000), 0))
	}
	before := secLiveHeap()
	c.send(huge)
	ack := c.expect(packet.SUBACK).(*packet.Suback)
	for _, rc := range ack.ReasonCodes {
		eq(t, "SUBACK code", rc, packet.TopicFilterInvalid)
	}
	if grown := int64(secLiveHeap()) - int64(before); grown > 4<<20 {
		t.Errorf("refused 975 KB SUBSCRIBE: heap grew %d bytes", grown)
	}

	worst := &packet.Subscribe{PacketID: 2}
	tail := strings.Repeat("/", 199) // empty levels: a byte each
	wire := 0
	for i := 0; wire < s.limits().MaxPacketSize-1024; i++ {
		f := strconv.Itoa(i) + tail
		worst.Subscriptions = append(worst.Subscriptions, sub(f, 0))
		wire += len(f) + 3
	}
	before = secLiveHeap()
	c.send(worst)
	ack = c.expect(packet.SUBACK).(*packet.Suback)
	eq(t, "granted", len(ack.ReasonCodes), len(worst.Subscriptions))
	grown := int64(secLiveHeap()) - int64(before)
	t.Logf("%d filters of 200 levels (%d bytes): heap grew %d bytes", len(worst.Subscriptions), wire, grown)
	if grown > int64(8*wire) {
		t.Errorf("worst allowed SUBSCRIBE of %d bytes: heap grew %d bytes", wire, grown)
	}
	// Still routed through the runs of levels.
	p := clean(t, addr, packet.V5, "levels-amplify-pub")
	p.publish("7"+tail, "hit", 0, false)
	c.expectPub("7"+tail, "hit")
}
