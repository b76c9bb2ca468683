package managed

import (
	"errors"
	"sync"

	"github.com/roostmq/roost/client"
)

// Queue holds outbound messages in order. Implementations must be safe for
// concurrent use: Push is called by publishers, Peek and Pop by the
// Manager's sending goroutine.
type Queue interface {
	// Push appends a message; the queue may keep msg itself.
	Push(msg *client.Message) error
	// Peek returns the oldest message without removing it, or nil when
	// the queue is empty.
	Peek() (*client.Message, error)
	// Pop removes the oldest message.
	Pop() error
	// Len reports the number of messages queued.
	Len() int
}

// ErrQueueFull is returned by Push on a full queue.
var ErrQueueFull = errors.New("managed: queue full")

// MemoryQueue is a Queue in memory, bounded in messages.
type MemoryQueue struct {
	mu   sync.Mutex
	msgs []*client.Message // guarded by mu
	max  int
}

// NewMemoryQueue returns an empty queue for at most max messages (0: 100000).
func NewMemoryQueue(max int) *MemoryQueue {
	if max <= 0 {
		max = 100000
	}
	return &MemoryQueue{max: max}
}

// Push implements Queue; it refuses messages beyond the bound.
func (q *MemoryQueue) Push(msg *client.Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.msgs) >= q.max {
		return ErrQueueFull
	}
	q.msgs = append(q.msgs, msg)
	return nil
}

// Peek implements Queue.
func (q *MemoryQueue) Peek() (*client.Message, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.msgs) == 0 {
		return nil, nil
	}
	return q.msgs[0], nil
}

// Pop implements Queue.
func (q *MemoryQueue) Pop() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.msgs) > 0 {
		q.msgs[0] = nil
		q.msgs = q.msgs[1:]
	}
	return nil
}

// Len implements Queue.
func (q *MemoryQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.msgs)
}
