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
	// AuthMethod is the CONNECT's Authentication Method ("" without enhanced
	// authentication); when set, Options.EnhancedAuth has already accepted it.
	AuthMethod string
	// CertIdentity is the identity of the client's verified TLS certificate
	// when its listener uses it as the username (Username is then the same);
	// "" otherwise.
	CertIdentity string
	// Expiry, when an Authenticator sets it, is when the client's
	// credentials expire (a bearer token's exp): the broker then closes
	// the connection (5.0: DISCONNECT 0xA0 Maximum connect time).
	Expiry time.Time
}

// CertIdentifier is implemented by connections (net.Conn values given to
// Serve) that carry a verified client certificate; see package listener.
// The identity replaces the CONNECT's username before authentication.
type CertIdentifier interface {
	CertIdentity() (identity string, ok bool)
}

// Authenticator decides whether a client may connect. A nil error accepts it;
// an error carrying a packet.ReasonCode (for example packet.NotAuthorized or
// packet.BadUsernameOrPassword) refuses it with that code. An accepting
// Authenticator may set info.Username (the identity a token names, say):
// the client then has that username.
type Authenticator interface {
	Authenticate(info *ConnectInfo) error
}

// EnhancedAuth runs an MQTT 5 enhanced authentication mechanism (SCRAM etc.
// come with the authentication work). Its methods run on the connection's
// reader goroutine and must be safe for concurrent use across connections.
type EnhancedAuth interface {
	// Methods lists the Authentication Method names it handles.
	Methods() []string
	// Start begins an exchange for a CONNECT (reauth=false) or an AUTH 0x19
	// (reauth=true) with the client's first data. The broker then calls
	// Step on the returned exchange with that same first data.
	Start(method string, data []byte, info *ConnectInfo, reauth bool) (AuthExchange, error)
}

// AuthExchange is one enhanced authentication exchange on one connection.
type AuthExchange interface {
	// Step consumes the client's data. done=false: send out to the client in
	// AUTH 0x18 and wait for its next AUTH 0x18. done=true: authentication
	// succeeded; out (may be nil) goes in the CONNACK / final AUTH 0x00 as
	// Authentication Data. An error refuses: CONNACK with its reason code
	// (default NotAuthorized), or DISCONNECT during re-authentication.
	Step(data []byte) (out []byte, done bool, err error)
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
// not be published to, filters under Subscribe may not be subscribed to nor
// received from. A subscription whose filter lies wholly inside a denied
// filter is refused; one that only overlaps a denied filter ("#" beside a
// denied "secret/#") is granted, and the messages on denied topics are not
// delivered to it, live, retained or through a shared subscription, as
// Mosquitto does. RefuseOverlapping refuses those too. Publishing into $SYS
// is refused.
type DenyList struct {
	Publish   []string
	Subscribe []string
	// RefuseOverlapping refuses a subscription whose filter could match a
	// denied topic (auth.wildcard_subscriptions: refuse).
	RefuseOverlapping bool
}

// Hooks observe the broker. Each runs on the goroutine that caused the event
// and must not block. None runs with a lock of the broker held: a hook may
// call the Server (Client, Kick, ...), for the client it is about too.
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
	DropNoSubscriber                    // no subscriber left to take it (a shared group whose members all left)
	numDropReasons
)

var dropNames = [numDropReasons]string{"pending_full", "queue_full", "too_large", "expired", "not_authorized", "no_subscriber"}

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
