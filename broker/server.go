// Package broker is Roost's MQTT server: listeners' accept loops, connections
// with one reader and one writer goroutine each, sessions, routing, retained
// messages, wills and $SYS. One Server value owns all of it.
package broker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roostmq/roost/packet"
	"github.com/roostmq/roost/store"
	"github.com/roostmq/roost/topic"
)

// Version is the broker version reported in $SYS.
var Version = "0.1.0-dev"

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("broker: server closed")

// serverStats are the broker totals. Connections add their counters when they
// end; live totals sum the connected ones.
type serverStats struct {
	connected    atomic.Int64
	connsTotal   atomic.Uint64
	msgsRouted   atomic.Uint64
	authFailures atomic.Uint64
	dropped      [numDropReasons]atomic.Uint64
}

// Server is an MQTT broker.
type Server struct {
	opts     Options
	log      *slog.Logger
	clock    Clock
	store    store.Store
	durable  bool // store.Durable(): message records are written (persist.go)
	subs     *topic.Index[*session]
	retained *topic.Retained[*message]
	started  time.Time
	stats    serverStats
	guards   // bans, connection and rate limits (ratelimit.go)

	mu        sync.Mutex
	sessions  map[string]*session       // guarded by mu
	conns     map[*conn]struct{}        // guarded by mu
	listeners map[net.Listener]struct{} // guarded by mu
	// lim holds the limits set by SetLimits (admin.go); nil: opts.Limits.
	lim atomic.Pointer[Limits]
	// byListener holds the counters of ended connections per listener (admin.go).
	byListener map[string]*listenerTotals // guarded by mu
	closed     bool                       // guarded by mu
	connWG     sync.WaitGroup
	done       chan struct{}
	bgWG       sync.WaitGroup
	hib        *hibernator // nil: connections do not hibernate
}

// New returns a Server for opts, loading retained messages and sessions from
// its store.
func New(opts Options) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		opts: opts, log: opts.Logger, clock: opts.Clock, store: opts.Store,
		subs: topic.NewIndex[*session](4096), retained: topic.NewRetained[*message](),
		sessions: map[string]*session{}, conns: map[*conn]struct{}{},
		listeners: map[net.Listener]struct{}{}, done: make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.store == nil {
		s.store = store.NewMemory()
	}
	s.durable = s.store.Durable()
	s.started = s.clock.Now()
	for _, b := range opts.Bans {
		s.addBanLocked(b) // no other goroutine yet
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	s.hib = newHibernator(s, opts.HibernateAfter)
	if opts.SysInterval > 0 {
		s.bgWG.Add(1)
		go s.sysLoop()
	}
	return s, nil
}

// load restores retained messages and sessions from the store.
func (s *Server) load() error {
	msgs, err := s.store.LoadRetained()
	if err != nil {
		return err
	}
	for _, m := range msgs {
		msg := &message{topic: m.Topic, payload: m.Payload, qos: m.QoS, retain: true, created: m.Created, expiry: m.Expiry}
		if len(m.Props) > 0 {
			msg.props = decodeProps(m.Props)
		}
		s.retained.Set(m.Topic, msg)
	}
	sessions, err := s.store.LoadSessions()
	if err != nil {
		return err
	}
	now := s.clock.Now()
	for _, st := range sessions {
		ss := newSession(s, st.ClientID)
		ss.version = packet.Version(st.Version)
		ss.expiry = st.Expiry
		ss.owner = st.Username
		ss.epoch = st.Epoch
		for _, sub := range st.Subscriptions {
			o := topic.Options{QoS: sub.QoS, NoLocal: sub.NoLocal, RetainAsPublished: sub.RetainAsPublished,
				RetainHandling: sub.RetainHandling, ID: sub.ID}
			ss.setSubLocked(sub.Filter, o)
			s.subs.Subscribe(ss, sub.Filter, o)
		}
		s.sessions[st.ClientID] = ss
		ss.mu.Lock()
		ss.restoreLocked(st, now)
		ss.mu.Unlock()
	}
	return nil
}

// ListenAndServe listens on every address in Options.Listen and serves until
// Shutdown.
func (s *Server) ListenAndServe() error {
	var lns []net.Listener
	for _, addr := range s.opts.Listen {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			return err
		}
		lns = append(lns, ln)
	}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- s.Serve(ln) }()
	}
	var first error
	for range lns {
		if err := <-errc; err != nil && !errors.Is(err, ErrServerClosed) && first == nil {
			first = err
			_ = s.Shutdown(context.Background())
		}
	}
	if first != nil {
		return first
	}
	return ErrServerClosed
}

// Addrs returns the addresses the server listens on.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []net.Addr
	for ln := range s.listeners {
		out = append(out, ln.Addr())
	}
	return out
}

// Serve accepts connections on ln until Shutdown. It backs off on temporary
// accept errors.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	name := ln.Addr().String()
	s.log.Info("listening", "listener", name)
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return ErrServerClosed
			default:
			}
			if isTemporary(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "err", err, "delay", delay)
				select {
				case <-time.After(delay):
				case <-s.done:
					return ErrServerClosed
				}
				continue
			}
			return err
		}
		delay = 0
		c := s.newConn(nc, name)
		if !s.track(c) {
			_ = nc.Close()
			return ErrServerClosed
		}
		go c.serve()
	}
}

