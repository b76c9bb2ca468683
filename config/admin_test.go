package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAdminSection(t *testing.T) {
	f, err := Parse([]byte(`
admin:
  enabled: true
  address: 0.0.0.0:9090
  token: abc
  users: {ops: pw, viewer: pw2}
  websocket_url: ws://example.com/mqtt
  session_ttl: 30m
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a := f.Admin
	if !a.Enabled || a.Address != "0.0.0.0:9090" || a.Token != "abc" || a.Users["ops"] != "pw" || len(a.Users) != 2 ||
		a.WebSocketURL != "ws://example.com/mqtt" || a.SessionTTL != 30*time.Minute {
		t.Fatalf("admin: %+v", a)
	}
	for doc, want := range map[string]string{
		"admin:\n  enabled: true\n  address: 0.0.0.0:9090\n": "t.yaml:2: admin: admin.address \"0.0.0.0:9090\" is not on loopback",
		"admin:\n  address: nope\n":                          "t.yaml:2: admin.address: \"nope\" is not host:port",
		"admin:\n  users: [a]\n":                             "t.yaml:2: admin.users: expected a mapping",
		"admin:\n  users: {a: 1}\n":                          "t.yaml:2: admin.users.a: expected a string",
		"admin:\n  port: 1\n":                                "t.yaml:2: admin.port: unknown key",
	} {
		_, err := Parse([]byte(doc), "t.yaml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", doc, err, want)
		}
	}
	// Off, a public address without credentials is accepted (nothing listens).
	if _, err := Parse([]byte("admin:\n  address: 0.0.0.0:9090\n"), "t.yaml"); err != nil {
		t.Error(err)
	}
}

func TestExampleFileHasAdminKeys(t *testing.T) {
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
	for _, key := range []string{"admin.enabled", "admin.address", "admin.token", "admin.users", "admin.websocket_url", "admin.session_ttl"} {
		if _, ok := d.lines[key]; !ok {
			t.Errorf("no key %s in the example", key)
		}
	}
}
