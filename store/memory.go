package store

import (
	"slices"
	"sync"
	"sync/atomic"
)

// Memory is a Store that keeps everything in maps; nothing survives the
// process. It copies values in and out so callers may reuse theirs.
//
// NewMemory, the broker's default, keeps nothing: the broker holds its live
// state itself and reads a store only when it starts, so a copy no later
// Server reads would double the memory of every retained message and
// session. NewMemoryShared and NewMemoryDurable keep copies, for a second
// Server given the same store (tests, embedders that restart a broker in
// one process).
type Memory struct {
	durable bool // immutable
	keep    bool // immutable: false for NewMemory, which keeps nothing

	isClosed atomic.Bool // set by Close; what keeps nothing checks only this
	syncs    atomic.Int64

	mu       sync.Mutex
	closed   bool                          // guarded by mu
	sessions map[string]*Session           // guarded by mu
	retained map[string]*Message           // guarded by mu
	records  map[string]map[uint64]*Record // guarded by mu: client -> seq -> record
	inbound  map[string]map[uint16]bool    // guarded by mu
	bans     []Ban                         // guarded by mu (bans.go)
}

var _ Store = (*Memory)(nil)

// NewMemory returns an in-memory store that keeps nothing: every write
// succeeds and is forgotten, every load finds nothing. It reports itself
// not durable, so the broker keeps queues in memory and writes no message
// records. It is the broker's store when none is configured.
func NewMemory() *Memory {
	return &Memory{}
}

// NewMemoryShared returns an in-memory store that keeps a copy of the
// sessions and retained messages written to it, so that a new Server given
// the same store starts with them, as after a restart. It reports itself
// not durable, like NewMemory.
func NewMemoryShared() *Memory {
	return &Memory{keep: true, sessions: map[string]*Session{}, retained: map[string]*Message{},
		records: map[string]map[uint64]*Record{}, inbound: map[string]map[uint16]bool{}}
}

// NewMemoryDurable returns an in-memory store that reports itself durable:
// the broker writes every record through it as it would to a disk, which
// lets tests check what a restart would find by giving the same store to a
// new Server.
func NewMemoryDurable() *Memory {
	m := NewMemoryShared()
	m.durable = true
	return m
}

// lock takes mu for a store that keeps copies and reports whether the
// store is open; the caller unlocks only when it returns true. A store that
// keeps nothing takes no lock: it returns false, and closedErr says why.
func (m *Memory) lock() bool {
	if !m.keep {
		return false
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return false
	}
	return true
}

// closedErr is the result of a call that did not take the lock: ErrClosed
// after Close, else nil (a store that keeps nothing).
func (m *Memory) closedErr() error {
	if m.isClosed.Load() || m.keep {
		return ErrClosed
	}
	return nil
}

func copySession(s *Session) *Session {
	c := *s
	c.Subscriptions = slices.Clone(s.Subscriptions)
	c.Inbound = nil
	if s.Will != nil {
		c.Will = copyMessage(s.Will)
	}
	return &c
}

func copyMessage(m *Message) *Message {
	c := *m
	c.Payload = slices.Clone(m.Payload)
	c.Props = slices.Clone(m.Props)
	return &c
}

func copyRecord(r *Record) *Record {
	c := *r
	c.SubIDs = slices.Clone(r.SubIDs)
	if r.Msg != nil {
		c.Msg = copyMessage(r.Msg)
	}
	return &c
}

// SaveSession implements Store.
func (m *Memory) SaveSession(s *Session) error {
	if !m.lock() {
		return m.closedErr()
	}
	m.sessions[s.ClientID] = copySession(s)
	m.mu.Unlock()
	return nil
}

// DeleteSession implements Store.
func (m *Memory) DeleteSession(clientID string) error {
	if !m.lock() {
		return m.closedErr()
	}
	delete(m.sessions, clientID)
	delete(m.records, clientID)
	delete(m.inbound, clientID)
	m.mu.Unlock()
	return nil
}

