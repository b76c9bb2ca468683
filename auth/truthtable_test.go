package auth

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roostmq/roost/broker"
)

// authRow is one row of the truth table in docs/operations.md: an auth:
// section and what it lets clients do.
type authRow struct {
	name string
	cfg  func(t *testing.T, dir string) *Config
	deny *broker.DenyList
	// CONNACK codes (0: accepted) for a client without credentials, alice
	// with her password, alice with a wrong one, alice with none, and a
	// username nobody knows.
	anon, alice, wrong, nopw, unknown byte
	cert                              bool // a client named by its TLS certificate is accepted
	// The access of the first client that connects (alice, else anonymous,
	// else the certificate client "dev1", asked of the Authorizer).
	pubA, subA, pubSys, subSys bool
}

func authRows(k *jwtKeys) []authRow {
	pw := func(t *testing.T, dir string) string {
		p := filepath.Join(dir, "passwd")
		if err := SetPassword(p, "alice", "alice-pw"); err != nil {
			t.Fatal(err)
		}
		return p
	}
	acl := func(t *testing.T, dir string) string {
		p := filepath.Join(dir, "acl")
		writeFile(t, p, "topic read a/#\nuser alice\ntopic readwrite a/#\ntopic write $SYS/alice/#\nuser dev1\ntopic readwrite a/#\n")
		return p
	}
	f, tr := false, true
	const na, bad = 0x87, 0x86
	return []authRow{
		{name: "nothing configured", cfg: func(*testing.T, string) *Config { return &Config{} },
			cert: true, pubA: true, subA: true, subSys: true},
		{name: "anonymous: true only", cfg: func(*testing.T, string) *Config { return &Config{Anonymous: &tr} },
			cert: true, pubA: true, subA: true, subSys: true},
		{name: "deny lists only", cfg: func(*testing.T, string) *Config { return &Config{} },
			deny: &broker.DenyList{Publish: []string{"a/#"}}, cert: true, subA: true, subSys: true},
		{name: "anonymous: false only", cfg: func(*testing.T, string) *Config { return &Config{Anonymous: &f} },
			anon: na, alice: bad, wrong: bad, nopw: bad, unknown: bad, cert: true, pubA: true, subA: true},
		{name: "password_file", cfg: func(t *testing.T, dir string) *Config { return &Config{PasswordFile: pw(t, dir)} },
			anon: na, wrong: bad, nopw: bad, unknown: bad, cert: true, pubA: true, subA: true},
		{name: "password_file, anonymous: true", cfg: func(t *testing.T, dir string) *Config {
			return &Config{PasswordFile: pw(t, dir), Anonymous: &tr}
		}, wrong: bad, nopw: bad, unknown: bad, cert: true, pubA: true, subA: true},
		{name: "password_file, acl_default: deny", cfg: func(t *testing.T, dir string) *Config {
			return &Config{PasswordFile: pw(t, dir), ACLDefault: "deny"}
		}, anon: na, wrong: bad, nopw: bad, unknown: bad, cert: true},
		{name: "password_file, acl_file", cfg: func(t *testing.T, dir string) *Config {
			return &Config{PasswordFile: pw(t, dir), ACLFile: acl(t, dir)}
		}, anon: na, wrong: bad, nopw: bad, unknown: bad, cert: true, pubA: true, subA: true, pubSys: true},
		{name: "password_file, acl_file, acl_default: allow", cfg: func(t *testing.T, dir string) *Config {
			return &Config{PasswordFile: pw(t, dir), ACLFile: acl(t, dir), ACLDefault: "allow"}
		}, anon: na, wrong: bad, nopw: bad, unknown: bad, cert: true, pubA: true, subA: true, pubSys: true},
		{name: "acl_file only", cfg: func(t *testing.T, dir string) *Config { return &Config{ACLFile: acl(t, dir)} },
			anon: na, alice: bad, wrong: bad, nopw: bad, unknown: bad, cert: true, pubA: true, subA: true},
		{name: "acl_file, anonymous: true", cfg: func(t *testing.T, dir string) *Config {
			return &Config{ACLFile: acl(t, dir), Anonymous: &tr}
		}, alice: bad, wrong: bad, nopw: bad, unknown: bad, cert: true, subA: true},
		{name: "scram_file only", cfg: func(t *testing.T, dir string) *Config {
			p := filepath.Join(dir, "scram")
			writeFile(t, p, "")
			return &Config{SCRAMFile: p}
		}, anon: na, alice: bad, wrong: bad, nopw: bad, unknown: bad, cert: true, pubA: true, subA: true},
		{name: "jwt", cfg: func(t *testing.T, _ string) *Config { return &Config{JWT: k.config(t)} },
			anon: na, wrong: bad, nopw: bad, unknown: bad, cert: true, pubA: true, subA: true},
		{name: "password_file, jwt", cfg: func(t *testing.T, dir string) *Config {
			return &Config{PasswordFile: pw(t, dir), JWT: k.config(t)}
		}, anon: na, wrong: bad, nopw: bad, unknown: bad, cert: true, pubA: true, subA: true},
	}
}

