package store

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func openT(t *testing.T, dir string, o DiskOptions) *Disk {
	t.Helper()
	d, err := OpenDisk(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func rec(seq uint64, payload string) *Record {
	return &Record{Seq: seq, QoS: 1, Msg: &Message{Topic: "t", Payload: []byte(payload), QoS: 1, Created: time.Unix(1, 0)}}
}

// fill writes a session with n queued records and a retained message, each
// write synced, and closes the store.
func fill(t *testing.T, dir string, n int) {
	t.Helper()
	d := openT(t, dir, DiskOptions{})
	if err := d.SaveSession(&Session{ClientID: "c", Version: 4, Expiry: time.Hour, Subscriptions: []Subscription{{Filter: "t", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if err := d.PutMessage("c", rec(uint64(i), fmt.Sprintf("m%04d", i))); err != nil {
			t.Fatal(err)
		}
		if err := d.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.SetRetained(&Message{Topic: "r", Payload: []byte("kept"), Retain: true}); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestDiskRoundTrip(t *testing.T) {
	dir := t.TempDir()
	d := openT(t, dir, DiskOptions{})
	will := &Message{Topic: "w", Payload: []byte("bye"), QoS: 1, Props: []byte{0}, Created: time.Unix(5, 0), Expiry: time.Unix(9, 0)}
	s := &Session{ClientID: "c\x01é", Version: 5, Epoch: 3, Expiry: -1, DisconnectedAt: time.Unix(7, 0),
		Subscriptions: []Subscription{{Filter: "a/#", QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2, ID: 9}},
		Will:          will, WillDelay: time.Minute, Username: "alice"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(d.SaveSession(s))
	must(d.SaveSession(&Session{ClientID: "c", Expiry: time.Hour})) // a prefix of the other id
	must(d.PutMessage(s.ClientID, rec(1, "one")))
	must(d.PutMessage(s.ClientID, &Record{Seq: 2, PacketID: 7, QoS: 2, SubIDs: []uint32{1, 2}, Group: "g", Filter: "f", Msg: will}))
	must(d.PutMessage(s.ClientID, &Record{Seq: 3, PacketID: 8, QoS: 2, Released: true}))
	must(d.PutMessage(s.ClientID, rec(4, "four")))
	must(d.PutMessage("c", rec(1, "other")))
	must(d.AddInbound(s.ClientID, 12))
	must(d.AddInbound(s.ClientID, 13))
	must(d.DeleteInbound(s.ClientID, 13))
	must(d.Close())

	d = openT(t, dir, DiskOptions{})
	defer d.Close()
	list, err := d.LoadSessions()
	must(err)
	if len(list) != 2 {
		t.Fatalf("%d sessions", len(list))
	}
	var got *Session
	for _, x := range list {
		if x.ClientID == s.ClientID {
			got = x
		}
	}
	if got == nil || got.Epoch != 3 || got.Expiry != -1 || !got.DisconnectedAt.Equal(s.DisconnectedAt) ||
		fmt.Sprint(got.Subscriptions) != fmt.Sprint(s.Subscriptions) || got.WillDelay != time.Minute || got.Username != "alice" ||
		string(got.Will.Payload) != "bye" || !got.Will.Expiry.Equal(will.Expiry) {
		t.Fatalf("session %+v", got)
	}
	if fmt.Sprint(got.Inbound) != "[12]" || got.Queued != 2 || got.QueuedBytes != len("one")+len("four") || got.LastSeq != 4 {
		t.Fatalf("summary: inbound %v queued %d bytes %d last %d", got.Inbound, got.Queued, got.QueuedBytes, got.LastSeq)
	}
	recs, err := d.LoadMessages(s.ClientID, 1, 2)
	must(err)
	if len(recs) != 2 || recs[0].Seq != 2 || recs[0].PacketID != 7 || fmt.Sprint(recs[0].SubIDs) != "[1 2]" ||
		recs[0].Group != "g" || !recs[1].Released || recs[1].Msg != nil {
		t.Fatalf("records %+v", recs)
	}
	must(d.DeleteMessage(s.ClientID, 2))
	must(d.DeleteSession(s.ClientID))
	if recs, _ := d.LoadMessages(s.ClientID, 0, 0); len(recs) != 0 {
		t.Fatalf("records left after DeleteSession: %d", len(recs))
	}
	if recs, _ := d.LoadMessages("c", 0, 0); len(recs) != 1 {
		t.Fatalf("the other session lost its records: %d", len(recs))
	}
}

// wal returns the path of the store's newest write-ahead log.
func wal(t *testing.T, dir string) string {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(logs) == 0 {
		t.Fatal("no WAL")
	}
	var newest string
	var size int64 = -1
	for _, l := range logs {
		if fi, err := os.Stat(l); err == nil && fi.Size() > size {
			newest, size = l, fi.Size()
		}
	}
	return newest
}

func queuedCount(t *testing.T, d *Disk) int {
	t.Helper()
	recs, err := d.LoadMessages("c", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if want := fmt.Sprintf("m%04d", i+1); string(r.Msg.Payload) != want {
			t.Fatalf("record %d: %q, want %q", i, r.Msg.Payload, want)
		}
	}
	return len(recs)
}

// A write-ahead log cut short (a torn last write) opens with everything
// before the cut.
func TestDiskTruncatedWAL(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, 200)
	w := wal(t, dir)
	fi, _ := os.Stat(w)
	if err := os.Truncate(w, fi.Size()*2/3); err != nil {
		t.Fatal(err)
	}
	for _, strict := range []bool{false, true} {
		d := openT(t, dir, DiskOptions{Strict: strict})
		n := queuedCount(t, d)
		if n < 50 || n >= 200 {
			t.Fatalf("strict %v: %d records after truncation", strict, n)
		}
		d.Close()
	}
}

// corruptAt flips a byte of the WAL inside the record holding payload.
func corruptAt(t *testing.T, dir, payload string) string {
	t.Helper()
	w := wal(t, dir)
	data, err := os.ReadFile(w)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte(payload))
	if i < 0 {
		t.Fatal("record not found in the WAL")
	}
	data[i] ^= 0xFF
	if err := os.WriteFile(w, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

// A damaged byte inside the write-ahead log, with more log after it: with
// strict, opening fails with a clear error; without, the log is cut at the
// damage (the original kept), the problem reported at error level, and the
// store opens with what came before.
func TestDiskCorruptWAL(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, 2000)
	w := corruptAt(t, dir, "m0100")
	_, err := OpenDisk(dir, DiskOptions{Strict: true})
	if err == nil || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "strict") {
		t.Fatalf("strict open: %v", err)
	}
	var logs bytes.Buffer
	d := openT(t, dir, DiskOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer d.Close()
	if n := queuedCount(t, d); n != 99 {
		t.Fatalf("%d records kept, want the 99 before the damage", n)
	}
	if len(d.Problems()) == 0 || !strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("damage not reported: %v\n%s", d.Problems(), logs.String())
	}
	if backups, _ := filepath.Glob(w + ".damaged-*"); len(backups) != 1 {
		t.Fatalf("original WAL not kept: %v", backups)
	}
}

// Damage in the last block of the newest log looks like a write torn by a
// crash: Pebble drops the rest of the log; Roost reports it.
func TestDiskCorruptWALTail(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, 200)
	corruptAt(t, dir, "m0100")
	d := openT(t, dir, DiskOptions{})
	defer d.Close()
	if n := queuedCount(t, d); n != 99 {
		t.Fatalf("%d records kept, want 99", n)
	}
	if p := d.Problems(); len(p) != 1 || !strings.Contains(p[0], "cannot be read") {
		t.Fatalf("problems %v", p)
	}
}

// A record that does not decode is skipped and counted, or fails the load
// in strict mode.
func TestDiskUndecodableRecord(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, 3)
	d := openT(t, dir, DiskOptions{})
	_ = d.db.Set(recordKey("c", 2), []byte{1, 0xFF}, nil)
	_ = d.db.Set(sessionKey("bad"), []byte("junk"), nil)
	_ = d.db.Set(retainedKey("x"), []byte{9}, nil)
	d.Close()

	d = openT(t, dir, DiskOptions{})
	ss, err := d.LoadSessions()
	if err != nil || len(ss) != 1 || ss[0].Queued != 2 {
		t.Fatalf("sessions %v %v", ss, err)
	}
	r, err := d.LoadRetained()
	if err != nil || len(r) != 1 {
		t.Fatalf("retained %v %v", r, err)
	}
	if recs, err := d.LoadMessages("c", 0, 0); err != nil || len(recs) != 2 {
		t.Fatalf("records %v %v", recs, err)
	}
	if d.Skipped() < 3 {
		t.Fatalf("skipped %d", d.Skipped())
	}
	d.Close()

	d = openT(t, dir, DiskOptions{Strict: true})
	defer d.Close()
	if _, err := d.LoadSessions(); err == nil || !strings.Contains(err.Error(), "strict") {
		t.Fatalf("strict load: %v", err)
	}
}

// A damaged table file: reading stops at the damage and says so, or fails in
// strict mode.
func TestDiskCorruptTable(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, 300)
	d := openT(t, dir, DiskOptions{})
	if err := d.db.Flush(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(tables) == 0 {
		t.Fatal("no table")
	}
	data, _ := os.ReadFile(tables[0])
	data[len(data)/3] ^= 0xFF
	if err := os.WriteFile(tables[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDisk(dir, DiskOptions{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if _, err := d.LoadSessions(); err != nil {
		t.Fatalf("non-strict load: %v", err)
	}
	if _, err := d.LoadMessages("c", 0, 0); err != nil {
		t.Fatalf("non-strict LoadMessages: %v", err)
	}
	if len(d.Problems()) == 0 {
		t.Fatal("damaged table not reported")
	}
	d.Close()
	d = openT(t, dir, DiskOptions{Strict: true})
	defer d.Close()
	if _, err := d.LoadMessages("c", 0, 0); err == nil {
		t.Fatal("strict: damaged table read without an error")
	}
}

// Memory and Disk agree on the Store contract the broker relies on.
func TestStoresAgree(t *testing.T) {
	for name, s := range map[string]Store{"memory": NewMemoryDurable(), "disk": openT(t, t.TempDir(), DiskOptions{})} {
		_ = s.SaveSession(&Session{ClientID: "a", Expiry: time.Hour})
		for i := uint64(1); i <= 5; i++ {
			_ = s.PutMessage("a", rec(i, "x"))
		}
		_ = s.PutMessage("a", &Record{Seq: 2, PacketID: 4, QoS: 1, Msg: rec(2, "x").Msg})
		_ = s.DeleteMessage("a", 3)
		recs, _ := s.LoadMessages("a", 1, 2)
		list, _ := s.LoadSessions()
		if len(recs) != 2 || recs[0].Seq != 2 || recs[0].PacketID != 4 || recs[1].Seq != 4 ||
			list[0].Queued != 3 || list[0].LastSeq != 5 || !s.Durable() {
			t.Errorf("%s: records %+v sessions %+v", name, recs, list[0])
		}
		if d, ok := s.(*Disk); ok && len(d.Problems()) != 0 {
			t.Errorf("%s: problems after clean reads: %q", name, d.Problems())
		}
		_ = s.Close()
	}
}

// Every sync to disk is counted with its duration, for the admin server's
// roost_store_sync_seconds histogram.
func TestDiskSyncLatency(t *testing.T) {
	d := openT(t, t.TempDir(), DiskOptions{Sync: SyncAlways})
	defer d.Close()
	for i := range 5 {
		if err := d.SetRetained(&Message{Topic: "t", Payload: []byte{byte(i)}, Retain: true}); err != nil {
			t.Fatal(err)
		}
		if err := d.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	count, sum, buckets := d.SyncLatency()
	if count < 5 || sum <= 0 {
		t.Fatalf("count %d sum %v", count, sum)
	}
	prev := uint64(0)
	for _, b := range syncBounds {
		if buckets[b] < prev || buckets[b] > count {
			t.Fatalf("buckets not cumulative: %v", buckets)
		}
		prev = buckets[b]
	}
}
