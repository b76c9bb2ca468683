package broker

import (
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// Focused tests for MQTT 5.0 statements, one subtest per statement named
// "MQTT-x v5 ..." so that docs/conformance.md attributes it to 5.0. Helpers
// shared with 3.1.1 are in conformance_v311_test.go.

// cfAuthz allows everything except publishing on the topic deny.
type cfAuthz struct{}

func (cfAuthz) Authorize(_, _ string, a Access, topic string) bool {
	return !(a == AccessPublish && topic == "deny")
}

// cfNoProblemProps fails if pk carries a Reason String or User Properties.
func cfNoProblemProps(t testing.TB, pk packet.Packet) {
	t.Helper()
	var pr *packet.Properties
	switch p := pk.(type) {
	case *packet.Connack:
		pr = &p.Properties
	case *packet.Puback:
		pr = &p.Properties
	case *packet.Pubrec:
		pr = &p.Properties
	case *packet.Pubrel:
		pr = &p.Properties
	case *packet.Pubcomp:
		pr = &p.Properties
	case *packet.Suback:
		pr = &p.Properties
	case *packet.Unsuback:
		pr = &p.Properties
	case *packet.Disconnect:
		pr = &p.Properties
	case *packet.Auth:
		pr = &p.Properties
	default:
		return
	}
	if pr.Has(packet.PropReasonString) || len(pr.User) > 0 {
		t.Fatalf("%v carries a Reason String or User Properties: %+v", pk.Type(), pr)
	}
}

// cfExpectChecked reads the next packet, checks it with cfNoProblemProps and
// that it has type want.
func cfExpectChecked(p *peer, want packet.Type) packet.Packet {
	p.t.Helper()
	pk := p.expect(want)
	cfNoProblemProps(p.t, pk)
	return pk
}

// cfAckFlows runs every acknowledgement Roost sends, success and failure
// codes alike, for a 5.0 client whose CONNECT properties props sets, and
// fails if any of them (or CONNACK, or the DISCONNECT of a session takeover)
// carries a Reason String or User Properties. Roost sends neither on these
// packets, so the rules that limit them (Request Problem Information 0, the
// client's Maximum Packet Size) hold; this pins that down.
func cfAckFlows(t *testing.T, props func(*packet.Properties)) {
	s, addr := startServer(t, func(o *Options) { o.Authorizer = cfAuthz{} })
	c := &packet.Connect{Version: packet.V5, ClientID: []byte("flows"), CleanStart: true}
	props(&c.Properties)
	p := dial(t, addr, packet.V5)
	p.send(c)
	cfExpectChecked(p, packet.CONNACK)

	p.send(&packet.Subscribe{PacketID: p.id(), Subscriptions: []packet.Subscription{sub("t", 2), sub("bad/#/x", 0)}})
	cfExpectChecked(p, packet.SUBACK)
	for _, pub := range []*packet.Publish{
		{QoS: 1, Topic: []byte("nobody")}, // 0x10 no matching subscribers
		{QoS: 1, Topic: []byte("deny")},   // 0x87 not authorized
		{QoS: 2, Topic: []byte("deny")},
	} {
		pub.PacketID = p.id()
		p.send(pub)
		if pub.QoS == 1 {
			cfExpectChecked(p, packet.PUBACK)
		} else {
			cfExpectChecked(p, packet.PUBREC)
		}
	}
	p.send(&packet.Pubrel{Ack: packet.Ack{PacketID: 999}}) // unknown id: PUBCOMP 0x92
	cfExpectChecked(p, packet.PUBCOMP)
	p.send(&packet.Pubrec{Ack: packet.Ack{PacketID: 998}}) // unknown id: PUBREL 0x92
	cfExpectChecked(p, packet.PUBREL)

	if err := s.Publish("t", []byte("m"), 2, false); err != nil {
		t.Fatal(err)
	}
	in := p.pub()
	p.send(&packet.Pubrec{Ack: packet.Ack{PacketID: in.PacketID}})
	cfExpectChecked(p, packet.PUBREL)
	p.send(&packet.Pubcomp{Ack: packet.Ack{PacketID: in.PacketID}})

	p.send(&packet.Unsubscribe{PacketID: p.id(), Filters: [][]byte{[]byte("t"), []byte("none")}})
	cfExpectChecked(p, packet.UNSUBACK)

	connect(t, addr, packet.V5, &packet.Connect{ClientID: []byte("flows"), CleanStart: true}) // takeover
	cfExpectChecked(p, packet.DISCONNECT)
}

// cfFirstPacketCloses sends pk as the first packet and fails unless the
// broker closes the connection without sending anything.
func cfFirstPacketCloses(t *testing.T, pk packet.Packet) {
	_, addr := startServer(t, nil)
	p := dial(t, addr, packet.V5)
	p.send(pk)
	if got, err := p.read(peerTimeout); err == nil {
		t.Fatalf("got %v %+v before any CONNACK, want a close", got.Type(), got)
	} else if !isClosedErr(err) {
		t.Fatalf("waiting for close: %v", err)
	}
}

// cfSecondConnect: a second CONNECT gets DISCONNECT 0x82 and nothing else,
// with no Session Expiry Interval, and the connection closes.
func cfSecondConnect(t *testing.T) {
	_, addr := startServer(t, nil)
	p, _ := connect5(t, addr, "twice", func(pr *packet.Properties) {
		pr.SessionExpiry = 60
		pr.Set(packet.PropSessionExpiry)
	})
	p.send(&packet.Connect{Version: packet.V5, ClientID: []byte("twice")})
	d := p.expect(packet.DISCONNECT).(*packet.Disconnect)
	eq(t, "DISCONNECT code", d.ReasonCode, packet.ProtocolError)
	eq(t, "Session Expiry Interval in DISCONNECT", d.Properties.Has(packet.PropSessionExpiry), false)
	if got, err := p.read(peerTimeout); err == nil {
		t.Fatalf("got %v after DISCONNECT, want a close", got.Type())
	} else if !isClosedErr(err) {
		t.Fatalf("waiting for close: %v", err)
	}
}

// cfSync waits until the broker has handled everything p sent: PINGREQ is
// answered in order.
func cfSync(p *peer) {
	p.t.Helper()
	p.send(&packet.Pingreq{})
	p.expect(packet.PINGRESP)
}

// cfFake starts a server on a fake clock.
func cfFake(t *testing.T, modify func(*Options)) (*Server, string, *fakeClock) {
	clk := newFakeClock()
	s, addr := startServer(t, func(o *Options) {
		o.Clock = clk
		if modify != nil {
			modify(o)
		}
	})
	return s, addr, clk
}

// cfExpiring returns a PUBLISH with a Message Expiry Interval.
func cfExpiring(topic, payload string, qos byte, sec uint32) *packet.Publish {
	pub := &packet.Publish{QoS: qos, Topic: []byte(topic), Payload: []byte(payload)}
	pub.Properties.MessageExpiry = sec
	pub.Properties.Set(packet.PropMessageExpiry)
	return pub
}

func TestConformanceV5(t *testing.T) {
	v := packet.V5
	for _, tc := range []struct {
		name string
		f    func(t *testing.T)
	}{
		{"MQTT-1.5.4-3 v5 U+FEFF is kept in a topic", func(t *testing.T) { cfKeepsBOM(t, v) }},
		{"MQTT-2.2.1-2 v5 QoS 0 PUBLISH has no packet id", func(t *testing.T) {
			s, addr := startServer(t, nil)
			p := clean(t, addr, v, "q0")
			p.subscribe(sub("t", 0))
			if err := s.Publish("t", []byte("payload"), 1, false); err != nil {
				t.Fatal(err)
			}
			got := p.pub() // a packet id would show as two extra payload bytes
			eq(t, "QoS", got.QoS, byte(0))
			eq(t, "packet id", got.PacketID, uint16(0))
			eqBytes(t, "payload", got.Payload, "payload")
		}},
		{"MQTT-2.2.1-4 v5 server packet ids in use are distinct and non-zero", func(t *testing.T) { cfDistinctIDs(t, v) }},
		{"MQTT-2.2.1-5 v5 acknowledgements echo the PUBLISH id", func(t *testing.T) {
			cfAnswersPerQoS(t, v)
			s, addr := startServer(t, nil)
			p := clean(t, addr, v, "rel")
			p.subscribe(sub("t", 2))
			if err := s.Publish("t", []byte("m"), 2, false); err != nil {
				t.Fatal(err)
			}
			in := p.pub()
			p.send(&packet.Pubrec{Ack: packet.Ack{PacketID: in.PacketID}})
			eq(t, "PUBREL id", p.expect(packet.PUBREL).(*packet.Pubrel).PacketID, in.PacketID)
			p.send(&packet.Pubcomp{Ack: packet.Ack{PacketID: in.PacketID}})
		}},
		{"MQTT-2.2.1-6 v5 SUBACK and UNSUBACK echo the packet id", func(t *testing.T) { cfEchoIDs(t, v) }},
		{"MQTT-3.1.2-7 v5 will kept with the session and published", func(t *testing.T) {
			s, addr := startServer(t, nil)
			w := clean(t, addr, v, "watch")
			w.subscribe(sub("will", 1))
			p, _ := connect(t, addr, v, withWill(persistent("dies", v, 300), "will", "gone", 1, false))
			barrier(t, s, w, "will") // nothing published while connected
			p.abort()
			w.expectPub("will", "gone")
		}},
		{"MQTT-3.1.2-11 v5 will QoS without will flag is refused", func(t *testing.T) { cfRejectsBadFlags(t, v) }},
		{"MQTT-3.1.2-16 v5 user name flag 0 with a user name is refused", func(t *testing.T) {
			cfRejectsExtraField(t, v, &packet.Connect{ClientID: []byte("c"), CleanStart: true}, "user")
		}},
		{"MQTT-3.1.2-18 v5 password flag 0 with a password is refused", func(t *testing.T) {
			cfRejectsExtraField(t, v, &packet.Connect{ClientID: []byte("c"), CleanStart: true, UsernameFlag: true, Username: []byte("u")}, "pw")
		}},
		{"MQTT-3.1.2-29 v5 Request Problem Information 0: no Reason String or User Properties", func(t *testing.T) {
			cfAckFlows(t, func(pr *packet.Properties) {
				pr.RequestProblemInfo = 0
				pr.Set(packet.PropRequestProblemInfo)
			})
		}},
		{"MQTT-3.2.2-19 MQTT-3.2.2-20 MQTT-3.4.2-3 MQTT-3.5.2-2 MQTT-3.5.2-3 MQTT-3.6.2-2 MQTT-3.6.2-3 " +
			"MQTT-3.7.2-2 MQTT-3.7.2-3 MQTT-3.9.2-1 MQTT-3.9.2-2 MQTT-3.11.2-1 MQTT-3.11.2-2 MQTT-3.14.2-3 MQTT-3.14.2-4 " +
			"v5 no Reason String or User Properties beyond a small Maximum Packet Size", func(t *testing.T) {
			cfAckFlows(t, func(pr *packet.Properties) {
				pr.MaximumPacketSize = 64
				pr.Set(packet.PropMaximumPacketSize)
			})
		}},
		{"MQTT-3.1.3-2 v5 client id identifies the session", func(t *testing.T) { cfClientIDNamesSession(t, v) }},
		{"MQTT-3.1.3-3 v5 CONNECT without a client id is refused", func(t *testing.T) {
			_, addr := startServer(t, nil)
			pk := cfRewrite(t, cfConnectBytes(v, &packet.Connect{ClientID: []byte(""), CleanStart: true}),
				func(b []byte) []byte { return b[:len(b)-2] })
			cfRefusedRaw(t, addr, v, pk)
		}},
		{"MQTT-3.1.3-4 v5 client id that is not UTF-8 is refused", func(t *testing.T) {
			_, addr := startServer(t, nil)
			mustRefuse(t, addr, v, &packet.Connect{ClientID: cfBadUTF8, CleanStart: true}, 0)
		}},
		{"MQTT-3.1.3-12 v5 user name that is not UTF-8 is refused", func(t *testing.T) {
			_, addr := startServer(t, nil)
			mustRefuse(t, addr, v, &packet.Connect{ClientID: []byte("c"), CleanStart: true, UsernameFlag: true, Username: cfBadUTF8}, 0)
		}},
		{"MQTT-3.1.4-4 v5 clean start 1 discards the session, 0 resumes it", func(t *testing.T) {
			s, addr := startServer(t, nil)
			p, _ := resume(t, addr, v, "cs", true)
			p.subscribe(sub("old", 1))
			p.disconnect()
			p, ack := connect(t, addr, v, persistent("cs", v, 300))
			eq(t, "session present (clean start 0)", ack.SessionPresent, true)
			p.disconnect()
			c := persistent("cs", v, 300)
			c.CleanStart = true
			p, ack = connect(t, addr, v, c)
			eq(t, "session present (clean start 1)", ack.SessionPresent, false)
			p.subscribe(sub("mark", 0))
			if err := s.Publish("old", []byte("stale"), 1, false); err != nil {
				t.Fatal(err)
			}
			barrier(t, s, p, "mark") // the old subscription is gone
		}},
		{"MQTT-3.2.0-2 v5 one CONNACK per connection", func(t *testing.T) {
			_, addr := startServer(t, nil)
			p, _ := connect(t, addr, v, nil)
			p.send(&packet.Connect{Version: v, ClientID: []byte("again"), CleanStart: true})
			for {
				got, err := p.read(peerTimeout)
				if err != nil {
					if !isClosedErr(err) {
						t.Fatalf("waiting for close: %v", err)
					}
					break
				}
				if got.Type() == packet.CONNACK {
					t.Fatal("a second CONNACK")
				}
			}
		}},
		{"MQTT-3.2.2-7 v5 failure CONNACK then close", func(t *testing.T) {
			_, addr := startServer(t, func(o *Options) { o.Authenticator = cfAuthDeny{} })
			mustRefuse(t, addr, v, &packet.Connect{ClientID: []byte("no"), CleanStart: true}, packet.NotAuthorized)
		}},
		{"MQTT-3.2.2-10 v5 SUBSCRIBE QoS 0 1 2 accepted", func(t *testing.T) {
			_, addr := startServer(t, nil)
			p := clean(t, addr, v, "qos")
			eq(t, "SUBACK", p.subscribe(sub("a", 0), sub("b", 1), sub("c", 2)), []packet.ReasonCode{0, 1, 2})
		}},
		{"MQTT-3.2.2-13 v5 retained will without retain support is refused", func(t *testing.T) {
			_, addr := startServer(t, func(o *Options) { o.Retain.Disabled = true })
			mustRefuse(t, addr, v, withWill(&packet.Connect{ClientID: []byte("w"), CleanStart: true}, "will", "x", 0, true), packet.RetainNotSupported)
		}},
		{"MQTT-3.3.2-1 v5 topic name with a surrogate closes", func(t *testing.T) {
			cfClosesOn(t, v, &packet.Publish{Topic: cfBadUTF8, Payload: []byte("x")})
		}},
		{"MQTT-3.3.2-13 v5 Response Topic that is not UTF-8 closes", func(t *testing.T) {
			pub := &packet.Publish{Topic: []byte("t")}
			pub.Properties.ResponseTopic = cfBadUTF8
			pub.Properties.Set(packet.PropResponseTopic)
			cfClosesOn(t, v, pub)
		}},
		{"MQTT-3.3.2-19 v5 Content Type that is not UTF-8 closes", func(t *testing.T) {
			pub := &packet.Publish{Topic: []byte("t")}
			pub.Properties.ContentType = cfBadUTF8
			pub.Properties.Set(packet.PropContentType)
			cfClosesOn(t, v, pub)
		}},
		{"MQTT-3.3.4-1 v5 PUBLISH answered as its QoS requires", func(t *testing.T) { cfAnswersPerQoS(t, v) }},
		{"MQTT-3.8.4-7 v5 one SUBACK code per filter: granted QoS or failure", func(t *testing.T) {
			_, addr := startServer(t, nil)
			p := clean(t, addr, v, "codes")
			eq(t, "SUBACK", p.subscribe(sub("a", 1), sub("b/#/c", 0), sub("c", 2)),
				[]packet.ReasonCode{packet.GrantedQoS1, packet.TopicFilterInvalid, packet.GrantedQoS2})
		}},
		{"MQTT-3.10.3-1 v5 UNSUBSCRIBE filter that is not UTF-8 closes", func(t *testing.T) {
			cfClosesOn(t, v, &packet.Unsubscribe{PacketID: 1, Filters: [][]byte{cfBadUTF8}})
		}},
		{"MQTT-3.10.4-3 v5 deliveries under way complete after UNSUBSCRIBE", func(t *testing.T) { cfFinishAfterUnsubscribe(t, v) }},
		{"MQTT-3.11.3-2 v5 one UNSUBACK code per filter", func(t *testing.T) {
			_, addr := startServer(t, nil)
			p := clean(t, addr, v, "unsub")
			p.subscribe(sub("a", 1))
			eq(t, "UNSUBACK", p.unsubscribe("a", "none").ReasonCodes, []packet.ReasonCode{packet.Success, packet.NoSubscriptionExisted})
		}},
		{"MQTT-3.14.0-1 v5 no DISCONNECT before a successful CONNACK", func(t *testing.T) {
			cfFirstPacketCloses(t, &packet.Pingreq{})
			_, addr := startServer(t, func(o *Options) { o.Authenticator = cfAuthDeny{} })
			mustRefuse(t, addr, v, &packet.Connect{ClientID: []byte("no"), CleanStart: true}, packet.NotAuthorized) // fails on a DISCONNECT
		}},
		{"MQTT-3.14.2-2 MQTT-3.14.4-1 MQTT-3.14.4-2 MQTT-4.13.2-1 v5 server DISCONNECT: no Session Expiry, nothing after, close", func(t *testing.T) {
			cfSecondConnect(t)
		}},
		{"MQTT-3.14.2-2 v5 takeover DISCONNECT has no Session Expiry", func(t *testing.T) {
			_, addr := startServer(t, nil)
			p, _ := connect(t, addr, v, persistent("taken", v, 300))
			connect(t, addr, v, persistent("taken", v, 300))
			d := p.expect(packet.DISCONNECT).(*packet.Disconnect)
			eq(t, "DISCONNECT code", d.ReasonCode, packet.SessionTakenOver)
			eq(t, "Session Expiry Interval in DISCONNECT", d.Properties.Has(packet.PropSessionExpiry), false)
			p.expectClosed()
		}},
		{"MQTT-3.15.1-1 v5 AUTH with fixed-header flags set is malformed", func(t *testing.T) {
			_, addr := startServer(t, nil)
			p, _ := connect(t, addr, v, nil)
			p.sendRaw([]byte{byte(packet.AUTH)<<4 | 0x01, 0})
			eq(t, "DISCONNECT code", p.expectClosed(), packet.MalformedPacket)
		}},
		{"MQTT-4.1.0-1 v5 session state kept while connected", func(t *testing.T) {
			s, addr, clk := cfFake(t, nil)
			p, _ := connect5(t, addr, "held", func(pr *packet.Properties) {
				pr.SessionExpiry = 1
				pr.Set(packet.PropSessionExpiry)
			})
			p.subscribe(sub("t", 1))
			clk.Advance(time.Hour)
			if !hasSession(s, "held") {
				t.Fatal("session discarded while connected")
			}
			barrier(t, s, p, "t")
		}},
		{"MQTT-4.1.0-2 v5 session state discarded after the expiry interval", func(t *testing.T) {
			s, addr, clk := cfFake(t, nil)
			p, _ := connect(t, addr, v, persistent("exp", v, 10))
			p.subscribe(sub("t", 1))
			p.disconnect()
			waitDetached(t, s, "exp")
			clk.Advance(9 * time.Second)
			if !hasSession(s, "exp") {
				t.Fatal("session discarded before its expiry interval")
			}
			clk.Advance(2 * time.Second)
			waitGone(t, s, "exp")
			_, ack := connect(t, addr, v, persistent("exp", v, 10))
			eq(t, "session present", ack.SessionPresent, false)
		}},
		{"MQTT-4.2-1 v5 MQTT over TCP", func(t *testing.T) {
			_, addr := startServer(t, nil)
			p := clean(t, addr, v, "tcp")
			p.subscribe(sub("t", 2))
			clean(t, addr, v, "pub").publish("t", "over tcp", 2, false)
			p.expectPub("t", "over tcp")
		}},
		{"MQTT-4.3.2-2 v5 QoS 1 PUBLISH has a packet id, QoS 1 and DUP 0", func(t *testing.T) {
			_, addr := startServer(t, nil)
			p := clean(t, addr, v, "q1")
			p.subscribe(sub("t", 1))
			clean(t, addr, v, "pub").publish("t", "m", 1, false)
			got := p.receive()
			if got.PacketID == 0 || got.QoS != 1 || got.Dup {
				t.Fatalf("PUBLISH id %d QoS %d DUP %v, want a non-zero id, QoS 1, DUP 0", got.PacketID, got.QoS, got.Dup)
			}
		}},
		{"MQTT-4.3.2-3 v5 QoS 1 PUBLISH unacknowledged until PUBACK", func(t *testing.T) {
			s, addr := startServer(t, nil)
			p, _ := resume(t, addr, v, "unacked", true)
			p.subscribe(sub("t", 1))
			clean(t, addr, v, "pub").publish("t", "m", 1, false)
			first := p.pub()
			p.drop()
			p, _ = connect(t, addr, v, persistent("unacked", v, 300))
			re := p.pub()
			eq(t, "resent id", re.PacketID, first.PacketID)
			eq(t, "DUP", re.Dup, true)
			p.ack(re)
			cfSync(p)
			p.drop()
			waitDetached(t, s, "unacked")
			p, _ = connect(t, addr, v, persistent("unacked", v, 300))
			barrier(t, s, p, "t") // acknowledged: not resent
		}},
		{"MQTT-4.3.2-5 v5 packet id reused after PUBACK is a new message", func(t *testing.T) {
			_, addr := startServer(t, nil)
			sb := clean(t, addr, v, "sub")
			sb.subscribe(sub("t", 1))
			p := clean(t, addr, v, "pub")
			p.sendPub(&packet.Publish{QoS: 1, PacketID: 5, Topic: []byte("t"), Payload: []byte("a")})
			p.sendPub(&packet.Publish{QoS: 1, PacketID: 5, Dup: true, Topic: []byte("t"), Payload: []byte("b")})
			eq(t, "payloads", sb.payloads(2), []string{"a", "b"})
		}},
		{"MQTT-4.3.3-3 v5 QoS 2 PUBLISH unacknowledged until PUBREC", func(t *testing.T) {
			_, addr := startServer(t, nil)
			p, _ := resume(t, addr, v, "q2", true)
			p.subscribe(sub("t", 2))
			clean(t, addr, v, "pub").publish("t", "m", 2, false)
			first := p.pub()
			p.drop()
			p, _ = connect(t, addr, v, persistent("q2", v, 300))
			re := p.pub()
			eq(t, "resent id", re.PacketID, first.PacketID)
			eq(t, "DUP", re.Dup, true)
			p.ack(re)
		}},
		{"MQTT-4.3.3-5 v5 PUBREL unacknowledged until PUBCOMP", func(t *testing.T) {
			s, addr := startServer(t, nil)
			p, _ := resume(t, addr, v, "rel", true)
			p.subscribe(sub("t", 2))
			clean(t, addr, v, "pub").publish("t", "m", 2, false)
			in := p.pub()
			p.send(&packet.Pubrec{Ack: packet.Ack{PacketID: in.PacketID}})
			p.expect(packet.PUBREL)
			p.drop()
			p, _ = connect(t, addr, v, persistent("rel", v, 300))
			eq(t, "resent PUBREL id", p.expect(packet.PUBREL).(*packet.Pubrel).PacketID, in.PacketID)
			p.send(&packet.Pubcomp{Ack: packet.Ack{PacketID: in.PacketID}})
			cfSync(p)
			p.drop()
			waitDetached(t, s, "rel")
			p, _ = connect(t, addr, v, persistent("rel", v, 300))
			barrier(t, s, p, "t") // completed: nothing resent
		}},
		{"MQTT-4.3.3-7 v5 a QoS 2 PUBLISH sent is not expired", func(t *testing.T) {
			_, addr, clk := cfFake(t, nil)
			p, _ := resume(t, addr, v, "noexp", true)
			p.subscribe(sub("t", 2))
			clean(t, addr, v, "pub").sendPub(cfExpiring("t", "m", 2, 10))
			first := p.pub()
			p.drop()
			clk.Advance(time.Minute)
			p, _ = connect(t, addr, v, persistent("noexp", v, 300))
			re := p.pub()
			eq(t, "resent id", re.PacketID, first.PacketID)
			p.ack(re)
		}},
		{"MQTT-4.3.3-9 v5 packet id reused after a failure PUBREC is a new message", func(t *testing.T) {
			_, addr := startServer(t, func(o *Options) { o.Authorizer = cfAuthz{} })
			sb := clean(t, addr, v, "sub")
			sb.subscribe(sub("ok", 2))
			p := clean(t, addr, v, "pub")
			eq(t, "PUBREC code", code(p.sendPub(&packet.Publish{QoS: 2, PacketID: 7, Topic: []byte("deny")})), packet.NotAuthorized)
			eq(t, "PUBREC code", code(p.sendPub(&packet.Publish{QoS: 2, PacketID: 7, Topic: []byte("ok"), Payload: []byte("new")})), packet.Success)
			p.send(&packet.Pubrel{Ack: packet.Ack{PacketID: 7}})
			eq(t, "PUBCOMP code", code(p.expect(packet.PUBCOMP)), packet.Success)
			sb.expectPub("ok", "new")
		}},
		{"MQTT-4.3.3-13 v5 QoS 2 handshake completes after the message expired", func(t *testing.T) {
			_, addr, clk := cfFake(t, nil)
			p := clean(t, addr, v, "pub")
			pub := cfExpiring("t", "m", 2, 1)
			pub.PacketID = 3
			p.sendPub(pub)
			clk.Advance(time.Minute)
			p.send(&packet.Pubrel{Ack: packet.Ack{PacketID: 3}})
			eq(t, "PUBCOMP code", code(p.expect(packet.PUBCOMP)), packet.Success)
		}},
		{"MQTT-4.4.0-2 v5 failure PUBACK or PUBREC ends the delivery", func(t *testing.T) {
			s, addr := startServer(t, nil)
			p, _ := resume(t, addr, v, "fail", true)
			p.subscribe(sub("t", 2))
			pub := clean(t, addr, v, "pub")
			pub.publish("t", "one", 1, false)
			pub.publish("t", "two", 2, false)
			one, two := p.pub(), p.pub()
			p.send(&packet.Puback{Ack: packet.Ack{PacketID: one.PacketID, ReasonCode: packet.UnspecifiedError}})
			p.send(&packet.Pubrec{Ack: packet.Ack{PacketID: two.PacketID, ReasonCode: packet.UnspecifiedError}})
			cfSync(p) // no PUBREL before PINGRESP
			p.drop()
			waitDetached(t, s, "fail")
			p, _ = connect(t, addr, v, persistent("fail", v, 300))
			barrier(t, s, p, "t") // nothing resent
		}},
		{"MQTT-4.5.0-1 v5 message added to every matching session", func(t *testing.T) { cfEveryMatchingSubscriber(t, v) }},
		{"MQTT-4.8.2-4 v5 shared QoS 2 delivery completed to the same client", func(t *testing.T) {
			_, addr := startServer(t, nil)
			p, _ := resume(t, addr, v, "member", true)
			p.subscribe(sub("$share/g/t", 2))
			clean(t, addr, v, "pub").publish("t", "m", 2, false)
			first := p.pub()
			p.drop()
			p, _ = connect(t, addr, v, persistent("member", v, 300))
			re := p.pub()
			eq(t, "resent id", re.PacketID, first.PacketID)
			eq(t, "DUP", re.Dup, true)
			p.send(&packet.Pubrec{Ack: packet.Ack{PacketID: re.PacketID}})
			p.expect(packet.PUBREL)
			p.drop()
			p, _ = connect(t, addr, v, persistent("member", v, 300))
			eq(t, "resent PUBREL id", p.expect(packet.PUBREL).(*packet.Pubrel).PacketID, first.PacketID)
			p.send(&packet.Pubcomp{Ack: packet.Ack{PacketID: first.PacketID}})
		}},
		{"MQTT-4.8.2-6 v5 failure PUBACK from a shared member drops the message", func(t *testing.T) {
			s, addr := startServer(t, nil)
			b, _ := resume(t, addr, v, "b", true)
			b.subscribe(sub("$share/g/t", 1), sub("mark", 0))
			b.disconnect()
			waitDetached(t, s, "b")
			a := clean(t, addr, v, "a")
			a.subscribe(sub("$share/g/t", 1))
			clean(t, addr, v, "pub").publish("t", "m", 1, false)
			got := a.pub() // the online member gets it
			a.send(&packet.Puback{Ack: packet.Ack{PacketID: got.PacketID, ReasonCode: packet.ImplementationSpecificError}})
			cfSync(a) // the PUBACK was handled
			b, ack := connect(t, addr, v, persistent("b", v, 300))
			eq(t, "session present", ack.SessionPresent, true)
			barrier(t, s, b, "mark") // not handed to the other member
		}},
		{"MQTT-4.9.0-1 v5 send quota is the client's Receive Maximum", func(t *testing.T) {
			s, addr := startServer(t, nil)
			p, ack := connect5(t, addr, "quota", func(pr *packet.Properties) {
				pr.ReceiveMaximum = 2
				pr.Set(packet.PropReceiveMaximum)
			})
			if !ack.Properties.Has(packet.PropReceiveMaximum) || ack.Properties.ReceiveMaximum == 0 {
				t.Fatalf("CONNACK Receive Maximum %d, want a non-zero one", ack.Properties.ReceiveMaximum)
			}
			p.subscribe(sub("t", 1), sub("mark", 0))
			for _, m := range []string{"1", "2", "3"} {
				if err := s.Publish("t", []byte(m), 1, false); err != nil {
					t.Fatal(err)
				}
			}
			one, two := p.pub(), p.pub()
			barrier(t, s, p, "mark") // the third waits for quota
			p.ack(one)
			eqBytes(t, "third", p.pub().Payload, "3")
			p.ack(two)
		}},
		{"MQTT-4.13.2-1 v5 failure CONNACK closes the connection", func(t *testing.T) {
			_, addr := startServer(t, nil)
			mustRefuse(t, addr, v, &packet.Connect{ClientID: []byte("c"), CleanStart: true, WillFlag: true, WillTopic: []byte("a/+")}, packet.TopicNameInvalid)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.f(t)
		})
	}
}
