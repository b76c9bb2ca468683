package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// rawConnect encodes c for v; tests then corrupt the bytes.
func rawConnect(c *packet.Connect, v packet.Version) []byte {
	c.Version = v
	return c.Append(nil, v)
}

// mustRefuseRaw sends raw bytes as the first packet and checks the broker
// refuses them as mustRefuse does.
func mustRefuseRaw(t *testing.T, addr string, v packet.Version, raw []byte, want packet.ReasonCode) {
	t.Helper()
	p := dial(t, addr, v)
	p.sendRaw(raw)
	var ack *packet.Connack
	for {
		pk, err := p.read(peerTimeout)
		if err != nil {
			if isClosedErr(err) {
				break
			}
			t.Fatalf("waiting for close: %v", err)
		}
		a, ok := pk.(*packet.Connack)
		if !ok || ack != nil {
			t.Fatalf("got %v %+v before the close", pk.Type(), pk)
		}
		ack = a
	}
	switch {
	case ack == nil && want != 0:
		t.Fatalf("closed without CONNACK, want CONNACK 0x%02x", byte(want))
	case ack != nil && want != 0 && ack.ReasonCode != want:
		t.Fatalf("CONNACK 0x%02x, want 0x%02x", byte(ack.ReasonCode), byte(want))
	case ack != nil && !ack.ReasonCode.IsError() && (v == packet.V5 || ack.ReasonCode == 0):
		t.Fatalf("CONNACK 0x%02x accepted, want refusal", byte(ack.ReasonCode))
	}
}

func TestConnect_MQTT_3_1_2_2_UnsupportedLevel(t *testing.T) {
	_, addr := startServer(t, nil)
	t.Run("MQTT-3.1.2-2 level 6 gets 3.1.1 CONNACK 0x01", func(t *testing.T) {
		for _, level := range []packet.Version{0, 1, 2, 6, 0x7f} {
			mustRefuseRaw(t, addr, packet.V311, rawConnect(&packet.Connect{ClientID: []byte("x"), CleanStart: true}, level),
				packet.ReasonCode(packet.ConnRefusedVersion))
		}
	})
	t.Run("MQTT-3.1.2-2 5.0 format 0x84", func(t *testing.T) {
		// A level-5 CONNECT under a protocol name Roost does not serve is
		// refused in 5.0 format with 0x84. [MQTT-3.1.2-1] [MQTT-3.1.2-2] (5.0)
		c := &packet.Connect{ProtocolName: []byte("MQTX"), ClientID: []byte("x"), CleanStart: true}
		mustRefuseRaw(t, addr, packet.V5, rawConnect(c, packet.V5), packet.UnsupportedProtocolVersion)
	})
	t.Run("MQTT-3.1.2-1 MQIsdp at level 4 refused", func(t *testing.T) {
		c := &packet.Connect{ProtocolName: []byte("MQIsdp"), ClientID: []byte("x"), CleanStart: true}
		mustRefuseRaw(t, addr, packet.V311, rawConnect(c, packet.V311), 0)
	})
}

func TestConnect_MQTT_3_1_2_1_WrongProtocolName(t *testing.T) {
	_, addr := startServer(t, nil)
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		for _, name := range []string{"MQTX", "mqtt", "MQTTT", ""} {
			c := &packet.Connect{ProtocolName: []byte(name), ClientID: []byte("x"), CleanStart: true}
			want := packet.ReasonCode(0)
			if v == packet.V5 {
				want = packet.UnsupportedProtocolVersion
			}
			if name == "" {
				raw := rawConnect(c, v)
				// An empty name: Append would derive "MQTT", so rewrite it.
				raw = append([]byte{raw[0], raw[1] - 4, 0, 0}, raw[8:]...)
				mustRefuseRaw(t, addr, v, raw, want)
				continue
			}
			mustRefuseRaw(t, addr, v, rawConnect(c, v), want)
		}
	})
}

func TestConnect_MQIsdpLevel3(t *testing.T) {
	_, addr := startServer(t, nil)
	s1, ack := connect(t, addr, packet.V31, &packet.Connect{ClientID: []byte("old"), CleanStart: true})
	eq(t, "session present", ack.SessionPresent, false)
	eq(t, "suback", s1.subscribe(sub("a/b", 1)), []packet.ReasonCode{1})
	pub, _ := connect(t, addr, packet.V31, &packet.Connect{ClientID: []byte("old-pub"), CleanStart: true})
	pub.publish("a/b", "hi", 1, false)
	s1.expectPub("a/b", "hi")
}

