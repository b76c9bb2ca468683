package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/packet"
)

func TestAuthSection(t *testing.T) {
	f, err := Parse([]byte(`
sessions:
  takeover_same_user: true
limits:
  max_connections_per_listener: 100
  connect_rate_per_ip: 10
  publish_rate: 50
  publish_bytes_rate: 1MiB
  publish_rate_reason: quota_exceeded
auth:
  anonymous: true
  chain: [jwt, password]
  acl_default: deny
  password_file: /etc/roost/passwd
  acl_file: /etc/roost/acl
  scram_file: /etc/roost/scram
  jwt:
    algorithms: [RS256]
    jwks_url: https://login.example/jwks.json
    jwks_refresh: 1h
    issuer: https://login.example/
    audience: roost
    username_claim: preferred_username
    disconnect_on_expiry: true
  http:
    connect_url: http://127.0.0.1:9000/connect
    acl_url: http://127.0.0.1:9000/acl
    timeout: 2s
    cache_ttl: 0
    fail_open: true
  bans:
    - client_id: bad-device
    - ip: 203.0.113.0/24
      until: "2030-01-02T03:04:05Z"
    - username: mallory
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a := f.Auth
	if a.Anonymous == nil || !*a.Anonymous || strings.Join(a.Chain, ",") != "jwt,password" || a.ACLDefault != "deny" || a.PasswordFile != "/etc/roost/passwd" ||
		a.ACLFile != "/etc/roost/acl" || a.SCRAMFile != "/etc/roost/scram" {
		t.Errorf("auth: %+v", a)
	}
	j := a.JWT
	if strings.Join(j.Algorithms, ",") != "RS256" || j.JWKSURL == "" || j.JWKSRefresh != time.Hour || j.Issuer == "" ||
		j.Audience != "roost" || j.UsernameClaim != "preferred_username" || !j.DisconnectOnExpiry || j.PublishClaim != "publish" {
		t.Errorf("jwt: %+v", j)
	}
	if h := a.HTTP; h.ConnectURL == "" || h.ACLURL == "" || h.Timeout != 2*time.Second || h.CacheTTL >= 0 || !h.FailOpen {
		t.Errorf("http: %+v", h)
	}
	until, _ := time.Parse(time.RFC3339, "2030-01-02T03:04:05Z")
	want := []broker.Ban{{Kind: broker.BanClientID, Value: "bad-device"}, {Kind: broker.BanIP, Value: "203.0.113.0/24", Until: until},
		{Kind: broker.BanUsername, Value: "mallory"}}
	if len(f.Options.Bans) != 3 || f.Options.Bans[1] != want[1] || f.Options.Bans[0] != want[0] || f.Options.Bans[2] != want[2] {
		t.Errorf("bans: %+v", f.Options.Bans)
	}
	l := f.Options.Limits
	if l.MaxConnectionsPerListener != 100 || l.ConnectRatePerIP != 10 || l.PublishRate != 50 || l.PublishBytesRate != 1<<20 ||
		l.PublishRateReason != packet.QuotaExceeded || !f.Options.Sessions.TakeoverSameUser {
		t.Errorf("limits: %+v", l)
	}
}

func TestAuthSectionErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"auth:\n  chain: [ldap]\n", `t.yaml:2: auth.chain[0]: "ldap" is not one of password, jwt, http`},
		{"auth:\n  chain: [password]\n", "auth.chain: password needs auth.password_file"},
		{"auth:\n  http:\n    connect_url: ftp://x\n", `t.yaml:3: auth.http.connect_url: "ftp://x" is not an http or https URL`},
		{"auth:\n  bans:\n    - ip: 300.1.2.3\n", `t.yaml:3: auth.bans[0]: ban ip "300.1.2.3"`},
		{"auth:\n  bans:\n    - {ip: 10.0.0.1, username: x}\n", "want exactly one of client_id, username or ip"},
		{"auth:\n  bans:\n    - {username: x, until: tomorrow}\n", `"tomorrow" is not an RFC 3339 time`},
		{"auth:\n  jwt:\n    algorithms: [none]\n", `"none" is not one of HS256, RS256, ES256`},
		{"auth:\n  passwd_file: x\n", "t.yaml:2: auth.passwd_file: unknown key"},
		{"limits:\n  publish_rate_reason: slow\n", `"slow" is not one of message_rate_too_high, quota_exceeded`},
	} {
		_, err := Parse([]byte(tc.doc), "t.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.doc, err, tc.want)
		}
	}
}

func TestExampleHasAuthKeys(t *testing.T) {
	d := exampleKeys(t)
	for _, key := range []string{"auth.anonymous", "auth.chain", "auth.acl_default", "auth.password_file", "auth.acl_file",
		"auth.scram_file", "auth.jwt.algorithms", "auth.jwt.secret_file", "auth.jwt.key_file", "auth.jwt.jwks_url",
		"auth.jwt.jwks_refresh", "auth.jwt.issuer", "auth.jwt.audience", "auth.jwt.username_claim", "auth.jwt.publish_claim",
		"auth.jwt.subscribe_claim", "auth.jwt.disconnect_on_expiry", "auth.http.connect_url", "auth.http.acl_url",
		"auth.http.timeout", "auth.http.cache_ttl", "auth.http.fail_open", "auth.bans", "sessions.takeover_same_user"} {
		if _, ok := d[key]; !ok {
			t.Errorf("no key %s in the example", key)
		}
	}
}

// exampleKeys returns the key paths roost.example.yaml sets.
func exampleKeys(t *testing.T) map[string]int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "roost.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d := &decoder{name: "example", lines: make(map[string]int)}
	root, err := parseYAML(data, "example")
	if err != nil {
		t.Fatal(err)
	}
	d.file(root, Default())
	return d.lines
}
