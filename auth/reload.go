package auth

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ReloadInterval is how often a file-backed checker looks at its file for
// changes (modification time, size, or a new file in its place). The check
// runs inside an authentication or authorization call, never more than
// once per interval, and never blocks another call.
const ReloadInterval = time.Second

// watched keeps the parsed contents of a file and re-reads it when it
// changes. A file that no longer parses is logged and the previous contents
// are kept.
type watched[T any] struct {
	path     string
	parse    func(data []byte) (*T, error)
	log      *slog.Logger
	interval time.Duration

	val     atomic.Pointer[T]
	checked atomic.Int64 // unix nanoseconds of the last look at the file
	mu      sync.Mutex   // held while looking; TryLock so that callers never wait
	info    os.FileInfo  // guarded by mu
}

// load reads the file for the first time; its error is the caller's.
func (w *watched[T]) load() error {
	if w.interval == 0 {
		w.interval = ReloadInterval
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	fi, err := os.Stat(w.path)
	if err != nil {
		return err
	}
	v, err := w.read()
	if err != nil {
		return err
	}
	w.info = fi
	w.val.Store(v)
	w.checked.Store(time.Now().UnixNano())
	return nil
}

func (w *watched[T]) read() (*T, error) {
	data, err := os.ReadFile(w.path)
	if err != nil {
		return nil, err
	}
	v, err := w.parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", w.path, err)
	}
	return v, nil
}

// get returns the current contents, first re-reading the file when the
// interval has passed and the file changed.
func (w *watched[T]) get() *T {
	now := time.Now().UnixNano()
	if now-w.checked.Load() >= int64(w.interval) && w.mu.TryLock() {
		w.refreshLocked(now)
		w.mu.Unlock()
	}
	return w.val.Load()
}

func (w *watched[T]) refreshLocked(now int64) {
	w.checked.Store(now)
	fi, err := os.Stat(w.path)
	if err != nil {
		w.log.Warn("auth file unreadable; keeping its last contents", "file", w.path, "err", err)
		return
	}
	if w.info != nil && os.SameFile(fi, w.info) && fi.ModTime().Equal(w.info.ModTime()) && fi.Size() == w.info.Size() {
		return
	}
	v, err := w.read()
	if err != nil {
		w.log.Error("auth file changed but cannot be used; keeping its last contents", "file", w.path, "err", err)
		w.info = fi // do not retry until it changes again
		return
	}
	w.info = fi
	w.val.Store(v)
	w.log.Info("auth file reloaded", "file", w.path)
}