func TestConnect_MQTT_3_1_2_3_ReservedFlag(t *testing.T) {
	_, addr := startServer(t, nil)
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		raw := rawConnect(&packet.Connect{ClientID: []byte("x"), CleanStart: true}, v)
		raw[9] |= 0x01 // header 2, name 6, level 1: the connect flags
		want := packet.ReasonCode(0)
		if v == packet.V5 {
			want = packet.MalformedPacket
		}
		mustRefuseRaw(t, addr, v, raw, want)
	})
}

func TestConnect_MQTT_3_1_0_1_FirstPacketNotConnect(t *testing.T) {
	_, addr := startServer(t, nil)
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		for _, pk := range []packet.Packet{
			&packet.Pingreq{},
			&packet.Publish{Topic: []byte("a"), Payload: []byte("x")},
			&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{sub("a", 0)}},
			&packet.Disconnect{},
		} {
			p := dial(t, addr, v)
			p.send(pk)
			if pk, err := p.read(peerTimeout); err == nil {
				t.Fatalf("got %v after a first packet that is not CONNECT", pk.Type())
			} else if !isClosedErr(err) {
				t.Fatalf("waiting for close: %v", err)
			}
		}
	})
}

func TestConnect_MQTT_3_1_0_2_SecondConnect(t *testing.T) {
	_, addr := startServer(t, nil)
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		p, _ := connect(t, addr, v, nil)
		p.send(&packet.Connect{Version: v, ClientID: []byte(t.Name()), CleanStart: true})
		code := p.expectClosed()
		if v == packet.V5 {
			eq(t, "DISCONNECT", code, packet.ProtocolError) // [MQTT-4.13.1-1]
		}
	})
}

func TestConnect_ConnectTimeout(t *testing.T) {
	_, addr := startServer(t, func(o *Options) { o.Limits.ConnectTimeout = 200 * time.Millisecond })
	t.Run("nothing sent", func(t *testing.T) {
		p := dial(t, addr, packet.V311)
		start := time.Now()
		p.closedWithin(3 * time.Second)
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Fatalf("closed after %v, before the connect timeout", d)
		}
	})
	t.Run("partial CONNECT", func(t *testing.T) {
		p := dial(t, addr, packet.V311)
		raw := rawConnect(&packet.Connect{ClientID: []byte("slow"), CleanStart: true}, packet.V311)
		p.sendRaw(raw[:5])
		p.closedWithin(3 * time.Second)
	})
	t.Run("CONNECT in time then idle stays open", func(t *testing.T) {
		p, _ := connect(t, addr, packet.V311, nil)
		p.expectNothing(400 * time.Millisecond)
		p.send(&packet.Pingreq{})
		p.expect(packet.PINGRESP)
	})
}

func TestConnect_MQTT_3_1_3_6_EmptyClientID(t *testing.T) {
	_, addr := startServer(t, nil)
	t.Run("MQTT-3.1.3-6 3.1.1 clean session accepted", func(t *testing.T) {
		p, ack := connect(t, addr, packet.V311, &packet.Connect{CleanStart: true})
		eq(t, "session present", ack.SessionPresent, false)
		eq(t, "suback", p.subscribe(sub("e/1", 1)), []packet.ReasonCode{1})
		p.publish("e/1", "self", 0, false)
		p.expectPub("e/1", "self")
	})
	t.Run("MQTT-3.1.3-8 3.1.1 clean session 0 gets 0x02", func(t *testing.T) {
		mustRefuse(t, addr, packet.V311, &packet.Connect{}, packet.ReasonCode(packet.ConnRefusedIdentifier))
	})
	t.Run("MQTT-3.1.3-7 5.0 assigned client identifier", func(t *testing.T) {
		p, ack := connect(t, addr, packet.V5, &packet.Connect{Properties: expiryProps(60)})
		if !ack.Properties.Has(packet.PropAssignedClientID) || len(ack.Properties.AssignedClientID) == 0 {
			t.Fatalf("CONNACK without Assigned Client Identifier: %+v", ack.Properties)
		}
		id := string(ack.Properties.AssignedClientID)
		eq(t, "suback", p.subscribe(sub("e/2", 1)), []packet.ReasonCode{1})
		p.disconnect()
		// The assigned id names the session: resuming with it finds it.
		p2, ack2 := connect(t, addr, packet.V5, &packet.Connect{ClientID: []byte(id), Properties: expiryProps(60)})
		eq(t, "session present", ack2.SessionPresent, true)
		if ack2.Properties.Has(packet.PropAssignedClientID) {
			t.Fatal("Assigned Client Identifier sent for a client that gave its id")
		}
		p2.publish("e/2", "resumed", 0, false)
		p2.expectPub("e/2", "resumed")
	})
	t.Run("MQTT-3.2.2-16 assigned ids are unique", func(t *testing.T) {
		seen := map[string]bool{}
		for range 5 {
			_, ack := connect(t, addr, packet.V5, &packet.Connect{CleanStart: true})
			id := string(ack.Properties.AssignedClientID)
			if id == "" || seen[id] {
				t.Fatalf("assigned id %q not unique", id)
			}
			seen[id] = true
		}
	})
}

