package broker

import (
	"fmt"
	"testing"

	"github.com/roostmq/roost/internal/faultstore"
	"github.com/roostmq/roost/packet"
	"github.com/roostmq/roost/store"
)

// Session lifecycle against a store that fails or stalls on chosen calls.

// slFaultServer starts a broker on a durable in-memory store wrapped by
// faultstore.
func slFaultServer(t *testing.T, modify func(*Options)) (*Server, string, *faultstore.Store) {
	t.Helper()
	fs := faultstore.New(store.NewMemoryDurable(), 1)
	s, addr := startServer(t, func(o *Options) {
		o.Store = fs
		if modify != nil {
			modify(o)
		}
	})
	return s, addr, fs
}

// slStoredSubs returns the filters the store holds for client id.
func slStoredSubs(t *testing.T, fs *faultstore.Store, id string) ([]string, bool) {
	t.Helper()
	list, err := fs.Inner().LoadSessions()
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range list {
		if st.ClientID == id {
			var out []string
			for _, sb := range st.Subscriptions {
				out = append(out, sb.Filter)
			}
			return out, true
		}
	}
	return nil, false
}

// A clean-start takeover while the old connection's SUBSCRIBE is being
// handled leaves no index entry behind for the ended session (review M1).
func TestSessLifeTakeoverDuringSubscribeLeavesNoIndexEntry(t *testing.T) {
	s, addr := startServer(t, nil)
	subs := make([]packet.Subscription, 300)
	for i := range subs {
		subs[i] = sub(fmt.Sprintf("m1/%d", i), 1)
	}
	for range slRounds {
		a, _ := connect(t, addr, packet.V311, persistent("m1", packet.V311, 0))
		a.send(&packet.Subscribe{PacketID: 1, Subscriptions: subs})
		b := clean(t, addr, packet.V311, "m1")
		b.disconnect()
		waitConns(t, s, 0)
	}
	st := s.Stats()
	if st.Sessions != 0 || st.Subscriptions != 0 {
		t.Fatalf("sessions %d, subscriptions %d; want none left", st.Sessions, st.Subscriptions)
	}
}

// One SUBSCRIBE saves the session once, however many filters it carries
// (review L10).
func TestSessLifeSubscribeSavesOncePerPacket(t *testing.T) {
	_, addr, fs := slFaultServer(t, nil)
	p, _ := connect(t, addr, packet.V5, persistent("l10", packet.V5, 300))
	subs := make([]packet.Subscription, 50)
	for i := range subs {
		subs[i] = sub(fmt.Sprintf("l10/%d", i), 1)
	}
	before := fs.Calls(faultstore.SaveSession)
	p.subscribe(subs...)
	eq(t, "SaveSession calls for one SUBSCRIBE", fs.Calls(faultstore.SaveSession)-before, 1)
	filters := make([]string, 20)
	for i := range filters {
		filters[i] = fmt.Sprintf("l10/%d", i)
	}
	before = fs.Calls(faultstore.SaveSession)
	p.unsubscribe(filters...)
	eq(t, "SaveSession calls for one UNSUBSCRIBE", fs.Calls(faultstore.SaveSession)-before, 1)
	p.disconnect()
}

// A SUBSCRIBE whose session cannot be saved is refused (0x80 per filter)
// and undone: no SUBACK grants a subscription the store does not have
// (review L5).
func TestSessLifeSubackRefusedWhenSaveFails(t *testing.T) {
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		s, addr, fs := slFaultServer(t, nil)
		p, _ := connect(t, addr, v, persistent("l5s", v, 300))
		p.subscribe(sub("keep/#", 1))
		fs.Add(faultstore.Rule{Method: faultstore.SaveSession, Err: faultstore.ErrInjected, Times: 1})
		codes := p.subscribe(sub("a/b", 1), sub("keep/#", 0))
		eq(t, "SUBACK codes", codes, []packet.ReasonCode{packet.UnspecifiedError, packet.UnspecifiedError})
		if err := s.Publish("a/b", []byte("x"), 1, false); err != nil {
			t.Fatal(err)
		}
		if err := s.Publish("keep/x", []byte("y"), 1, false); err != nil {
			t.Fatal(err)
		}
		got := p.pub()
		eqBytes(t, "topic", got.Topic, "keep/x")
		eq(t, "QoS of the subscription kept as it was", got.QoS, byte(1))
		p.ack(got)
		p.expectNothing(quiet)
		eq(t, "subscriptions", s.Stats().Subscriptions, 1)
		p.disconnect()
	})
}

