package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/roostmq/roost/broker"
)

// Config is the auth: section of the config file.
type Config struct {
	// Anonymous says whether a client that sends no username and no
	// password is accepted when no member of the chain decided. nil (the
	// default; "auto" in the file) accepts it when no mechanism is configured
	// (then Roost installs no chain and every client may connect) and
	// refuses it otherwise. false refuses it even when no mechanism is
	// configured: then only a client a TLS listener's cert_identity names
	// may connect. See AnonymousAllowed.
	Anonymous *bool
	// Chain orders the authenticators by name: "password", "jwt", "http".
	// Empty: every configured one in that order.
	Chain []string
	// ACLDefault decides an access no member decided: "allow", "deny", or
	// "" for deny when an ACL source (acl_file, http.acl_url) is configured
	// and allow otherwise.
	ACLDefault string
	// PasswordFile holds "username:hash" lines (see PasswordFile).
	PasswordFile string
	// ACLFile holds access rules (see ACLFile).
	ACLFile string
	// SCRAMFile holds SCRAM credentials (see SCRAM); set, it enables MQTT 5
	// enhanced authentication with SCRAM-SHA-256 and SCRAM-SHA-512.
	SCRAMFile string
	// JWT enables bearer tokens as passwords when a key source is set.
	JWT JWTConfig
	// HTTP enables the HTTP service when a URL is set.
	HTTP HTTPConfig
	// WildcardSubscriptions says what a subscription whose filter is only
	// partly allowed gets (a user allowed a/# subscribing #, or # beside a
	// denied topic): "filter" ("" too; Mosquitto's way) grants it and
	// delivers only the messages the client may read; "refuse" refuses it.
	// It applies to the ACL file, JWT claims and the deny: lists.
	WildcardSubscriptions string
}

// RefuseWildcards reports whether partly allowed subscriptions are refused.
func (c *Config) RefuseWildcards() bool { return c.WildcardSubscriptions == "refuse" }

// Enabled reports whether c configures any mechanism.
func (c *Config) Enabled() bool {
	return c.PasswordFile != "" || c.ACLFile != "" || c.SCRAMFile != "" || c.jwtEnabled() ||
		c.HTTP.ConnectURL != "" || c.HTTP.ACLURL != ""
}

// AnonymousAllowed reports whether a client without username and password
// that no authenticator decided is accepted: Anonymous when set, else true
// exactly when no mechanism is configured.
func (c *Config) AnonymousAllowed() bool {
	if c.Anonymous != nil {
		return *c.Anonymous
	}
	return !c.Enabled()
}

// chainNeeded reports whether Build makes a chain: a mechanism is
// configured, or anonymous clients are refused explicitly.
func (c *Config) chainNeeded() bool { return c.Enabled() || !c.AnonymousAllowed() }

func (c *Config) jwtEnabled() bool {
	return c.JWT.SecretFile != "" || c.JWT.KeyFile != "" || c.JWT.JWKSURL != ""
}

// Methods names the ways a client can authenticate, for the start-up banner.
func (c *Config) Methods() []string {
	var out []string
	for _, name := range c.chain() {
		switch name {
		case "password":
			out = append(out, "username and password ("+c.PasswordFile+")")
		case "jwt":
			out = append(out, "JWT bearer token as the password")
		case "http":
			out = append(out, "HTTP service ("+c.HTTP.ConnectURL+")")
		}
	}
	if c.SCRAMFile != "" {
		out = append(out, "MQTT 5 enhanced authentication: SCRAM-SHA-256, SCRAM-SHA-512")
	}
	if c.AnonymousAllowed() {
		out = append(out, "anonymous")
	}
	if len(out) == 0 {
		// anonymous: false and nothing else.
		out = append(out, "a TLS client certificate on a cert_identity listener only (others are refused)")
	}
	return out
}

// ChainNames are the names Chain may hold.
var ChainNames = []string{"password", "jwt", "http"}

func (c *Config) chain() []string {
	if len(c.Chain) > 0 {
		return c.Chain
	}
	var out []string
	if c.PasswordFile != "" {
		out = append(out, "password")
	}
	if c.jwtEnabled() {
		out = append(out, "jwt")
	}
	if c.HTTP.ConnectURL != "" {
		out = append(out, "http")
	}
	return out
}

