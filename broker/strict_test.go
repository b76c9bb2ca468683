package broker

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// Byte-level tests of the stricter protocol checks (strict.go): each bad
// packet is written as raw bytes, and the broker must answer 5.0 with the
// reason code before closing and 3.1.1 by closing.

// strictClosed fails unless p's connection is closed, after a DISCONNECT
// carrying want5 for 5.0 and after none for 3.1.1.
func strictClosed(t *testing.T, p *peer, v packet.Version, want5 packet.ReasonCode) {
	t.Helper()
	code := p.closedWithin(peerTimeout)
	want := want5
	if v != packet.V5 {
		want = 0
	}
	if code != want {
		t.Fatalf("closed after DISCONNECT 0x%02x, want 0x%02x", byte(code), byte(want))
	}
}

// strictConnectBytes encodes a CONNECT with the given client id, user name
// (none when nil) and will topic (no will when nil), fields the encoder
// writes as they are.
func strictConnectBytes(v packet.Version, id, user, will []byte) []byte {
	c := &packet.Connect{Version: v, ClientID: id, CleanStart: true}
	if user != nil {
		c.UsernameFlag, c.Username = true, user
	}
	if will != nil {
		c.WillFlag, c.WillTopic = true, will
	}
	return c.Append(nil, v)
}

// strictStr is a two-byte length prefix and s.
func strictStr(s string) []byte {
	return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...)
}

// strictPacket builds a packet from its first byte and body (remaining
// length below 128).
func strictPacket(first byte, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	return append([]byte{first, byte(len(b))}, b...)
}

// strictProps is what 5.0 puts between the variable header and the payload
// (an empty property list); 3.1.1 has nothing there.
func strictProps(v packet.Version, props ...byte) []byte {
	if v != packet.V5 {
		return nil
	}
	return append([]byte{byte(len(props))}, props...)
}

// Control characters in a client id, user name or will topic refuse the
// CONNECT: a client id like any refused id (3.1.1 return code 2:
// [MQTT-3.1.3-9] (3.1.1); 5.0 0x85), the others as malformed (3.1.1 closes, 5.0
// CONNACK 0x81). (3.1.1 section 1.5.3, 5.0 section 1.5.4: no statement ID.)
func TestStrictControlCharsInConnect(t *testing.T) {
	_, addr := startServer(t, nil)
	cases := []struct {
		name           string
		id, user, will string
		noUser, noWill bool
		want5          packet.ReasonCode
		want3          byte // 3.1.1 CONNACK return code; 0: closed without CONNACK
	}{
		{name: "client id U+0001", id: "a\x01b", noUser: true, noWill: true, want5: packet.ClientIdentifierNotValid, want3: packet.ConnRefusedIdentifier},
		{name: "client id U+001F", id: "a\x1f", noUser: true, noWill: true, want5: packet.ClientIdentifierNotValid, want3: packet.ConnRefusedIdentifier},
		{name: "client id U+007F", id: "\x7f", noUser: true, noWill: true, want5: packet.ClientIdentifierNotValid, want3: packet.ConnRefusedIdentifier},
		{name: "user name U+0080", id: "ok", user: "u\xc2\x80", noWill: true, want5: packet.MalformedPacket},
		{name: "user name TAB", id: "ok", user: "a\tb", noWill: true, want5: packet.MalformedPacket},
		{name: "will topic U+009F", id: "ok", noUser: true, will: "w/\xc2\x9f", want5: packet.MalformedPacket},
		{name: "will topic LF", id: "ok", noUser: true, will: "w/\n", want5: packet.MalformedPacket},
	}
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var user, will []byte
				if !tc.noUser {
					user = []byte(tc.user)
				}
				if !tc.noWill {
					will = []byte(tc.will)
				}
				p := dial(t, addr, v)
				p.sendRaw(strictConnectBytes(v, []byte(tc.id), user, will))
				pk, err := p.read(peerTimeout)
				switch {
				case err != nil && isClosedErr(err) && v != packet.V5 && tc.want3 == 0:
					return // closed without CONNACK
				case err != nil:
					t.Fatalf("waiting for CONNACK: %v", err)
				}
				ack, ok := pk.(*packet.Connack)
				if !ok {
					t.Fatalf("got %v, want CONNACK", pk.Type())
				}
				want := tc.want5
				if v != packet.V5 {
					want = packet.ReasonCode(tc.want3)
				}
				if ack.ReasonCode != want {
					t.Fatalf("CONNACK 0x%02x, want 0x%02x", byte(ack.ReasonCode), byte(want))
				}
				p.closedWithin(peerTimeout)
			})
		}
	})
}