func TestConnect_MQTT_3_1_3_8_EmptyClientIDRefused(t *testing.T) {
	_, addr := startServer(t, func(o *Options) { o.Limits.AllowEmptyClientID = false })
	// 5.0 [MQTT-3.1.3-8]: 0x85; 3.1.1 [MQTT-3.1.3-9]: 0x02.
	mustRefuse(t, addr, packet.V5, &packet.Connect{CleanStart: true}, packet.ClientIdentifierNotValid)
	mustRefuse(t, addr, packet.V311, &packet.Connect{CleanStart: true}, packet.ReasonCode(packet.ConnRefusedIdentifier))
	long := strings.Repeat("x", 300)
	mustRefuse(t, addr, packet.V5, &packet.Connect{ClientID: []byte(long), CleanStart: true}, packet.ClientIdentifierNotValid)
}

func TestConnect_MQTT_3_1_3_5_ClientIDCharacters(t *testing.T) {
	_, addr := startServer(t, nil)
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		id := "0123456789abcdefghijKLM" // 23 letters and digits
		connect(t, addr, v, &packet.Connect{ClientID: []byte(id), CleanStart: true})
	})
}

// authFunc adapts a function to Authenticator.
type authFunc func(*ConnectInfo) error

func (f authFunc) Authenticate(i *ConnectInfo) error { return f(i) }

func TestConnect_MQTT_3_1_4_2_Authenticator(t *testing.T) {
	// 5.0 [MQTT-3.1.4-2]: a failed check closes the connection, after
	// CONNACK 0x86/0x87; 3.1.1 return codes 4 and 5.
	_, addr := startServer(t, func(o *Options) {
		o.Authenticator = authFunc(func(i *ConnectInfo) error {
			switch {
			case i.Username == "alice" && string(i.Password) == "secret":
				return nil
			case i.Username == "mallory":
				return errors.New("banned by policy")
			}
			return packet.BadUsernameOrPassword
		})
	})
	creds := func(user, pass string) *packet.Connect {
		return &packet.Connect{ClientID: []byte("c-" + user), CleanStart: true, UsernameFlag: true, Username: []byte(user),
			PasswordFlag: true, Password: []byte(pass)}
	}
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		bad, denied := packet.BadUsernameOrPassword, packet.NotAuthorized
		if v != packet.V5 {
			bad, denied = packet.ReasonCode(packet.ConnRefusedBadCredentials), packet.ReasonCode(packet.ConnRefusedNotAuthorized)
		}
		mustRefuse(t, addr, v, creds("alice", "wrong"), bad)
		mustRefuse(t, addr, v, &packet.Connect{ClientID: []byte("anon"), CleanStart: true}, bad)
		mustRefuse(t, addr, v, creds("mallory", "x"), denied)
		p, _ := connect(t, addr, v, creds("alice", "secret"))
		p.send(&packet.Pingreq{})
		p.expect(packet.PINGRESP)
	})
}

func TestConnect_Hooks(t *testing.T) {
	var h hookLog
	s, addr := startServer(t, h.install)
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		c0, d0 := h.counts()
		p, _ := connect(t, addr, v, &packet.Connect{ClientID: []byte("hooked-" + v.String()), CleanStart: true})
		// The hook runs after CONNACK is queued, so poll for it.
		waitFor(t, "OnConnect", func() bool { c, _ := h.counts(); return c == c0+1 })
		p.disconnect()
		waitConns(t, s, 0)
		_, d1 := h.counts()
		eq(t, "OnDisconnect calls", d1, d0+1)
		h.mu.Lock()
		eq(t, "connect id", h.connects[len(h.connects)-1], "hooked-"+v.String())
		eq(t, "disconnect id", h.disconnects[len(h.disconnects)-1], "hooked-"+v.String())
		h.mu.Unlock()
	})
}

