package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testVersion is linked into the test binary, proving -ldflags sets version.
const testVersion = "v0.0.0-test"

// roostBin is the roost binary that TestMain builds.
var roostBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "roost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	roostBin = filepath.Join(dir, "roost")
	// Brokers started by these tests keep nothing on disk unless their
	// config says where (storage.go).
	os.Setenv(storageEnv, "memory")
	build := exec.Command("go", "build", "-ldflags", "-X main.version="+testVersion, "-o", roostBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building roost:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// roost runs the binary to completion (at most 30 s).
func roost(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(roostBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	code, ok := waitExit(cmd, 30*time.Second)
	if !ok {
		cmd.Process.Kill()
		t.Fatalf("roost %s did not exit within 30 s; stderr:\n%s", strings.Join(args, " "), stderr.String())
	}
	return result{code, stdout.String(), stderr.String()}
}

// waitExit waits for cmd to exit within d and returns its exit code.
func waitExit(cmd *exec.Cmd, d time.Duration) (int, bool) {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0, true
		case errors.As(err, &ee):
			return ee.ExitCode(), true
		}
		return -1, true
	case <-time.After(d):
		return 0, false
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckConfig(t *testing.T) {
	good := writeFile(t, "good.yaml", "listeners:\n  - address: 127.0.0.1:1883\nlimits:\n  max_packet_size: 4MiB\n")
	bad := writeFile(t, "bad.yaml", "limits:\n  max_connections: 10\n\n  max_packet_size: 12XB\n")
	example := filepath.Join("..", "..", "roost.example.yaml")
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		stdout     string // wanted in stdout
		stderr     string // wanted in stderr
		quietError bool   // stderr must be empty
	}{
		{"good file", []string{"serve", "--config", good, "--check-config"}, 0, "config OK\n", "", true},
		{"example file", []string{"serve", "-c", example, "--check-config"}, 0, "config OK\n", "", true},
		{"defaults", []string{"serve", "--check-config"}, 0, "config OK\n", "", true},
		{"flags", []string{"serve", "--check-config", "--listen", "127.0.0.1:0", "-l", "[::1]:0"}, 0, "config OK\n", "", true},
		{"bad file", []string{"serve", "--config", bad, "--check-config"}, 2, "", bad + `:4: limits.max_packet_size: "12XB" is not a size`, false},
		{"missing file", []string{"serve", "--config", filepath.Join(t.TempDir(), "none.yaml"), "--check-config"}, 2, "", "no such file", false},
		{"bad listen flag", []string{"serve", "--listen", "localhost", "--check-config"}, 2, "", `--listen: "localhost" is not host:port`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := roost(t, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", r.code, tc.code, r.stderr)
			}
			if !strings.Contains(r.stdout, tc.stdout) || (tc.stdout == "" && r.stdout != "") {
				t.Errorf("stdout %q, want %q", r.stdout, tc.stdout)
			}
			if !strings.Contains(r.stderr, tc.stderr) || (tc.quietError && r.stderr != "") {
				t.Errorf("stderr %q, want %q", r.stderr, tc.stderr)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--no-such-flag"},
		{"serve", "extra-argument"},
		{"no-such-command"},
		{"version", "extra"},
		{"serve", "--listen"},
	} {
		r := roost(t, args...)
		if r.code != 2 {
			t.Errorf("roost %s: exit code %d, want 2; stderr:\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
		if !strings.HasPrefix(r.stderr, "roost: ") {
			t.Errorf("roost %s: stderr %q", strings.Join(args, " "), r.stderr)
		}
	}
}

func TestVersion(t *testing.T) {
	r := roost(t, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "roost "+testVersion+" (go") {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestHelp(t *testing.T) {
	r := roost(t, "serve", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "--check-config") {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a roost process started by a test; code is valid once exited is
// closed.
type proc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{}
	code   int
}

// startProc starts roost with args; the process is killed when the test
// ends if it is still running.
func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(roostBin, args...), stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.code, _ = waitExit(p.cmd, time.Hour)
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// TestServeSignals starts roost on a free loopback port, waits until a TCP
// connect succeeds, sends a signal and expects a clean exit within 10 s.
func TestServeSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			p := startProc(t, "serve", "--listen", addr)
			cmd, stderr, exited := p.cmd, p.stderr, p.exited

			// Poll with a deadline until the broker accepts connections.
			deadline := time.Now().Add(10 * time.Second)
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for {
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err == nil {
					c.Close()
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no connect to %s within 10 s: %v; stderr:\n%s", addr, err, stderr)
				}
				select {
				case <-exited:
					t.Fatalf("roost exited with %d before listening; stderr:\n%s", p.code, stderr)
				case <-tick.C:
				}
			}

			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				t.Fatalf("roost did not exit within 10 s of %v; stderr:\n%s", sig, stderr)
			}
			if p.code != 0 {
				t.Errorf("exit code %d after %v, want 0; stderr:\n%s", p.code, sig, stderr)
			}
			out := stderr.String()
			for _, want := range []string{
				"Roost " + testVersion,
				"listening: mqtt://" + addr + " (loopback only)",
				"anonymous clients are accepted (every listener is on loopback)",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("stderr lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "WARNING") {
				t.Errorf("a loopback listener got a warning:\n%s", out)
			}
		})
	}
}

// A listener that cannot be opened is an error: exit code 1.
func TestServePortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := roost(t, "serve", "--listen", ln.Addr().String())
	if r.code != 1 {
		t.Errorf("exit code %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "roost: ") || !strings.Contains(r.stderr, ln.Addr().String()) {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

func TestBanner(t *testing.T) {
	tcp := func(s string) net.Addr {
		a, err := net.ResolveTCPAddr("tcp", s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	plain := func(addrs ...net.Addr) []bannerListener {
		var out []bannerListener
		for _, a := range addrs {
			out = append(out, bannerListener{Scheme: "mqtt", Addr: a})
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		lns     []bannerListener
		auth    bool
		want    []string
		warning bool
	}{
		{"loopback", plain(tcp("127.0.0.1:1883"), tcp("[::1]:1883")), false,
			[]string{"mqtt://127.0.0.1:1883 (loopback only)", "mqtt://[::1]:1883 (loopback only)", "every listener is on loopback"}, false},
		{"all interfaces", plain(tcp("127.0.0.1:1883"), tcp("0.0.0.0:1884")), false,
			[]string{"mqtt://0.0.0.0:1884 (all interfaces)", "!!   0.0.0.0:1884\n", "auth section", "--listen 127.0.0.1:1883"}, true},
		{"ipv6 any", plain(tcp("[::]:1883")), false, []string{"mqtt://[::]:1883 (all interfaces)"}, true},
		{"one interface", plain(tcp("192.0.2.1:1883")), false, []string{"(reachable from the network)"}, true},
		{"with authenticator", plain(tcp("0.0.0.0:1883")), true, []string{"authentication: required"}, false},
		{"client certificates", []bannerListener{
			{Scheme: "mqtts", Addr: tcp("0.0.0.0:8883"), Notes: []string{"client certificates required"}, CertsRequired: true},
			{Scheme: "wss", Addr: tcp("0.0.0.0:8084"), Path: "/mqtt", Notes: []string{"client certificates required"}, CertsRequired: true},
			{Scheme: "unix", Addr: &net.UnixAddr{Name: "/run/roost.sock", Net: "unix"}},
		}, false, []string{
			"mqtts://0.0.0.0:8883 (all interfaces; client certificates required)",
			"wss://0.0.0.0:8084/mqtt (all interfaces; client certificates required)",
			"unix:///run/roost.sock (local socket)",
			"authentication: client certificates where listed",
		}, false},
		{"ws without certs", []bannerListener{{Scheme: "ws", Addr: tcp("0.0.0.0:8083"), Path: "/mqtt"}}, false,
			[]string{"ws://0.0.0.0:8083/mqtt (all interfaces)"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			printBanner(&b, "v1", tc.lns, tc.auth)
			out := b.String()
			if !strings.HasPrefix(out, "Roost v1 (go") {
				t.Errorf("banner starts %q", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("banner lacks %q:\n%s", w, out)
				}
			}
			if got := strings.Contains(out, "WARNING: ANONYMOUS ACCESS"); got != tc.warning {
				t.Errorf("warning %v, want %v:\n%s", got, tc.warning, out)
			}
		})
	}
}