// An UNSUBSCRIBE whose session cannot be saved is undone: 5.0 gets 0x80 per
// filter, 3.1.1 (whose UNSUBACK cannot refuse) is disconnected without one.
func TestSessLifeUnsubackWhenSaveFails(t *testing.T) {
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		s, addr, fs := slFaultServer(t, nil)
		p, _ := connect(t, addr, v, persistent("l5u", v, 300))
		p.subscribe(sub("u/#", 1))
		fs.Add(faultstore.Rule{Method: faultstore.SaveSession, Err: faultstore.ErrInjected, Times: 1})
		if v == packet.V5 {
			ack := p.unsubscribe("u/#")
			eq(t, "UNSUBACK codes", ack.ReasonCodes, []packet.ReasonCode{packet.UnspecifiedError})
			if err := s.Publish("u/x", []byte("x"), 1, false); err != nil {
				t.Fatal(err)
			}
			p.expectPub("u/x", "x")
		} else {
			p.send(&packet.Unsubscribe{PacketID: 9, Filters: [][]byte{[]byte("u/#")}})
			p.expectClosed()
		}
		eq(t, "subscriptions", s.Stats().Subscriptions, 1)
	})
}

// If the store cannot forget an inbound QoS 2 id, PUBCOMP is not sent and
// the connection closes; the id stays known, so the PUBREL the client sends
// again after reconnecting completes it (review L5). [MQTT-4.4.0-1]
func TestSessLifeNoPubcompWhenDeleteInboundFails(t *testing.T) {
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		_, addr, fs := slFaultServer(t, nil)
		p, _ := connect(t, addr, v, persistent("l5c", v, 300))
		p.sendPub(&packet.Publish{QoS: 2, PacketID: 7, Topic: []byte("q2"), Payload: []byte("x")})
		fs.Add(faultstore.Rule{Method: faultstore.DeleteInbound, Err: faultstore.ErrInjected, Times: 1})
		p.send(&packet.Pubrel{Ack: packet.Ack{PacketID: 7}})
		code := p.expectClosed() // no PUBCOMP first: expectClosed skips only DISCONNECT
		if v == packet.V5 && code != packet.UnspecifiedError {
			t.Fatalf("DISCONNECT 0x%02x, want 0x80", byte(code))
		}
		q, ack := connect(t, addr, v, persistent("l5c", v, 300))
		eq(t, "session present", ack.SessionPresent, true)
		q.send(&packet.Pubrel{Ack: packet.Ack{PacketID: 7}})
		comp := q.expect(packet.PUBCOMP).(*packet.Pubcomp)
		eq(t, "PUBCOMP code", comp.ReasonCode, packet.Success)
		q.disconnect()
	})
}

// If the store cannot mark an outbound QoS 2 message released, PUBREL is
// not sent and the connection closes; the message is resent as a PUBLISH
// when the client comes back (review L5).
func TestSessLifeNoPubrelWhenRecordWriteFails(t *testing.T) {
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		s, addr, fs := slFaultServer(t, nil)
		p, _ := connect(t, addr, v, persistent("l5r", v, 300))
		p.subscribe(sub("q2/#", 2))
		if err := s.Publish("q2/x", []byte("x"), 2, false); err != nil {
			t.Fatal(err)
		}
		got := p.pub()
		fs.Add(faultstore.Rule{Method: faultstore.PutMessage, Key: "l5r", Err: faultstore.ErrInjected, Times: 1})
		p.send(&packet.Pubrec{Ack: packet.Ack{PacketID: got.PacketID}})
		code := p.expectClosed()
		if v == packet.V5 && code != packet.UnspecifiedError {
			t.Fatalf("DISCONNECT 0x%02x, want 0x80", byte(code))
		}
		q, _ := connect(t, addr, v, persistent("l5r", v, 300))
		again := q.pub()
		eq(t, "resent as PUBLISH with DUP", again.Dup, true)
		eq(t, "packet id", again.PacketID, got.PacketID)
		q.ack(again)
		q.disconnect()
	})
}

