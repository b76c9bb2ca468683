package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/record"
)

// SyncMode says when Disk makes writes durable.
type SyncMode int

// Sync modes.
const (
	// SyncAlways: Sync waits for an fsync of the write-ahead log that
	// covers every earlier write. Concurrent Syncs share one fsync (Pebble's
	// group commit). Nothing acknowledged is lost, even on power loss.
	SyncAlways SyncMode = iota
	// SyncInterval: Sync returns at once; a background goroutine syncs every
	// DiskOptions.SyncInterval. A power loss or kernel crash loses what was
	// acknowledged in the last interval; a process crash loses at most what
	// Pebble had not yet handed to the operating system.
	SyncInterval
	// SyncNever: Sync returns at once and Roost never asks for an fsync; the
	// operating system writes the log back when it likes. A power loss can
	// lose many seconds of acknowledged messages.
	SyncNever
)

func (m SyncMode) String() string {
	switch m {
	case SyncAlways:
		return "always"
	case SyncInterval:
		return "interval"
	case SyncNever:
		return "never"
	}
	return fmt.Sprintf("SyncMode(%d)", int(m))
}

// DiskOptions configures OpenDisk.
type DiskOptions struct {
	Sync         SyncMode
	SyncInterval time.Duration // SyncInterval mode; 0 means 100ms
	// Strict refuses to open a damaged store, and fails a load that meets
	// a record it cannot read. Without it Roost salvages: a damaged
	// write-ahead log is cut at the first bad record (the original is kept
	// beside it as *.damaged-TIME), a store Pebble still cannot open is moved
	// aside to DIR.damaged-TIME and an empty one is started, and unreadable
	// records are skipped. Every such step is logged at error level and
	// listed by Problems.
	Strict bool
	Logger *slog.Logger // nil discards
}

// Disk is a Store on Pebble, an LSM key-value engine whose write-ahead log
// gives group commit: the broker writes without syncing and calls Sync
// before an acknowledgement, and concurrent Syncs share one fsync.
//
// Keys: 's'+client -> session; 'r'+topic -> retained message;
// 'q'+len(client)+client+seq -> message record; 'i'+len(client)+client+id ->
// inbound QoS 2 id; 'b' -> the ban list (bans.go). Values carry a format
// byte (see codec.go), the ban list's is JSON.
type Disk struct {
	db   *pebble.DB
	dir  string
	opts DiskOptions
	log  *slog.Logger

	mu       sync.Mutex
	problems []string // guarded by mu
	skipped  atomic.Int64

	// life guards the engine against use after Close: every method holds
	// it shared while it uses db, Close takes it exclusively, so a call in
	// flight finishes before the engine closes and a later one gets
	// ErrClosed instead of Pebble's panic.
	life   sync.RWMutex
	closed bool // guarded by life

	syncs syncStats

	stop chan struct{}
	wg   sync.WaitGroup
}

var _ Store = (*Disk)(nil)

var noSync = pebble.NoSync

// OpenDisk opens (creating when needed) the store in dir.
func OpenDisk(dir string, o DiskOptions) (*Disk, error) {
	if o.SyncInterval <= 0 {
		o.SyncInterval = 100 * time.Millisecond
	}
	d := &Disk{dir: dir, opts: o, log: o.Logger, stop: make(chan struct{})}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := d.checkWAL(); err != nil {
		return nil, err
	}
	db, err := d.open()
	if err != nil && !o.Strict && pebble.IsCorruptionError(err) {
		d.report("opening %s: %v", dir, err)
		if n := d.repairWAL(); n > 0 {
			db, err = d.open()
		}
		if err != nil {
			aside := fmt.Sprintf("%s.damaged-%s", filepath.Clean(dir), time.Now().UTC().Format("20060102T150405Z"))
			if rerr := os.Rename(dir, aside); rerr != nil {
				return nil, fmt.Errorf("store: %s is damaged (%v) and could not be moved aside: %w", dir, err, rerr)
			}
			d.report("%s could not be opened (%v): moved to %s; starting with an empty store", dir, err, aside)
			if err = os.MkdirAll(dir, 0o755); err == nil {
				db, err = d.open()
			}
		}
	}
	if err != nil {
		if pebble.IsCorruptionError(err) {
			return nil, fmt.Errorf("store: %s is damaged: %w (storage.strict is on; set it off to start with what is intact)", dir, err)
		}
		return nil, fmt.Errorf("store: opening %s: %w", dir, err)
	}
	d.db = db
	if o.Sync == SyncInterval {
		d.wg.Add(1)
		go d.syncLoop()
	}
	return d, nil
}

