// Package auth holds Roost's built-in authentication and authorization: a
// Chain that asks its members in order, a password file (argon2id, bcrypt,
// PBKDF2-SHA512 and Mosquitto's mosquitto_passwd formats), an ACL file, JWT
// bearer tokens, an HTTP service and SCRAM-SHA-256/512 for MQTT 5 enhanced
// authentication. It implements the interfaces of package broker; broker
// never imports it.
package auth

import (
	"errors"
	"strings"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/packet"
)

// Result is a member's answer in a Chain.
type Result int

// Results.
const (
	NoOpinion Result = iota // let the next member decide
	Allow                   // accept; the chain stops here
	Deny                    // refuse; the chain stops here
)

func (r Result) String() string {
	switch r {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	}
	return "no-opinion"
}

// ConnectChecker is a member of a Chain that judges CONNECT. A Deny may
// come with an error carrying a packet.ReasonCode for the CONNACK; without
// one the chain refuses with Bad User Name or Password (0x86).
type ConnectChecker interface {
	CheckConnect(info *broker.ConnectInfo) (Result, error)
}

// ACLChecker is a member of a Chain that judges access to a topic or filter.
type ACLChecker interface {
	CheckACL(clientID, username string, access broker.Access, topic string) Result
}

// ConnectFunc adapts a function to ConnectChecker.
type ConnectFunc func(info *broker.ConnectInfo) (Result, error)

// CheckConnect implements ConnectChecker.
func (f ConnectFunc) CheckConnect(info *broker.ConnectInfo) (Result, error) { return f(info) }

// ACLFunc adapts a function to ACLChecker.
type ACLFunc func(clientID, username string, access broker.Access, topic string) Result

// CheckACL implements ACLChecker.
func (f ACLFunc) CheckACL(clientID, username string, access broker.Access, topic string) Result {
	return f(clientID, username, access, topic)
}

// Chain is a broker.Authenticator and broker.Authorizer that asks its
// members in order; the first Allow or Deny decides.
//
// When no member decides a CONNECT:
//   - a client that authenticated with MQTT 5 enhanced authentication
//     (ConnectInfo.AuthMethod set: the exchange already succeeded) is accepted;
//   - a client whose verified TLS certificate names it (ConnectInfo.CertIdentity
//     set, on a listener with cert_identity) is accepted;
//   - a client without a username or password is accepted when Anonymous is
//     true;
//   - any other client is refused: Bad User Name or Password (0x86, 3.1.1
//     return code 4) when it sent a username or password, Not Authorized
//     (0x87, 3.1.1 return code 5) when it sent none.
//
// When no member decides an access check, DefaultAllow decides, except that
// topics starting with "$" ($SYS and the like) are denied unless a member
// allowed them.
type Chain struct {
	Authenticators []ConnectChecker
	Authorizers    []ACLChecker
	// Anonymous accepts clients without credentials that no member decided.
	Anonymous bool
	// DefaultAllow allows an access that no member decided.
	DefaultAllow bool
}

var (
	_ broker.Authenticator     = (*Chain)(nil)
	_ broker.Authorizer        = (*Chain)(nil)
	_ broker.ReceiveAuthorizer = (*Chain)(nil)
)

// SlowACLChecker is an ACLChecker that may block to answer (an HTTP
// service) and can answer from what it knows without blocking.
type SlowACLChecker interface {
	ACLChecker
	// TryCheckACL answers without blocking; known false: not at hand yet
	// (it is found out in the background).
	TryCheckACL(clientID, username string, access broker.Access, topic string) (r Result, known bool)
	// MayBlock reports whether CheckACL may block.
	MayBlock() bool
}

var _ SlowACLChecker = (*HTTPAuth)(nil)

// ReceiveMayBlock implements broker.ReceiveAuthorizer: true when a member
// may block to answer.
func (c *Chain) ReceiveMayBlock() bool {
	for _, a := range c.Authorizers {
		if s, ok := a.(SlowACLChecker); ok && s.MayBlock() {
			return true
		}
	}
	return false
}

// TryAuthorizeReceive implements broker.ReceiveAuthorizer: Authorize for
// AccessReceive without blocking; known is false when a member that would
// be asked has no answer at hand.
func (c *Chain) TryAuthorizeReceive(clientID, username, topic string) (allowed, known bool) {
	for _, a := range c.Authorizers {
		var r Result
		if s, ok := a.(SlowACLChecker); ok {
			if r, known = s.TryCheckACL(clientID, username, broker.AccessReceive, topic); !known {
				return false, false
			}
		} else {
			r = a.CheckACL(clientID, username, broker.AccessReceive, topic)
		}
		switch r {
		case Allow:
			return true, true
		case Deny:
			return false, true
		}
	}
	if strings.HasPrefix(topic, "$") {
		return false, true
	}
	return c.DefaultAllow, true
}

// Authenticate implements broker.Authenticator.
func (c *Chain) Authenticate(info *broker.ConnectInfo) error {
	for _, a := range c.Authenticators {
		r, err := a.CheckConnect(info)
		switch r {
		case Allow:
			return nil
		case Deny:
			var rc packet.ReasonCode
			if err != nil && errors.As(err, &rc) {
				return err
			}
			msg := "bad username or password"
			if err != nil {
				msg = err.Error()
			}
			return &packet.Error{Code: packet.BadUsernameOrPassword, Msg: msg}
		}
	}
	switch {
	case info.AuthMethod != "", info.CertIdentity != "":
		return nil
	case info.Username == "" && len(info.Password) == 0:
		if c.Anonymous {
			return nil
		}
		return &packet.Error{Code: packet.NotAuthorized, Msg: "anonymous clients are not allowed"}
	}
	return &packet.Error{Code: packet.BadUsernameOrPassword, Msg: "unknown username or password"}
}

// Authorize implements broker.Authorizer.
func (c *Chain) Authorize(clientID, username string, access broker.Access, topic string) bool {
	for _, a := range c.Authorizers {
		switch a.CheckACL(clientID, username, access, topic) {
		case Allow:
			return true
		case Deny:
			return false
		}
	}
	if strings.HasPrefix(topic, "$") {
		return false
	}
	return c.DefaultAllow
}