func TestConnect_MQTT_3_1_4_3_Takeover(t *testing.T) {
	// 5.0 [MQTT-3.1.4-3] (DISCONNECT 0x8E); 3.1.1 [MQTT-3.1.4-2].
	_, addr := startServer(t, nil)
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		id := "twin-" + v.String()
		first, _ := connect(t, addr, v, &packet.Connect{ClientID: []byte(id), CleanStart: true})
		second, _ := connect(t, addr, v, &packet.Connect{ClientID: []byte(id), CleanStart: true})
		code := first.expectClosed()
		if v == packet.V5 {
			eq(t, "DISCONNECT to the old connection", code, packet.SessionTakenOver)
		}
		second.send(&packet.Pingreq{})
		second.expect(packet.PINGRESP)
	})
}

func TestConnect_MQTT_3_1_2_24_KeepAliveTimeout(t *testing.T) {
	// 3.1.1 [MQTT-3.1.2-24], 5.0 [MQTT-3.1.2-22]: 1.5 x keep alive of
	// silence closes the connection as a network failure: the will fires.
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		t.Parallel()
		_, addr := startServer(t, nil)
		w, _ := connect(t, addr, v, &packet.Connect{ClientID: []byte("watcher"), CleanStart: true})
		w.subscribe(sub("will/#", 0))
		c := withWill(&packet.Connect{ClientID: []byte("silent"), CleanStart: true, KeepAlive: 1}, "will/silent", "gone", 0, false)
		start := time.Now()
		p, _ := connect(t, addr, v, c)
		code := p.closedWithin(4 * time.Second)
		if d := time.Since(start); d < time.Second || d > 3*time.Second {
			t.Fatalf("closed after %v, want about 1.5 s", d)
		}
		if v == packet.V5 && code != 0 && code != packet.KeepAliveTimeout {
			t.Fatalf("DISCONNECT 0x%02x, want none or 0x8D", byte(code))
		}
		w.expectPub("will/silent", "gone")
	})
}

func TestConnect_MQTT_3_1_2_24_PingKeepsAlive(t *testing.T) {
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		t.Parallel()
		_, addr := startServer(t, nil)
		p, _ := connect(t, addr, v, &packet.Connect{ClientID: []byte("pinger"), CleanStart: true, KeepAlive: 1})
		for range 4 { // 4 x 0.6 s > 1.5 s
			p.send(&packet.Pingreq{})
			p.expect(packet.PINGRESP) // [MQTT-3.12.4-1]
			p.expectNothing(600 * time.Millisecond)
		}
	})
}

func TestConnect_MQTT_3_2_2_21_ServerKeepAlive(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, func(o *Options) { o.Limits.MaxKeepAlive = 1 })
	t.Run("MQTT-3.2.2-21 longer keep alive lowered", func(t *testing.T) {
		_, ack := connect(t, addr, packet.V5, &packet.Connect{ClientID: []byte("ka60"), CleanStart: true, KeepAlive: 60})
		if !ack.Properties.Has(packet.PropServerKeepAlive) {
			t.Fatal("no Server Keep Alive in CONNACK")
		}
		eq(t, "Server Keep Alive", ack.Properties.ServerKeepAlive, uint16(1))
	})
	t.Run("MQTT-3.2.2-22 keep alive within the limit kept", func(t *testing.T) {
		_, ack := connect(t, addr, packet.V5, &packet.Connect{ClientID: []byte("ka1"), CleanStart: true, KeepAlive: 1})
		if ack.Properties.Has(packet.PropServerKeepAlive) && ack.Properties.ServerKeepAlive != 1 {
			t.Fatalf("Server Keep Alive %d for a client within the limit", ack.Properties.ServerKeepAlive)
		}
	})
	t.Run("MQTT-3.2.2-21 keep alive 0 gets the server's and it is enforced", func(t *testing.T) {
		p, ack := connect(t, addr, packet.V5, &packet.Connect{ClientID: []byte("ka0"), CleanStart: true})
		eq(t, "Server Keep Alive", ack.Properties.ServerKeepAlive, uint16(1))
		p.closedWithin(4 * time.Second)
	})
}