func (d *Disk) open() (*pebble.DB, error) {
	return pebble.Open(d.dir, &pebble.Options{Logger: pebbleLogger{d.log}, EventListener: &pebble.EventListener{
		// A damaged table: the read that met it fails (and is reported by
		// scan); Pebble's default would end the process.
		DataCorruption: func(info pebble.DataCorruptionInfo) {
			d.report("damaged file %s: %v", info.Path, info.Details)
		},
	}})
}

// walLogs lists the write-ahead logs in the store's directory.
func (d *Disk) walLogs() (paths []string, nums []uint64) {
	ents, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, nil
	}
	for _, e := range ents {
		var num uint64
		if !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		if _, err := fmt.Sscanf(e.Name(), "%06d.log", &num); err != nil {
			continue
		}
		paths = append(paths, filepath.Join(d.dir, e.Name()))
		nums = append(nums, num)
	}
	return paths, nums
}

// checkWAL looks at every write-ahead log before Pebble does. Pebble drops
// an unreadable end of the newest log silently. When readable records follow
// the unreadable ones, the log is damaged: strict mode refuses it, otherwise
// it is cut there (repairWAL) and reported. When nothing readable follows,
// it is a write torn by a crash (or damage in the last block, which looks
// the same): reported, and dropped even in strict mode.
func (d *Disk) checkWAL() error {
	paths, nums := d.walLogs()
	damaged := false
	for i, path := range paths {
		good, bad, more := scanWAL(path, nums[i])
		if !bad {
			continue
		}
		fi, err := os.Stat(path)
		if err != nil {
			continue
		}
		if more {
			if d.opts.Strict {
				return fmt.Errorf("store: %s is damaged: write-ahead log %s cannot be read at offset %d of %d and has readable records after it (storage.strict is on; set it off to start with what is intact)",
					d.dir, path, good, fi.Size())
			}
			damaged = true
			continue
		}
		d.report("write-ahead log %s: the last %d of %d bytes cannot be read (a write torn by a crash, or damage in the last block); they are dropped",
			path, fi.Size()-good, fi.Size())
	}
	if damaged {
		d.repairWAL()
	}
	return nil
}

// repairWAL cuts every write-ahead log at its first unreadable record,
// keeping a copy of the original. It returns how many logs it cut.
func (d *Disk) repairWAL() int {
	paths, nums := d.walLogs()
	cut := 0
	for i, path := range paths {
		good, bad, _ := scanWAL(path, nums[i])
		if !bad {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		backup := path + ".damaged-" + time.Now().UTC().Format("20060102T150405Z")
		if os.WriteFile(backup, data, 0o644) != nil || os.Truncate(path, good) != nil {
			continue
		}
		d.report("write-ahead log %s is damaged at offset %d of %d: cut there (original kept as %s); writes after that point are lost",
			path, good, len(data), filepath.Base(backup))
		cut++
	}
	return cut
}

// fileNum converts n to the type record.NewReader takes.
func fileNum[T ~uint64](_ func(io.Reader, T) *record.Reader, n uint64) T { return T(n) }

// walBlock is the block size of Pebble's log format.
const walBlock = 32 << 10

// scanWAL returns the length of the readable start of a log, whether
// anything after it is unreadable, and whether readable records follow the
// unreadable part (looked for from each later block boundary).
func scanWAL(path string, num uint64) (good int64, bad, more bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false, false
	}
	defer f.Close()
	good, bad = readableWAL(f, num)
	if !bad {
		return good, false, false
	}
	fi, err := f.Stat()
	if err != nil {
		return good, true, false
	}
	for off := (good/walBlock + 1) * walBlock; off < fi.Size(); off += walBlock {
		if n, _ := readableWAL(io.NewSectionReader(f, off, fi.Size()-off), num); n > 0 {
			return good, true, true
		}
	}
	return good, true, false
}

// readableWAL reads records from r until one fails; it returns the offset
// after the last good one and whether reading stopped on an error.
func readableWAL(r io.Reader, num uint64) (int64, bool) {
	rr := record.NewReader(r, fileNum(record.NewReader, num))
	for {
		off := rr.Offset()
		rec, err := rr.Next()
		if err == nil {
			_, err = io.Copy(io.Discard, rec)
		}
		if errors.Is(err, io.EOF) {
			return off, false
		}
		if err != nil {
			return off, true
		}
	}
}

// report logs a problem met while reading the store and keeps it for
// Problems.
func (d *Disk) report(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	d.log.Error("store: " + msg)
	d.mu.Lock()
	if len(d.problems) < 1000 {
		d.problems = append(d.problems, msg)
	}
	d.mu.Unlock()
}

// Problems lists what could not be read since the store was opened: damage
// repaired at open, records skipped while loading.
func (d *Disk) Problems() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.problems...)
}

// Skipped counts the records that could not be decoded and were skipped.
func (d *Disk) Skipped() int64 { return d.skipped.Load() }

