package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// roost ping answers 0 for a live broker, even one that refuses anonymous
// clients, and 1 when nothing answers.
func TestPing(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "passwd")
	if r := roostStdin(t, "x\n", "passwd", "--password-stdin", pw, "u"); r.code != 0 {
		t.Fatalf("passwd: %s", r.stderr)
	}
	addr := freeAddr(t)
	startRoostConfig(t, "listeners:\n  - address: \""+addr+"\"\nauth:\n  password_file: \""+pw+"\"\n", addr)
	host, port, _ := strings.Cut(addr, ":")
	if r := roost(t, "ping", "-h", host, "-p", port); r.code != 0 || !strings.Contains(r.stdout, "CONNACK") {
		t.Fatalf("ping a live broker: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := roost(t, "ping", "-L", "mqtt://"+addr); r.code != 0 {
		t.Fatalf("ping -L: exit %d %q", r.code, r.stderr)
	}
	if r := roost(t, "ping", "-p", strconv.Itoa(freePort(t)), "-W", "2s"); r.code != 1 {
		t.Fatalf("ping nothing: exit %d %q", r.code, r.stderr)
	}
}

// The Dockerfile's built-in config is valid, listens on every interface of
// the container and keeps the store in the /data volume; its health check
// is roost ping.
func TestDockerfileConfig(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`printf '([^']*)' > /out/etc/roost/roost.yaml`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no built-in config in the Dockerfile")
	}
	cfg := strings.ReplaceAll(string(m[1]), `\n`, "\n")
	if !strings.Contains(cfg, `address: ":1883"`) || !strings.Contains(cfg, "dir: /data") {
		t.Fatalf("built-in config:\n%s", cfg)
	}
	if r := roost(t, "serve", "--check-config", "--config", writeFile(t, "docker.yaml", cfg)); r.code != 0 {
		t.Fatalf("the Dockerfile's config: exit %d %s", r.code, r.stderr)
	}
	for _, want := range []string{`"ping"`, "USER 65532", "VOLUME /data", "CGO_ENABLED=0"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
}

// The systemd unit passes systemd-analyze verify (with this test's binary
// in ExecStart), where systemd-analyze exists.
func TestSystemdUnit(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed: " + err.Error())
	}
	b, err := os.ReadFile("../../packaging/systemd/roost.service")
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(roostBin)
	unit := strings.ReplaceAll(string(b), "/usr/bin/roost", abs)
	path := filepath.Join(t.TempDir(), "roost.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