func TestConnect_ShutdownDisconnects(t *testing.T) {
	opts := DefaultOptions()
	opts.SysInterval, opts.Listen = 0, nil
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	addr := ln.Addr().String()
	p5, _ := connect(t, addr, packet.V5, &packet.Connect{ClientID: []byte("five"), CleanStart: true})
	p3, _ := connect(t, addr, packet.V311, &packet.Connect{ClientID: []byte("three"), CleanStart: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	eq(t, "5.0 DISCONNECT", p5.expectClosed(), packet.ServerShuttingDown)
	eq(t, "3.1.1 DISCONNECT", p3.expectClosed(), packet.ReasonCode(0))
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v, want ErrServerClosed", err)
	}
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln2); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Shutdown returned %v", err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

// withFlags re-encodes pk for v with the low nibble of its first byte set to
// flags.
func withFlags(pk packet.Packet, v packet.Version, flags byte) []byte {
	b := pk.Append(nil, v)
	b[0] = b[0]&0xf0 | flags
	return b
}

func TestConnect_MQTT_4_8_0_1_ProtocolErrorsCloseOnlyThatConnection(t *testing.T) {
	// 3.1.1 [MQTT-4.8.0-1]; 5.0 [MQTT-4.13.1-1]: a malformed packet or
	// protocol error closes its own connection, with DISCONNECT and the
	// reason in 5.0, and no other.
	s, addr := startServer(t, nil)
	watcher, _ := connect(t, addr, packet.V5, &packet.Connect{ClientID: []byte("watcher"), CleanStart: true})
	watcher.subscribe(sub("ok/#", 1))
	alias := func(a uint16) packet.Properties {
		var pr packet.Properties
		pr.TopicAlias = a
		pr.Set(packet.PropTopicAlias)
		return pr
	}
	pub1 := &packet.Publish{QoS: 1, PacketID: 1, Topic: []byte("ok/x"), Payload: []byte("x")}
	cases := []struct {
		name string
		vs   []packet.Version
		raw  func(v packet.Version) []byte
		want packet.ReasonCode // 5.0 DISCONNECT code
	}{
		{"MQTT-3.3.1-4 PUBLISH QoS 3", bothVersions, func(v packet.Version) []byte { return withFlags(pub1, v, 0x06) },
			packet.MalformedPacket},
		{"MQTT-3.3.2-8 topic alias 0", []packet.Version{packet.V5}, func(v packet.Version) []byte {
			return (&packet.Publish{Topic: []byte("ok/a"), Properties: alias(0)}).Append(nil, v)
		}, packet.TopicAliasInvalid},
		{"MQTT-3.3.2-12 topic alias above the maximum", []packet.Version{packet.V5}, func(v packet.Version) []byte {
			return (&packet.Publish{Topic: []byte("ok/a"), Properties: alias(65535)}).Append(nil, v)
		}, packet.TopicAliasInvalid},
		{"MQTT-3.3.4 unknown topic alias with empty topic", []packet.Version{packet.V5}, func(v packet.Version) []byte {
			return (&packet.Publish{Properties: alias(3)}).Append(nil, v)
		}, packet.ProtocolError},
		{"MQTT-1.5.4-1 invalid UTF-8 topic", bothVersions, func(v packet.Version) []byte {
			return (&packet.Publish{Topic: []byte{'o', 'k', '/', 0xff, 0xfe}}).Append(nil, v)
		}, packet.MalformedPacket},
		{"MQTT-1.5.4-2 topic with U+0000", bothVersions, func(v packet.Version) []byte {
			return (&packet.Publish{Topic: []byte{'o', 'k', 0}}).Append(nil, v)
		}, packet.MalformedPacket},
		{"MQTT-3.3.2-2 wildcard in topic name", bothVersions, func(v packet.Version) []byte {
			return (&packet.Publish{Topic: []byte("ok/+")}).Append(nil, v)
		}, packet.TopicNameInvalid},
		{"MQTT-3.6.1-1 PUBREL flags 0000", bothVersions, func(v packet.Version) []byte {
			return withFlags(&packet.Pubrel{Ack: packet.Ack{PacketID: 1}}, v, 0)
		}, packet.MalformedPacket},
		{"MQTT-3.8.1-1 SUBSCRIBE flags 0000", bothVersions, func(v packet.Version) []byte {
			return withFlags(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{sub("ok/#", 0)}}, v, 0)
		}, packet.MalformedPacket},
		{"MQTT-3.14.1-1 DISCONNECT reserved flags", bothVersions, func(v packet.Version) []byte {
			return withFlags(&packet.Disconnect{}, v, 1)
		}, packet.MalformedPacket},
		{"MQTT-2.1.3-1 reserved packet type 0", bothVersions, func(packet.Version) []byte { return []byte{0x00, 0x00} },
			packet.MalformedPacket},
		{"MQTT-3.1.2-1 CONNACK from a client", bothVersions, func(v packet.Version) []byte {
			return (&packet.Connack{}).Append(nil, v)
		}, packet.ProtocolError},
		{"MQTT-2.2.1-3 PUBLISH QoS 1 without packet id", bothVersions, func(v packet.Version) []byte {
			return (&packet.Publish{QoS: 1, Topic: []byte("ok/a")}).Append(nil, v)
		}, packet.ProtocolError},
	}
	n := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer watcher.rebind(t)()
			for _, v := range tc.vs {
				n++
				c := withWill(&packet.Connect{ClientID: []byte("bad"), CleanStart: true}, "ok/will", "bad gone", 0, false)
				bad, _ := connect(t, addr, v, c)
				bad.sendRaw(tc.raw(v))
				code := bad.expectClosed()
				if v == packet.V5 {
					eq(t, "5.0 DISCONNECT", code, tc.want)
				}
				// Closed by the server for a violation: the will fires.
				// 3.1.1 [MQTT-3.1.2-8]; 5.0 [MQTT-3.1.2-8].
				watcher.expectPub("ok/will", "bad gone")
				waitConns(t, s, 1)
				// The other client is untouched: publish and receive.
				good, _ := connect(t, addr, v, &packet.Connect{ClientID: []byte("good"), CleanStart: true})
				msg := fmt.Sprintf("still here %d", n)
				good.publish("ok/after", msg, 1, false)
				watcher.expectPub("ok/after", msg)
				good.disconnect()
				waitConns(t, s, 1)
			}
		})
	}
}