func (d *Disk) syncLoop() {
	defer d.wg.Done()
	t := time.NewTicker(d.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := d.syncNow(); err != nil {
				d.log.Error("store: periodic sync failed", "err", err)
			}
		case <-d.stop:
			return
		}
	}
}

func (d *Disk) syncNow() error {
	start := time.Now()
	err := d.db.LogData(nil, pebble.Sync)
	d.syncs.observe(time.Since(start))
	return err
}

// Sync implements Store. In SyncAlways mode it waits for an fsync covering
// every earlier write; concurrent callers share it.
func (d *Disk) Sync() error {
	if !d.enter() {
		return ErrClosed
	}
	defer d.life.RUnlock()
	if d.opts.Sync != SyncAlways {
		return nil
	}
	return d.syncNow()
}

// enter reports whether the store is open; when it is, the caller holds
// life shared and must release it (RUnlock) when done with db.
func (d *Disk) enter() bool {
	d.life.RLock()
	if d.closed {
		d.life.RUnlock()
		return false
	}
	return true
}

// Durable implements Store.
func (d *Disk) Durable() bool { return true }

// Close implements Store: it waits for the calls in flight, syncs and
// closes the engine. Every later call, Close included, returns ErrClosed.
func (d *Disk) Close() error {
	d.life.Lock()
	defer d.life.Unlock()
	if d.closed {
		return ErrClosed
	}
	d.closed = true
	close(d.stop)
	d.wg.Wait()
	err := d.syncNow()
	return errors.Join(err, d.db.Close())
}

// Keys.

func sessionKey(id string) []byte { return append([]byte{'s'}, id...) }
func retainedKey(t string) []byte { return append([]byte{'r'}, t...) }

func clientPrefix(kind byte, id string) []byte {
	k := binary.AppendUvarint([]byte{kind}, uint64(len(id)))
	return append(k, id...)
}

func recordKey(id string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(clientPrefix('q', id), seq)
}

func inboundKey(id string, pid uint16) []byte {
	return binary.BigEndian.AppendUint16(clientPrefix('i', id), pid)
}

// prefixEnd returns the first key after every key starting with p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// splitClientKey parses 'q'/'i' keys: the client id and what follows it.
func splitClientKey(k []byte) (string, []byte, bool) {
	if len(k) < 2 {
		return "", nil, false
	}
	n, w := binary.Uvarint(k[1:])
	if w <= 0 || uint64(len(k)-1-w) < n {
		return "", nil, false
	}
	return string(k[1+w : 1+w+int(n)]), k[1+w+int(n):], true
}

// Writes.

// SaveSession implements Store.
func (d *Disk) SaveSession(s *Session) error {
	if !d.enter() {
		return ErrClosed
	}
	defer d.life.RUnlock()
	return d.db.Set(sessionKey(s.ClientID), encodeSession(s), noSync)
}

// DeleteSession implements Store.
func (d *Disk) DeleteSession(id string) error {
	if !d.enter() {
		return ErrClosed
	}
	defer d.life.RUnlock()
	b := d.db.NewBatch()
	defer b.Close()
	_ = b.Delete(sessionKey(id), nil)
	q, in := clientPrefix('q', id), clientPrefix('i', id)
	_ = b.DeleteRange(q, prefixEnd(q), nil)
	_ = b.DeleteRange(in, prefixEnd(in), nil)
	return d.db.Apply(b, noSync)
}

// SetRetained implements Store.
func (d *Disk) SetRetained(m *Message) error {
	if !d.enter() {
		return ErrClosed
	}
	defer d.life.RUnlock()
	return d.db.Set(retainedKey(m.Topic), encodeMessage(m), noSync)
}

// DeleteRetained implements Store.
func (d *Disk) DeleteRetained(topic string) error {
	if !d.enter() {
		return ErrClosed
	}
	defer d.life.RUnlock()
	return d.db.Delete(retainedKey(topic), noSync)
}

// PutMessage implements Store.
func (d *Disk) PutMessage(id string, r *Record) error {
	if !d.enter() {
		return ErrClosed
	}
	defer d.life.RUnlock()
	return d.db.Set(recordKey(id, r.Seq), encodeRecord(r), noSync)
}

// DeleteMessage implements Store.
func (d *Disk) DeleteMessage(id string, seq uint64) error {
	if !d.enter() {
		return ErrClosed
	}
	defer d.life.RUnlock()
	return d.db.Delete(recordKey(id, seq), noSync)
}

// AddInbound implements Store.
func (d *Disk) AddInbound(id string, pid uint16) error {
	if !d.enter() {
		return ErrClosed
	}
	defer d.life.RUnlock()
	return d.db.Set(inboundKey(id, pid), nil, noSync)
}

