package faultstore

import (
	"errors"
	"testing"
	"time"

	"github.com/roostmq/roost/store"
)

func TestNthCallOfOneMethod(t *testing.T) {
	fs := New(store.NewMemoryDurable(), 1)
	fs.Add(Rule{Method: LoadMessages, Nth: 2, Err: ErrInjected})
	for i := 1; i <= 3; i++ {
		_, err := fs.LoadMessages("c", 0, 0)
		if want := i == 2; errors.Is(err, ErrInjected) != want {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if fs.Calls(LoadMessages) != 3 || fs.Hits(LoadMessages) != 1 || fs.Calls("") != 3 {
		t.Fatalf("calls %d hits %d", fs.Calls(LoadMessages), fs.Hits(LoadMessages))
	}
}

func TestKeyTimesAndPassThrough(t *testing.T) {
	inner := store.NewMemoryDurable()
	fs := New(inner, 1)
	fs.Add(Rule{Method: PutMessage, Key: "bad", Times: 2, Err: ErrInjected})
	rec := &store.Record{Seq: 1, QoS: 1, Msg: &store.Message{Topic: "t", Payload: []byte("x")}}
	if err := fs.PutMessage("good", rec); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		err := fs.PutMessage("bad", rec)
		if want := i < 2; errors.Is(err, ErrInjected) != want {
			t.Fatalf("call %d for bad: %v", i, err)
		}
	}
	got, _ := inner.LoadMessages("bad", 0, 0)
	if len(got) != 1 {
		t.Fatalf("faulted calls reached the store: %d records", len(got))
	}
	fs.Clear()
	if err := fs.PutMessage("bad", rec); err != nil {
		t.Fatal(err)
	}
}

// The same seed hits the same calls.
func TestProbabilityIsSeeded(t *testing.T) {
	pattern := func(seed uint64) (p []bool) {
		fs := New(store.NewMemory(), seed)
		fs.Add(Rule{Method: Sync, Prob: 0.5, Err: ErrInjected})
		for range 64 {
			p = append(p, fs.Sync() != nil)
		}
		return p
	}
	a, b := pattern(7), pattern(7)
	n := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed, different faults")
		}
		if a[i] {
			n++
		}
	}
	if n == 0 || n == 64 {
		t.Fatalf("probability 0.5 hit %d of 64", n)
	}
}

func TestGateHoldsUntilRelease(t *testing.T) {
	fs := New(store.NewMemory(), 1)
	g := NewGate()
	fs.Add(Rule{Method: SetRetained, Gate: g, Delay: time.Millisecond})
	done := make(chan error)
	go func() { done <- fs.SetRetained(&store.Message{Topic: "t", Payload: []byte("x")}) }()
	<-g.Arrived()
	select {
	case <-done:
		t.Fatal("call passed a closed gate")
	default:
	}
	if g.Waiting() != 1 {
		t.Fatalf("waiting %d", g.Waiting())
	}
	g.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := fs.SetRetained(&store.Message{Topic: "t"}); err != nil { // released for good
		t.Fatal(err)
	}
}
