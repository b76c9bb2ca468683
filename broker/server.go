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
	authFailures atomic.Uint64
	dropped      [numDropReasons]atomic.Uint64
	panics       atomic.Uint64 // recovered panics (contain.go)
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
	guards           // bans, connection and rate limits (ratelimit.go)
	connLog  connLog // rate limit of the connect/disconnect log (connlog.go)

	mu        sync.Mutex
	sessions  map[string]*session       // guarded by mu
	conns     map[*conn]struct{}        // guarded by mu
	listeners map[net.Listener]struct{} // guarded by mu
	// lim holds the limits set by SetLimits (admin.go); nil: opts.Limits.
	lim atomic.Pointer[Limits]
	// byListener holds the counters of ended connections per listener (admin.go).
	byListener map[string]*listenerTotals // guarded by mu
	closed     bool                       // guarded by mu
	// ending holds, per client id, a channel closed once the store has
	// forgotten that id's ended sessions (endLocked, finishEnd).
	ending map[string]chan struct{} // guarded by mu
	connWG sync.WaitGroup
	done   chan struct{}
	bgWG   sync.WaitGroup
	hib    *hibernator // nil: connections do not hibernate
	work   gate        // timer callbacks and embedder calls that may use the store (contain.go)
	// panicAt is set by tests only: called at each point where the broker
	// contains a panic, it may panic there (contain_test.go). nil otherwise.
	panicAt func(point string)

	retainOrder retainOrder             // orders retained writes to memory and store per topic (retain.go)
	recv        recvChecks              // receive authorization off the routing path (authz.go)
	auth        atomic.Pointer[authSet] // authentication and authorization in force (SetAuth)
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
	s.auth.Store(newAuthSet(opts.Authenticator, opts.Authorizer, opts.EnhancedAuth))
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	s.clock = gatedClock{Clock: s.clock, s: s}
	s.panicAt = opts.testPanicAt
	if s.store == nil {
		s.store = store.NewMemory()
	}
	s.durable = s.store.Durable()
	s.started = s.clock.Now()
	for _, b := range opts.Bans {
		s.addBanLocked(b) // no other goroutine yet
	}
	if err := s.loadBans(); err != nil {
		return nil, err
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
// 0x8B Server shutting down), waits for connections, timer callbacks and
// background goroutines to end, and closes the store. No timer callback,
// Server.Publish or Server.DeleteRetained starts once Shutdown has begun
// (they return ErrServerClosed).
//
// If ctx expires first, Shutdown closes every connection's socket and
// returns ctx.Err() at once. What is still running (a reader inside an
// Authenticator, a writer inside a store sync) ends in its own time, and
// the store is closed after the last of it, never under it.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	lns := make([]net.Listener, 0, len(s.listeners))
	for ln := range s.listeners {
		lns = append(lns, ln)
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.work.close()
	for _, ln := range lns {
		_ = ln.Close() // outside s.mu: closing a listener may wait
	}
	for _, c := range conns {
		c.kick(packet.ServerShuttingDown)
	}
	waited := make(chan error, 1)
	go func() {
		s.connWG.Wait()
		s.work.wait() // timer callbacks that fired before the gate closed
		s.bgWG.Wait()
		s.mu.Lock()
		for _, ss := range s.sessions {
			ss.mu.Lock()
			ss.stopTimersLocked() // they would find the gate closed; stopped, they never fire
			ss.mu.Unlock()
		}
		s.mu.Unlock()
		waited <- s.closeStore()
	}()
	select {
	case err := <-waited:
		return err
	case <-ctx.Done():
		for _, c := range conns {
			c.fail(ctx.Err())
		}
		return ctx.Err()
	}
}

// errTakeoverUser refuses a connection that would take over another user's
// session (Options.Sessions, takeoverSameUser).
var errTakeoverUser = &packet.Error{Code: packet.NotAuthorized, Msg: "client id in use by another user"}

// claim attaches c to its session: a new one, a resumed one, or one taken
// over from another connection. It reports whether a session was present.
// ack, the CONNACK, is queued before the session can route anything to c.
// A session that ends with its connection (expiry 0: 3.1.1 clean session 1)
// ends when another connection takes it over, whatever that one asks for.
// [MQTT-3.1.2-4] [MQTT-3.1.2-5] [MQTT-3.1.2-6] [MQTT-3.1.4-3] [MQTT-3.2.2-2] [MQTT-3.2.2-3]
func (s *Server) claim(c *conn, clean bool, expiry time.Duration, window int, ack *packet.Connack) (*session, bool, error) {
	ss, old, end, wait, present, err := s.claimSession(c, clean)
	if err != nil {
		return nil, false, err
	}
	// Only ss.mu is held now: what follows (reading a resumed session's
	// messages from disk) keeps no other client waiting. Routing to ss
	// waits, so the resent messages go out before any new one.
	s.attach(c, ss, present, expiry, window, ack)
	if old != nil {
		old.kick(packet.SessionTakenOver) // [MQTT-3.1.4-3]
	}
	c.out.wake() // the old connection has stopped reading: send CONNACK
	if end != nil {
		s.finishEnd(end)
	}
	if wait != nil {
		<-wait
	}
	if end == nil && (clean || expiry == 0) {
		if err := s.store.DeleteSession(c.clientID); err != nil {
			s.log.Error("store: deleting a session", "client", c.clientID, "err", err)
		}
	}
	_ = s.saveSession(ss) // logged; the session lives on in memory
	return ss, present, nil
}

// takeoverSameUser reports whether a client id's session may be taken over
// only by a connection with its username: when Sessions.TakeoverSameUser is
// set, or by default when clients authenticate.
func (s *Server) takeoverSameUser() bool {
	o := s.opts.Sessions
	return o.TakeoverSameUser || (s.authenticator() != nil && !o.TakeoverAnyUser)
}

// ending is a session that has ended and whose store records are being
// deleted; done is closed once they are, and once every earlier ending of
// the same client id is done too (prev).
type ending struct {
	ss         *session
	will       *willMsg // a delayed will still waiting, published at the end
	done, prev chan struct{}
}

// endLocked ends ss: it leaves the server and the index, stops its timers
// and takes its waiting will. The caller holds s.mu and ss.mu, and then,
// without them, calls finishEnd. Until that is done a new session of the
// same client id waits before it writes to the store (s.ending), so that
// the deletion cannot erase what it saves.
func (s *Server) endLocked(ss *session) *ending {
	e := &ending{ss: ss, will: ss.pendWill, done: make(chan struct{}), prev: s.ending[ss.id]}
	ss.ended = true
	ss.conn = nil
	ss.pendWill = nil
	ss.stopTimersLocked()
	ss.removeSubsLocked()
	if s.sessions[ss.id] == ss {
		delete(s.sessions, ss.id)
	}
	if s.ending == nil {
		s.ending = map[string]chan struct{}{}
	}
	s.ending[ss.id] = e.done
	return e
}

// finishEnd completes endLocked without locks held: messages that came
// through shared subscriptions go to other members (which may read the
// session's queue from disk), the store forgets the session, and a waiting
// will is published. [MQTT-3.1.2-8]
func (s *Server) finishEnd(e *ending) {
	s.forgetEnded(e)
	if e.will != nil {
		s.publishWill(e.will)
	}
}

// claimSession finds or makes c's session under s.mu and returns it with
// ss.mu held; s.mu is released on return (on a panic too, as ss.mu is
// when it is not returned). old is the connection taken over, end a
// session ended by the claim, wait what store writes for this client id
// wait for.
func (s *Server) claimSession(c *conn, clean bool) (ss *session, old *conn, end *ending, wait chan struct{}, present bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss = s.sessions[c.clientID]; ss != nil {
		if old, end, present, err = s.takeOverLocked(ss, c, clean); err != nil {
			return nil, nil, nil, nil, false, err
		}
		if end != nil {
			ss = nil
		}
	}
	// Store writes for this client id wait until an ended session's are done.
	wait = s.ending[c.clientID]
	if ss == nil {
		ss = newSession(s, c.clientID)
		s.sessions[c.clientID] = ss
	}
	ss.mu.Lock()
	return ss, old, end, wait, present, nil
}

// takeOverLocked detaches ss, an existing session of c's client id, from
// its connection (returned as old): it ends it (end) or keeps it for c
// (present). The caller holds s.mu; ss.mu is taken and released here.
func (s *Server) takeOverLocked(ss *session, c *conn, clean bool) (old *conn, end *ending, present bool, err error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if s.takeoverSameUser() && ss.ownerLocked() != c.username {
		return nil, nil, false, errTakeoverUser
	}
	old = ss.conn
	if clean || ss.expiry == 0 {
		// A delayed will is published: the session ends before its
		// delay is up. [MQTT-3.1.2-8]
		return old, s.endLocked(ss), false, nil
	}
	ss.conn = nil
	ss.stopTimersLocked()
	ss.pendWill = nil // reconnect within the will delay cancels it [MQTT-3.1.3-9]
	return old, nil, true, nil
}

// attach gives ss, locked by the caller, to c: CONNACK is queued, and a
// resumed session's messages are read and resent. It releases ss.mu, on
// a panic too (decoding stored records and encoding resends run here).
func (s *Server) attach(c *conn, ss *session, present bool, expiry time.Duration, window int, ack *packet.Connack) {
	defer ss.unlock()
	// MQTT 3.1 has no Session Present flag: the byte is reserved (0).
	ack.SessionPresent = present && c.version != packet.V31
	c.queueConnack(ack) // before ss.conn is set [MQTT-3.2.0-1]; woken by the caller
	c.accepted.Store(true)
	ss.conn = c
	ss.version = c.version
	ss.expiry = expiry
	ss.window = window
	prevOwner := ss.owner
	ss.owner = c.username // persisted by the caller's save
	ss.epoch++
	s.fault("claim")
	if present {
		if expiry == 0 {
			ss.loadAllLocked() // the session ends with this connection: nothing stays on disk
		} else {
			ss.loadLocked()
		}
		// What the session holds was authorized for whoever had it before:
		// every message of it is authorized again for c. With an
		// authorizer that may block (an HTTP ACL), only when c is another
		// user: the same client id and user were authorized when the
		// messages were routed, and no network call is made under ss.mu.
		check := s.authorizer() != nil && (prevOwner != c.username || s.asyncReceiver() == nil)
		if check {
			ss.recheck = int32(min(ss.queuedLocked(), 1<<31-1))
		}
		ss.resumeLocked(c, check) // before anything new is routed to c [MQTT-4.6.0-1]
	}
}

// forgetEnded is finishEnd but for the will. It marks the end done (a
// new session of the client id waits for that) on return, on a panic too.
func (s *Server) forgetEnded(e *ending) {
	ss := e.ss
	defer func() {
		s.mu.Lock()
		if s.ending[ss.id] == e.done {
			delete(s.ending, ss.id)
		}
		s.mu.Unlock()
		close(e.done)
	}()
	s.handOff(ss.takeShared())
	if e.prev != nil {
		<-e.prev
	}
	if err := s.store.DeleteSession(ss.id); err != nil {
		s.log.Error("store: deleting a session", "client", ss.id, "err", err)
	}
}

// detach runs when a connection ends: the will, then the session's fate.
func (s *Server) detach(c *conn, err error) {
	ss := c.sess
	if h := s.opts.Hooks.OnDisconnect; h != nil {
		h(c.clientID, err)
	}
	s.logConn("client disconnected", c, "reason", disconnectReason(err, c.disconnect))
	// A look under ss.mu alone first: a connection taken over need not wait
	// for s.mu (which a takeover resuming from disk does not hold).
	ss.mu.Lock()
	mine := ss.conn == c
	ss.mu.Unlock()
	if !mine {
		s.detachTakenOver(c, ss)
		return
	}
	mine, w, end := s.detachLocked(c, ss)
	if !mine {
		s.detachTakenOver(c, ss)
		return
	}
	if end != nil {
		s.finishEnd(end)
	} else {
		_ = s.saveSession(ss) // logged
	}
	if w != nil {
		s.publishWill(w) // [MQTT-3.1.2-8]
	}
}

// detachLocked takes c's session offline under s.mu and ss.mu (released on
// return, on a panic too): it schedules a delayed will and the expiry, or
// ends the session (end). mine is false when c no longer owns ss. w is a
// will to publish now.
func (s *Server) detachLocked(c *conn, ss *session) (mine bool, w *willMsg, end *ending) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.conn != c {
		return false, nil, nil
	}
	ss.conn = nil
	ss.lastSeen = s.clock.Now()
	expiry := ss.expiry
	w = c.will
	if w != nil && w.delay > 0 && expiry != 0 {
		ss.pendWill = w
		// [MQTT-3.1.2-8] pw, not w: the closure must not see w set to nil below.
		pw := w
		ss.willTimer = s.clock.AfterFunc(min(w.delay, positive(expiry)), func() { s.fireWill(ss, pw) })
		w = nil
	}
	if expiry == 0 {
		end = s.endLocked(ss)
	} else {
		if expiry > 0 {
			ss.scheduleExpiryLocked(expiry)
		}
		ss.releaseLocked() // a durable session's messages wait on disk
	}
	return true, w, end
}

