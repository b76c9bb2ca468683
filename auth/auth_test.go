package auth

import (
	"errors"
	"github.com/roostmq/roost/topic"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/packet"
)

func TestHashFormats(t *testing.T) {
	argon, err := HashPassword("pw1")
	if err != nil {
		t.Fatal(err)
	}
	bc, _ := bcrypt.GenerateFromPassword([]byte("pw1"), bcrypt.MinCost)
	cases := []struct{ name, hash string }{
		{"argon2id", argon},
		{"bcrypt", string(bc)},
		// PBKDF2-SHA512, 1000 iterations, salt "saltsalt", password "pw1".
		{"pbkdf2-sha512", "$pbkdf2-sha512$i=1000$c2FsdHNhbHQ$" + pbkdf2B64(t, "pw1", "saltsalt", 1000)},
		// mosquitto_passwd 2.0.11 output for password "secret1" / "secret2".
		{"mosquitto $7$", "$7$101$/cJ0oNYJ78xKXfQf$ZinUe65xP24CVB5Jc5uygOu+/BCTIUDhj+LamHCuC4xLCfBfr1kNFidRw2H1/3vopn0CSPNfqTYus/XhlGELCw=="},
		{"mosquitto $6$", "$6$Y3mj97gR9cEfdsGZ$k8KFeYKRo+odqEZImqmmwobVX/AHxBZGcnJ56pRTVFbkN4TN0vAKix5VbGXhEZAvquWxqFnJMhGAX3jVe3brMA=="},
	}
	right := map[string]string{"mosquitto $7$": "secret1", "mosquitto $6$": "secret2"}
	for _, c := range cases {
		pw := "pw1"
		if r, ok := right[c.name]; ok {
			pw = r
		}
		if ok, err := VerifyPassword(c.hash, []byte(pw)); !ok || err != nil {
			t.Errorf("%s: right password: %v %v", c.name, ok, err)
		}
		if ok, err := VerifyPassword(c.hash, []byte(pw+"x")); ok || err != nil {
			t.Errorf("%s: wrong password: %v %v", c.name, ok, err)
		}
	}
	if _, err := VerifyPassword("plain", []byte("x")); err == nil {
		t.Error("plain text accepted as a hash")
	}
	if want := "$argon2id$v=19$m=19456,t=2,p=1$"; argon[:len(want)] != want {
		t.Errorf("argon2id parameters: %s", argon)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestPasswordFileMosquittoAndReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "passwd")
	if _, err := exec.LookPath("mosquitto_passwd"); err != nil {
		if os.Getenv("ROOST_REQUIRE_INTEROP") == "1" {
			t.Fatal("mosquitto_passwd not installed")
		}
		t.Skip("mosquitto_passwd not installed")
	}
	for _, args := range [][]string{{"-c", "-b", path, "alice", "a-pass"}, {"-H", "sha512", "-b", path, "bob", "b-pass"}} {
		if out, err := exec.Command("mosquitto_passwd", args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v %s", err, out)
		}
	}
	pf, err := LoadPasswordFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	pf.w.interval = time.Nanosecond
	check := func(user, pw string, want Result) {
		t.Helper()
		got, _ := pf.CheckConnect(&broker.ConnectInfo{Username: user, Password: []byte(pw)})
		if got != want {
			t.Errorf("%s/%s: %v, want %v", user, pw, got, want)
		}
	}
	check("alice", "a-pass", Allow)
	check("bob", "b-pass", Allow)
	check("alice", "b-pass", Deny)
	check("carol", "c-pass", NoOpinion)
	check("", "", NoOpinion)

	// roost's own writer adds to the Mosquitto file; the change is seen
	// without reopening.
	if err := SetPassword(path, "carol", "c-pass"); err != nil {
		t.Fatal(err)
	}
	if err := SetPassword(path, "alice", "new-pass"); err != nil {
		t.Fatal(err)
	}
	check("carol", "c-pass", Allow)
	check("alice", "a-pass", Deny)
	check("alice", "new-pass", Allow)
	if err := DeleteUser(path, "bob"); err != nil {
		t.Fatal(err)
	}
	check("bob", "b-pass", NoOpinion)
	if err := DeleteUser(path, "bob"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("deleting a missing user: %v", err)
	}
	fresh := filepath.Join(dir, "fresh")
	if err := SetPassword(fresh, "u", "p"); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(fresh); fi.Mode().Perm() != 0o600 {
		t.Errorf("new file mode %v", fi.Mode())
	}
	// A broken file is refused on reload and the old contents stay.
	writeFile(t, path, "alice\n")
	check("carol", "c-pass", Allow)
	if _, err := LoadPasswordFile(path, nil); err == nil {
		t.Error("broken file loaded")
	}
}

