package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// allCalls makes every call of the Store interface once and returns their
// errors by method name.
func allCalls(s Store) map[string]error {
	errs := map[string]error{}
	errs["SaveSession"] = s.SaveSession(&Session{ClientID: "c", Expiry: time.Hour})
	errs["DeleteSession"] = s.DeleteSession("c")
	_, errs["LoadSessions"] = s.LoadSessions()
	errs["SetRetained"] = s.SetRetained(&Message{Topic: "t", Payload: []byte("x"), Retain: true})
	errs["DeleteRetained"] = s.DeleteRetained("t")
	_, errs["LoadRetained"] = s.LoadRetained()
	errs["PutMessage"] = s.PutMessage("c", rec(1, "x"))
	errs["DeleteMessage"] = s.DeleteMessage("c", 1)
	_, errs["LoadMessages"] = s.LoadMessages("c", 0, 0)
	errs["AddInbound"] = s.AddInbound("c", 1)
	errs["DeleteInbound"] = s.DeleteInbound("c", 1)
	errs["Sync"] = s.Sync()
	errs["Close"] = s.Close()
	return errs
}

func everyStore(t *testing.T) map[string]Store {
	return map[string]Store{
		"memory": NewMemory(), "memory-shared": NewMemoryShared(), "memory-durable": NewMemoryDurable(),
		"disk": openT(t, t.TempDir(), DiskOptions{}), "disk-interval": openT(t, t.TempDir(), DiskOptions{Sync: SyncInterval}),
	}
}

// After Close, every method of every store returns ErrClosed: no panic
// from the engine (Pebble panics on a write after Close).
func TestClosedStoreReturnsErrClosed(t *testing.T) {
	for name, s := range everyStore(t) {
		for m, err := range allCalls(s) { // open: the last call closes it
			if err != nil {
				t.Errorf("%s: %s on an open store: %v", name, m, err)
			}
		}
		for m, err := range allCalls(s) {
			if !errors.Is(err, ErrClosed) {
				t.Errorf("%s: %s after Close: %v, want ErrClosed", name, m, err)
			}
		}
	}
}

// Calls racing with Close either complete or return ErrClosed; none
// panics and none uses the closed engine (run with -race).
func TestCloseRacesWithCalls(t *testing.T) {
	for name, s := range everyStore(t) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		errc := make(chan error, 64)
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				id := fmt.Sprintf("c%d", g)
				for i := uint64(1); ; i++ {
					err := s.PutMessage(id, rec(i, "x"))
					if err == nil {
						err = s.Sync()
					}
					if err == nil {
						_, err = s.LoadMessages(id, 0, 2)
					}
					if err != nil {
						errc <- err
						return
					}
				}
			}()
		}
		close(start)
		if err := s.Close(); err != nil {
			t.Errorf("%s: Close: %v", name, err)
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if !errors.Is(err, ErrClosed) {
				t.Errorf("%s: call racing Close: %v, want ErrClosed", name, err)
			}
		}
	}
}

// A read limited to fewer records than the session has is not damage:
// nothing is logged at error level or listed by Problems. (Review M3.)
func TestDiskLimitedReadIsNotDamage(t *testing.T) {
	d := openT(t, t.TempDir(), DiskOptions{})
	defer d.Close()
	for i := uint64(1); i <= 10; i++ {
		if err := d.PutMessage("c", rec(i, "x")); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []int{1, 4, 9} {
		recs, err := d.LoadMessages("c", 0, limit)
		if err != nil || len(recs) != limit {
			t.Fatalf("limit %d: %d records, %v", limit, len(recs), err)
		}
	}
	if recs, _ := d.LoadMessages("c", 4, 3); len(recs) != 3 || recs[0].Seq != 5 || recs[2].Seq != 7 {
		t.Fatalf("after 4, limit 3: %+v", recs)
	}
	if p := d.Problems(); len(p) != 0 {
		t.Fatalf("limited reads reported as damage: %q", p)
	}
}
