package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// roost serve logs connects to its log file and to syslog; SIGHUP reopens
// the file, so that a rotated file is closed and a new one started.
func TestServeLogFileSyslogAndReopen(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "roost.log")
	sysSock := filepath.Join(dir, "syslog.sock")
	sys, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sysSock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	addr := freeAddr(t)
	cfg := writeFile(t, "roost.yaml", fmt.Sprintf(`listeners:
  - address: %q
log:
  stderr: false
  file: %q
  syslog: "unixgram://%s"
`, addr, logFile, sysSock))
	cmd := exec.Command(roostBin, "serve", "--config", cfg)
	cmd.Dir = dir
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_, _ = waitExit(cmd, 10*time.Second)
	}()
	connectAs := func(id string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, _, err := dialRaw(addr, packet.V311, &packet.Connect{ClientID: []byte(id), CleanStart: true})
			if err == nil {
				_ = c.send(&packet.Disconnect{})
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("connect %s: %v; stderr:\n%s", id, err, stderr)
			}
			time.Sleep(20 * time.Millisecond) // polling with a deadline
		}
	}
	waitFile := func(path, want string) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, _ := os.ReadFile(path)
			if strings.Contains(string(b), want) {
				return string(b)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never held %q:\n%s", path, want, b)
			}
			time.Sleep(20 * time.Millisecond) // polling with a deadline
		}
	}
	connectAs("log-one")
	waitFile(logFile, "client=log-one")

	// Syslog got the same lines, at info severity of the daemon facility.
	_ = sys.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64<<10)
	found := false
	for !found {
		n, err := sys.Read(buf)
		if err != nil {
			t.Fatalf("no syslog line with the connect: %v", err)
		}
		line := string(buf[:n])
		found = strings.Contains(line, "client connected") && strings.Contains(line, "client=log-one")
		if found && !strings.HasPrefix(line, "<30>") {
			t.Fatalf("syslog priority: %q", line)
		}
	}

	// Rotate: move the file away, SIGHUP, and the broker writes a new one.
	rotated := logFile + ".1"
	if err := os.Rename(logFile, rotated); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFile(logFile, "SIGHUP")
	connectAs("log-two")
	waitFile(logFile, "client=log-two")
	if b, _ := os.ReadFile(rotated); strings.Contains(string(b), "log-two") {
		t.Fatalf("the rotated file still gets lines:\n%s", b)
	}
	if stderr.String() != "" && strings.Contains(stderr.String(), "client connected") {
		t.Fatalf("stderr: false still wrote the log to stderr:\n%s", stderr)
	}
}