func TestChainOrderAndDefaults(t *testing.T) {
	deny := ConnectFunc(func(info *broker.ConnectInfo) (Result, error) {
		if info.Username == "mallory" {
			return Deny, nil
		}
		return NoOpinion, nil
	})
	allowAll := ConnectFunc(func(*broker.ConnectInfo) (Result, error) { return Allow, nil })
	c := &Chain{Authenticators: []ConnectChecker{deny, allowAll}}
	if err := c.Authenticate(&broker.ConnectInfo{Username: "mallory"}); packet.CodeOf(err) != packet.BadUsernameOrPassword {
		t.Errorf("first member's deny: %v", err)
	}
	if err := c.Authenticate(&broker.ConnectInfo{Username: "alice"}); err != nil {
		t.Errorf("second member's allow: %v", err)
	}
	c = &Chain{Authenticators: []ConnectChecker{deny}}
	if err := c.Authenticate(&broker.ConnectInfo{}); packet.CodeOf(err) != packet.NotAuthorized {
		t.Errorf("anonymous refused: %v", err)
	}
	if err := c.Authenticate(&broker.ConnectInfo{Username: "x"}); packet.CodeOf(err) != packet.BadUsernameOrPassword {
		t.Errorf("undecided user: %v", err)
	}
	c.Anonymous = true
	if err := c.Authenticate(&broker.ConnectInfo{}); err != nil {
		t.Errorf("anonymous allowed: %v", err)
	}
	if err := c.Authenticate(&broker.ConnectInfo{Username: "x"}); err == nil {
		t.Error("a username nobody knows is not anonymous")
	}
	if err := c.Authenticate(&broker.ConnectInfo{Username: "x", AuthMethod: "SCRAM-SHA-256"}); err != nil {
		t.Errorf("enhanced auth already succeeded: %v", err)
	}
	if err := c.Authenticate(&broker.ConnectInfo{Username: "x", CertIdentity: "x"}); err != nil {
		t.Errorf("verified certificate: %v", err)
	}
	// Authorizers: first decisive wins, default, $ topics.
	c = &Chain{DefaultAllow: true, Authorizers: []ACLChecker{ACLFunc(func(_, _ string, _ broker.Access, tp string) Result {
		if tp == "a" {
			return Deny
		}
		if tp == "$SYS/x" {
			return Allow
		}
		return NoOpinion
	})}}
	for tp, want := range map[string]bool{"a": false, "b": true, "$SYS/x": true, "$SYS/y": false} {
		if got := c.Authorize("c", "u", broker.AccessReceive, tp); got != want {
			t.Errorf("%s: %v", tp, got)
		}
	}
}

func TestSubsumes(t *testing.T) {
	cases := []struct {
		f, sub string
		want   bool
	}{
		{"#", "a/b", true}, {"#", "#", true}, {"a/#", "a", true}, {"a/#", "a/+/c", true},
		{"a/#", "#", false}, {"a/+", "a/#", false}, {"a/+", "a/b", true}, {"a/+", "a/b/c", false},
		{"a/b", "a/+", false}, {"+/b", "x/b", true}, {"#", "$SYS/#", false}, {"+/#", "$SYS/x", false},
		{"$SYS/#", "$SYS/broker/+", true}, {"$SYS/#", "#", false}, {"a/+/#", "a/b", true},
	}
	for _, c := range cases {
		if got := topic.Subsumes(c.f, c.sub); got != c.want {
			t.Errorf("Subsumes(%q, %q) = %v", c.f, c.sub, got)
		}
	}
}