// Check reports settings that cannot work together, without reading files.
func (c *Config) Check() error {
	var errs []error
	seen := map[string]bool{}
	for _, n := range c.Chain {
		switch {
		case seen[n]:
			errs = append(errs, fmt.Errorf("auth.chain: %q listed twice", n))
		case n == "password" && c.PasswordFile == "":
			errs = append(errs, errors.New("auth.chain: password needs auth.password_file"))
		case n == "jwt" && !c.jwtEnabled():
			errs = append(errs, errors.New("auth.chain: jwt needs auth.jwt.secret_file, key_file or jwks_url"))
		case n == "http" && c.HTTP.ConnectURL == "":
			errs = append(errs, errors.New("auth.chain: http needs auth.http.connect_url"))
		case n != "password" && n != "jwt" && n != "http":
			errs = append(errs, fmt.Errorf("auth.chain: unknown %q (want %s)", n, strings.Join(ChainNames, ", ")))
		}
		seen[n] = true
	}
	if c.ACLDefault == "deny" && !c.chainNeeded() {
		// No chain runs, so nothing would apply it: say so rather than
		// allow every access the operator meant to deny.
		errs = append(errs, errors.New("auth.acl_default: deny has no effect without a mechanism "+
			"(password_file, acl_file, scram_file, jwt or http) or anonymous: false; "+
			"use the deny: lists, or configure a mechanism"))
	}
	return errors.Join(errs...)
}

// Built is what Build makes of a Config.
type Built struct {
	Chain        *Chain
	EnhancedAuth broker.EnhancedAuth // nil without SCRAM
}

// Build reads the files of c and returns the chain, or nil when c enables
// nothing and leaves anonymous clients allowed (then every client may
// connect and only extra limits access). extra, when not nil (the config's
// deny: list), is asked first for access, and only its denials count.
func Build(c *Config, extra broker.Authorizer, log *slog.Logger) (*Built, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	if !c.chainNeeded() {
		return nil, nil
	}
	b := &Built{Chain: &Chain{Anonymous: c.AnonymousAllowed()}}
	ch := b.Chain
	if extra != nil {
		ch.Authorizers = append(ch.Authorizers, ACLFunc(func(id, user string, a broker.Access, t string) Result {
			if !extra.Authorize(id, user, a, t) {
				return Deny
			}
			return NoOpinion
		}))
	}
	var jwtAuth *JWT
	var httpAuth *HTTPAuth
	for _, name := range c.chain() {
		switch name {
		case "password":
			pf, err := LoadPasswordFile(c.PasswordFile, log)
			if err != nil {
				return nil, fmt.Errorf("auth.password_file: %w", err)
			}
			ch.Authenticators = append(ch.Authenticators, pf)
		case "jwt":
			j, err := NewJWT(c.JWT, log)
			if err != nil {
				return nil, fmt.Errorf("auth.jwt: %w", err)
			}
			j.RefuseWildcards = c.RefuseWildcards()
			jwtAuth = j
			ch.Authenticators = append(ch.Authenticators, j)
		case "http":
			httpAuth = NewHTTPAuth(c.HTTP, log)
			ch.Authenticators = append(ch.Authenticators, httpAuth)
		}
	}
	if c.ACLFile != "" {
		a, err := LoadACLFile(c.ACLFile, log)
		if err != nil {
			return nil, fmt.Errorf("auth.acl_file: %w", err)
		}
		a.RefuseWildcards = c.RefuseWildcards()
		ch.Authorizers = append(ch.Authorizers, a)
	}
	if jwtAuth != nil {
		ch.Authorizers = append(ch.Authorizers, jwtAuth)
	}
	if c.HTTP.ACLURL != "" {
		if httpAuth == nil {
			httpAuth = NewHTTPAuth(c.HTTP, log)
		}
		ch.Authorizers = append(ch.Authorizers, httpAuth)
	}
	switch c.ACLDefault {
	case "allow":
		ch.DefaultAllow = true
	case "deny":
	default:
		ch.DefaultAllow = c.ACLFile == "" && c.HTTP.ACLURL == ""
	}
	if c.SCRAMFile != "" {
		s, err := LoadSCRAM(c.SCRAMFile, log)
		if err != nil {
			return nil, fmt.Errorf("auth.scram_file: %w", err)
		}
		b.EnhancedAuth = s
	}
	return b, nil
}
