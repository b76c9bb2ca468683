package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roostmq/roost/client"
	"github.com/roostmq/roost/packet"
)

// TestReload runs roost with a config file and the admin listener, then
// changes the file: on SIGHUP, a new listener opens, the log level, the
// admin credentials and the limits change; on the file change alone, the
// first listener is removed. A client connected through that listener from
// the start stays connected throughout, and sees the new limits.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	portA, portB, adminPort := freePort(t), freePort(t), freePort(t)
	addrA, addrB := fmt.Sprintf("127.0.0.1:%d", portA), fmt.Sprintf("127.0.0.1:%d", portB)
	adminURL := fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	cfg := filepath.Join(dir, "roost.yaml")
	write := func(listeners []string, level, token string, maxSubs int) {
		var b strings.Builder
		b.WriteString("listeners:\n")
		for _, a := range listeners {
			fmt.Fprintf(&b, "  - {type: tcp, address: %q}\n", a)
		}
		fmt.Fprintf(&b, "limits: {max_subscriptions: %d}\nlog: {level: %s}\n", maxSubs, level)
		fmt.Fprintf(&b, "admin: {enabled: true, address: \"127.0.0.1:%d\", token: %q}\n", adminPort, token)
		// Write and rename, so that the watcher never reads half a file.
		tmp := cfg + ".tmp"
		if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, cfg); err != nil {
			t.Fatal(err)
		}
	}
	write([]string{addrA}, "info", "", 0)

	p := startProc(t, "serve", "--config", cfg)
	cmd, stderr, exited := p.cmd, p.stderr, p.exited
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; stderr:\n%s", what, stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	get := func(path, token string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", adminURL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	waitUntil("the admin API", func() bool { code, _ := get("/api/v1/info", ""); return code == 200 })

	ctx := context.Background()
	dial := func(addr, id string) (*client.Client, error) {
		return client.Dial(ctx, addr, &client.Options{ClientID: id, Version: packet.V5, CleanStart: true})
	}
	first, err := dial(addrA, "long-lived")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if codes, err := first.Subscribe(ctx, client.Subscription{Filter: "a"}); err != nil || codes[0] != 0 {
		t.Fatalf("subscribe: %v %v", codes, err)
	}

	// SIGHUP: a second listener, debug logs, a token, one subscription per client.
	write([]string{addrA, addrB}, "debug", "s3cret", 1)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil("the reload", func() bool { return strings.Contains(stderr.String(), "added listener mqtt://"+addrB) })
	if !strings.Contains(stderr.String(), "config reloaded") {
		t.Fatalf("no reload logged:\n%s", stderr)
	}
	if code, _ := get("/api/v1/log", ""); code != 401 {
		t.Errorf("admin without the new token: %d, want 401", code)
	}
	if code, body := get("/api/v1/log", "s3cret"); code != 200 || body["level"] != "debug" {
		t.Errorf("log level after reload: %d %v", code, body)
	}
	second, err := dial(addrB, "newcomer")
	if err != nil {
		t.Fatalf("the added listener: %v", err)
	}
	second.Close()
	// The client reports the refusal as an error too.
	if codes, err := first.Subscribe(ctx, client.Subscription{Filter: "b"}); len(codes) != 1 || codes[0] != packet.QuotaExceeded {
		t.Errorf("second subscription after max_subscriptions 1: %v %v", codes, err)
	}

	// The file changes, no signal: the first listener goes.
	write([]string{addrB}, "debug", "s3cret", 1)
	waitUntil("the listener removal", func() bool { return strings.Contains(stderr.String(), "removed listener mqtt://"+addrA) })
	if c, err := net.DialTimeout("tcp", addrA, time.Second); err == nil {
		c.Close()
		t.Error("the removed listener still accepts connections")
	}
	if _, err := dial(addrB, "newcomer"); err != nil {
		t.Errorf("the remaining listener: %v", err)
	}

	// The first client never noticed.
	if err := first.Ping(ctx); err != nil {
		t.Fatalf("the first client lost its connection: %v; stderr:\n%s", err, stderr)
	}
	select {
	case <-first.Done():
		t.Fatalf("the first client was disconnected: %v", first.Err())
	default:
	}

	// A bad file changes nothing.
	if err := os.WriteFile(cfg, []byte("limits: {max_packet_size: 12XB}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil("the refusal", func() bool { return strings.Contains(stderr.String(), "config reload refused") })

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if p.code != 0 {
			t.Errorf("exit code %d; stderr:\n%s", p.code, stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("roost did not exit; stderr:\n%s", stderr)
	}
}
