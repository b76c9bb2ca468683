package managed

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/roostmq/roost/client"
)

// FileQueue is a Queue on disk: one file per message in a directory, written
// to a temporary name, synced and renamed, so a message pushed survives a
// crash of the program and is sent after it restarts.
type FileQueue struct {
	dir string
	max int

	mu   sync.Mutex
	seqs []uint64 // guarded by mu: queued sequence numbers, oldest first
	next uint64   // guarded by mu
}

var _ Queue = (*FileQueue)(nil)

const queueExt = ".msg"

// OpenFileQueue opens (creating) the queue in dir, holding at most max
// messages (0: 100000). Messages left by an earlier run are kept in order.
func OpenFileQueue(dir string, max int) (*FileQueue, error) {
	if max <= 0 {
		max = 100000
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	q := &FileQueue{dir: dir, max: max}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			_ = os.Remove(filepath.Join(dir, name)) // a push that never completed
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, queueExt), 10, 64)
		if err != nil || !strings.HasSuffix(name, queueExt) {
			continue
		}
		q.seqs = append(q.seqs, seq)
	}
	slices.Sort(q.seqs)
	if n := len(q.seqs); n > 0 {
		q.next = q.seqs[n-1] + 1
	}
	return q, nil
}

func (q *FileQueue) path(seq uint64) string {
	return filepath.Join(q.dir, fmt.Sprintf("%020d%s", seq, queueExt))
}

// Push implements Queue.
func (q *FileQueue) Push(msg *client.Message) error {
	b, err := msg.MarshalBinary()
	if err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.seqs) >= q.max {
		return ErrQueueFull
	}
	seq := q.next
	final := q.path(seq)
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	if err := firstErr(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	q.next++
	q.seqs = append(q.seqs, seq)
	return nil
}

// Peek implements Queue.
func (q *FileQueue) Peek() (*client.Message, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.seqs) == 0 {
		return nil, nil
	}
	b, err := os.ReadFile(q.path(q.seqs[0]))
	if err != nil {
		return nil, err
	}
	m := new(client.Message)
	if err := m.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("managed: queued message %s: %w", q.path(q.seqs[0]), err)
	}
	return m, nil
}

// Pop implements Queue.
func (q *FileQueue) Pop() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.seqs) == 0 {
		return nil
	}
	if err := os.Remove(q.path(q.seqs[0])); err != nil && !os.IsNotExist(err) {
		return err
	}
	q.seqs = q.seqs[1:]
	return nil
}

// Len implements Queue.
func (q *FileQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.seqs)
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
