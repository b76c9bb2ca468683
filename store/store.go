// Package store holds Roost's persistence interfaces, an in-memory
// implementation (Memory) and an on-disk one (Disk, on Pebble). The broker
// keeps its live state in memory and writes through a Store; with a durable
// store it also writes every QoS 1/2 message it must keep, and holds back the
// acknowledgement until Sync has made the write durable.
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
	Will           *Message      // a will waiting on its delay, nil if none
	WillDelay      time.Duration // with Will: how long after DisconnectedAt it is published
	Username       string        // of the last connection: queued messages are authorized for it

	// Filled in by LoadSessions, ignored by SaveSession: the session's
	// inbound QoS 2 packet ids (PUBREL pending) and a summary of its message
	// records.
	Inbound     []uint16
	Queued      int    // queued records (not in flight)
	QueuedBytes int    // their payload bytes
	LastSeq     uint64 // highest record position, 0 when none
}

// Record is one outbound QoS 1/2 message of a session: queued, in flight
// with a packet id, or released (QoS 2, PUBREC received, PUBREL sent). Seq is
// its position in the session's queue: records are kept and loaded in Seq
// order, and a session never reuses a Seq while it has records.
type Record struct {
	Seq      uint64
	PacketID uint16 // 0: queued, not yet sent
	Released bool   // QoS 2: only PUBREL is resent; Msg is nil
	QoS      byte   // granted QoS of this delivery
	Retain   bool   // retain flag of this delivery
	SubIDs   []uint32
	Group    string // shared subscription group and filter it came through, "" if none
	Filter   string
	Msg      *Message
}

// ErrNotFound is returned for a missing key.
var ErrNotFound = errors.New("store: not found")

// ErrClosed is returned by every method of a store after Close.
var ErrClosed = errors.New("store: closed")

// Store persists sessions, their messages and retained messages.
// Implementations must be safe for concurrent use. Writes to one session are
// applied in the order they are made; Sync makes every write that returned
// before it was called durable.
type Store interface {
	SaveSession(s *Session) error
	// DeleteSession removes the session with its message records and
	// inbound QoS 2 ids.
	DeleteSession(clientID string) error
	LoadSessions() ([]*Session, error)

	SetRetained(m *Message) error
	DeleteRetained(topic string) error
	LoadRetained() ([]*Message, error)

	// PutMessage inserts or replaces the record at r.Seq.
	PutMessage(clientID string, r *Record) error
	DeleteMessage(clientID string, seq uint64) error
	// LoadMessages returns up to limit records (limit <= 0: all) with a
	// position after the given one, in position order.
	LoadMessages(clientID string, after uint64, limit int) ([]*Record, error)

	// AddInbound and DeleteInbound keep the inbound QoS 2 packet ids.
	AddInbound(clientID string, id uint16) error
	DeleteInbound(clientID string, id uint16) error

	// Durable reports whether writes survive the process. The broker
	// writes message records and inbound ids only to a durable store.
	Durable() bool
	// Sync makes every write that returned before the call durable (as the
	// store's sync policy says); the broker calls it before sending an
	// acknowledgement that depends on a write.
	Sync() error
	// Close waits for the calls in flight and releases the store; every
	// call after it (Close included) returns ErrClosed.
	Close() error
}
