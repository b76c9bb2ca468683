package broker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/roostmq/roost/packet"
)

// Connection log: every connect, disconnect and refused CONNECT is logged at
// info level, with the client id, user name, remote address, protocol and
// listener, as operators of Mosquitto expect. A flood of connections must
// not fill the disk: lines beyond connLogRate a second (bursts of
// connLogBurst) are counted instead, and the count is logged once lines are
// allowed again.
const (
	connLogRate  = 100 // lines per second, sustained
	connLogBurst = 500
)

// connLog is the rate limiter of the connection log: a token bucket.
type connLog struct {
	mu         sync.Mutex
	tokens     float64   // guarded by mu
	last       time.Time // guarded by mu: when tokens was last refilled
	suppressed uint64    // guarded by mu: lines dropped since the last one written
}

// allow takes a token; it returns false when the line must be dropped, and
// how many lines were dropped before this one.
func (l *connLog) allow(now time.Time) (ok bool, dropped uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last.IsZero() {
		l.tokens = connLogBurst
	} else {
		l.tokens = min(connLogBurst, l.tokens+now.Sub(l.last).Seconds()*connLogRate)
	}
	l.last = now
	if l.tokens < 1 {
		l.suppressed++
		return false, 0
	}
	l.tokens--
	dropped, l.suppressed = l.suppressed, 0
	return true, dropped
}

// logConn writes one connection log line for c at info level.
func (s *Server) logConn(msg string, c *conn, attrs ...any) {
	if !s.log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	ok, dropped := s.connLog.allow(time.Now())
	if !ok {
		return
	}
	if dropped > 0 {
		s.log.Info("connection log lines suppressed by the rate limit", "lines", dropped)
	}
	remote := ""
	if a := c.nc.RemoteAddr(); a != nil {
		remote = a.String()
	}
	base := []any{"client", c.clientID, "username", c.username, "remote", remote, "listener", c.listener}
	if c.version != 0 {
		base = append(base, "protocol", c.version.String())
	}
	s.log.Info(msg, append(base, attrs...)...)
}

// disconnectReason says in words why a connection ended.
func disconnectReason(err error, clean bool) string {
	switch {
	case clean && err == nil:
		return "client sent DISCONNECT"
	case err == nil:
		return "closed by the server"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the client without DISCONNECT"
	}
	var rc packet.ReasonCode
	if errors.As(err, &rc) {
		return rc.String()
	}
	return err.Error()
}
