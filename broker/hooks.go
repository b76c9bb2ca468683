package broker

import (
	"net"
	"time"

	"github.com/roostmq/roost/packet"
)

// ConnectInfo describes a client asking to connect.
type ConnectInfo struct {
	ClientID   string
	Username   string
	Password   []byte
	Version    packet.Version
	RemoteAddr net.Addr
	Listener   string
}

// Authenticator decides whether a client may connect. A nil error accepts it;
// an error carrying a packet.ReasonCode (for example packet.NotAuthorized or
// packet.BadUsernameOrPassword) refuses it with that code.
type Authenticator interface {
	Authenticate(info *ConnectInfo) error
}

// Access is what a client wants to do with a topic.
type Access int

// Access kinds.
const (
	AccessSubscribe Access = iota // a filter in SUBSCRIBE
	AccessPublish                 // a topic name in PUBLISH (and a will)
	AccessReceive                 // delivery of a message to the client
)

// Authorizer decides access per topic or filter. It runs on the connection's
// reader goroutine and must be fast and safe for concurrent use.
type Authorizer interface {
	Authorize(clientID, username string, access Access, topic string) bool
}

// DenyList is the small built-in Authorizer: filters listed under Publish may
// not be published to, filters under Subscribe may not be subscribed to (a
// subscription filter that overlaps a denied one is refused).
type DenyList struct {
	Publish   []string
	Subscribe []string
}

// Hooks observe the broker. Each runs on the goroutine that caused the event
// and must not block.
type Hooks struct {
	OnConnect    func(clientID string, version packet.Version, remote net.Addr)
	OnDisconnect func(clientID string, err error)
	OnPublish    func(clientID, topic string, qos byte, payloadSize int)
	OnSubscribe  func(clientID, filter string, qos byte)
	OnDropped    func(clientID, topic string, reason DropReason)
}

// DropReason says why a message was not delivered to a subscriber.
type DropReason int

// Drop reasons.
const (
	DropPendingFull   DropReason = iota // QoS 0 beyond the pending-bytes limit
	DropQueueFull                       // session queue full
	DropTooLarge                        // larger than the client's Maximum Packet Size
	DropExpired                         // message expiry passed
	DropNotAuthorized                   // the authorizer refused delivery
	numDropReasons
)

var dropNames = [numDropReasons]string{"pending_full", "queue_full", "too_large", "expired", "not_authorized"}

func (d DropReason) String() string {
	if d >= 0 && d < numDropReasons {
		return dropNames[d]
	}
	return "unknown"
}

// Clock is the time source for expiry and will delays; tests inject a fake.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a stoppable timer from a Clock.
type Timer interface {
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
