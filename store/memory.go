package store

import (
	"slices"
	"sync"
)

// Memory is a Store that keeps everything in maps; nothing survives the
// process. It copies values in and out so callers may reuse theirs.
type Memory struct {
	mu       sync.Mutex
	sessions map[string]*Session // guarded by mu
	retained map[string]*Message // guarded by mu
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{sessions: map[string]*Session{}, retained: map[string]*Message{}}
}

func copySession(s *Session) *Session {
	c := *s
	c.Subscriptions = slices.Clone(s.Subscriptions)
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
	m.mu.Unlock()
	return nil
}

// LoadSessions implements Store.
func (m *Memory) LoadSessions() ([]*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		out = append(out, copySession(s))
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

// Close implements Store.
func (m *Memory) Close() error { return nil }