// Control characters in a PUBLISH topic or a SUBSCRIBE/UNSUBSCRIBE filter
// close the connection (5.0: DISCONNECT 0x81 Malformed Packet), and
// U+00A0, the first code point after the C1 range, is accepted.
func TestStrictControlCharsInTopics(t *testing.T) {
	_, addr := startServer(t, nil)
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		bad := []struct {
			name string
			pkt  []byte
		}{
			{"PUBLISH topic U+0001", strictPacket(0x30, strictStr("t/\x01"), strictProps(v), []byte("x"))},
			{"PUBLISH QoS 1 topic U+007F", strictPacket(0x32, strictStr("\x7ft"), []byte{0, 1}, strictProps(v))},
			{"PUBLISH topic U+0085", strictPacket(0x30, strictStr("t/\xc2\x85"), strictProps(v))},
			{"SUBSCRIBE filter U+001B", strictPacket(0x82, []byte{0, 1}, strictProps(v), strictStr("a/\x1b/#"), []byte{0})},
			{"SUBSCRIBE second filter U+009F", strictPacket(0x82, []byte{0, 1}, strictProps(v), strictStr("ok"), []byte{0}, strictStr("\xc2\x9f"), []byte{1})},
			{"UNSUBSCRIBE filter U+0008", strictPacket(0xa2, []byte{0, 1}, strictProps(v), strictStr("a\x08"))},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				p := clean(t, addr, v, "strict-ctl-"+tc.name)
				p.sendRaw(tc.pkt)
				strictClosed(t, p, v, packet.MalformedPacket)
			})
		}
		t.Run("U+00A0 accepted", func(t *testing.T) {
			p := clean(t, addr, v, "strict-nbsp")
			if codes := p.subscribe(sub("nb\xc2\xa0sp", 1)); codes[0] != 1 {
				t.Fatalf("SUBACK %v", codes)
			}
			p.publish("nb\xc2\xa0sp", "hi", 0, false)
			p.expectPub("nb\xc2\xa0sp", "hi")
		})
	})
}

// limits.allow_control_chars lets them through: a client whose id, user
// name, will and topics carry control characters connects and round-trips.
func TestStrictControlCharsAllowed(t *testing.T) {
	_, addr := startServer(t, func(o *Options) { o.Limits.AllowControlChars = true })
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		p := dial(t, addr, v)
		p.sendRaw(strictConnectBytes(v, []byte("id\x01"), []byte("u\x7f"), []byte("w\x1f")))
		if ack := p.expect(packet.CONNACK).(*packet.Connack); ack.ReasonCode != 0 {
			t.Fatalf("CONNACK 0x%02x", byte(ack.ReasonCode))
		}
		if codes := p.subscribe(sub("c/\x01/\xc2\x9f", 1)); codes[0] != 1 {
			t.Fatalf("SUBACK %v", codes)
		}
		p.publish("c/\x01/\xc2\x9f", "x", 0, false)
		p.expectPub("c/\x01/\xc2\x9f", "x")
		if un := p.unsubscribe("c/\x01/\xc2\x9f"); v == packet.V5 && un.ReasonCodes[0] != packet.Success {
			t.Fatalf("UNSUBACK %v", un.ReasonCodes)
		}
	})
}

