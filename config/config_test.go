package config

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/listener"
)

const fullFile = `# every key, none at its default
listeners:
  - type: tcp
    address: "127.0.0.1:1884"
  - address: "[::1]:0"
limits:
  max_connections: 5000
  max_packet_size: 4MiB
  receive_maximum: 100
  max_inflight: 20
  max_queued_messages: 500
  max_queued_bytes: 512KB
  queue_policy: disconnect
  max_pending_bytes: 2048
  slow_consumer_after: 1m30s
  max_topic_length: 1024
  max_topic_levels: 16
  max_subscriptions: 100
  max_keep_alive: 10m
  connect_timeout: 5s
  max_topic_aliases: 0
  max_client_id_length: 64
  max_connect_size: 32KiB
  write_timeout: 2s
  max_message_expiry: 24h
  allow_empty_client_id: false
sessions:
  max_expiry: 1h
retain:
  disabled: true
  max_messages: 1000
sys_interval: 0
response_topic_prefix: "replies/"
deny:
  publish: ["$SYS/#", "admin/+/set"]
  subscribe:
    - secret/#
log:
  level: debug
  format: json
`

func TestParseFull(t *testing.T) {
	f, err := Parse([]byte(fullFile), "full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := broker.DefaultOptions()
	want.Listen = []string{"127.0.0.1:1884", "[::1]:0"}
	want.Limits = broker.Limits{
		MaxConnections:     5000,
		MaxPacketSize:      4 << 20,
		ReceiveMaximum:     100,
		MaxInflight:        20,
		MaxQueuedMessages:  500,
		MaxQueuedBytes:     512000,
		QueuePolicy:        broker.Disconnect,
		MaxPendingBytes:    2048,
		SlowConsumerAfter:  90 * time.Second,
		MaxTopicLength:     1024,
		MaxTopicLevels:     16,
		MaxSubscriptions:   100,
		MaxKeepAlive:       600,
		ConnectTimeout:     5 * time.Second,
		MaxTopicAliases:    0,
		MaxClientIDLength:  64,
		MaxConnectSize:     32 << 10,
		WriteTimeout:       2 * time.Second,
		MaxMessageExpiry:   24 * time.Hour,
		AllowEmptyClientID: false,
	}
	want.Sessions.MaxExpiry = time.Hour
	want.Retain = broker.Retain{Disabled: true, MaxMessages: 1000}
	want.SysInterval = 0
	want.ResponseTopicPrefix = "replies/"
	want.Authorizer = &broker.DenyList{Publish: []string{"$SYS/#", "admin/+/set"}, Subscribe: []string{"secret/#"}}
	if !reflect.DeepEqual(f.Options, want) {
		t.Errorf("options:\n got %+v\nwant %+v", f.Options, want)
	}
	if f.Options.Authorizer == nil {
		t.Fatal("no authorizer")
	}
	if got := *f.Options.Authorizer.(*broker.DenyList); !reflect.DeepEqual(got, *want.Authorizer.(*broker.DenyList)) {
		t.Errorf("deny list %+v", got)
	}
	if want := (LogConfig{Level: slog.LevelDebug, Format: LogJSON, Stderr: true}); f.Log != want {
		t.Errorf("log %+v, want %+v", f.Log, want)
	}
}

// Every key left out keeps its default.
func TestParseDefaultsKept(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		change     func(*File)
	}{
		{"empty", "", nil},
		{"comments only", "# nothing\n\n", nil},
		{"null document", "~\n", nil},
		{"empty mapping", "{}\n", nil},
		{"empty sections", "limits:\nsessions:\nretain: {}\ndeny:\nlog:\n", nil},
		{"empty deny lists", "deny:\n  publish: []\n  subscribe:\n", nil},
		{"one limit", "limits:\n  max_connections: 7\n", func(f *File) { f.Options.Limits.MaxConnections = 7 }},
		{"one log key", "log:\n  level: warn\n", func(f *File) { f.Log.Level = slog.LevelWarn }},
		{"listener type defaults to tcp", "listeners:\n  - address: localhost:1\n", func(f *File) {
			f.Options.Listen = []string{"localhost:1"}
			f.Listeners = []listener.Config{{Type: listener.TCP, Address: "localhost:1"}}
		}},
		{"listener address defaults per type", "listeners:\n  - type: tcp\n", func(f *File) {
			// A listener the file names listens on every interface, as
			// Mosquitto's "listener 1883"; only the built-in default is
			// loopback.
			f.Options.Listen = []string{":1883"}
			f.Listeners = []listener.Config{{Type: listener.TCP, Address: ":1883"}}
		}},
		{"alias", "limits:\n  connect_timeout: &t 3s\n  write_timeout: *t\n", func(f *File) {
			f.Options.Limits.ConnectTimeout = 3 * time.Second
			f.Options.Limits.WriteTimeout = 3 * time.Second
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.file), "roost.yaml")
			if err != nil {
				t.Fatal(err)
			}
			want := Default()
			if tc.change != nil {
				tc.change(want)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       string // the whole message
	}{
		// Syntax.
		{"syntax", "limits:\n  max_connections: 1\nsys_interval: a: b\n", `roost.yaml:3: YAML syntax: mapping values are not allowed in this context`},
		{"tab indentation", "limits:\n\tmax_connections: 1\n", `roost.yaml:2: YAML syntax: found character that cannot start any token`},
		{"two documents", "sys_interval: 1s\n---\nsys_interval: 2s\n", `roost.yaml:2: a second YAML document; the file must hold one`},
		{"top level is a list", "- a\n- b\n", `roost.yaml:1: expected a mapping of keys, got a list`},
		{"top level is a scalar", "hello\n", `roost.yaml:1: expected a mapping of keys, got string "hello"`},

		// Unknown and repeated keys.
		{"unknown top-level key", "sys_interval: 1s\nlimitz:\n  max_connections: 1\n", `roost.yaml:2: limitz: unknown key (did you mean limits?)`},
		{"unknown nested key", "limits:\n  max_connections: 1\n  max_packet_sise: 1KiB\n", `roost.yaml:3: limits.max_packet_sise: unknown key (did you mean max_packet_size?)`},
		{"unknown key, no suggestion", "retain:\n  whatever: 1\n", `roost.yaml:2: retain.whatever: unknown key`},
		{"unknown listener key", "listeners:\n  - type: tcp\n    port: 1883\n", `roost.yaml:3: listeners[0].port: unknown key`},
		{"duplicate key", "limits:\n  max_inflight: 1\n\n  max_inflight: 2\n", `roost.yaml:4: limits.max_inflight: set twice (first at line 2)`},
		{"non-scalar key", "? [a]\n: 1\n", `roost.yaml:1: a key must be a plain name, got a list`},

		// Wrong types.
		{"section is a scalar", "limits: 5\n", `roost.yaml:1: limits: expected a mapping of keys, got integer 5`},
		{"section is a list", "log:\n  - debug\n", `roost.yaml:2: log: expected a mapping of keys, got a list`},
		{"int is a string", "limits:\n  max_connections: \"10\"\n", `roost.yaml:2: limits.max_connections: expected an integer, got string "10"`},
		{"int is a float", "retain:\n  max_messages: 1.5\n", `roost.yaml:2: retain.max_messages: expected an integer, got number 1.5`},
		{"int is missing", "limits:\n  max_connections:\n", `roost.yaml:2: limits.max_connections: expected an integer, got nothing`},
		{"int is a mapping", "limits:\n  max_connections: {a: 1}\n", `roost.yaml:2: limits.max_connections: expected an integer, got a mapping`},
		{"bool is a string", "retain:\n  disabled: \"true\"\n", `roost.yaml:2: retain.disabled: expected true or false, got string "true"`},
		{"bool is yes", "limits:\n  allow_empty_client_id: yes\n", `roost.yaml:2: limits.allow_empty_client_id: expected true or false, got string "yes"`},
		{"bool is an int", "retain:\n  disabled: 1\n", `roost.yaml:2: retain.disabled: expected true or false, got integer 1`},
		{"duration is a bool", "sys_interval: true\n", `roost.yaml:1: sys_interval: expected a duration such as "30s", got boolean true`},
		{"size is a list", "limits:\n  max_queued_bytes: [1]\n", `roost.yaml:2: limits.max_queued_bytes: expected a size, got a list`},
		{"listeners is a mapping", "listeners:\n  type: tcp\n", `roost.yaml:2: listeners: expected a list, got a mapping`},
		{"listener is a string", "listeners:\n  - \":1883\"\n", `roost.yaml:2: listeners[0]: expected a mapping of keys, got string ":1883"`},
		{"address is an int", "listeners:\n  - address: 1883\n", `roost.yaml:2: listeners[0].address: expected a string, got integer 1883`},
		{"deny is a list", "deny: [a]\n", `roost.yaml:1: deny: expected a mapping of keys, got a list`},
		{"deny filter is a list", "deny:\n  publish:\n    - [a]\n", `roost.yaml:3: deny.publish[0]: expected a string, got a list`},
		{"log level is an int", "log:\n  level: 3\n", `roost.yaml:2: log.level: expected a string, got integer 3`},
		{"response prefix is an int", "response_topic_prefix: 5\n", `roost.yaml:1: response_topic_prefix: expected a string, got integer 5`},

		// Bad values.
		{"bad size", "# limits\n\nlimits:\n  max_connections: 10\n\n  # the largest packet\n  max_packet_size: 12XB\n", `roost.yaml:7: limits.max_packet_size: "12XB" is not a size`},
		{"size without number", "limits:\n  max_pending_bytes: MiB\n", `roost.yaml:2: limits.max_pending_bytes: "MiB" is not a size`},
		{"negative size string", "limits:\n  max_pending_bytes: \"-5\"\n", `roost.yaml:2: limits.max_pending_bytes: "-5" is not a size`},
		{"negative size int", "limits:\n  max_pending_bytes: -5\n", `roost.yaml:2: limits.max_pending_bytes: -5 must not be negative`},
		{"size too large", "limits:\n  max_queued_bytes: 99999999999999GiB\n", `roost.yaml:2: limits.max_queued_bytes: "99999999999999GiB" is too large`},
		{"negative int", "limits:\n  max_connections: -1\n", `roost.yaml:2: limits.max_connections: -1 must not be negative`},
		{"uint16 overflow", "limits:\n  receive_maximum: 65536\n", `roost.yaml:2: limits.receive_maximum: 65536 is out of range (0 to 65535)`},
		{"int overflow", "limits:\n  max_connections: 99999999999999999999\n", `roost.yaml:2: limits.max_connections: expected an integer, got number 99999999999999999999`},
		{"duration without unit", "limits:\n  connect_timeout: 10\n", `roost.yaml:2: limits.connect_timeout: 10 is not a duration: add a unit, as in "10s"`},
		{"bad duration", "sessions:\n  max_expiry: 7d\n", `roost.yaml:2: sessions.max_expiry: "7d" is not a duration (such as "500ms", "30s", "10m", "168h")`},
		{"negative duration", "sys_interval: -1s\n", `roost.yaml:1: sys_interval: "-1s" must not be negative`},
		{"keep alive fraction", "limits:\n  max_keep_alive: 1500ms\n", `roost.yaml:2: limits.max_keep_alive: 1.5s is not a whole number of seconds`},
		{"keep alive too long", "limits:\n  max_keep_alive: 24h\n", `roost.yaml:2: limits.max_keep_alive: 24h0m0s is more than 65535 seconds`},
		{"bad queue policy", "limits:\n  queue_policy: drop\n", `roost.yaml:2: limits.queue_policy: "drop" is not one of drop-newest, drop-oldest, disconnect`},
		{"bad log level", "log:\n  level: verbose\n", `roost.yaml:2: log.level: "verbose" is not one of debug, info, warn, error`},
		{"bad log format", "log:\n  format: xml\n", `roost.yaml:2: log.format: "xml" is not one of text, json`},
		{"bad deny filter", "deny:\n  subscribe:\n    - ok/#\n    - a/#/b\n", `roost.yaml:4: deny.subscribe[1]: "a/#/b" is not a valid topic filter: topic: + must fill a whole level; # must fill the last level`},
		{"empty deny filter", "deny:\n  publish: [\"\"]\n", `roost.yaml:2: deny.publish[0]: "" is not a valid topic filter: topic: empty topic name or filter`},

		// Listeners.
		{"listener tls without tls", "listeners:\n  - type: tcp\n    address: :1883\n  - type: tls\n    address: :8883\n", `roost.yaml:4: listeners[1].tls: a tls listener needs a tls section with cert_file and key_file`},
		{"listener wss without tls", "listeners:\n  - type: wss\n", `roost.yaml:2: listeners[0].tls: a wss listener needs a tls section with cert_file and key_file`},
		{"listener unix without path", "listeners:\n  - type: unix\n", `roost.yaml:2: listeners[0].address: a unix listener needs the socket file's path as its address`},
		{"listener unknown type", "listeners:\n  - type: udp\n", `roost.yaml:2: listeners[0].type: unknown listener type "udp" (want tcp, tls, ws, wss or unix)`},
		{"listener no port", "listeners:\n  - address: localhost\n", `roost.yaml:2: listeners[0].address: "localhost" is not host:port (missing port in address)`},
		{"listener bad port", "listeners:\n  - address: \":mqtt\"\n", `roost.yaml:2: listeners[0].address: ":mqtt": port "mqtt" is not a number from 0 to 65535`},
		{"listener port too big", "listeners:\n  - address: \":70000\"\n", `roost.yaml:2: listeners[0].address: ":70000": port "70000" is not a number from 0 to 65535`},
		{"listener twice", "listeners:\n  - address: \":1883\"\n  - address: \":1883\"\n", `roost.yaml:3: listeners[1].address: ":1883" is already listed at line 2`},
		{"no listeners", "listeners: []\n", `roost.yaml:1: listeners: at least one listener is needed`},

		// Options.Validate, located at the key's line.
		{"validate packet size", "limits:\n  max_connections: 1\n  max_packet_size: 12\n", `roost.yaml:3: limits.max_packet_size 12: must be between 64 and 268435460`},
		{"validate zero timeout", "limits:\n  connect_timeout: 0s\n", `roost.yaml:2: limits.connect_timeout must be positive`},
		{"validate response prefix", "sys_interval: 1s\nresponse_topic_prefix: \"r/+/\"\n", `roost.yaml:2: response_topic_prefix "r/+/": must be the start of a valid topic name (no + or #)`},
		{"validate section", "limits:\n  max_pending_bytes: 1000\n  max_client_id_length: 3\n",
			"roost.yaml:2: limits.max_pending_bytes 1000: must be at least 1024\n" +
				"roost.yaml:3: limits.max_client_id_length 3: must be between 23 and 65535"},

		// Several errors are all reported.
		{"several", "limitz: 1\nlimits:\n  max_inflight: x\nlog:\n  level: loud\n",
			"roost.yaml:1: limitz: unknown key (did you mean limits?)\n" +
				"roost.yaml:3: limits.max_inflight: expected an integer, got string \"x\"\n" +
				"roost.yaml:5: log.level: \"loud\" is not one of debug, info, warn, error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(tc.file), "roost.yaml")
			if err == nil {
				t.Fatalf("no error; got %+v", f)
			}
			if f != nil {
				t.Errorf("a File with the error: %+v", f)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got %s\nwant %s", err, tc.want)
			}
		})
	}
}

