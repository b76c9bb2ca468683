package broker

import (
	"slices"
	"sync"
	"testing"

	"github.com/roostmq/roost/packet"
)

// Focused tests for MQTT 3.1.1 statements, one subtest per statement named
// "MQTT-x v311 ..." so that docs/conformance.md attributes it to 3.1.1. The
// cf* helpers are shared with conformance_v5_test.go, where the same checks
// run for the 5.0 statements that say the same thing.

// cfRewrite re-encodes the packet pk after mutate changed its body (the
// bytes after the remaining length).
func cfRewrite(t testing.TB, pk []byte, mutate func(body []byte) []byte) []byte {
	t.Helper()
	n, mult, i := 0, 1, 1
	for ; ; i++ {
		n += int(pk[i]&0x7f) * mult
		mult *= 128
		if pk[i]&0x80 == 0 {
			break
		}
	}
	body := mutate(append([]byte(nil), pk[i+1:i+1+n]...))
	out := []byte{pk[0]}
	for l := len(body); ; {
		b := byte(l % 128)
		l /= 128
		if l > 0 {
			b |= 0x80
		}
		out = append(out, b)
		if l == 0 {
			break
		}
	}
	return append(out, body...)
}

// cfStr encodes an MQTT string or binary field.
func cfStr(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }

// cfConnectFlags is the offset of the connect flags in a CONNECT body:
// protocol name "MQTT" (2+4 bytes) and level.
const cfConnectFlags = 7

// cfRefusedRaw sends the raw CONNECT pk and fails unless the broker refuses
// it: a CONNACK with a failure code or none, then the connection closes
// without DISCONNECT.
func cfRefusedRaw(t testing.TB, addr string, v packet.Version, pk []byte) {
	t.Helper()
	p := dial(t, addr, v)
	p.sendRaw(pk)
	got, err := p.read(peerTimeout)
	if err != nil {
		if !isClosedErr(err) {
			t.Fatalf("waiting for refusal: %v", err)
		}
		return
	}
	ack, ok := got.(*packet.Connack)
	if !ok || ack.ReasonCode == 0 {
		t.Fatalf("got %v %+v, want a refusing CONNACK or a close", got.Type(), got)
	}
	if code := p.expectClosed(); code != 0 {
		t.Fatalf("DISCONNECT 0x%02x after a refused CONNECT", byte(code))
	}
}

// cfConnectBytes encodes c for v.
func cfConnectBytes(v packet.Version, c *packet.Connect) []byte {
	c.Version = v
	return c.Append(nil, v)
}

// cfRejectsBadFlags: will QoS or will retain without the will flag.
func cfRejectsBadFlags(t *testing.T, v packet.Version) {
	_, addr := startServer(t, nil)
	for _, bits := range []byte{0x08, 0x10, 0x20} {
		pk := cfRewrite(t, cfConnectBytes(v, &packet.Connect{ClientID: []byte("c"), CleanStart: true}),
			func(b []byte) []byte { b[cfConnectFlags] |= bits; return b })
		cfRefusedRaw(t, addr, v, pk)
	}
}

// cfRejectsExtraField: a CONNECT whose flag says a field is absent but
// carries it anyway (trailing bytes) is malformed.
func cfRejectsExtraField(t *testing.T, v packet.Version, c *packet.Connect, extra string) {
	_, addr := startServer(t, nil)
	pk := cfRewrite(t, cfConnectBytes(v, c), func(b []byte) []byte { return append(b, cfStr(extra)...) })
	cfRefusedRaw(t, addr, v, pk)
}

// cfRejectsMissingUsername: user name flag 1, no user name.
func cfRejectsMissingUsername(t *testing.T, v packet.Version) {
	_, addr := startServer(t, nil)
	pk := cfRewrite(t, cfConnectBytes(v, &packet.Connect{ClientID: []byte("c"), CleanStart: true}),
		func(b []byte) []byte { b[cfConnectFlags] |= 0x80; return b })
	cfRefusedRaw(t, addr, v, pk)
}