// An empty topic filter in SUBSCRIBE or UNSUBSCRIBE is a protocol error: the
// connection closes (5.0: DISCONNECT 0x82). [MQTT-4.7.3-1]
func TestStrictEmptyFilter(t *testing.T) {
	_, addr := startServer(t, nil)
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		bad := []struct {
			name string
			pkt  []byte
		}{
			{"SUBSCRIBE", strictPacket(0x82, []byte{0, 7}, strictProps(v), []byte{0, 0, 1})},
			{"SUBSCRIBE second filter", strictPacket(0x82, []byte{0, 7}, strictProps(v), strictStr("a"), []byte{0}, []byte{0, 0, 0})},
			{"UNSUBSCRIBE", strictPacket(0xa2, []byte{0, 7}, strictProps(v), []byte{0, 0})},
			{"UNSUBSCRIBE second filter", strictPacket(0xa2, []byte{0, 7}, strictProps(v), strictStr("a"), []byte{0, 0})},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				p := clean(t, addr, v, "strict-empty-"+tc.name)
				p.sendRaw(tc.pkt)
				strictClosed(t, p, v, packet.ProtocolError)
			})
		}
	})
}

// A PUBLISH from a client must not carry a Subscription Identifier
// [MQTT-3.3.4-6]: DISCONNECT 0x82. (3.1.1 has no properties.)
func TestStrictSubscriptionIDFromClient(t *testing.T) {
	_, addr := startServer(t, nil)
	v := packet.V5
	for _, tc := range []struct {
		name string
		pkt  []byte
	}{
		{"QoS 0", strictPacket(0x30, strictStr("t"), []byte{2, 0x0b, 1}, []byte("x"))},
		{"QoS 1", strictPacket(0x32, strictStr("t"), []byte{0, 1}, []byte{2, 0x0b, 7})},
		{"two of them", strictPacket(0x30, strictStr("t"), []byte{4, 0x0b, 1, 0x0b, 2})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			watcher := clean(t, addr, v, "strict-subid-sub")
			watcher.subscribe(sub("t", 1))
			p := clean(t, addr, v, "strict-subid-"+tc.name)
			p.sendRaw(tc.pkt)
			strictClosed(t, p, v, packet.ProtocolError)
			watcher.expectNothing(50 * time.Millisecond)
		})
	}
}

// An acknowledgement that does not fit the QoS of the message in flight is
// a protocol error (5.0: DISCONNECT 0x82): PUBREC or PUBCOMP for QoS 1,
// PUBACK for QoS 2, PUBCOMP before PUBREC. One for an unknown id is not.
func TestStrictWrongAcknowledgement(t *testing.T) {
	s, addr := startServer(t, nil)
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		cases := []struct {
			name string
			qos  byte
			ack  func(id uint16) []byte
		}{
			{"PUBREC for QoS 1", 1, func(id uint16) []byte { return strictPacket(0x50, []byte{byte(id >> 8), byte(id)}) }},
			{"PUBCOMP for QoS 1", 1, func(id uint16) []byte { return strictPacket(0x70, []byte{byte(id >> 8), byte(id)}) }},
			{"PUBACK for QoS 2", 2, func(id uint16) []byte { return strictPacket(0x40, []byte{byte(id >> 8), byte(id)}) }},
			{"PUBCOMP before PUBREC", 2, func(id uint16) []byte { return strictPacket(0x70, []byte{byte(id >> 8), byte(id)}) }},
		}
		if v == packet.V5 {
			cases = append(cases, struct {
				name string
				qos  byte
				ack  func(id uint16) []byte
			}{"PUBREC 0x80 for QoS 1", 1, func(id uint16) []byte { return strictPacket(0x50, []byte{byte(id >> 8), byte(id), 0x80}) }})
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				p := clean(t, addr, v, "strict-ack-"+tc.name)
				p.subscribe(sub("ack/t", tc.qos))
				if err := s.Publish("ack/t", []byte("m"), tc.qos, false); err != nil {
					t.Fatal(err)
				}
				pub := p.expect(packet.PUBLISH).(*packet.Publish)
				p.sendRaw(tc.ack(pub.PacketID))
				strictClosed(t, p, v, packet.ProtocolError)
			})
		}
		t.Run("unknown ids are not errors", func(t *testing.T) {
			p := clean(t, addr, v, "strict-ack-unknown")
			p.sendRaw(strictPacket(0x40, []byte{0, 9})) // PUBACK
			p.sendRaw(strictPacket(0x70, []byte{0, 9})) // PUBCOMP
			p.sendRaw(strictPacket(0x50, []byte{0, 9})) // PUBREC: PUBREL (5.0: 0x92)
			rel := p.expect(packet.PUBREL).(*packet.Pubrel)
			if v == packet.V5 && rel.ReasonCode != packet.PacketIdentifierNotFound {
				t.Fatalf("PUBREL 0x%02x, want 0x92", byte(rel.ReasonCode))
			}
			p.sendRaw([]byte{0xc0, 0}) // PINGREQ
			p.expect(packet.PINGRESP)
		})
		t.Run("right acknowledgements still work", func(t *testing.T) {
			p := clean(t, addr, v, "strict-ack-right")
			p.subscribe(sub("ack/ok", 2))
			for _, qos := range []byte{1, 2, 1} {
				if err := s.Publish("ack/ok", []byte("m"), qos, false); err != nil {
					t.Fatal(err)
				}
				p.expectPub("ack/ok", "m")
			}
			p.sendRaw([]byte{0xc0, 0})
			p.expect(packet.PINGRESP)
		})
	})
}

