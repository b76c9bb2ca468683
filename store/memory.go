package store

import (
	"slices"
	"sync"
)

// Memory is a Store that keeps everything in maps; nothing survives the
// process. It copies values in and out so callers may reuse theirs.
type Memory struct {
	durable  bool
	mu       sync.Mutex
	sessions map[string]*Session           // guarded by mu
	retained map[string]*Message           // guarded by mu
	records  map[string]map[uint64]*Record // guarded by mu: client -> seq -> record
	inbound  map[string]map[uint16]bool    // guarded by mu
	syncs    int                           // guarded by mu
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store. It reports itself not durable,
// so the broker keeps queues in memory and writes no message records.
func NewMemory() *Memory {
	return &Memory{sessions: map[string]*Session{}, retained: map[string]*Message{},
		records: map[string]map[uint64]*Record{}, inbound: map[string]map[uint16]bool{}}
}

// NewMemoryDurable returns an in-memory store that reports itself durable:
// the broker writes every record through it as it would to a disk, which
// lets tests check what a restart would find by giving the same store to a
// new Server.
func NewMemoryDurable() *Memory {
	m := NewMemory()
	m.durable = true
	return m
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
	c := copySession(s)
	m.mu.Lock()
	m.sessions[s.ClientID] = c
	m.mu.Unlock()
	return nil
}

// DeleteSession implements Store.
func (m *Memory) DeleteSession(clientID string) error {
	m.mu.Lock()
	delete(m.sessions, clientID)
	delete(m.records, clientID)
	delete(m.inbound, clientID)
	m.mu.Unlock()
	return nil
}

// LoadSessions implements Store.
func (m *Memory) LoadSessions() ([]*Session, error) {
	m.mu.Lock()
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
	c := copyMessage(msg)
	m.mu.Lock()
	m.retained[msg.Topic] = c
	m.mu.Unlock()
	return nil
}

// DeleteRetained implements Store.
func (m *Memory) DeleteRetained(topic string) error {
	m.mu.Lock()
	delete(m.retained, topic)
	m.mu.Unlock()
	return nil
}

// LoadRetained implements Store.
func (m *Memory) LoadRetained() ([]*Message, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Message, 0, len(m.retained))
	for _, r := range m.retained {
		out = append(out, copyMessage(r))
	}
	return out, nil
}

// PutMessage implements Store.
func (m *Memory) PutMessage(clientID string, r *Record) error {
	c := copyRecord(r)
	m.mu.Lock()
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
	m.mu.Lock()
	delete(m.records[clientID], seq)
	m.mu.Unlock()
	return nil
}

// LoadMessages implements Store.
func (m *Memory) LoadMessages(clientID string, after uint64, limit int) ([]*Record, error) {
	m.mu.Lock()
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
	m.mu.Lock()
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
	m.mu.Lock()
	delete(m.inbound[clientID], id)
	m.mu.Unlock()
	return nil
}

// Durable implements Store: false unless made with NewMemoryDurable.
func (m *Memory) Durable() bool { return m.durable }

// Sync implements Store; it only counts the calls (see Syncs).
func (m *Memory) Sync() error {
	m.mu.Lock()
	m.syncs++
	m.mu.Unlock()
	return nil
}

// Syncs reports how often Sync was called, for tests.
func (m *Memory) Syncs() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.syncs
}

// Close implements Store.
func (m *Memory) Close() error { return nil }