// cfBadUTF8 is U+D800, a surrogate, encoded as UTF-8 would encode it.
var cfBadUTF8 = []byte{'a', 0xED, 0xA0, 0x80}

// cfClosesOn connects, sends pk and fails unless the broker closes the
// connection (5.0: after DISCONNECT 0x81 Malformed Packet or none).
func cfClosesOn(t *testing.T, v packet.Version, pk packet.Packet) {
	_, addr := startServer(t, nil)
	p, _ := connect(t, addr, v, nil)
	p.send(pk)
	if code := p.expectClosed(); code != 0 && code != packet.MalformedPacket {
		t.Fatalf("DISCONNECT 0x%02x, want 0x81 or none", byte(code))
	}
}

// cfKeepsBOM: U+FEFF in a topic is delivered as sent.
func cfKeepsBOM(t *testing.T, v packet.Version) {
	_, addr := startServer(t, nil)
	name := "a/\uFEFF/b\uFEFF"
	p := clean(t, addr, v, "bom")
	eq(t, "SUBACK", p.subscribe(sub(name, 0)), []packet.ReasonCode{0})
	p.publish(name, "x", 0, false)
	p.expectPub(name, "x")
}

// cfDistinctIDs: the broker's QoS 1 PUBLISHes in flight carry distinct,
// non-zero packet identifiers.
func cfDistinctIDs(t *testing.T, v packet.Version) {
	s, addr := startServer(t, nil)
	p := clean(t, addr, v, "ids")
	p.subscribe(sub("t", 1))
	seen := map[uint16]bool{}
	for i := range 5 {
		if err := s.Publish("t", []byte{byte('0' + i)}, 1, false); err != nil {
			t.Fatal(err)
		}
		pub := p.pub()
		if pub.PacketID == 0 || seen[pub.PacketID] {
			t.Fatalf("PUBLISH %d has packet id %d, in use or zero (%v)", i, pub.PacketID, seen)
		}
		seen[pub.PacketID] = true
	}
}

// cfEchoIDs: SUBACK and UNSUBACK carry the request's packet identifier.
func cfEchoIDs(t *testing.T, v packet.Version) {
	_, addr := startServer(t, nil)
	p := clean(t, addr, v, "echo")
	p.send(&packet.Subscribe{PacketID: 0xBEEF, Subscriptions: []packet.Subscription{sub("t", 1)}})
	eq(t, "SUBACK id", p.expect(packet.SUBACK).(*packet.Suback).PacketID, uint16(0xBEEF))
	p.send(&packet.Unsubscribe{PacketID: 0x0102, Filters: [][]byte{[]byte("t")}})
	eq(t, "UNSUBACK id", p.expect(packet.UNSUBACK).(*packet.Unsuback).PacketID, uint16(0x0102))
}

// cfAnswersPerQoS: QoS 0 gets no answer, QoS 1 a PUBACK, QoS 2 a PUBREC,
// each with the PUBLISH's identifier.
func cfAnswersPerQoS(t *testing.T, v packet.Version) {
	_, addr := startServer(t, nil)
	p := clean(t, addr, v, "answers")
	p.send(&packet.Publish{Topic: []byte("t"), Payload: []byte("0")})
	p.send(&packet.Pingreq{})
	p.expect(packet.PINGRESP) // nothing answered the QoS 0 PUBLISH
	p.send(&packet.Publish{QoS: 1, PacketID: 0x1111, Topic: []byte("t")})
	eq(t, "PUBACK id", p.expect(packet.PUBACK).(*packet.Puback).PacketID, uint16(0x1111))
	p.send(&packet.Publish{QoS: 2, PacketID: 0x2222, Topic: []byte("t")})
	eq(t, "PUBREC id", p.expect(packet.PUBREC).(*packet.Pubrec).PacketID, uint16(0x2222))
	p.send(&packet.Pubrel{Ack: packet.Ack{PacketID: 0x2222}})
	eq(t, "PUBCOMP id", p.expect(packet.PUBCOMP).(*packet.Pubcomp).PacketID, uint16(0x2222))
}

