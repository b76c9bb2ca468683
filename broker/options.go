package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/roostmq/roost/packet"
	"github.com/roostmq/roost/store"
	"github.com/roostmq/roost/topic"
)

// Options configures a Server. Start from DefaultOptions and change fields;
// New calls Validate.
type Options struct {
	// Listen holds TCP addresses ("127.0.0.1:1883", ":1883") for
	// ListenAndServe. Serve accepts any net.Listener instead.
	Listen []string

	Limits   Limits
	Sessions Sessions
	Retain   Retain

	// SysInterval is how often $SYS/broker/... topics are published; 0 turns
	// them off.
	SysInterval time.Duration

	// HibernateAfter is how long a connection may be idle (nothing read, or
	// for its writer nothing written) before it gives up its goroutines and
	// read buffer; it wakes again when the client sends or a message is
	// queued for it. Plain TCP and Unix socket connections, and wrappers
	// that implement Hibernatable (WebSocket, PROXY protocol), on Linux; 0
	// turns it off. Read at start.
	HibernateAfter time.Duration

	// ResponseTopicPrefix is returned, followed by the client id, as
	// Response Information in CONNACK to a 5.0 client that asks for it
	// (Request Response Information 1): a topic prefix the client may use
	// for responses. Roost enforces nothing on it; "" sends none.
	ResponseTopicPrefix string

	// Authenticator decides CONNECT; nil allows everyone.
	Authenticator Authenticator
	// EnhancedAuth runs MQTT 5 enhanced authentication (AUTH packets) for the
	// Authentication Methods it lists; nil refuses any CONNECT carrying an
	// Authentication Method with CONNACK 0x8C. The Authenticator still runs
	// after a successful exchange.
	EnhancedAuth EnhancedAuth
	// Authorizer decides publish and subscribe per topic; nil allows all
	// but publishing into $SYS, which is the broker's.
	Authorizer Authorizer
	// Store keeps sessions and retained messages; nil means store.NewMemory(),
	// which keeps nothing: live state is in the broker only.
	Store store.Store
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Hooks observe the broker; nil fields are skipped.
	Hooks Hooks
	// Clock drives expiry and will delays; nil means the real clock.
	Clock Clock
	// Bans refuse clients from the start; Server.Ban and Server.Unban
	// change them at run time.
	Bans []Ban

	// testPanicAt, set by tests only, becomes Server.panicAt (contain.go).
	testPanicAt func(point string)
}

