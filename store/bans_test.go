package store

import (
	"testing"
	"time"
)

func TestBanStoreRoundTrip(t *testing.T) {
	until := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	want := []Ban{{Kind: "client_id", Value: "evil"}, {Kind: "ip", Value: "10.0.0.0/8", Until: until}}
	check := func(name string, got []Ban) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %v, want %v", name, got, want)
		}
		for i := range want {
			if got[i].Kind != want[i].Kind || got[i].Value != want[i].Value || !got[i].Until.Equal(want[i].Until) {
				t.Errorf("%s: ban %d = %+v, want %+v", name, i, got[i], want[i])
			}
		}
	}

	m := NewMemoryShared()
	if got, err := m.LoadBans(); err != nil || len(got) != 0 {
		t.Fatalf("empty memory: %v %v", got, err)
	}
	if err := m.SaveBans(want); err != nil {
		t.Fatal(err)
	}
	got, _ := m.LoadBans()
	check("memory", got)
	if err := NewMemory().SaveBans(want); err != nil {
		t.Errorf("NewMemory (keeps nothing): %v", err)
	}

	dir := t.TempDir()
	d, err := OpenDisk(dir, DiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := d.LoadBans(); err != nil || len(got) != 0 {
		t.Fatalf("empty disk: %v %v", got, err)
	}
	if err := d.SaveBans(want); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.SaveBans(want); err != ErrClosed {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	d, err = OpenDisk(dir, DiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got, err = d.LoadBans()
	if err != nil {
		t.Fatal(err)
	}
	check("disk after reopen", got)
	// The ban list is not mistaken for another record.
	if s, err := d.LoadSessions(); err != nil || len(s) != 0 {
		t.Errorf("sessions: %v %v", s, err)
	}
	if r, err := d.LoadRetained(); err != nil || len(r) != 0 {
		t.Errorf("retained: %v %v", r, err)
	}
	if err := d.SaveBans(nil); err != nil {
		t.Fatal(err)
	}
	if got, err := d.LoadBans(); err != nil || len(got) != 0 {
		t.Errorf("after saving none: %v %v", got, err)
	}
}