const testACL = `
# before any section: anonymous clients
topic read public/#
user alice
topic readwrite alice/#
topic deny alice/secret
topic read $SYS/broker/clients/#
clientid meter-7
topic write meters/7
everyone
topic read news/+
pattern readwrite devices/%c/#
pattern read users/%u/inbox
pattern deny private/%u/#
`

func TestACLFile(t *testing.T) {
	a, err := ParseACL([]byte(testACL))
	if err != nil {
		t.Fatal(err)
	}
	S, P, R := broker.AccessSubscribe, broker.AccessPublish, broker.AccessReceive
	cases := []struct {
		client, user string
		access       broker.Access
		topic        string
		want         Result
	}{
		{"c1", "", S, "public/x", Allow},
		{"c1", "", P, "public/x", NoOpinion},
		{"c1", "bob", S, "public/x", NoOpinion}, // anonymous rules only
		{"c1", "alice", P, "alice/x", Allow},
		{"c1", "alice", S, "alice/#", Allow},
		{"c1", "alice", R, "alice/secret", Deny},
		{"c1", "alice", S, "alice/secret", Deny},
		// wildcard_subscriptions filter (the default): a subscription a
		// grant only overlaps is granted; deliveries are checked one by one.
		{"c1", "alice", S, "#", Allow},
		{"c1", "alice", S, "alice/+", Allow},
		{"c1", "alice", S, "$SYS/#", Allow},
		{"c1", "alice", S, "other/#", NoOpinion},
		{"c1", "alice", R, "$SYS/broker/clients/connected", Allow},
		{"c1", "bob", R, "$SYS/broker/clients/connected", NoOpinion},
		{"meter-7", "bob", P, "meters/7", Allow},
		{"meter-8", "bob", P, "meters/7", NoOpinion},
		{"x", "bob", S, "news/today", Allow},
		{"x", "bob", S, "news/#", Allow},
		{"x", "bob", S, "+", NoOpinion}, // every grant of bob has two levels or more
		{"dev1", "", P, "devices/dev1/temp", Allow},
		{"dev1", "", P, "devices/dev2/temp", NoOpinion},
		// An id with wildcards or slashes cannot widen a pattern.
		{"+", "", P, "devices/dev2/temp", NoOpinion},
		{"#", "", S, "devices/#", NoOpinion},
		{"a/b", "", P, "devices/a/b/x", NoOpinion},
		{"c", "bob", S, "users/bob/inbox", Allow},
		{"c", "b/#", R, "users/b/x/inbox", NoOpinion},
		{"c", "bob", R, "private/bob/x", Deny},
		// ...nor narrow a deny pattern.
		{"c", "b/x", R, "private/zzz/x", Deny},
		{"c", "", R, "private/zzz/x", Deny},
	}
	for _, c := range cases {
		if got := a.CheckACL(c.client, c.user, c.access, c.topic); got != c.want {
			t.Errorf("%q/%q %v %q: %v, want %v", c.client, c.user, c.access, c.topic, got, c.want)
		}
	}
	// wildcard_subscriptions refuse: a grant must cover the whole filter.
	a.RefuseWildcards = true
	for _, c := range []struct {
		client, user string
		topic        string
		want         Result
	}{
		{"c1", "alice", "#", NoOpinion},
		{"c1", "alice", "alice/#", Allow},
		{"c1", "alice", "alice/secret", Deny},
		{"c1", "alice", "alice/x", Allow},
		{"x", "bob", "news/#", NoOpinion},
		{"x", "bob", "news/+", Allow},
	} {
		if got := a.CheckACL(c.client, c.user, S, c.topic); got != c.want {
			t.Errorf("refuse mode: %q/%q subscribe %q: %v, want %v", c.client, c.user, c.topic, got, c.want)
		}
	}
	for _, bad := range []string{"bogus x", "topic read a/#/b", "user", "topic"} {
		if _, err := ParseACL([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func pbkdf2B64(t *testing.T, pw, salt string, n int) string {
	t.Helper()
	return pbkdf2Raw(pw, salt, n)
}