// Limits bounds what each client may use. Zero means "no limit" only where
// the comment says so.
type Limits struct {
	MaxConnections    int         // 0: unlimited
	MaxPacketSize     int         // largest packet accepted, bytes
	ReceiveMaximum    uint16      // inbound QoS 1/2 window Roost advertises
	MaxInflight       uint16      // outbound window for 3.1.1 clients (5.0 uses the client's Receive Maximum, capped by this)
	MaxQueuedMessages int         // per session, QoS 1/2 waiting beyond the window; 0: unlimited
	MaxQueuedBytes    int         // per session, payload bytes of those messages; 0: unlimited
	QueuePolicy       QueuePolicy // what happens when a session queue is full
	MaxPendingBytes   int         // per connection outbound bytes not yet written; QoS 0 beyond it is dropped
	// SlowConsumerAfter: a client whose pending bytes stay over
	// MaxPendingBytes this long, while QoS 0 messages for it are dropped,
	// is disconnected as a slow consumer (5.0: DISCONNECT 0x97). QoS 1/2
	// are bounded by the inflight window and the session queue instead
	// (MaxQueuedMessages, MaxQueuedBytes, QueuePolicy: choose disconnect to
	// cut off a QoS 1/2 subscriber that falls behind); any connection whose
	// write stays blocked for WriteTimeout is closed. 0: never.
	SlowConsumerAfter time.Duration
	MaxTopicLength    int // bytes
	MaxTopicLevels    int // in PUBLISH topics, SUBSCRIBE filters and will topics (default 200, as Mosquitto); 0: unlimited
	MaxSubscriptions  int // per client, 0: unlimited
	// MaxKeepAlive is the longest keep alive granted, in seconds; 0: any.
	// A 5.0 client asking for more, or for 0, gets it as Server Keep Alive;
	// a 3.1 or 3.1.1 client, which cannot be told, is refused (return code
	// 2, as Mosquitto does).
	MaxKeepAlive      uint16
	ConnectTimeout    time.Duration // a connection must send CONNECT within this
	MaxTopicAliases   uint16        // Topic Alias Maximum advertised to 5.0 clients
	MaxClientIDLength int
	// MaxConnectSize bounds the first packet, a CONNECT, and the AUTH
	// packets before CONNACK, header included (default 64 KiB); 0: the
	// packet size limit. It is checked from the fixed header, before the
	// body is read. A CONNECT near 64 KiB is one with a large will payload,
	// user properties or password: raise it for those clients.
	MaxConnectSize     int
	WriteTimeout       time.Duration
	MaxMessageExpiry   time.Duration // 0: none
	AllowEmptyClientID bool
	// AllowControlChars accepts control characters (U+0001 to U+001F,
	// U+007F to U+009F) in client identifiers, user names, topic names and
	// filters. false, the default: a packet carrying one is refused as
	// malformed (5.0: CONNACK 0x85 for a client identifier, otherwise 0x81).
	AllowControlChars bool

	MaxConnectionsPerListener int               // connected clients per listener, 0: unlimited (5.0: CONNACK 0x89)
	ConnectRatePerIP          int               // CONNECTs per second from one IP address, 0: unlimited (5.0: CONNACK 0x9F)
	PublishRate               int               // PUBLISH packets per second per client, 0: unlimited
	PublishBytesRate          int               // PUBLISH payload bytes per second per client, 0: unlimited
	PublishRateReason         packet.ReasonCode // DISCONNECT code past a publish rate: 0x96 (0 means it too) or 0x97
}

// QueuePolicy says what to do when a session queue is full.
type QueuePolicy int

// Queue policies.
const (
	DropNewest QueuePolicy = iota // the arriving message is dropped
	DropOldest                    // the oldest queued message is dropped
	Disconnect                    // the client is disconnected (5.0: 0x97)
)

func (p QueuePolicy) String() string {
	switch p {
	case DropNewest:
		return "drop-newest"
	case DropOldest:
		return "drop-oldest"
	case Disconnect:
		return "disconnect"
	}
	return fmt.Sprintf("QueuePolicy(%d)", int(p))
}

// Sessions configures session lifetime.
type Sessions struct {
	// MaxExpiry caps the Session Expiry Interval a client asks for; 3.1.1
	// persistent sessions (clean session 0) live this long after disconnect.
	// 0: no cap, for both versions: a 5.0 session lives as long as its
	// client asks (0xFFFFFFFF: until the client ends it), a 3.1.1
	// persistent session until a client ends it with clean session 1.
	MaxExpiry time.Duration
	// TakeoverSameUser lets a connection take over a client id's session
	// only when it has the session's username; others get CONNACK 0x87
	// (3.1.1: return code 5). TakeoverAnyUser lets any connection take it
	// over. With neither set, the default, takeover is for the same user
	// only when an Authenticator is set (usernames are then proven), and
	// open to any connection without one.
	TakeoverSameUser bool
	TakeoverAnyUser  bool
}

// Retain configures retained messages.
type Retain struct {
	Disabled    bool
	MaxMessages int // 0: unlimited
}

