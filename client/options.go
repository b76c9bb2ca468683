package client

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/roostmq/roost/packet"
)

// Options configures a connection. The zero value connects with MQTT 5.0, a
// server-assigned client ID, a clean start and no keepalive.
type Options struct {
	ClientID string
	// Version is packet.V5 (the default when zero), packet.V311 or
	// packet.V31 (MQTT 3.1, protocol name "MQIsdp": client identifiers
	// of 1 to 23 characters, no session present flag).
	Version packet.Version
	// CleanStart starts a new session (Clean Session in 3.1.1).
	CleanStart bool
	// KeepAlive is the keepalive interval; 0 disables it. It is sent in whole
	// seconds. A Server Keep Alive in the CONNACK replaces it.
	KeepAlive time.Duration
	Username  string
	Password  []byte
	// Will is published by the server when the connection ends abnormally.
	// Its Properties go in the will properties (MQTT 5); WillDelay too.
	Will      *Message
	WillDelay time.Duration
	// SessionExpiry is the MQTT 5 Session Expiry Interval (seconds precision);
	// 0 ends the session with the connection. For 3.1.1 use CleanStart=false.
	SessionExpiry time.Duration
	// ReceiveMaximum limits the QoS 1/2 messages the server sends before they
	// are acknowledged; 0 leaves the protocol default (65535).
	ReceiveMaximum uint16
	// TopicAliasMaximum is how many topic aliases the server may use towards
	// the client; 0 allows none.
	TopicAliasMaximum uint16
	// MaximumPacketSize is the largest packet the client accepts, header
	// included; 0 means the protocol maximum.
	MaximumPacketSize uint32
	// RequestResponseInfo asks the server for Response Information.
	RequestResponseInfo bool
	// UserProperties go in the CONNECT (MQTT 5).
	UserProperties []UserProperty
	// Auth runs MQTT 5 enhanced authentication; nil for none.
	Auth Auth

	// OnMessage is called for every PUBLISH from the server, on the
	// dispatcher goroutine, one at a time and in order. The Message is the
	// handler's to keep. nil drops messages (they are still acknowledged).
	OnMessage func(*Message)
	// OnDisconnect is called once on the dispatcher goroutine after the
	// last message was handled, with the reason the connection ended (see
	// Client.Err).
	OnDisconnect func(err error)

	// TLSConfig is used by Dial for mqtts:// (and wss://). nil means a
	// default config with the URL's host as server name.
	TLSConfig *tls.Config
	// Dialer is used by Dial; nil means a net.Dialer with a 30 s timeout.
	Dialer *net.Dialer
	// InboxSize bounds the messages waiting for the dispatcher; 0 means 256.
	InboxSize int
	// WriteTimeout bounds each socket write; 0 means 30 s.
	WriteTimeout time.Duration
}

func (o *Options) version() packet.Version {
	if o.Version == 0 {
		return packet.V5
	}
	return o.Version
}

// Auth is an MQTT 5 enhanced authentication mechanism on the client side. Its
// methods are called on the goroutine that runs Connect or Reauthenticate
// and, for the challenges that follow a re-authentication, on the reader
// goroutine, so they must not block.
type Auth interface {
	// Method is the Authentication Method name.
	Method() string
	// Initial returns the Authentication Data of the CONNECT (or of the
	// AUTH 0x19 that starts a re-authentication); nil for none.
	Initial() ([]byte, error)
	// Step answers the server's AUTH 0x18 challenge with the data of the
	// client's AUTH 0x18.
	Step(challenge []byte) ([]byte, error)
	// Finish receives the server's final Authentication Data (from the
	// CONNACK or AUTH 0x00); an error aborts the connection.
	Finish(data []byte) error
}

// UserProperty is one MQTT 5 user property; names may repeat.
type UserProperty struct {
	Key, Value string
}

// Properties are the MQTT 5 properties of a message. They are ignored with
// 3.1.1.
type Properties struct {
	// PayloadFormat 1 says the payload is UTF-8; 0 unspecified bytes.
	PayloadFormat byte
	// MessageExpiry is the Message Expiry Interval (seconds precision); 0
	// means the message does not expire.
	MessageExpiry   time.Duration
	ContentType     string
	ResponseTopic   string
	CorrelationData []byte
	// SubscriptionIDs are set on received messages by the server.
	SubscriptionIDs []uint32
	UserProperties  []UserProperty
}

// Message is an application message, sent with Publish or received through
// Options.OnMessage.
type Message struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
	Dup     bool // set on received messages that may be a redelivery
	// PacketID is the packet identifier of a received QoS 1 or 2 message
	// (0 for QoS 0); it is ignored by Publish, which picks its own.
	PacketID   uint16
	Properties Properties
}

// Subscription is one topic filter of a Subscribe with its options.
type Subscription struct {
	Filter            string
	QoS               byte
	NoLocal           bool // MQTT 5: do not receive own publications
	RetainAsPublished bool // MQTT 5: keep the retain flag as published
	RetainHandling    byte // MQTT 5: 0 send retained, 1 only if new, 2 never
}

// Errors.
var (
	// ErrClosed is Err after the client itself ended the connection.
	ErrClosed = errors.New("client: connection closed")
	// ErrKeepAliveTimeout is Err when the server did not answer a PINGREQ.
	ErrKeepAliveTimeout = errors.New("client: keepalive timeout: no PINGRESP from the server")
	// ErrNoPacketID means all 65535 packet identifiers are in use.
	ErrNoPacketID = errors.New("client: no free packet identifier")
)

// DisconnectError is Err when the server sent DISCONNECT (MQTT 5) or refused
// the CONNACK. errors.As finds the packet.ReasonCode in it.
type DisconnectError struct {
	Code            packet.ReasonCode
	Reason          string // Reason String, if any
	ServerReference string // Server Reference, if any
	Connack         bool   // the CONNACK refused the connection
}

func (e *DisconnectError) Error() string {
	s := "client: server sent DISCONNECT: "
	if e.Connack {
		s = "client: connection refused: "
	}
	s += e.Code.String()
	if e.Reason != "" {
		s += fmt.Sprintf(" (%s)", e.Reason)
	}
	if e.ServerReference != "" {
		s += "; use " + e.ServerReference
	}
	return s
}

// Unwrap exposes the reason code.
func (e *DisconnectError) Unwrap() error { return e.Code }

// AckError is returned by Publish, Subscribe or Unsubscribe when the server
// answers with a failure reason code; errors.As finds the packet.ReasonCode.
type AckError struct {
	Op     packet.Type // PUBACK, PUBREC, PUBCOMP, ...
	Code   packet.ReasonCode
	Reason string
}

func (e *AckError) Error() string {
	s := fmt.Sprintf("client: %v: %v", e.Op, e.Code)
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	return s
}

// Unwrap exposes the reason code.
func (e *AckError) Unwrap() error { return e.Code }
