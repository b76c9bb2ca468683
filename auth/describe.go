package auth

import (
	"fmt"
	"strings"

	"github.com/roostmq/roost/broker"
)

// Describe says in plain words what c means: who may connect and what they
// may do. certListeners names the listeners whose verified TLS client
// certificates name the client (cert_identity cn or subject); deny is the
// config's deny: lists (nil for none). roost serve --check-config prints it.
func Describe(c *Config, certListeners []string, deny *broker.DenyList) []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	chain := c.chainNeeded()
	anon := "refused"
	if c.AnonymousAllowed() {
		anon = "accepted"
	}
	anonWhy := "auto: no mechanism is configured"
	switch {
	case c.Anonymous != nil:
		anonWhy = fmt.Sprintf("anonymous: %v", *c.Anonymous)
	case c.Enabled():
		anonWhy = "auto: a mechanism is configured"
	}
	add("anonymous clients (no username, no password): %s (%s)", anon, anonWhy)

	var checkers []string
	for _, name := range c.chain() {
		switch name {
		case "password":
			checkers = append(checkers, "password file "+c.PasswordFile)
		case "jwt":
			checkers = append(checkers, "JWT bearer token as the password")
		case "http":
			checkers = append(checkers, "HTTP service "+c.HTTP.ConnectURL)
		}
	}
	switch {
	case !chain:
		add("clients with a username or password: accepted, nothing checks them (no password file, jwt or http authenticator)")
	case len(checkers) == 0:
		add("clients with a username or password: refused (no password file, jwt or http authenticator)")
	default:
		add("clients with a username or password: checked by %s; refused when none of them knows the client, and an empty or missing password never matches a password file user",
			strings.Join(checkers, ", then "))
	}
	if c.SCRAMFile != "" {
		add("MQTT 5 enhanced authentication: SCRAM-SHA-256, SCRAM-SHA-512 (%s)", c.SCRAMFile)
	} else {
		add("MQTT 5 enhanced authentication: none (a CONNECT asking for it is refused with 0x8C)")
	}
	if len(certListeners) > 0 {
		add("TLS client certificate identity: accepted without a password on %s", strings.Join(certListeners, ", "))
	} else {
		add("TLS client certificate identity: no listener (cert_identity needs a TLS listener with a ca_file)")
	}

	var who []string
	if !chain {
		who = append(who, "every client (credentials are not checked)")
	} else {
		if c.AnonymousAllowed() {
			who = append(who, "anonymous clients")
		}
		if len(checkers) > 0 {
			who = append(who, "clients accepted by "+strings.Join(checkers, " or "))
		}
		if c.SCRAMFile != "" {
			who = append(who, "MQTT 5 clients that pass SCRAM")
		}
		if len(certListeners) > 0 {
			who = append(who, "clients with a verified certificate on a cert_identity listener")
		}
	}
	if len(who) == 0 {
		add("=> every client is refused")
	} else {
		add("=> may connect: %s", strings.Join(who, "; "))
	}

	var deciders []string
	if deny != nil && (len(deny.Publish) > 0 || len(deny.Subscribe) > 0) {
		deciders = append(deciders, fmt.Sprintf("the deny: lists (publish %v, subscribe %v; denials only)", deny.Publish, deny.Subscribe))
	}
	if !chain {
		if len(deciders) == 0 {
			add("publish and subscribe: every topic")
		} else {
			add("publish and subscribe: every topic but what %s refuse", deciders[0])
		}
		add("$SYS: clients may subscribe; they may not publish into it")
		return out
	}
	if c.ACLFile != "" {
		deciders = append(deciders, "acl_file "+c.ACLFile)
	}
	if c.jwtEnabled() {
		deciders = append(deciders, "the JWT's publish and subscribe claims (for clients that sent a token that has them)")
	}
	if c.HTTP.ACLURL != "" {
		deciders = append(deciders, "HTTP service "+c.HTTP.ACLURL)
	}
	def, why := "allowed", "acl_default: allow"
	switch {
	case c.ACLDefault == "deny":
		def, why = "denied", "acl_default: deny"
	case c.ACLDefault == "" && (c.ACLFile != "" || c.HTTP.ACLURL != ""):
		def, why = "denied", "acl_default: auto, with an ACL source"
	case c.ACLDefault == "":
		why = "acl_default: auto, without an ACL source"
	}
	if len(deciders) == 0 {
		add("publish and subscribe: %s (%s)", def, why)
	} else {
		add("publish and subscribe: decided by %s, the first that decides wins; otherwise %s (%s)", strings.Join(deciders, ", then "), def, why)
	}
	add("topics starting with $ ($SYS): publish and subscribe only where a rule allows them")
	return out
}
