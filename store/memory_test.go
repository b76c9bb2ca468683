package store

import (
	"testing"
	"time"
)

func TestMemorySessionsAndRetained(t *testing.T) {
	m := NewMemoryShared()
	s := &Session{ClientID: "c", Expiry: time.Minute, Subscriptions: []Subscription{{Filter: "a/#", QoS: 1}}}
	if err := m.SaveSession(s); err != nil {
		t.Fatal(err)
	}
	s.Subscriptions[0].Filter = "changed"
	got, _ := m.LoadSessions()
	if len(got) != 1 || got[0].Subscriptions[0].Filter != "a/#" {
		t.Fatalf("store kept a reference to the caller's value: %+v", got)
	}
	_ = m.DeleteSession("c")
	if got, _ := m.LoadSessions(); len(got) != 0 {
		t.Fatal("session not deleted")
	}
	payload := []byte("on")
	_ = m.SetRetained(&Message{Topic: "t", Payload: payload, Retain: true})
	payload[0] = 'x'
	r, _ := m.LoadRetained()
	if len(r) != 1 || string(r[0].Payload) != "on" {
		t.Fatalf("retained: %+v", r)
	}
	_ = m.DeleteRetained("t")
	if r, _ := m.LoadRetained(); len(r) != 0 {
		t.Fatal("retained not deleted")
	}
}

// NewMemory, the broker's default store, keeps no copy of what it is given:
// the broker never reads it back. (Review M7.)
func TestMemoryDefaultKeepsNothing(t *testing.T) {
	m := NewMemory()
	if m.Durable() {
		t.Fatal("NewMemory reports itself durable")
	}
	if err := m.SaveSession(&Session{ClientID: "c", Expiry: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetRetained(&Message{Topic: "t", Payload: []byte("on"), Retain: true}); err != nil {
		t.Fatal(err)
	}
	if err := m.PutMessage("c", rec(1, "x")); err != nil {
		t.Fatal(err)
	}
	s, _ := m.LoadSessions()
	r, _ := m.LoadRetained()
	q, _ := m.LoadMessages("c", 0, 0)
	if len(s)+len(r)+len(q) != 0 || m.sessions != nil || m.retained != nil {
		t.Fatalf("kept: %d sessions, %d retained, %d records", len(s), len(r), len(q))
	}
}