func TestConnect_MQTT_3_1_4_5_NothingAfterRefusal(t *testing.T) {
	// 3.1.1 [MQTT-3.1.4-5], 5.0 [MQTT-3.1.4-6]: what a refused client sent
	// after its CONNECT is not processed.
	s, addr := startServer(t, func(o *Options) {
		o.Authenticator = authFunc(func(i *ConnectInfo) error {
			if i.Username == "" {
				return packet.NotAuthorized
			}
			return nil
		})
	})
	watcher, _ := connect(t, addr, packet.V5, &packet.Connect{ClientID: []byte("watcher"), CleanStart: true,
		UsernameFlag: true, Username: []byte("w")})
	watcher.subscribe(sub("sneak/#", 1))
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		defer watcher.rebind(t)()
		raw := rawConnect(&packet.Connect{ClientID: []byte("refused"), CleanStart: true}, v)
		raw = (&packet.Publish{QoS: 1, PacketID: 1, Topic: []byte("sneak/in"), Payload: []byte("x")}).Append(raw, v)
		raw = (&packet.Publish{Retain: true, Topic: []byte("sneak/kept"), Payload: []byte("x")}).Append(raw, v)
		want := packet.NotAuthorized
		if v != packet.V5 {
			want = packet.ReasonCode(packet.ConnRefusedNotAuthorized)
		}
		mustRefuseRaw(t, addr, v, raw, want)
		waitConns(t, s, 1)
		barrier(t, s, watcher, "sneak/marker")
		eq(t, "retained", s.retained.Len(), 0)
	})
}

func TestConnect_MaxConnections(t *testing.T) {
	_, addr := startServer(t, func(o *Options) { o.Limits.MaxConnections = 1 })
	p, _ := connect(t, addr, packet.V5, &packet.Connect{ClientID: []byte("first"), CleanStart: true})
	mustRefuse(t, addr, packet.V5, &packet.Connect{ClientID: []byte("second"), CleanStart: true}, packet.ServerBusy)
	mustRefuse(t, addr, packet.V311, &packet.Connect{ClientID: []byte("third"), CleanStart: true},
		packet.ReasonCode(packet.ConnRefusedUnavailable))
	p.send(&packet.Pingreq{})
	p.expect(packet.PINGRESP)
}