// A session that ended (expiry 0) is deleted from the store before a new
// session of the same client id saves anything, however late the deletion
// runs: it cannot erase what the new one saved (review L9).
func TestSessLifeEndedDeleteCannotEraseNewSave(t *testing.T) {
	s, addr, fs := slFaultServer(t, nil)
	gate := faultstore.NewGate()
	t.Cleanup(gate.Release)
	a, _ := connect(t, addr, packet.V5, &packet.Connect{ClientID: []byte("l9"), CleanStart: true})
	a.send(&packet.Pingreq{}) // the reader has finished CONNECT (and its store calls)
	a.expect(packet.PINGRESP)
	fs.Add(faultstore.Rule{Method: faultstore.DeleteSession, Key: "l9", Gate: gate, Times: 1})
	a.disconnect()
	<-gate.Arrived()
	b, _ := connect(t, addr, packet.V5, persistent("l9", packet.V5, 300))
	b.send(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{sub("l9/t", 1)}})
	// Give the new session time to save (and SUBACK) while the deletion is
	// held, as a slow store would; a broker that orders them waits instead.
	pk, err := b.read(quiet)
	gate.Release()
	if err != nil {
		b.expect(packet.SUBACK)
	} else if pk.Type() != packet.SUBACK {
		t.Fatalf("got %v, want SUBACK", pk.Type())
	}
	waitConns(t, s, 1)
	got, ok := slStoredSubs(t, fs, "l9")
	if !ok {
		t.Fatal("the new session is not in the store")
	}
	eq(t, "stored subscriptions", got, []string{"l9/t"})
	b.disconnect()
}

// Reading a resumed session's messages from disk holds no lock that other
// clients' CONNECTs need (review M6).
func TestSessLifeResumeDiskReadDoesNotBlockOthers(t *testing.T) {
	s, addr, fs := slFaultServer(t, nil)
	p, _ := connect(t, addr, packet.V5, persistent("m6", packet.V5, 300))
	p.subscribe(sub("m6/t", 1))
	p.disconnect()
	waitDetached(t, s, "m6")
	if err := s.Publish("m6/t", []byte("queued"), 1, false); err != nil {
		t.Fatal(err)
	}
	gate := faultstore.NewGate()
	t.Cleanup(gate.Release)
	fs.Add(faultstore.Rule{Method: faultstore.LoadMessages, Key: "m6", Gate: gate, Times: 1})
	q := dial(t, addr, packet.V5)
	c := persistent("m6", packet.V5, 300)
	c.Version = packet.V5
	q.send(c)
	<-gate.Arrived()
	other, _ := connect(t, addr, packet.V5, &packet.Connect{ClientID: []byte("other"), CleanStart: true})
	other.disconnect()
	gate.Release()
	ack := q.expect(packet.CONNACK).(*packet.Connack)
	eq(t, "session present", ack.SessionPresent, true)
	q.expectPub("m6/t", "queued")
	q.disconnect()
}

// The session is stored with the username of the connection that claimed
// it from the first save on (review L8).
func TestSessLifeUsernameSavedWithSession(t *testing.T) {
	_, addr, fs := slFaultServer(t, nil)
	c := persistent("l8", packet.V5, 300)
	c.UsernameFlag, c.Username = true, []byte("alice")
	p, _ := connect(t, addr, packet.V5, c)
	p.send(&packet.Pingreq{}) // CONNECT, and its save, are done
	p.expect(packet.PINGRESP)
	list, err := fs.Inner().LoadSessions()
	if err != nil {
		t.Fatal(err)
	}
	var user string
	for _, st := range list {
		if st.ClientID == "l8" {
			user = st.Username
		}
	}
	eq(t, "stored username", user, "alice")
	p.disconnect()
}