// A 5.0 client whose Maximum Packet Size is smaller than the CONNACK Roost
// would send is closed without a CONNACK, and no session is made: the server
// must not send it a larger packet [MQTT-3.1.2-24] (5.0), and dropping CONNACK
// properties would change their meaning. A Maximum Packet Size the CONNACK
// just fits is accepted.
func TestStrictConnackLargerThanClientMax(t *testing.T) {
	s, addr := startServer(t, nil)
	connectWithMax := func(t *testing.T, id string, max uint32) *peer {
		c := &packet.Connect{Version: packet.V5, ClientID: []byte(id), CleanStart: true}
		c.Properties.MaximumPacketSize = max
		c.Properties.Set(packet.PropMaximumPacketSize)
		p := dial(t, addr, packet.V5)
		p.sendRaw(c.Append(nil, packet.V5))
		return p
	}
	// The size of the CONNACK this server sends, read off the wire.
	p := connectWithMax(t, "strict-max-probe", 1<<20)
	_ = p.nc.SetReadDeadline(time.Now().Add(peerTimeout))
	raw := make([]byte, 64)
	n, err := p.nc.Read(raw)
	if err != nil || n < 2 || raw[0] != 0x20 {
		t.Fatalf("CONNACK: % x %v", raw[:n], err)
	}
	size := 2 + int(raw[1])
	p.disconnect()

	tooSmall := connectWithMax(t, "strict-max-small", uint32(size-1))
	if pk, err := tooSmall.read(peerTimeout); err == nil {
		t.Fatalf("got %v, want the connection closed without CONNACK", pk.Type())
	} else if !isClosedErr(err) {
		t.Fatalf("waiting for close: %v", err)
	}
	if hasSession(s, "strict-max-small") {
		t.Fatal("a session was made for a client that got no CONNACK")
	}
	tiny := connectWithMax(t, "strict-max-tiny", 1)
	if _, err := tiny.read(peerTimeout); !isClosedErr(err) {
		t.Fatalf("want the connection closed without CONNACK, got %v", err)
	}

	fits := connectWithMax(t, "strict-max-fits", uint32(size))
	if ack := fits.expect(packet.CONNACK).(*packet.Connack); ack.ReasonCode != 0 {
		t.Fatalf("CONNACK 0x%02x", byte(ack.ReasonCode))
	}
	fits.sendRaw([]byte{0xc0, 0})
	fits.expect(packet.PINGRESP)
}