// DefaultOptions returns the settings `roost serve` uses without a config file.
func DefaultOptions() Options {
	return Options{
		Listen: []string{"127.0.0.1:1883"}, // loopback until configured, as Mosquitto 2
		Limits: Limits{
			MaxPacketSize:      1 << 20,
			ReceiveMaximum:     1024,
			MaxInflight:        128,
			MaxQueuedMessages:  10000,
			MaxQueuedBytes:     64 << 20,
			QueuePolicy:        DropNewest,
			MaxPendingBytes:    8 << 20,
			SlowConsumerAfter:  30 * time.Second,
			MaxTopicLength:     65535,
			MaxTopicLevels:     200,
			MaxKeepAlive:       0,
			ConnectTimeout:     10 * time.Second,
			MaxTopicAliases:    64,
			MaxClientIDLength:  256,
			MaxConnectSize:     64 << 10,
			WriteTimeout:       30 * time.Second,
			AllowEmptyClientID: true,
		},
		Sessions:            Sessions{MaxExpiry: 7 * 24 * time.Hour},
		SysInterval:         10 * time.Second,
		HibernateAfter:      5 * time.Second,
		ResponseTopicPrefix: "roost/response/",
	}
}

// Validate reports the first invalid setting.
func (o *Options) Validate() error {
	l := &o.Limits
	var errs []error
	check := func(bad bool, format string, args ...any) {
		if bad {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(l.MaxPacketSize < 64 || l.MaxPacketSize > 268435460, "limits.max_packet_size %d: must be between 64 and 268435460", l.MaxPacketSize)
	check(l.ReceiveMaximum == 0, "limits.receive_maximum must be at least 1")
	check(o.HibernateAfter < 0, "hibernate_after %v: must not be negative", o.HibernateAfter)
	check(l.MaxInflight == 0, "limits.max_inflight must be at least 1")
	check(l.MaxQueuedMessages < 0 || l.MaxQueuedBytes < 0, "limits: queue bounds must not be negative")
	check(l.MaxPendingBytes < 1024, "limits.max_pending_bytes %d: must be at least 1024", l.MaxPendingBytes)
	check(l.MaxTopicLength < 1 || l.MaxTopicLength > 65535, "limits.max_topic_length %d: must be between 1 and 65535", l.MaxTopicLength)
	check(l.ConnectTimeout <= 0, "limits.connect_timeout must be positive")
	check(l.WriteTimeout <= 0, "limits.write_timeout must be positive")
	check(l.MaxConnectSize != 0 && l.MaxConnectSize < 64, "limits.max_connect_size %d: must be 0 or at least 64", l.MaxConnectSize)
	check(l.MaxClientIDLength < 23 || l.MaxClientIDLength > 65535, "limits.max_client_id_length %d: must be between 23 and 65535", l.MaxClientIDLength)
	check(l.QueuePolicy < DropNewest || l.QueuePolicy > Disconnect, "limits.queue_policy: unknown policy %d", l.QueuePolicy)
	check(l.MaxConnectionsPerListener < 0 || l.ConnectRatePerIP < 0 || l.PublishRate < 0 || l.PublishBytesRate < 0,
		"limits: connection and publish limits must not be negative")
	check(l.PublishRateReason != 0 && l.PublishRateReason != packet.MessageRateTooHigh && l.PublishRateReason != packet.QuotaExceeded,
		"limits.publish_rate_reason: must be 0x96 or 0x97")
	for _, b := range o.Bans {
		if err := CheckBan(b); err != nil {
			errs = append(errs, err)
		}
	}
	check(o.Sessions.MaxExpiry < 0, "sessions.max_expiry must not be negative")
	check(o.Sessions.TakeoverSameUser && o.Sessions.TakeoverAnyUser, "sessions: takeover by the same user only and by any user are both set")
	check(o.SysInterval < 0, "sys_interval must not be negative")
	check(o.ResponseTopicPrefix != "" && topic.ValidName(o.ResponseTopicPrefix+"x") != nil,
		"response_topic_prefix %q: must be the start of a valid topic name (no + or #)", o.ResponseTopicPrefix)
	return errors.Join(errs...)
}