// DeleteInbound implements Store.
func (d *Disk) DeleteInbound(id string, pid uint16) error {
	if !d.enter() {
		return ErrClosed
	}
	defer d.life.RUnlock()
	return d.db.Delete(inboundKey(id, pid), noSync)
}

// Reads.

// errScanDone, returned by a scan's fn, ends the scan early without an
// error: the caller has read what it wanted (a limited read).
var errScanDone = errors.New("store: scan done")

// scan calls fn for every key with prefix p. A value fn cannot decode (fn
// returns errCorrupt) is skipped and reported, or ends the scan with an
// error in strict mode; so does an error of the engine (a checksum mismatch
// in a table), which also ends a non-strict scan early. fn returning
// errScanDone ends the scan quietly: that is not damage.
func (d *Disk) scan(what string, lo, hi []byte, fn func(k, v []byte) error) error {
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return d.readErr(what, err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err == nil {
			err = fn(it.Key(), v)
		}
		if err == nil {
			continue
		}
		if errors.Is(err, errScanDone) {
			return it.Close()
		}
		if !errors.Is(err, errCorrupt) {
			_ = it.Close()
			return d.readErr(what, err)
		}
		if d.opts.Strict {
			_ = it.Close()
			return fmt.Errorf("store: %s: key %q: %w (storage.strict is on)", what, it.Key(), err)
		}
		d.skipped.Add(1)
		d.report("%s: skipped key %q: %v", what, it.Key(), err)
	}
	err = it.Error()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return d.readErr(what, err)
	}
	return nil
}

func (d *Disk) readErr(what string, err error) error {
	if d.opts.Strict {
		return fmt.Errorf("store: reading %s: %w (storage.strict is on)", what, err)
	}
	d.report("reading %s stopped early: %v; continuing with what was read", what, err)
	return nil
}

// LoadSessions implements Store.
func (d *Disk) LoadSessions() ([]*Session, error) {
	if !d.enter() {
		return nil, ErrClosed
	}
	defer d.life.RUnlock()
	byID := map[string]*Session{}
	var out []*Session
	err := d.scan("sessions", []byte{'s'}, []byte{'s' + 1}, func(k, v []byte) error {
		s, err := decodeSession(v)
		if err != nil || s.ClientID != string(k[1:]) {
			return errCorrupt
		}
		byID[s.ClientID] = s
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = d.scan("inbound QoS 2 ids", []byte{'i'}, []byte{'i' + 1}, func(k, _ []byte) error {
		id, rest, ok := splitClientKey(k)
		if !ok || len(rest) != 2 {
			return errCorrupt
		}
		if s := byID[id]; s != nil {
			s.Inbound = append(s.Inbound, binary.BigEndian.Uint16(rest))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = d.scan("message records", []byte{'q'}, []byte{'q' + 1}, func(k, v []byte) error {
		id, rest, ok := splitClientKey(k)
		if !ok || len(rest) != 8 {
			return errCorrupt
		}
		s := byID[id]
		if s == nil {
			return nil
		}
		seq := binary.BigEndian.Uint64(rest)
		r, err := decodeRecord(seq, v)
		if err != nil {
			return err
		}
		if r.PacketID == 0 && !r.Released {
			s.Queued++
			s.QueuedBytes += len(r.Msg.Payload)
		}
		s.LastSeq = max(s.LastSeq, seq)
		return nil
	})
	return out, err
}

// LoadRetained implements Store.
func (d *Disk) LoadRetained() ([]*Message, error) {
	if !d.enter() {
		return nil, ErrClosed
	}
	defer d.life.RUnlock()
	var out []*Message
	err := d.scan("retained messages", []byte{'r'}, []byte{'r' + 1}, func(k, v []byte) error {
		m, err := decodeMessage(v)
		if err != nil || m.Topic != string(k[1:]) {
			return errCorrupt
		}
		out = append(out, m)
		return nil
	})
	return out, err
}

// LoadMessages implements Store.
func (d *Disk) LoadMessages(id string, after uint64, limit int) ([]*Record, error) {
	if !d.enter() {
		return nil, ErrClosed
	}
	defer d.life.RUnlock()
	p := clientPrefix('q', id)
	lo := binary.BigEndian.AppendUint64(bytes.Clone(p), after+1)
	if after == ^uint64(0) {
		return nil, nil
	}
	var out []*Record
	err := d.scan("messages of "+id, lo, prefixEnd(p), func(k, v []byte) error {
		if limit > 0 && len(out) >= limit {
			return errScanDone // a limited read, not damage
		}
		r, err := decodeRecord(binary.BigEndian.Uint64(k[len(p):]), v)
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// pebbleLogger sends Pebble's logs to slog.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Warn("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := "pebble: " + fmt.Sprintf(format, args...)
	p.l.Error(msg)
	panic(msg)
}