// cfClientIDNamesSession: the same client id finds the session again, a
// different one does not.
func cfClientIDNamesSession(t *testing.T, v packet.Version) {
	_, addr := startServer(t, nil)
	p, _ := resume(t, addr, v, "A", true)
	p.subscribe(sub("t", 1))
	p.disconnect()
	_, ack := connect(t, addr, v, persistent("B", v, 300))
	eq(t, "session present for B", ack.SessionPresent, false)
	a, ack := connect(t, addr, v, persistent("A", v, 300))
	eq(t, "session present for A", ack.SessionPresent, true)
	pub := clean(t, addr, v, "pub")
	pub.publish("t", "kept", 1, false)
	a.expectPub("t", "kept") // the subscription came back with the session
}

// cfRetainedOutlivesSession: a retained message stays after the session that
// published it has ended.
func cfRetainedOutlivesSession(t *testing.T, v packet.Version) {
	s, addr := startServer(t, nil)
	p := clean(t, addr, v, "pub")
	p.publish("r", "kept", 1, true)
	p.disconnect()
	waitGone(t, s, "pub")
	q := clean(t, addr, v, "sub")
	q.subscribe(sub("r", 1))
	got := q.expectPub("r", "kept")
	eq(t, "retain flag", got.Retain, true)
}

// cfFinishAfterUnsubscribe: a QoS 2 delivery under way when its
// subscription goes is completed, and an unacknowledged QoS 1 one resent.
func cfFinishAfterUnsubscribe(t *testing.T, v packet.Version) {
	_, addr := startServer(t, nil)
	sub2, _ := resume(t, addr, v, "s2", true)
	sub2.subscribe(sub("q2", 2))
	sub1, _ := resume(t, addr, v, "s1", true)
	sub1.subscribe(sub("q1", 1))
	pub := clean(t, addr, v, "pub")
	pub.publish("q2", "two", 2, false)
	pub.publish("q1", "one", 1, false)

	got2 := sub2.pub()
	sub2.unsubscribe("q2")
	sub2.send(&packet.Pubrec{Ack: packet.Ack{PacketID: got2.PacketID}})
	eq(t, "PUBREL id", sub2.expect(packet.PUBREL).(*packet.Pubrel).PacketID, got2.PacketID)
	sub2.send(&packet.Pubcomp{Ack: packet.Ack{PacketID: got2.PacketID}})

	got1 := sub1.pub()
	sub1.unsubscribe("q1")
	sub1.drop()
	again, _ := connect(t, addr, v, persistent("s1", v, 300))
	re := again.pub()
	eq(t, "resent id", re.PacketID, got1.PacketID)
	eq(t, "resent DUP", re.Dup, true)
	eqBytes(t, "resent payload", re.Payload, "one")
	again.ack(re)
}

// cfEveryMatchingSubscriber: a message goes to every matching subscription,
// including an offline session's, once per session.
func cfEveryMatchingSubscriber(t *testing.T, v packet.Version) {
	s, addr := startServer(t, nil)
	off, _ := resume(t, addr, v, "off", true)
	off.subscribe(sub("a/b", 1))
	off.disconnect()
	waitDetached(t, s, "off")
	a := clean(t, addr, v, "a")
	a.subscribe(sub("a/+", 1))
	b := clean(t, addr, v, "b")
	b.subscribe(sub("a/#", 1), sub("a/b", 0))
	pub := clean(t, addr, v, "pub")
	pub.publish("a/b", "m", 1, false)
	a.expectPub("a/b", "m")
	b.expectPub("a/b", "m")
	back, ack := connect(t, addr, v, persistent("off", v, 300))
	eq(t, "session present", ack.SessionPresent, true)
	back.expectPub("a/b", "m")
	barrier(t, s, b, "a/x") // b got it once
}

