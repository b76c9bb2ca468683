package listener

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/roostmq/roost/broker"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// recorder is an Authenticator that accepts everyone and remembers what it
// was told.
type recorder struct{ infos chan broker.ConnectInfo }

func (r *recorder) Authenticate(info *broker.ConnectInfo) error {
	select {
	case r.infos <- *info:
	default:
	}
	return nil
}

// next returns the next ConnectInfo the broker authenticated.
func (r *recorder) next(t testing.TB) broker.ConnectInfo {
	t.Helper()
	select {
	case i := <-r.infos:
		return i
	case <-time.After(5 * time.Second):
		t.Fatal("no CONNECT reached the authenticator")
	}
	return broker.ConnectInfo{}
}

// testLog writes the listeners' debug logs to the test's log on -v.
func testLog(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startBroker serves a broker on the listener cfg describes and returns its
// address and the authenticator's record.
func startBroker(t testing.TB, cfg Config) (string, *recorder) {
	t.Helper()
	_, addr, rec := startServer(t, cfg, nil)
	return addr, rec
}

// startServer is startBroker with the broker's options changed by modify
// (when not nil), returning the broker too.
func startServer(t testing.TB, cfg Config, modify func(*broker.Options)) (*broker.Server, string, *recorder) {
	t.Helper()
	rec := &recorder{infos: make(chan broker.ConnectInfo, 16)}
	opts := broker.DefaultOptions()
	opts.SysInterval = 0
	opts.Listen = nil
	opts.Authenticator = rec
	if modify != nil {
		modify(&opts)
	}
	s, err := broker.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, broker.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return s, ln.Addr().String(), rec
}

// connectPacket is an MQTT 3.1.1 CONNECT with clean session, keep alive 30 s
// and, when user is not empty, a username.
func connectPacket(id, user string) []byte {
	flags := byte(0x02)
	payload := appendString(nil, id)
	if user != "" {
		flags |= 0x80
		payload = appendString(payload, user)
	}
	vh := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, flags, 0, 30}
	return frame(0x10, append(vh, payload...))
}

func appendString(b []byte, s string) []byte {
	return append(append(b, byte(len(s)>>8), byte(len(s))), s...)
}

// frame adds the fixed header (bodies under 128 bytes).
func frame(first byte, body []byte) []byte {
	return append([]byte{first, byte(len(body))}, body...)
}

var (
	connack     = []byte{0x20, 2, 0, 0}
	subscribe   = frame(0x82, append([]byte{0, 1}, append(appendString(nil, "t/x"), 0)...))
	suback      = []byte{0x90, 3, 0, 1, 0}
	publish     = frame(0x30, append(appendString(nil, "t/x"), "hello"...))
	ioTimeout   = 5 * time.Second
	errNoReply  = errors.New("no reply")
	errBadReply = errors.New("unexpected reply")
)

// expect reads len(want) bytes from nc and compares them.
func expect(nc net.Conn, want []byte) error {
	_ = nc.SetReadDeadline(time.Now().Add(ioTimeout))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(nc, got); err != nil {
		return errors.Join(errNoReply, err)
	}
	if !bytes.Equal(got, want) {
		return errors.Join(errBadReply, errors.New(string(got)))
	}
	return nil
}

// mqttConnect sends CONNECT on nc and waits for a successful CONNACK.
func mqttConnect(nc net.Conn, id, user string) error {
	_ = nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := nc.Write(connectPacket(id, user)); err != nil {
		return err
	}
	return expect(nc, connack)
}

// roundTrip subscribes to t/x, publishes to it and reads the message back.
func roundTrip(t testing.TB, nc net.Conn) {
	t.Helper()
	if _, err := nc.Write(subscribe); err != nil {
		t.Fatal(err)
	}
	if err := expect(nc, suback); err != nil {
		t.Fatal("SUBACK:", err)
	}
	if _, err := nc.Write(publish); err != nil {
		t.Fatal(err)
	}
	if err := expect(nc, publish); err != nil {
		t.Fatal("PUBLISH:", err)
	}
}