// isTemporary reports a temporary accept error (too many open files and the
// like) after which accepting may succeed again.
func isTemporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// decodeProps reads encoded 5.0 properties (length prefix included) back,
// by framing them in a PUBLISH.
func decodeProps(b []byte) *packet.Properties {
	raw := packet.AppendVarint([]byte{0x30}, uint32(3+len(b)))
	raw = append(append(raw, 0, 1, 'x'), b...)
	var p packet.Publish
	if first, body, _, err := packet.Split(raw, 0); err == nil && packet.DecodeInto(&p, first, body, packet.V5) == nil && p.Properties.Len() > 0 {
		return &p.Properties
	}
	return nil
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.connWG.Add(1)
	s.stats.connected.Add(1)
	s.stats.connsTotal.Add(1)
	return true
}

func (s *Server) connDone(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.foldListenerLocked(c)
	s.mu.Unlock()
	s.stats.connected.Add(-1)
	s.connWG.Done()
}

// Shutdown stops the listeners, disconnects every client (5.0: DISCONNECT
// 0x8B Server shutting down) and waits for connections to end or ctx to
// expire.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	for ln := range s.listeners {
		_ = ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.kick(packet.ServerShuttingDown)
	}
	waited := make(chan struct{})
	go func() {
		s.connWG.Wait()
		s.bgWG.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-ctx.Done():
		for _, c := range conns {
			c.fail(ctx.Err())
		}
		<-waited
	}
	s.mu.Lock()
	for _, ss := range s.sessions {
		ss.mu.Lock()
		ss.stopTimersLocked()
		ss.mu.Unlock()
	}
	s.mu.Unlock()
	return s.store.Close()
}

// claim attaches c to its session: a new one, a resumed one, or one taken
// over from another connection. It reports whether a session was present.
// ack, the CONNACK, is queued before the session can route anything to c.
// [MQTT-3.1.2-4] [MQTT-3.1.2-5] [MQTT-3.1.2-6] [MQTT-3.1.4-3] [MQTT-3.2.2-2] [MQTT-3.2.2-3]
func (s *Server) claim(c *conn, clean bool, expiry time.Duration, window int, ack *packet.Connack) (*session, bool) {
	s.mu.Lock()
	ss := s.sessions[c.clientID]
	var old *conn
	var shared []handoff
	var endWill *willMsg
	present := false
	if ss != nil {
		ss.mu.Lock()
		old = ss.conn
		ss.conn = nil
		ss.stopTimersLocked()
		if pw := ss.pendWill; pw != nil {
			ss.pendWill = nil // reconnect within the will delay cancels it [MQTT-3.1.3-9]
			if clean {
				endWill = pw // unless the session ends first [MQTT-3.1.2-8]
			}
		}
		if clean {
			ss.ended = true
			ss.removeSubsLocked()
			shared = ss.takeSharedLocked()
			ss.mu.Unlock()
			ss = nil
		} else {
			present = true
			ss.mu.Unlock()
		}
	}
	if ss == nil {
		ss = newSession(s, c.clientID)
		s.sessions[c.clientID] = ss
	}
	ss.mu.Lock()
	ack.SessionPresent = present
	c.queueConnack(ack) // before ss.conn is set [MQTT-3.2.0-1]; woken below
	c.accepted.Store(true)
	ss.conn = c
	ss.version = c.version
	ss.expiry = expiry
	ss.window = window
	ss.epoch++
	if present {
		if expiry == 0 {
			ss.loadAllLocked() // the session ends with this connection: nothing stays on disk
		} else {
			ss.loadLocked()
		}
		ss.resumeLocked(c) // before anything new is routed to c [MQTT-4.6.0-1]
	}
	ss.mu.Unlock()
	s.mu.Unlock()
	if old != nil {
		old.kick(packet.SessionTakenOver) // [MQTT-3.1.4-3]
	}
	c.out.wake() // the old connection has stopped reading: send CONNACK
	s.handOff(shared)
	if endWill != nil {
		s.publishWill(endWill)
	}
	if (!present && clean) || expiry == 0 {
		_ = s.store.DeleteSession(c.clientID)
	}
	s.saveSession(ss)
	return ss, present
}