// cfResendInOrder: unacknowledged PUBLISHes are resent in their order.
func cfResendInOrder(t *testing.T, v packet.Version) {
	_, addr := startServer(t, nil)
	p, _ := resume(t, addr, v, "r", true)
	p.subscribe(sub("t", 1))
	pub := clean(t, addr, v, "pub")
	for _, m := range []string{"1", "2", "3"} {
		pub.publish("t", m, 1, false)
	}
	var ids []uint16
	for range 3 {
		ids = append(ids, p.pub().PacketID)
	}
	p.drop()
	q, _ := connect(t, addr, v, persistent("r", v, 300))
	for i, m := range []string{"1", "2", "3"} {
		got := q.pub()
		eqBytes(t, "resent payload", got.Payload, m)
		eq(t, "resent id", got.PacketID, ids[i])
		eq(t, "DUP", got.Dup, true)
		q.ack(got)
	}
}

// cfAcksInOrder: PUBACKs (QoS 1) or PUBRECs (QoS 2) go out in the order the
// PUBLISHes came in, whatever their identifiers.
func cfAcksInOrder(t *testing.T, v packet.Version, qos byte) {
	_, addr := startServer(t, nil)
	p := clean(t, addr, v, "acks")
	want := []uint16{9, 3, 7, 1}
	for _, id := range want {
		p.send(&packet.Publish{QoS: qos, PacketID: id, Topic: []byte("t")})
	}
	var got []uint16
	for range want {
		if qos == 1 {
			got = append(got, p.expect(packet.PUBACK).(*packet.Puback).PacketID)
		} else {
			got = append(got, p.expect(packet.PUBREC).(*packet.Pubrec).PacketID)
		}
	}
	eq(t, "acknowledged ids", got, want)
}

// cfPubrelsInOrder: the broker's PUBRELs follow the order of the PUBRECs.
func cfPubrelsInOrder(t *testing.T, v packet.Version) {
	s, addr := startServer(t, nil)
	p := clean(t, addr, v, "rel")
	p.subscribe(sub("t", 2))
	var ids []uint16
	for i := range 3 {
		if err := s.Publish("t", []byte{byte('0' + i)}, 2, false); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.pub().PacketID)
	}
	order := []uint16{ids[2], ids[0], ids[1]}
	for _, id := range order {
		p.send(&packet.Pubrec{Ack: packet.Ack{PacketID: id}})
	}
	var got []uint16
	for range order {
		got = append(got, p.expect(packet.PUBREL).(*packet.Pubrel).PacketID)
	}
	eq(t, "PUBREL ids", got, order)
	for _, id := range order {
		p.send(&packet.Pubcomp{Ack: packet.Ack{PacketID: id}})
	}
}

// cfStateKeptAcrossConnections: subscriptions and unacknowledged messages
// last as long as the session, over several connections.
func cfStateKeptAcrossConnections(t *testing.T, v packet.Version) {
	s, addr := startServer(t, nil)
	p, _ := resume(t, addr, v, "k", true)
	p.subscribe(sub("t", 1))
	pub := clean(t, addr, v, "pub")
	pub.publish("t", "inflight", 1, false)
	p.pub() // not acknowledged
	p.drop()
	waitDetached(t, s, "k")
	pub.publish("t", "queued", 1, false)
	q, _ := connect(t, addr, v, persistent("k", v, 300))
	eq(t, "payloads", []string{string(q.receive().Payload), string(q.receive().Payload)}, []string{"inflight", "queued"})
}

// cfSessionLastsWithConnection: a session that ends with its connection
// exists (and works) for as long as the connection is open.
func cfSessionLastsWithConnection(t *testing.T, v packet.Version) {
	s, addr := startServer(t, nil)
	p := clean(t, addr, v, "live")
	p.subscribe(sub("t", 1))
	for i := range 3 {
		if !hasSession(s, "live") {
			t.Fatalf("round %d: no session while connected", i)
		}
		p.send(&packet.Pingreq{})
		p.expect(packet.PINGRESP)
		barrier(t, s, p, "t")
	}
	p.disconnect()
	waitGone(t, s, "live")
}

