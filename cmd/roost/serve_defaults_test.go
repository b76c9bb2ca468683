package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roostmq/roost/config"
)

// With no config file roost listens on loopback only, as Mosquitto 2 does.
func TestServeDefaultIsLoopback(t *testing.T) {
	f := config.Default()
	if len(f.Listeners) != 1 || f.Listeners[0].Address != "127.0.0.1:1883" {
		t.Fatalf("default listeners: %+v", f.Listeners)
	}
	// A bare port means loopback too, and the banner says how to open up.
	port := freePort(t)
	stderr := runServe(t, []string{"--listen", fmt.Sprint(port)}, fmt.Sprintf("127.0.0.1:%d", port))
	want := fmt.Sprintf("mqtt://127.0.0.1:%d (loopback only)", port)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "other machines cannot connect") {
		if time.Now().After(deadline) {
			t.Fatalf("banner never said how to listen publicly:\n%s", stderr)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
	if !strings.Contains(stderr.String(), want) {
		t.Fatalf("banner lacks %q:\n%s", want, stderr)
	}
}

// A second broker on the same store says who holds it and where.
func TestServeStoreLocked(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	cfg := fmt.Sprintf("listeners:\n  - address: %q\nstorage:\n  type: disk\n  dir: %q\n", addr, dir)
	startRoostConfig(t, cfg, addr)
	cfg2 := fmt.Sprintf("listeners:\n  - address: %q\nstorage:\n  type: disk\n  dir: %q\n", freeAddr(t), dir)
	r := roost(t, "serve", "--config", writeFile(t, "second.yaml", cfg2))
	if r.code != 1 || !strings.Contains(r.stderr, "holds the store in "+dir) || !strings.Contains(r.stderr, filepath.Join(dir, "LOCK")) {
		t.Fatalf("second roost serve: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "resource temporarily unavailable") {
		t.Fatalf("the raw lock error leaked:\n%s", r.stderr)
	}
}

// roost --version, roost serve --version and roost version print one line,
// and the running broker reports the same version in /metrics, the API and
// $SYS.
func TestServeVersionEverywhere(t *testing.T) {
	want := roost(t, "version").stdout
	for _, args := range [][]string{{"--version"}, {"serve", "--version"}} {
		if r := roost(t, args...); r.code != 0 || r.stdout != want {
			t.Errorf("roost %s: exit %d, %q; want %q", strings.Join(args, " "), r.code, r.stdout, want)
		}
	}
	mqtt, admin := freeAddr(t), freeAddr(t)
	startRoostConfig(t, fmt.Sprintf("listeners:\n  - address: %q\nadmin:\n  enabled: true\n  address: %q\nsys_interval: 100ms\n", mqtt, admin), mqtt, admin)
	get := func(path string) string {
		resp, err := http.Get("http://" + admin + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if m := get("/metrics"); !strings.Contains(m, `version="`+testVersion+`"`) {
		t.Errorf("/metrics has no version %q", testVersion)
	}
	if info := get("/api/v1/info"); !strings.Contains(info, `"version": "`+testVersion+`"`) {
		t.Errorf("/api/v1/info: %s", info)
	}
	_, port, _ := net.SplitHostPort(mqtt)
	out, err := mosq("mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-t", "$SYS/broker/version", "-C", "1", "-W", "10")
	if err != nil || strings.TrimSpace(out) != "roost "+testVersion {
		t.Errorf("$SYS/broker/version: %q, %v", out, err)
	}
}

// -v logs at debug level.
func TestServeVerbose(t *testing.T) {
	addr := freeAddr(t)
	stderr := runServe(t, []string{"--listen", addr, "-v"}, addr)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = nc.Write([]byte{0xC0, 0x00}) // PINGREQ first: not a CONNECT
	_, _ = io.ReadAll(nc)               // closed by the broker
	nc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "level=DEBUG") {
		if time.Now().After(deadline) {
			t.Fatalf("no debug line with -v:\n%s", stderr)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}