// detach runs when a connection ends: the will, then the session's fate.
func (s *Server) detach(c *conn, err error) {
	ss := c.sess
	if h := s.opts.Hooks.OnDisconnect; h != nil {
		h(c.clientID, err)
	}
	s.mu.Lock()
	ss.mu.Lock()
	if ss.conn != c {
		// Taken over: the new connection owns the session now. The old
		// connection's will still fires when it has no delay, or when the
		// new connection's Clean Start ended the session. [MQTT-3.1.2-8]
		ended := ss.ended
		ss.mu.Unlock()
		s.mu.Unlock()
		if w := c.will; w != nil && (w.delay == 0 || ended) {
			s.publishWill(w)
		}
		return
	}
	ss.conn = nil
	ss.lastSeen = s.clock.Now()
	expiry := ss.expiry
	w := c.will
	if w != nil && w.delay > 0 && expiry != 0 {
		ss.pendWill = w
		// [MQTT-3.1.2-8] pw, not w: the closure must not see w set to nil below.
		pw := w
		ss.willTimer = s.clock.AfterFunc(min(w.delay, positive(expiry)), func() { s.fireWill(ss, pw) })
		w = nil
	}
	var shared []handoff
	if expiry == 0 {
		ss.ended = true
		ss.removeSubsLocked()
		shared = ss.takeSharedLocked()
		delete(s.sessions, ss.id)
	} else if expiry > 0 {
		ss.scheduleExpiryLocked(expiry)
	}
	if expiry != 0 {
		ss.releaseLocked() // a durable session's messages wait on disk
	}
	ss.mu.Unlock()
	s.mu.Unlock()
	s.handOff(shared)
	if expiry == 0 {
		_ = s.store.DeleteSession(ss.id)
	} else {
		s.saveSession(ss)
	}
	if w != nil {
		s.publishWill(w) // [MQTT-3.1.2-8]
	}
}

func positive(d time.Duration) time.Duration {
	if d < 0 {
		return time.Duration(1<<63 - 1)
	}
	return d
}

// scheduleExpiryLocked ends the session after d unless a client resumes it.
func (ss *session) scheduleExpiryLocked(d time.Duration) {
	ss.expTimer = ss.srv.clock.AfterFunc(d, func() { ss.srv.expire(ss) })
}

func (ss *session) stopTimersLocked() {
	if ss.expTimer != nil {
		ss.expTimer.Stop()
		ss.expTimer = nil
	}
	if ss.willTimer != nil {
		ss.willTimer.Stop()
		ss.willTimer = nil
	}
}

// expire ends an offline session whose expiry interval passed; a will still
// waiting on its delay is published now. [MQTT-3.1.2-8]
func (s *Server) expire(ss *session) {
	s.mu.Lock()
	ss.mu.Lock()
	if ss.conn != nil || ss.ended || s.sessions[ss.id] != ss {
		ss.mu.Unlock()
		s.mu.Unlock()
		return
	}
	ss.ended = true
	ss.removeSubsLocked()
	shared := ss.takeSharedLocked()
	delete(s.sessions, ss.id)
	w := ss.pendWill
	ss.pendWill = nil
	ss.stopTimersLocked()
	ss.mu.Unlock()
	s.mu.Unlock()
	s.handOff(shared)
	_ = s.store.DeleteSession(ss.id)
	if w != nil {
		s.publishWill(w)
	}
}

// fireWill publishes a delayed will whose delay has passed.
func (s *Server) fireWill(ss *session, w *willMsg) {
	ss.mu.Lock()
	if ss.pendWill != w {
		ss.mu.Unlock()
		return
	}
	ss.pendWill = nil
	ss.mu.Unlock()
	s.publishWill(w)
	s.saveSession(ss) // the will is no longer waiting
}

// publishWill routes a will as an ordinary message. [MQTT-3.1.2-16] [MQTT-3.1.2-17]
func (s *Server) publishWill(w *willMsg) {
	if w.clientID != "" && !s.mayPublish(w.clientID, w.username, w.msg.topic) {
		// Checked at CONNECT too; the rules may have changed since.
		s.log.Info("will not authorized at publication; dropped", "client", w.clientID, "topic", w.msg.topic)
		return
	}
	m := *w.msg
	now := s.clock.Now()
	if !m.expiry.IsZero() {
		m.expiry = now.Add(m.expiry.Sub(m.created)) // expiry counts from publication
	}
	m.created = now
	s.route(nil, &m)
}

// saveSession writes the session's serialisable state through the store.
// The write happens under ss.mu so that saves of one session reach the store
// in order; a connection's next packet (SUBACK) waits for it to be durable.
func (s *Server) saveSession(ss *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.expiry == 0 || ss.local != nil || ss.ended {
		return
	}
	st := &store.Session{ClientID: ss.id, Version: byte(ss.version), Epoch: ss.epoch, Expiry: ss.expiry, Username: ss.owner}
	if ss.conn == nil {
		st.DisconnectedAt = ss.lastSeen
	}
	for f, o := range ss.subs {
		st.Subscriptions = append(st.Subscriptions, store.Subscription{Filter: f, QoS: o.QoS, NoLocal: o.NoLocal,
			RetainAsPublished: o.RetainAsPublished, RetainHandling: o.RetainHandling, ID: o.ID})
	}
	if w := ss.pendWill; w != nil {
		st.Will, st.WillDelay = toStoreMessage(w.msg), w.delay
	}
	if err := s.store.SaveSession(st); err != nil {
		s.log.Error("saving session", "client", ss.id, "err", err)
		return
	}
	if s.durable {
		ss.markSyncLocked()
	}
}
