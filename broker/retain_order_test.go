package broker

import (
	"testing"
	"time"

	"github.com/roostmq/roost/internal/faultstore"
)

// retainedPayload returns the payload of name's retained message, "" if none.
func retainedPayload(s *Server, name string) string {
	if ri, ok := s.RetainedMessage(name); ok {
		return string(ri.Payload)
	}
	return ""
}

// publishAsync runs Server.Publish of a retained message on its own
// goroutine and returns a channel closed when it has returned.
func publishAsync(t *testing.T, s *Server, name, payload string) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Publish(name, []byte(payload), 0, true); err != nil {
			t.Error(err)
		}
	}()
	return done
}

// Two publishers set a topic's retained message at once; the first one's
// store write is slow. Memory and store end with the same message, and a
// restart finds the one the broker held. (Review M4b: memory was set, then
// the store written, under no common lock, so memory could hold B and the
// store A, and A came back after a restart.)
func TestRetainedPublishersOrderMemoryAndStore(t *testing.T) {
	dir := t.TempDir()
	fs := faultstore.New(openDisk(t, dir), 1)
	gate := faultstore.NewGate()
	fs.Add(faultstore.Rule{Method: faultstore.SetRetained, Nth: 1, Gate: gate})
	s, _, stop := startOn(t, fs, nil)

	first := publishAsync(t, s, "t", "A")
	<-gate.Arrived() // A is in memory, its store write held
	second := publishAsync(t, s, "t", "B")
	select { // before the fix B finished here, memory and store both
	case <-second:
	case <-time.After(quiet):
	}
	gate.Release()
	<-first
	<-second
	held := retainedPayload(s, "t")
	stop()

	s2, _, _ := startOn(t, openDisk(t, dir), nil)
	eq(t, "retained after restart", retainedPayload(s2, "t"), held)
}

// A retained message found expired is removed only if it is still the one
// found: a fresh one set while the removal was under way is kept, in memory
// and in the store. (Review M4a: the removal deleted whatever was there.)
func TestExpiredRetainedRemovalKeepsFreshMessage(t *testing.T) {
	dir := t.TempDir()
	fs := faultstore.New(openDisk(t, dir), 1)
	gate := faultstore.NewGate()
	fs.Add(faultstore.Rule{Method: faultstore.DeleteRetained, Nth: 1, Gate: gate})
	clk := newFakeClock()
	s, _, stop := startOn(t, fs, func(o *Options) { o.Clock = clk })

	now := clk.Now()
	if err := s.retain(&message{topic: "t", payload: []byte("old"), retain: true, created: now, expiry: now.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)

	removed := make(chan struct{})
	go func() {
		defer close(removed)
		if list := s.RetainedMessages("t"); len(list) != 0 {
			t.Errorf("expired message listed: %+v", list)
		}
	}()
	<-gate.Arrived() // the expired message is being removed from the store
	fresh := publishAsync(t, s, "t", "fresh")
	select {
	case <-fresh:
	case <-time.After(quiet):
	}
	gate.Release()
	<-removed
	<-fresh
	eq(t, "retained in memory", retainedPayload(s, "t"), "fresh")
	stop()

	s2, _, _ := startOn(t, openDisk(t, dir), nil)
	eq(t, "retained after restart", retainedPayload(s2, "t"), "fresh")
}