func TestErrorFields(t *testing.T) {
	_, err := Parse([]byte("limits:\n  max_packet_size: 12XB\n"), "x.yaml")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%v (%T) is not an *Error", err, err)
	}
	want := Error{File: "x.yaml", Line: 2, Key: "limits.max_packet_size", Reason: `"12XB" is not a size`}
	if *e != want {
		t.Errorf("got %+v, want %+v", *e, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "roost.yaml")
	if err := os.WriteFile(path, []byte("sys_interval: 1m\nlimits:\n  max_inflight: 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if want := path + ":3: limits.max_inflight must be at least 1"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	if err := os.WriteFile(path, []byte("sys_interval: 1m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Options.SysInterval != time.Minute {
		t.Errorf("sys_interval %v", f.Options.SysInterval)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// roost.example.yaml documents every key at its default value.
func TestExampleFile(t *testing.T) {
	f, err := Load(filepath.Join("..", "roost.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := Default(); !reflect.DeepEqual(f, want) {
		t.Errorf("the example does not show the defaults:\n got %+v\nwant %+v", f, want)
	}
}

// The example names every key the decoder knows, so none goes undocumented.
func TestExampleFileHasEveryKey(t *testing.T) {
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
	// Every field of broker.Limits has a key.
	lt := reflect.TypeFor[broker.Limits]()
	for i := range lt.NumField() {
		key := "limits." + snake(lt.Field(i).Name)
		if _, ok := d.lines[key]; !ok {
			t.Errorf("limits field %s: no key %s in the example", lt.Field(i).Name, key)
		}
	}
	for _, key := range []string{"listeners", "sessions.max_expiry", "retain.disabled", "retain.max_messages",
		"sys_interval", "response_topic_prefix", "deny.publish", "deny.subscribe", "log.level", "log.format"} {
		if _, ok := d.lines[key]; !ok {
			t.Errorf("no key %s in the example", key)
		}
	}
}

// snake turns a Go field name into its config key: MaxClientIDLength ->
// max_client_id_length.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		upper := r >= 'A' && r <= 'Z'
		if upper && i > 0 {
			prevLower := s[i-1] >= 'a' && s[i-1] <= 'z'
			nextLower := i+1 < len(s) && s[i+1] >= 'a' && s[i+1] <= 'z'
			if prevLower || nextLower {
				b.WriteByte('_')
			}
		}
		if upper {
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		err  string
	}{
		{"0", 0, ""},
		{"1024", 1024, ""},
		{"10B", 10, ""},
		{"512KB", 512000, ""},
		{"512kb", 512000, ""},
		{"4MiB", 4 << 20, ""},
		{"4 MiB", 4 << 20, ""},
		{" 2GB ", 2000000000, ""},
		{"1GiB", 1 << 30, ""},
		{"3mb", 3000000, ""},
		{"", 0, "is not a size"},
		{"KiB", 0, "is not a size"},
		{"1.5MiB", 0, "is not a size"},
		{"12XB", 0, "is not a size"},
		{"-1", 0, "is not a size"},
		{"1 2", 0, "is not a size"},
		{"9223372036854775807", 1<<63 - 1, ""},
		{"9223372036854775808", 0, "is too large"},
		{"8589934592GiB", 0, "is too large"},
	} {
		got, err := parseSize(tc.in)
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("parseSize(%q) = %d, %v; want error %q", tc.in, got, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestCheckListenAddress(t *testing.T) {
	for _, ok := range []string{":1883", "0.0.0.0:1883", "127.0.0.1:0", "[::1]:1883", "[::]:65535", "localhost:1883"} {
		if err := CheckListenAddress(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1883", "localhost", ":", "::1:1883", ":65536", ":-1", ":mqtt", "a:b:c"} {
		if err := CheckListenAddress(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestNewLogger(t *testing.T) {
	var b strings.Builder
	LogConfig{Level: slog.LevelWarn, Format: LogJSON}.NewLogger(&b).Info("hidden")
	LogConfig{Level: slog.LevelWarn, Format: LogJSON}.NewLogger(&b).Warn("shown", "k", 1)
	if s := b.String(); strings.Contains(s, "hidden") || !strings.Contains(s, `"msg":"shown","k":1`) {
		t.Errorf("json log: %s", s)
	}
	b.Reset()
	Default().Log.NewLogger(&b).Info("hello", "k", 1)
	if s := b.String(); !strings.Contains(s, "level=INFO msg=hello k=1") {
		t.Errorf("text log: %s", s)
	}
}