// cfAuthRecorder records what an Authenticator saw.
type cfAuthRecorder struct {
	mu   sync.Mutex
	seen []ConnectInfo
}

func (a *cfAuthRecorder) Authenticate(i *ConnectInfo) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = append(a.seen, *i)
	return nil
}

// cfPayloadOrder: a CONNECT with every payload field present is read field
// by field in the standard's order.
func cfPayloadOrder(t *testing.T, v packet.Version) {
	rec := &cfAuthRecorder{}
	_, addr := startServer(t, func(o *Options) { o.Authenticator = rec })
	w := clean(t, addr, v, "watch")
	w.subscribe(sub("will/topic", 0))
	c := withWill(&packet.Connect{ClientID: []byte("full"), CleanStart: true,
		UsernameFlag: true, Username: []byte("user"), PasswordFlag: true, Password: []byte("secret")},
		"will/topic", "will message", 0, false)
	p, _ := connect(t, addr, v, c)
	p.abort()
	w.expectPub("will/topic", "will message")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	i := slices.IndexFunc(rec.seen, func(ci ConnectInfo) bool { return ci.ClientID == "full" })
	if i < 0 {
		t.Fatal("the authenticator never saw client full")
	}
	eq(t, "user name", rec.seen[i].Username, "user")
	eqBytes(t, "password", rec.seen[i].Password, "secret")
}

// cfAuthDeny refuses every CONNECT.
type cfAuthDeny struct{}

func (cfAuthDeny) Authenticate(*ConnectInfo) error { return errCfDenied }

type cfError string

func (e cfError) Error() string { return string(e) }

const errCfDenied = cfError("denied")