// detachTakenOver ends a connection whose session another connection took
// over: that one owns the session now. The old connection's will still
// fires when it has no delay, or when the takeover ended the session.
// [MQTT-3.1.2-8]
func (s *Server) detachTakenOver(c *conn, ss *session) {
	ss.mu.Lock()
	ended := ss.ended
	ss.mu.Unlock()
	if w := c.will; w != nil && (w.delay == 0 || ended) {
		s.publishWill(w)
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
	// A look under ss.mu alone first: a session a client has just resumed
	// (its claim may still be reading from disk under ss.mu) is left
	// without waiting for that while holding s.mu.
	ss.mu.Lock()
	resumed := ss.conn != nil || ss.ended
	ss.mu.Unlock()
	if resumed {
		return
	}
	if end := s.expireLocked(ss); end != nil {
		s.finishEnd(end)
	}
}

// expireLocked ends ss under s.mu and ss.mu (released on return, on a
// panic too) unless a client resumed it; nil when it did.
func (s *Server) expireLocked(ss *session) *ending {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.conn != nil || ss.ended || s.sessions[ss.id] != ss {
		return nil
	}
	return s.endLocked(ss)
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
	_ = s.saveSession(ss) // the will is no longer waiting; logged
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
// A failure is logged and returned.
func (s *Server) saveSession(ss *session) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return s.saveSessionLocked(ss)
}

func (s *Server) saveSessionLocked(ss *session) error {
	if ss.expiry == 0 || ss.local != nil || ss.ended {
		return nil
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
		return err
	}
	if s.durable {
		ss.markSyncLocked()
	}
	return nil
}
