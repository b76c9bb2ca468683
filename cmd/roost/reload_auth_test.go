package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roostmq/roost/client"
	"github.com/roostmq/roost/packet"
)

// Changing auth.anonymous, pointing at another password file and editing
// the deny lists take effect without a restart: when the file changes, and
// on SIGHUP.
func TestReloadAuth(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := filepath.Join(dir, "roost.yaml")
	pwA, pwB := filepath.Join(dir, "passwd-a"), filepath.Join(dir, "passwd-b")
	for file, user := range map[string]string{pwA: "alice", pwB: "bob"} {
		if r := roostStdin(t, user+"-pw\n", "passwd", "--password-stdin", file, user); r.code != 0 {
			t.Fatalf("passwd: %s", r.stderr)
		}
	}
	write := func(extra string) {
		t.Helper()
		body := fmt.Sprintf("listeners:\n  - {type: tcp, address: %q}\n%s", addr, extra)
		tmp := cfg + ".tmp"
		if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, cfg); err != nil {
			t.Fatal(err)
		}
	}
	write("")
	p := startProc(t, "serve", "--config", cfg)
	reloads := func() int { return strings.Count(p.stderr.String(), "auth/deny sections") }
	ctx := context.Background()
	try := func(user, pw string) error {
		o := &client.Options{ClientID: "r-" + randomHex(4), Version: packet.V5, CleanStart: true, Username: user}
		if pw != "" {
			o.Password = []byte(pw)
		}
		c, err := client.Dial(ctx, addr, o)
		if err == nil {
			disconnect(c)
		}
		return err
	}
	deadline := time.Now().Add(15 * time.Second)
	for try("", "") != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the broker never accepted the anonymous client; stderr:\n%s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
	// step rewrites the config and waits until the reload applied it.
	step := func(extra string, hup bool) {
		t.Helper()
		n := reloads()
		write(extra)
		if hup {
			if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(15 * time.Second)
		for reloads() == n {
			if time.Now().After(deadline) {
				t.Fatalf("the auth change was not reloaded; stderr:\n%s", p.stderr)
			}
			time.Sleep(20 * time.Millisecond) // polling with a deadline
		}
	}
	refused := func(err error, code packet.ReasonCode) bool {
		var rc packet.ReasonCode
		return err != nil && errors.As(err, &rc) && rc == code
	}

	step("auth: {anonymous: false}\n", false)
	if err := try("", ""); !refused(err, packet.NotAuthorized) {
		t.Fatalf("anonymous after anonymous: false: %v", err)
	}
	step(fmt.Sprintf("auth: {password_file: %q}\n", pwA), true) // SIGHUP as well
	if err := try("alice", "alice-pw"); err != nil {
		t.Fatalf("alice with password_file A: %v", err)
	}
	if err := try("", ""); err == nil {
		t.Fatal("anonymous accepted with a password file")
	}
	step(fmt.Sprintf("auth: {password_file: %q}\n", pwB), false)
	if err := try("alice", "alice-pw"); !refused(err, packet.BadUsernameOrPassword) {
		t.Fatalf("alice after the file changed to B: %v", err)
	}
	if err := try("bob", "bob-pw"); err != nil {
		t.Fatalf("bob with password_file B: %v", err)
	}
	step("deny: {subscribe: [secret/#]}\n", false)
	c, err := client.Dial(ctx, addr, &client.Options{ClientID: "r-deny", Version: packet.V5, CleanStart: true})
	if err != nil {
		t.Fatalf("anonymous again without auth: %v", err)
	}
	defer disconnect(c)
	codes, _ := c.Subscribe(ctx, client.Subscription{Filter: "secret/x"}, client.Subscription{Filter: "open/x"})
	if len(codes) != 2 || codes[0] != packet.NotAuthorized || codes[1] != 0 {
		t.Fatalf("SUBACK after the deny list was added: %v", codes)
	}
}