// Each row of the auth truth table in docs/operations.md: the config, wired
// as roost serve wires it, decides who may connect, publish and subscribe.
func TestAuthTruthTable(t *testing.T) {
	k := newJWTKeys(t)
	for _, row := range authRows(k) {
		t.Run(row.name, func(t *testing.T) {
			c := row.cfg(t, t.TempDir())
			c.JWT.Algorithms = []string{"HS256", "RS256", "ES256"}
			c.JWT.UsernameClaim, c.JWT.PublishClaim, c.JWT.SubscribeClaim = "sub", "publish", "subscribe"
			var extra broker.Authorizer
			if row.deny != nil {
				extra = row.deny
			}
			built, err := Build(c, extra, nil)
			if err != nil {
				t.Fatal(err)
			}
			opts := broker.DefaultOptions()
			opts.Authorizer = extra // as roost serve does
			if built != nil {
				opts.Authenticator, opts.Authorizer = built.Chain, built.Chain
			}
			_, addr := startBroker(t, opts)

			alicePW := "alice-pw"
			if c.jwtEnabled() && c.PasswordFile == "" {
				cl := claims("alice", time.Hour)
				cl["publish"], cl["subscribe"] = []string{"a/#"}, []string{"a/#"}
				alicePW = k.sign(t, "HS256", cl)
			}
			var first *v5
			for _, p := range []struct {
				what       string
				user, pass string
				want       byte
			}{
				{"alice", "alice", alicePW, row.alice},
				{"anonymous", "", "", row.anon},
				{"wrong password", "alice", "nope", row.wrong},
				{"no password", "alice", "", row.nopw},
				{"unknown user", "zed", "pw", row.unknown},
			} {
				cl := dial5(t, addr, v5opts{id: "tt-" + strings.ReplaceAll(p.what, " ", "-"), user: p.user, pass: p.pass})
				if got := cl.code(); got != p.want && !(p.want == 0 && cl.err == nil) {
					t.Errorf("%s: CONNACK %#x (%v), want %#x", p.what, got, cl.err, p.want)
				}
				if cl.err == nil && first == nil {
					first = cl
				}
			}
			var chain *Chain
			if built != nil {
				chain = built.Chain
			}
			if err := authenticateCert(chain); (err == nil) != row.cert {
				t.Errorf("certificate client: %v, want accepted %v", err, row.cert)
			}
			var pubA, subA, pubSys, subSys bool
			if first != nil {
				pubA = first.pub(t, "a/b", "x", false) < 0x80
				subA = first.sub(t, "a/b")[0] < 0x80
				pubSys = first.pub(t, "$SYS/alice/x", "x", false) < 0x80
				subSys = first.sub(t, "$SYS/#")[0] < 0x80
			} else {
				az := func(a broker.Access, name string) bool { return chain.Authorize("dev1", "dev1", a, name) }
				pubA, subA = az(broker.AccessPublish, "a/b"), az(broker.AccessSubscribe, "a/b")
				pubSys, subSys = az(broker.AccessPublish, "$SYS/alice/x"), az(broker.AccessSubscribe, "$SYS/#")
			}
			if pubA != row.pubA || subA != row.subA || pubSys != row.pubSys || subSys != row.subSys {
				t.Errorf("publish a/b %v, subscribe a/b %v, publish $SYS %v, subscribe $SYS/# %v; want %v %v %v %v",
					pubA, subA, pubSys, subSys, row.pubA, row.subA, row.pubSys, row.subSys)
			}
		})
	}
}

// authenticateCert asks chain about a client its TLS certificate names and
// that sent no password; a nil chain accepts everyone.
func authenticateCert(chain *Chain) error {
	if chain == nil {
		return nil
	}
	return chain.Authenticate(&broker.ConnectInfo{ClientID: "dev1", Username: "dev1", CertIdentity: "dev1"})
}

// acl_default: deny with nothing that would apply it is a config error,
// not a silent allow-all.
func TestAuthACLDefaultDenyAloneRefused(t *testing.T) {
	if _, err := Build(&Config{ACLDefault: "deny"}, nil, nil); err == nil || !strings.Contains(err.Error(), "no effect") {
		t.Fatalf("Build: %v", err)
	}
	f := false
	if _, err := Build(&Config{ACLDefault: "deny", Anonymous: &f}, nil, nil); err != nil {
		t.Fatalf("with anonymous: false: %v", err)
	}
}

// The start-up banner names what a client can authenticate with, even when
// that is nothing but a certificate.
func TestAuthMethodsNeverEmpty(t *testing.T) {
	f := false
	if m := (&Config{Anonymous: &f}).Methods(); len(m) != 1 || !strings.Contains(m[0], "certificate") {
		t.Fatalf("anonymous: false alone: %q", m)
	}
	if m := (&Config{}).Methods(); len(m) != 1 || m[0] != "anonymous" {
		t.Fatalf("nothing configured: %q", m)
	}
}