func TestConformanceV311(t *testing.T) {
	v := packet.V311
	for _, tc := range []struct {
		name string
		f    func(t *testing.T)
	}{
		{"MQTT-1.5.3-1 MQTT-3.3.2-1 v311 topic name with a surrogate closes", func(t *testing.T) {
			cfClosesOn(t, v, &packet.Publish{Topic: cfBadUTF8, Payload: []byte("x")})
		}},
		{"MQTT-1.5.3-3 v311 U+FEFF is kept in a topic", func(t *testing.T) { cfKeepsBOM(t, v) }},
		{"MQTT-2.3.1-4 v311 server packet ids in use are distinct and non-zero", func(t *testing.T) { cfDistinctIDs(t, v) }},
		{"MQTT-2.3.1-7 MQTT-3.8.4-2 v311 SUBACK and UNSUBACK echo the packet id", func(t *testing.T) { cfEchoIDs(t, v) }},
		{"MQTT-3.1.2-7 v311 retained message outlives the session", func(t *testing.T) { cfRetainedOutlivesSession(t, v) }},
		{"MQTT-3.1.2-11 v311 will QoS or retain without will flag is refused", func(t *testing.T) { cfRejectsBadFlags(t, v) }},
		{"MQTT-3.1.2-18 v311 user name flag 0 with a user name is refused", func(t *testing.T) {
			cfRejectsExtraField(t, v, &packet.Connect{ClientID: []byte("c"), CleanStart: true}, "user")
		}},
		{"MQTT-3.1.2-19 v311 user name flag 1 without a user name is refused", func(t *testing.T) { cfRejectsMissingUsername(t, v) }},
		{"MQTT-3.1.2-20 v311 password flag 0 with a password is refused", func(t *testing.T) {
			cfRejectsExtraField(t, v, &packet.Connect{ClientID: []byte("c"), CleanStart: true, UsernameFlag: true, Username: []byte("u")}, "pw")
		}},
		{"MQTT-3.1.3-1 v311 payload fields read in order", func(t *testing.T) { cfPayloadOrder(t, v) }},
		{"MQTT-3.1.3-2 v311 client id identifies the session", func(t *testing.T) { cfClientIDNamesSession(t, v) }},
		{"MQTT-3.1.3-4 v311 client id that is not UTF-8 is refused", func(t *testing.T) {
			_, addr := startServer(t, nil)
			mustRefuse(t, addr, v, &packet.Connect{ClientID: cfBadUTF8, CleanStart: true}, 0)
		}},
		{"MQTT-3.1.4-4 v311 valid CONNECT gets CONNACK 0 first", func(t *testing.T) {
			_, addr := startServer(t, nil)
			p := dial(t, addr, v)
			p.send(&packet.Connect{Version: v, ClientID: []byte("ok"), CleanStart: true})
			ack := p.expect(packet.CONNACK).(*packet.Connack)
			eq(t, "return code", ack.ReasonCode, packet.ReasonCode(0))
			eq(t, "session present", ack.SessionPresent, false)
		}},
		{"MQTT-3.2.2-5 v311 refusing CONNACK then close", func(t *testing.T) {
			_, addr := startServer(t, func(o *Options) { o.Authenticator = cfAuthDeny{} })
			p, ack := tryConnect(t, addr, v, &packet.Connect{ClientID: []byte("no"), CleanStart: true})
			if ack == nil {
				t.Fatal("closed without CONNACK, want return code 5")
			}
			eq(t, "return code", ack.ReasonCode, packet.ReasonCode(packet.ConnRefusedNotAuthorized))
			p.expectClosed()
		}},
		{"MQTT-3.2.2-6 v311 no fitting return code closes without CONNACK", func(t *testing.T) {
			_, addr := startServer(t, nil)
			// A wildcard in the will topic: no 3.1.1 return code says so.
			p, ack := tryConnect(t, addr, v, withWill(&packet.Connect{ClientID: []byte("w"), CleanStart: true}, "a/#", "x", 0, false))
			if ack != nil {
				t.Fatalf("CONNACK %+v, want a close without one", ack)
			}
			p.expectClosed()
		}},
		{"MQTT-3.3.4-1 v311 PUBLISH answered as its QoS requires", func(t *testing.T) { cfAnswersPerQoS(t, v) }},
		{"MQTT-3.8.3-1 v311 SUBSCRIBE filter that is not UTF-8 closes", func(t *testing.T) {
			cfClosesOn(t, v, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: cfBadUTF8}}})
		}},
		{"MQTT-3.10.3-1 v311 UNSUBSCRIBE filter that is not UTF-8 closes", func(t *testing.T) {
			cfClosesOn(t, v, &packet.Unsubscribe{PacketID: 1, Filters: [][]byte{cfBadUTF8}})
		}},
		{"MQTT-3.10.4-3 v311 deliveries under way complete after UNSUBSCRIBE", func(t *testing.T) { cfFinishAfterUnsubscribe(t, v) }},
		{"MQTT-4.1.0-1 v311 session state kept across connections", func(t *testing.T) { cfStateKeptAcrossConnections(t, v) }},
		{"MQTT-4.1.0-2 v311 clean session lasts as long as the connection", func(t *testing.T) { cfSessionLastsWithConnection(t, v) }},
		{"MQTT-4.5.0-1 v311 message added to every matching session", func(t *testing.T) { cfEveryMatchingSubscriber(t, v) }},
		{"MQTT-4.6.0-1 v311 resent PUBLISHes keep their order", func(t *testing.T) { cfResendInOrder(t, v) }},
		{"MQTT-4.6.0-2 v311 PUBACKs in arrival order", func(t *testing.T) { cfAcksInOrder(t, v, 1) }},
		{"MQTT-4.6.0-3 v311 PUBRECs in arrival order", func(t *testing.T) { cfAcksInOrder(t, v, 2) }},
		{"MQTT-4.6.0-4 v311 PUBRELs in PUBREC order", func(t *testing.T) { cfPubrelsInOrder(t, v) }},
		{"MQTT-7.1.1-1 v311 MQTT over TCP", func(t *testing.T) {
			_, addr := startServer(t, nil)
			p := clean(t, addr, v, "tcp")
			p.subscribe(sub("t", 2))
			clean(t, addr, v, "pub").publish("t", "over tcp", 2, false)
			p.expectPub("t", "over tcp")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.f(t)
		})
	}
}
