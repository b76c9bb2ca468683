// Package store holds Roost's persistence interfaces and their in-memory
// implementation. The broker keeps its live state in memory and writes
// through a Store so that a durable engine can plug in without reshaping it.
package store

import (
	"errors"
	"time"
)

// Message is a stored application message. Props holds the MQTT 5 properties
// already encoded (property length prefix included), so they travel as one
// opaque envelope.
type Message struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
	Props   []byte
	Created time.Time // original publish time; message expiry counts from it
	Expiry  time.Time // zero: never
}

// Subscription is one filter of a session with its options.
type Subscription struct {
	Filter            string
	QoS               byte
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    byte
	ID                uint32
}

// Session is the serialisable state of one client session.
type Session struct {
	ClientID       string
	Version        byte
	Epoch          uint64        // fencing number, bumped on every takeover
	Expiry         time.Duration // after disconnect; 0 ends with the connection
	DisconnectedAt time.Time     // zero while connected
	Subscriptions  []Subscription
	Will           *Message
	WillDelay      time.Duration
}

// ErrNotFound is returned for a missing key.
var ErrNotFound = errors.New("store: not found")

// Store persists sessions and retained messages. Implementations must be safe
// for concurrent use.
type Store interface {
	SaveSession(s *Session) error
	DeleteSession(clientID string) error
	LoadSessions() ([]*Session, error)
	SetRetained(m *Message) error
	DeleteRetained(topic string) error
	LoadRetained() ([]*Message, error)
	Close() error
}
