package broker

import (
	"errors"
	"testing"

	"github.com/roostmq/roost/packet"
)

// The operator's view: clients, subscriptions, counters by QoS and listener,
// retained messages, kick.
func TestAdminIntrospection(t *testing.T) {
	s, addr := startServer(t, nil)
	w := clean(t, addr, packet.V5, "watcher")
	w.subscribe(sub("a/#", 1), sub("b", 0))
	pub, _ := connect(t, addr, packet.V311, &packet.Connect{ClientID: []byte("pusher"), CleanStart: true,
		Username: []byte("alice"), UsernameFlag: true})
	pub.publish("a/x", "one", 0, false)
	pub.publish("a/y", "two", 1, true)
	pub.publish("a/z", "three", 2, false)
	for range 3 {
		w.receive()
	}

	list := s.Clients("")
	eq(t, "clients", len(list), 2)
	eq(t, "first client", list[0].ClientID, "pusher")
	eq(t, "username", list[0].Username, "alice")
	eq(t, "version", list[0].Version, 4)
	eq(t, "messages in by QoS", list[0].Counters.MessagesIn, [3]uint64{1, 1, 1})
	eq(t, "search by username", len(s.Clients("ali")), 1)
	eq(t, "search, no match", len(s.Clients("nobody")), 0)

	ci, ok := s.Client("watcher")
	if !ok || !ci.Connected || ci.Subscriptions != 2 || len(ci.Subs) != 2 || ci.Subs[0].Filter != "a/#" || ci.Subs[0].QoS != 1 {
		t.Fatalf("client watcher: %+v", ci)
	}
	waitFor(t, "acknowledged", func() bool { ci, _ := s.Client("watcher"); return ci.Inflight == 0 })

	subs := s.Subscriptions("")
	eq(t, "subscriptions", len(subs), 2)
	eq(t, "subscriptions by filter", len(s.Subscriptions("b")), 1)

	m := s.Metrics()
	eq(t, "messages in by QoS", m.MessagesIn, [3]uint64{1, 1, 1})
	eq(t, "messages out by QoS", m.MessagesOut, [3]uint64{1, 2, 0}) // a/# grants QoS 1
	eq(t, "online sessions", m.SessionsOnline, 2)
	eq(t, "listeners", len(m.Listeners), 1)
	eq(t, "listener connections", m.Listeners[0].Connections, int64(2))

	r := s.RetainedMessages("")
	if len(r) != 1 || r[0].Topic != "a/y" || string(r[0].Payload) != "two" || r[0].QoS != 1 {
		t.Fatalf("retained: %+v", r)
	}
	if _, ok := s.RetainedMessage("a/y"); !ok {
		t.Fatal("retained a/y not found")
	}
	if ok, err := s.DeleteRetained("a/y"); !ok || err != nil {
		t.Fatalf("delete retained: %v %v", ok, err)
	}
	if ok, _ := s.DeleteRetained("a/y"); ok {
		t.Fatal("deleted twice")
	}
	eq(t, "retained after delete", len(s.RetainedMessages("")), 0)

	if err := s.Kick("nobody"); !errors.Is(err, ErrNoSuchClient) {
		t.Fatalf("kick nobody: %v", err)
	}
	if err := s.Kick("watcher"); err != nil {
		t.Fatal(err)
	}
	d := w.expect(packet.DISCONNECT).(*packet.Disconnect)
	eq(t, "reason", d.ReasonCode, packet.AdministrativeAction)
	waitConns(t, s, 1)
	m = s.Metrics()
	// Counters of the ended connection stay in the totals.
	eq(t, "messages out after kick", m.MessagesOut, [3]uint64{1, 2, 0}) // a/# grants QoS 1
	eq(t, "listener total", m.Listeners[0].Total, uint64(2))
	eq(t, "listener connections after kick", m.Listeners[0].Connections, int64(1))
}

// SetLimits applies to an established connection without dropping it.
func TestSetLimitsLive(t *testing.T) {
	s, addr := startServer(t, nil)
	p := clean(t, addr, packet.V5, "live")
	eq(t, "before", p.subscribe(sub("a", 0), sub("b", 0)), []packet.ReasonCode{0, 0})
	l := s.Limits()
	l.MaxSubscriptions = 2
	l.MaxTopicLevels = 3
	if err := s.SetLimits(l); err != nil {
		t.Fatal(err)
	}
	eq(t, "after", p.subscribe(sub("c", 0), sub("a/b/c/d", 0)), []packet.ReasonCode{packet.QuotaExceeded, packet.TopicFilterInvalid})
	eq(t, "limits", s.Limits().MaxSubscriptions, 2)
	p.publish("z", "still connected", 1, false)
	l.ReceiveMaximum = 7
	if err := s.SetLimits(l); err == nil {
		t.Error("receive_maximum changed live")
	}
	l = s.Limits()
	l.MaxPacketSize = 1
	if err := s.SetLimits(l); err == nil {
		t.Error("an invalid limit was accepted")
	}
}
