package broker

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// connLogBuffer collects log output for the connection-log tests.
type connLogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *connLogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *connLogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type connLogDenyBob struct{}

func (connLogDenyBob) Authenticate(ci *ConnectInfo) error {
	if ci.Username == "bob" {
		return packet.BadUsernameOrPassword
	}
	return nil
}

// Connects, disconnects and refused logins are logged at info level with
// the client id, user name, remote address, protocol, listener and reason.
func TestConnectionLog(t *testing.T) {
	var out connLogBuffer
	_, addr := startServer(t, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))
		o.Authenticator = connLogDenyBob{}
	})
	p, _ := connect(t, addr, packet.V311, &packet.Connect{ClientID: []byte("log-alice"), CleanStart: true,
		UsernameFlag: true, Username: []byte("alice"), KeepAlive: 30})
	p.disconnect()
	bob := dial(t, addr, packet.V5)
	bob.send(&packet.Connect{ClientID: []byte("log-bob"), CleanStart: true, UsernameFlag: true, Username: []byte("bob")})
	if ack, ok := bob.expect(packet.CONNACK).(*packet.Connack); !ok || ack.ReasonCode != packet.BadUsernameOrPassword {
		t.Fatalf("bob's CONNACK: %v", ack)
	}
	waitFor(t, "three log lines", func() bool {
		s := out.String()
		return strings.Contains(s, "client connected") && strings.Contains(s, "client disconnected") && strings.Contains(s, "connection refused")
	})
	lines := strings.Split(out.String(), "\n")
	find := func(msg string) string {
		for _, l := range lines {
			if strings.Contains(l, "msg=\""+msg+"\"") {
				return l
			}
		}
		t.Fatalf("no %q line in:\n%s", msg, out.String())
		return ""
	}
	for _, want := range []struct{ msg, parts string }{
		{"client connected", "level=INFO client=log-alice username=alice remote=127.0.0.1: listener=127.0.0.1: protocol=3.1.1 clean_start=true keep_alive=30"},
		{"client disconnected", "client=log-alice username=alice|protocol=3.1.1|reason=\"client sent DISCONNECT\""},
		{"connection refused", "client=log-bob username=bob|protocol=5.0|reason=\"bad user name or password\""},
	} {
		l := find(want.msg)
		for _, part := range strings.Split(want.parts, "|") {
			for _, field := range strings.Fields(part) {
				if !strings.Contains(l, field) {
					t.Errorf("%s line lacks %q: %s", want.msg, field, l)
				}
			}
		}
	}
}

// A flood of connections is logged at most connLogRate lines a second after
// a burst; what was dropped is counted in the next line written.
func TestConnectionLogRateLimit(t *testing.T) {
	var l connLog
	now := time.Unix(1000, 0)
	allowed := 0
	for range connLogBurst + 100 {
		if ok, _ := l.allow(now); ok {
			allowed++
		}
	}
	eq(t, "lines allowed in a burst", allowed, connLogBurst)
	ok, dropped := l.allow(now.Add(time.Second / connLogRate))
	eq(t, "a line once a token is back", ok, true)
	eq(t, "lines reported dropped", dropped, uint64(100))
	if ok, _ := l.allow(now.Add(time.Second / connLogRate)); ok {
		t.Fatal("a second line with no token left was allowed")
	}
}