// A second CONNECT is a protocol error whatever it holds [MQTT-3.1.0-2]:
// DISCONNECT 0x82, never the CONNACK-only 0x84 its decoding would give
// (DISCONNECT carries only DISCONNECT reason codes [MQTT-3.14.2-1]). A
// server-only packet from a client is 0x82 too, however it is formed.
func TestStrictSecondConnectAndServerPackets(t *testing.T) {
	_, addr := startServer(t, nil)
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		for _, tc := range []struct {
			name string
			pkt  []byte
		}{
			{"CONNECT level 6", []byte{0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 6, 2, 0, 0, 0, 1, 'c'}},
			{"CONNECT truncated", []byte{0x10, 0x03, 0, 4, 'M'}},
			{"CONNACK with bad flags", []byte{0x20, 0x02, 0x02, 0}},
			{"SUBACK", []byte{0x90, 0x03, 0, 1, 0}},
			{"PINGRESP with a body", []byte{0xd0, 0x01, 0}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := clean(t, addr, v, "strict-second-"+tc.name)
				p.sendRaw(tc.pkt)
				strictClosed(t, p, v, packet.ProtocolError)
			})
		}
	})
}

// A 5.0 PUBLISH with neither a topic name nor a Topic Alias is a protocol
// error (5.0 section 3.3.2.1): DISCONNECT 0x82, not 0x90.
func TestStrictPublishWithoutTopic(t *testing.T) {
	_, addr := startServer(t, nil)
	p := clean(t, addr, packet.V5, "strict-no-topic")
	p.sendRaw([]byte{0x30, 0x04, 0, 0, 0, 'x'})
	strictClosed(t, p, packet.V5, packet.ProtocolError)
}

// A 5.0 SUBSCRIBE or UNSUBSCRIBE whose SUBACK or UNSUBACK would be larger
// than the client's Maximum Packet Size is refused with DISCONNECT 0x95 and
// changes nothing: the server must not send the larger packet
// [MQTT-3.1.2-24] (5.0). One whose acknowledgement just fits is answered.
func TestStrictAckLargerThanClientMax(t *testing.T) {
	s, addr := startServer(t, nil)
	const max = 20 // a SUBACK of 15 codes is 1+1+2+1+15 = 20 bytes
	open := func(t *testing.T, id string) *peer {
		c := &packet.Connect{Version: packet.V5, ClientID: []byte(id), CleanStart: true}
		c.Properties.MaximumPacketSize = max
		c.Properties.Set(packet.PropMaximumPacketSize)
		p := dial(t, addr, packet.V5)
		p.sendRaw(c.Append(nil, packet.V5))
		p.expect(packet.CONNACK)
		return p
	}
	filters := func(n int) []packet.Subscription {
		var subs []packet.Subscription
		for i := range n {
			subs = append(subs, sub(fmt.Sprintf("f/%d", i), 0))
		}
		return subs
	}
	t.Run("SUBACK fits", func(t *testing.T) {
		p := open(t, "strict-ack-fits")
		if codes := p.subscribe(filters(15)...); len(codes) != 15 {
			t.Fatalf("%d codes", len(codes))
		}
	})
	t.Run("SUBACK too large", func(t *testing.T) {
		p := open(t, "strict-ack-big")
		p.send(&packet.Subscribe{PacketID: 1, Subscriptions: filters(16)})
		strictClosed(t, p, packet.V5, packet.PacketTooLarge)
		waitGone(t, s, "strict-ack-big")
		if n := s.Stats().Subscriptions; n != 0 {
			t.Fatalf("%d subscriptions left", n)
		}
	})
	t.Run("UNSUBACK too large", func(t *testing.T) {
		p := open(t, "strict-unack-big")
		var fs [][]byte
		for i := range 16 {
			fs = append(fs, []byte(fmt.Sprintf("f/%d", i)))
		}
		p.send(&packet.Unsubscribe{PacketID: 1, Filters: fs})
		strictClosed(t, p, packet.V5, packet.PacketTooLarge)
	})
}