// LoadSessions implements Store.
func (m *Memory) LoadSessions() ([]*Session, error) {
	if !m.lock() {
		return nil, m.closedErr()
	}
	defer m.mu.Unlock()
	out := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		c := copySession(s)
		for id := range m.inbound[s.ClientID] {
			c.Inbound = append(c.Inbound, id)
		}
		slices.Sort(c.Inbound)
		for seq, r := range m.records[s.ClientID] {
			if r.PacketID == 0 && !r.Released {
				c.Queued++
				c.QueuedBytes += len(r.Msg.Payload)
			}
			c.LastSeq = max(c.LastSeq, seq)
		}
		out = append(out, c)
	}
	return out, nil
}

// SetRetained implements Store.
func (m *Memory) SetRetained(msg *Message) error {
	if !m.lock() {
		return m.closedErr()
	}
	m.retained[msg.Topic] = copyMessage(msg)
	m.mu.Unlock()
	return nil
}

// DeleteRetained implements Store.
func (m *Memory) DeleteRetained(topic string) error {
	if !m.lock() {
		return m.closedErr()
	}
	delete(m.retained, topic)
	m.mu.Unlock()
	return nil
}

// LoadRetained implements Store.
func (m *Memory) LoadRetained() ([]*Message, error) {
	if !m.lock() {
		return nil, m.closedErr()
	}
	defer m.mu.Unlock()
	out := make([]*Message, 0, len(m.retained))
	for _, r := range m.retained {
		out = append(out, copyMessage(r))
	}
	return out, nil
}

// PutMessage implements Store.
func (m *Memory) PutMessage(clientID string, r *Record) error {
	if !m.lock() {
		return m.closedErr()
	}
	c := copyRecord(r)
	recs := m.records[clientID]
	if recs == nil {
		recs = map[uint64]*Record{}
		m.records[clientID] = recs
	}
	recs[r.Seq] = c
	m.mu.Unlock()
	return nil
}

// DeleteMessage implements Store.
func (m *Memory) DeleteMessage(clientID string, seq uint64) error {
	if !m.lock() {
		return m.closedErr()
	}
	delete(m.records[clientID], seq)
	m.mu.Unlock()
	return nil
}

// LoadMessages implements Store.
func (m *Memory) LoadMessages(clientID string, after uint64, limit int) ([]*Record, error) {
	if !m.lock() {
		return nil, m.closedErr()
	}
	defer m.mu.Unlock()
	var seqs []uint64
	for seq := range m.records[clientID] {
		if seq > after {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	if limit > 0 && len(seqs) > limit {
		seqs = seqs[:limit]
	}
	out := make([]*Record, 0, len(seqs))
	for _, seq := range seqs {
		out = append(out, copyRecord(m.records[clientID][seq]))
	}
	return out, nil
}

// AddInbound implements Store.
func (m *Memory) AddInbound(clientID string, id uint16) error {
	if !m.lock() {
		return m.closedErr()
	}
	ids := m.inbound[clientID]
	if ids == nil {
		ids = map[uint16]bool{}
		m.inbound[clientID] = ids
	}
	ids[id] = true
	m.mu.Unlock()
	return nil
}

// DeleteInbound implements Store.
func (m *Memory) DeleteInbound(clientID string, id uint16) error {
	if !m.lock() {
		return m.closedErr()
	}
	delete(m.inbound[clientID], id)
	m.mu.Unlock()
	return nil
}

// Durable implements Store: false unless made with NewMemoryDurable.
func (m *Memory) Durable() bool { return m.durable }

// Sync implements Store; it only counts the calls (see Syncs).
func (m *Memory) Sync() error {
	if m.isClosed.Load() {
		return ErrClosed
	}
	m.syncs.Add(1)
	return nil
}

// Syncs reports how often Sync was called, for tests.
func (m *Memory) Syncs() int { return int(m.syncs.Load()) }

// Close implements Store. Every later call, Close included, returns
// ErrClosed.
func (m *Memory) Close() error {
	if m.keep {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.closed = true
	}
	if m.isClosed.Swap(true) {
		return ErrClosed
	}
	return nil
}
