package config

import (
	"net/url"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/roostmq/roost/auth"
	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/packet"
)

// defaultAuth is the auth: section left out: no mechanism, so no chain.
func defaultAuth() auth.Config {
	return auth.Config{
		JWT: auth.JWTConfig{Algorithms: []string{"HS256", "RS256", "ES256"}, JWKSRefresh: 10 * time.Minute,
			UsernameClaim: "sub", PublishClaim: "publish", SubscribeClaim: "subscribe"},
		HTTP: auth.HTTPConfig{Timeout: 5 * time.Second, CacheTTL: time.Minute},
	}
}

// authSection decodes auth:.
func (d *decoder) authSection(path string, n *yaml.Node, f *File) {
	a := &f.Auth
	d.mapping(path, n, map[string]handler{
		"anonymous": d.anonymousField(&a.Anonymous),
		"chain": func(path string, n *yaml.Node) {
			a.Chain = nil
			d.list(path, n, func(path string, _ int, item *yaml.Node) {
				if v, ok := d.choice(path, item, auth.ChainNames...); ok {
					a.Chain = append(a.Chain, v)
				}
			})
		},
		"acl_default": func(path string, n *yaml.Node) {
			if v, ok := d.choice(path, n, "auto", "allow", "deny"); ok {
				a.ACLDefault = v
				if v == "auto" {
					a.ACLDefault = ""
				}
			}
		},
		"password_file": d.stringField(&a.PasswordFile),
		"acl_file":      d.stringField(&a.ACLFile),
		"scram_file":    d.stringField(&a.SCRAMFile),
		"jwt":           func(path string, n *yaml.Node) { d.jwtSection(path, n, &a.JWT) },
		"http":          func(path string, n *yaml.Node) { d.httpAuthSection(path, n, &a.HTTP) },
		"bans":          func(path string, n *yaml.Node) { d.bans(path, n, &f.Options) },
		"wildcard_subscriptions": func(path string, n *yaml.Node) {
			if v, ok := d.choice(path, n, "filter", "refuse"); ok {
				a.WildcardSubscriptions = v
				if v == "filter" {
					a.WildcardSubscriptions = "" // the default
				}
			}
		},
	})
	if err := a.Check(); err != nil {
		d.fail(resolve(n), path, "%v", err)
	}
}

// anonymousField decodes true, false or auto (nil: allowed exactly when no
// mechanism is configured).
func (d *decoder) anonymousField(p **bool) handler {
	return func(path string, n *yaml.Node) {
		s := d.scalar(path, n, "true, false or auto")
		if s == nil {
			return
		}
		switch {
		case s.ShortTag() == "!!str" && s.Value == "auto":
			*p = nil
		case s.ShortTag() == "!!bool":
			v, err := strconv.ParseBool(s.Value)
			if err != nil {
				d.fail(s, path, "expected true, false or auto, got %q", s.Value)
				return
			}
			*p = &v
		default:
			d.fail(s, path, "expected true, false or auto, got %s", describe(s))
		}
	}
}

func (d *decoder) jwtSection(path string, n *yaml.Node, j *auth.JWTConfig) {
	d.mapping(path, n, map[string]handler{
		"algorithms": func(path string, n *yaml.Node) {
			j.Algorithms = nil
			d.list(path, n, func(path string, _ int, item *yaml.Node) {
				if v, ok := d.choice(path, item, "HS256", "RS256", "ES256"); ok {
					j.Algorithms = append(j.Algorithms, v)
				}
			})
		},
		"secret_file":          d.stringField(&j.SecretFile),
		"key_file":             d.stringField(&j.KeyFile),
		"jwks_url":             d.urlField(&j.JWKSURL),
		"jwks_refresh":         d.durationField(&j.JWKSRefresh),
		"issuer":               d.stringField(&j.Issuer),
		"audience":             d.stringField(&j.Audience),
		"username_claim":       d.stringField(&j.UsernameClaim),
		"publish_claim":        d.stringField(&j.PublishClaim),
		"subscribe_claim":      d.stringField(&j.SubscribeClaim),
		"disconnect_on_expiry": d.boolField(&j.DisconnectOnExpiry),
	})
}

func (d *decoder) httpAuthSection(path string, n *yaml.Node, h *auth.HTTPConfig) {
	d.mapping(path, n, map[string]handler{
		"connect_url": d.urlField(&h.ConnectURL),
		"acl_url":     d.urlField(&h.ACLURL),
		"timeout":     d.durationField(&h.Timeout),
		"cache_ttl": func(path string, n *yaml.Node) {
			if v, ok := d.duration(path, n); ok {
				h.CacheTTL = v
				if v == 0 {
					h.CacheTTL = -1 // no cache
				}
			}
		},
		"fail_open": d.boolField(&h.FailOpen),
	})
}

// urlField decodes an http or https URL ("" for none).
func (d *decoder) urlField(p *string) handler {
	return func(path string, n *yaml.Node) {
		v, ok := d.stringValue(path, n)
		if !ok {
			return
		}
		if v != "" {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				d.fail(resolve(n), path, "%q is not an http or https URL", v)
				return
			}
		}
		*p = v
	}
}

// bans decodes auth.bans: a list of {client_id | username | ip, until}.
func (d *decoder) bans(path string, n *yaml.Node, o *broker.Options) {
	o.Bans = nil
	d.list(path, n, func(path string, _ int, item *yaml.Node) {
		var b broker.Ban
		var set int
		kind := func(k broker.BanKind) handler {
			return func(path string, n *yaml.Node) {
				if v, ok := d.stringValue(path, n); ok {
					b.Kind, b.Value = k, v
					set++
				}
			}
		}
		d.mapping(path, item, map[string]handler{
			"client_id": kind(broker.BanClientID),
			"username":  kind(broker.BanUsername),
			"ip":        kind(broker.BanIP),
			"until": func(path string, n *yaml.Node) {
				v, ok := d.stringValue(path, n)
				if !ok {
					return
				}
				t, err := time.Parse(time.RFC3339, v)
				if err != nil {
					d.fail(resolve(n), path, "%q is not an RFC 3339 time (2026-12-31T23:59:59Z)", v)
					return
				}
				b.Until = t
			},
		})
		if set != 1 {
			d.fail(resolve(item), path, "want exactly one of client_id, username or ip")
			return
		}
		if err := broker.CheckBan(b); err != nil {
			d.fail(resolve(item), path, "%v", err)
			return
		}
		o.Bans = append(o.Bans, b)
	})
}

func (d *decoder) publishRateReason(p *packet.ReasonCode) handler {
	return func(path string, n *yaml.Node) {
		if v, ok := d.choice(path, n, "message_rate_too_high", "quota_exceeded"); ok {
			*p = 0 // broker.Limits: 0 is 0x96 Message rate too high
			if v == "quota_exceeded" {
				*p = packet.QuotaExceeded
			}
		}
	}
}
