package broker

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/roostmq/roost/packet"
	"github.com/roostmq/roost/topic"
)

// This file is the broker's read-only introspection for operators (package
// admin serves it over HTTP), plus Kick and retained-message deletion. Every
// method takes the same locks as the broker itself, in the documented order
// (Server.mu, then session.mu; outbound.mu as a leaf), and copies what it
// returns: nothing here runs per message.

// ErrNoSuchClient is returned by Kick for a client id with no connection.
var ErrNoSuchClient = errors.New("broker: no such client connected")

// ErrNoSuchSession is returned for a client id with no session.
var ErrNoSuchSession = errors.New("broker: no such session")

// ErrNoSuchSubscription is returned by UnsubscribeFor for a filter the
// session does not have.
var ErrNoSuchSubscription = errors.New("broker: no such subscription")

// ErrBadSubscription wraps why SubscribeFor refused a filter or its
// options.
var ErrBadSubscription = errors.New("broker: bad subscription")

// ErrSessionConnected is returned by DeleteSession for a session whose
// client is connected (or an in-process subscriber's).
var ErrSessionConnected = errors.New("broker: the session's client is connected")

// ClientInfo describes one session and, when connected, its connection.
type ClientInfo struct {
	ClientID      string
	Username      string // "" while offline
	RemoteAddr    string // "" while offline
	Listener      string // "" while offline
	Version       int    // protocol level: 3 (3.1), 4 (3.1.1) or 5
	Connected     bool
	KeepAlive     uint16
	SessionExpiry time.Duration // after disconnect; <0 never
	LastSeen      time.Time     // when it disconnected; zero while connected
	Inflight      int           // outbound QoS 1/2 messages awaiting acknowledgement
	Queued        int           // QoS 1/2 messages waiting for the inflight window
	QueuedBytes   int           // payload bytes of Queued
	PendingBytes  int           // encoded bytes waiting for the writer
	BufferedBytes int           // held for this client: PendingBytes + QueuedBytes + inflight payloads
	Subscriptions int
	Dropped       map[string]uint64 // by reason, this session's
	Counters      ConnCounters      // of the current connection
	// Subs lists the subscriptions; filled by Client only.
	Subs []SubscriptionInfo
}

// ConnCounters are the counters of one connection.
type ConnCounters struct {
	MessagesIn, MessagesOut [3]uint64 // by QoS
	BytesIn, BytesOut       uint64
	AuthFailures            uint64 // CONNECTs refused by authentication
}

// SubscriptionInfo is one client subscription.
type SubscriptionInfo struct {
	ClientID          string
	Filter            string
	QoS               byte
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    byte
	ID                uint32
}

// RetainedInfo is one retained message.
type RetainedInfo struct {
	Topic   string
	Payload []byte // shared with the broker: do not modify
	QoS     byte
	Created time.Time
	Expiry  time.Time // zero: never
}

// ListenerMetrics are the totals of one listener (connections that ended
// included).
type ListenerMetrics struct {
	Listener    string
	Connections int64 // open now
	Total       uint64
	Counters    ConnCounters
}

// Metrics is a snapshot for monitoring: Stats plus totals by QoS, by
// listener and over sessions.
type Metrics struct {
	Stats
	MessagesIn, MessagesOut [3]uint64 // by QoS
	SessionsOnline          int
	Inflight                int // over all sessions
	Queued                  int
	QueuedBytes             int
	PendingBytes            int
	Listeners               []ListenerMetrics // sorted by name
}

// qosCounters count messages by QoS (index 3 is never used; indexing by
// qos&3 needs no bounds check).
type qosCounters [4]atomic.Uint64

// listenerTotals are the counters of a listener's connections that ended.
type listenerTotals struct {
	total    uint64
	counters ConnCounters
}

func (cs *connStats) snapshot() ConnCounters {
	var out ConnCounters
	for q := range 3 {
		out.MessagesIn[q] = cs.msgsIn[q].Load()
		out.MessagesOut[q] = cs.msgsOut[q].Load()
	}
	out.BytesIn, out.BytesOut = cs.bytesIn.Load(), cs.bytesOut.Load()
	out.AuthFailures = cs.authFailures.Load()
	return out
}

func (a *ConnCounters) add(b ConnCounters) {
	for q := range 3 {
		a.MessagesIn[q] += b.MessagesIn[q]
		a.MessagesOut[q] += b.MessagesOut[q]
	}
	a.BytesIn += b.BytesIn
	a.BytesOut += b.BytesOut
	a.AuthFailures += b.AuthFailures
}

// foldListenerLocked adds an ending connection's counters to its listener's
// totals. Called by connDone with s.mu held.
func (s *Server) foldListenerLocked(c *conn) {
	if s.byListener == nil {
		s.byListener = map[string]*listenerTotals{}
	}
	lt := s.byListener[c.listener]
	if lt == nil {
		lt = &listenerTotals{}
		s.byListener[c.listener] = lt
	}
	lt.total++
	lt.counters.add(c.stats.snapshot())
}

// infoLocked describes ss; the caller holds ss.mu.
func (ss *session) infoLocked(withSubs bool) ClientInfo {
	ci := ClientInfo{ClientID: ss.id, Version: int(ss.version), SessionExpiry: ss.expiry, LastSeen: ss.lastSeen,
		Inflight: len(ss.inflight), Queued: ss.queuedLocked(), QueuedBytes: ss.queueSize, Subscriptions: len(ss.subs)}
	ci.BufferedBytes = ss.queueSize
	for _, m := range ss.inflight {
		if m.msg != nil {
			ci.BufferedBytes += len(m.msg.payload)
		}
	}
	for i := range DropReason(numDropReasons) {
		if n := ss.droppedLocked(i); n > 0 {
			if ci.Dropped == nil {
				ci.Dropped = map[string]uint64{}
			}
			ci.Dropped[DropReason(i).String()] = n
		}
	}
	if c := ss.conn; c != nil {
		ci.Connected = true
		ci.LastSeen = time.Time{}
		ci.Username = c.username
		ci.RemoteAddr = c.nc.RemoteAddr().String()
		ci.Listener = c.listener
		ci.KeepAlive = c.keepAlive
		ci.Counters = c.stats.snapshot()
		ci.PendingBytes = c.out.pending()
		ci.BufferedBytes += ci.PendingBytes
	}
	if withSubs {
		for f, o := range ss.subs {
			ci.Subs = append(ci.Subs, SubscriptionInfo{ClientID: ss.id, Filter: f, QoS: o.QoS, NoLocal: o.NoLocal,
				RetainAsPublished: o.RetainAsPublished, RetainHandling: o.RetainHandling, ID: o.ID})
		}
		sort.Slice(ci.Subs, func(i, j int) bool { return ci.Subs[i].Filter < ci.Subs[j].Filter })
	}
	return ci
}

// pending returns the encoded bytes not yet written.
func (o *outbound) pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.queued + len(o.buf) + o.writing
}

// sessionList returns the sessions, sorted by client id.
func (s *Server) sessionList() []*session {
	s.mu.Lock()
	list := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		list = append(list, ss)
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].id < list[j].id })
	return list
}

// Clients describes every session (connected or not) whose client id or
// username contains search ("" matches all), sorted by client id.
func (s *Server) Clients(search string) []ClientInfo {
	var out []ClientInfo
	for _, ss := range s.sessionList() {
		ss.mu.Lock()
		if ss.ended {
			ss.mu.Unlock()
			continue
		}
		ci := ss.infoLocked(false)
		ss.mu.Unlock()
		if search == "" || strings.Contains(ci.ClientID, search) || strings.Contains(ci.Username, search) {
			out = append(out, ci)
		}
	}
	return out
}

// Client describes one session with its subscriptions.
func (s *Server) Client(clientID string) (ClientInfo, bool) {
	s.mu.Lock()
	ss := s.sessions[clientID]
	s.mu.Unlock()
	if ss == nil {
		return ClientInfo{}, false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.ended {
		return ClientInfo{}, false
	}
	return ss.infoLocked(true), true
}

// Kick disconnects the client's current connection; a 5.0 client first gets
// DISCONNECT 0x98 Administrative action. The session stays, as after any
// disconnect (its expiry applies).
func (s *Server) Kick(clientID string) error {
	s.mu.Lock()
	ss := s.sessions[clientID]
	s.mu.Unlock()
	if ss == nil {
		return ErrNoSuchClient
	}
	ss.mu.Lock()
	c := ss.conn
	ss.mu.Unlock()
	if c == nil {
		return ErrNoSuchClient
	}
	c.kick(packet.AdministrativeAction)
	return nil
}

// DeleteSession ends an offline session now, as its expiry would: it leaves
// the topic index, the store forgets it with its queued messages and
// inbound QoS 2 ids, and a will still waiting on its delay is published
// (the session ends [MQTT-3.1.2-8]). A connected session is refused with
// ErrSessionConnected (kick it first), an unknown client id with
// ErrNoSuchSession. After Shutdown it returns ErrServerClosed.
func (s *Server) DeleteSession(clientID string) error {
	if !s.work.enter() {
		return ErrServerClosed
	}
	defer s.work.leave()
	end, err := s.deleteSessionLocked(clientID)
	if err != nil {
		return err
	}
	s.finishEnd(end)
	return nil
}

// deleteSessionLocked ends the offline session of clientID under s.mu and
// ss.mu (released on return, on a panic too).
func (s *Server) deleteSessionLocked(clientID string) (*ending, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[clientID]
	if ss == nil {
		return nil, ErrNoSuchSession
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	switch {
	case ss.ended:
		return nil, ErrNoSuchSession
	case ss.conn != nil || ss.local != nil:
		return nil, ErrSessionConnected
	}
	return s.endLocked(ss), nil
}

// SubscribeFor subscribes a client's session, connected or not, as its own
// SUBSCRIBE would: the subscription joins the index and is saved with the
// session (undone if the save fails), and retained messages follow its
// retain handling (QoS 0 ones are not kept for an offline session). The
// operator is trusted: the Authorizer is not asked about the filter and
// the subscription-count limit does not apply, but every delivery is still
// authorized for the session's user as usual. The filter must be valid
// and within the topic limits; a subscription identifier needs an MQTT 5
// session. sub.ClientID is ignored.
func (s *Server) SubscribeFor(clientID string, sub SubscriptionInfo) error {
	if !s.work.enter() {
		return ErrServerClosed
	}
	defer s.work.leave()
	lim := s.limits()
	_, _, shared, err := topic.ParseShared(sub.Filter)
	switch {
	case err != nil:
		return fmt.Errorf("%w: filter: %v", ErrBadSubscription, err)
	case topic.CheckLimits(sub.Filter, lim.MaxTopicLength, lim.MaxTopicLevels) != nil:
		return fmt.Errorf("%w: filter: %v", ErrBadSubscription, topic.CheckLimits(sub.Filter, lim.MaxTopicLength, lim.MaxTopicLevels))
	case sub.QoS > 2:
		return fmt.Errorf("%w: qos: want 0, 1 or 2", ErrBadSubscription)
	case sub.RetainHandling > 2:
		return fmt.Errorf("%w: retain_handling: want 0, 1 or 2", ErrBadSubscription)
	case shared && sub.NoLocal:
		return fmt.Errorf("%w: no_local on a shared subscription", ErrBadSubscription) // [MQTT-3.8.3-4]
	case sub.ID > 268435455:
		return fmt.Errorf("%w: subscription_id: at most 268435455", ErrBadSubscription)
	}
	ss := s.adminSession(clientID)
	if ss == nil {
		return ErrNoSuchSession
	}
	ss.mu.Lock()
	v5 := ss.version == packet.V5
	ss.mu.Unlock()
	if sub.ID != 0 && !v5 {
		return fmt.Errorf("%w: subscription_id needs an MQTT 5 session", ErrBadSubscription)
	}
	o := topic.Options{QoS: sub.QoS, NoLocal: sub.NoLocal, RetainAsPublished: sub.RetainAsPublished,
		RetainHandling: sub.RetainHandling, ID: sub.ID, Tag: recvAsk}
	u, ok := ss.subscribe(sub.Filter, o)
	if !ok {
		return ErrNoSuchSession
	}
	if err := s.saveSession(ss); err != nil {
		ss.undoSubs([]subUndo{u})
		return err
	}
	if h := s.opts.Hooks.OnSubscribe; h != nil {
		h(clientID, sub.Filter, sub.QoS)
	}
	// Retain handling: 0 always, 1 only for a new subscription, 2 never;
	// never for a shared subscription. [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11]
	if !shared && (o.RetainHandling == 0 || (o.RetainHandling == 1 && !u.existed)) {
		var ids []uint32
		if o.ID != 0 {
			ids = []uint32{o.ID}
		}
		user := ss.username()
		for _, m := range s.matchRetained(sub.Filter) {
			if a := s.authorizer(); a != nil && !a.Authorize(clientID, user, AccessReceive, m.topic) {
				continue
			}
			if w := ss.deliver(m, min(m.qos, o.QoS), true, ids); w != nil {
				w.out.wake()
			}
		}
	}
	return nil
}

// UnsubscribeFor removes a subscription from a client's session, connected
// or not, as its own UNSUBSCRIBE would, and saves the session (restoring
// the subscription if the save fails).
func (s *Server) UnsubscribeFor(clientID, filter string) error {
	if !s.work.enter() {
		return ErrServerClosed
	}
	defer s.work.leave()
	ss := s.adminSession(clientID)
	if ss == nil {
		return ErrNoSuchSession
	}
	u, ok := ss.unsubscribe(filter)
	if !ok {
		return ErrNoSuchSubscription
	}
	if err := s.saveSession(ss); err != nil {
		ss.undoSubs([]subUndo{u})
		return err
	}
	return nil
}

// adminSession returns the live session of a client id, nil when there is
// none (in-process subscribers have none).
func (s *Server) adminSession(clientID string) *session {
	s.mu.Lock()
	ss := s.sessions[clientID]
	s.mu.Unlock()
	if ss == nil {
		return nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.ended || ss.local != nil {
		return nil
	}
	return ss
}

// Subscriptions lists the client subscriptions (in-process subscribers
// excluded) whose filter or client id contains search ("" matches all),
// sorted by filter, then client id.
func (s *Server) Subscriptions(search string) []SubscriptionInfo {
	var out []SubscriptionInfo
	for _, ss := range s.sessionList() {
		ss.mu.Lock()
		if !ss.ended {
			for f, o := range ss.subs {
				if search != "" && !strings.Contains(f, search) && !strings.Contains(ss.id, search) {
					continue
				}
				out = append(out, SubscriptionInfo{ClientID: ss.id, Filter: f, QoS: o.QoS, NoLocal: o.NoLocal,
					RetainAsPublished: o.RetainAsPublished, RetainHandling: o.RetainHandling, ID: o.ID})
			}
		}
		ss.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Filter != out[j].Filter {
			return out[i].Filter < out[j].Filter
		}
		return out[i].ClientID < out[j].ClientID
	})
	return out
}

// RetainedMessages returns the retained messages matching filter, "" for
// all of them ($-topics included), sorted by topic.
func (s *Server) RetainedMessages(filter string) []RetainedInfo {
	var list []*message
	if filter == "" {
		// "#" does not match topics starting with $ (spec section 4.7.2); $SYS
		// is the only such root Roost publishes.
		list = append(s.matchRetained("#"), s.matchRetained("$SYS/#")...)
	} else {
		list = s.matchRetained(filter)
	}
	out := make([]RetainedInfo, len(list))
	for i, m := range list {
		out[i] = RetainedInfo{Topic: m.topic, Payload: m.payload, QoS: m.qos, Created: m.created, Expiry: m.expiry}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out
}

// retainedCount is the number of retained messages, the broker's own $SYS
// topics left out: they are there whenever SysInterval is set, and an
// operator watching the count wants the clients' messages.
func (s *Server) retainedCount() int {
	sys := 0
	s.retained.Match("$SYS/#", func(string, *message) bool { sys++; return true })
	return max(0, s.retained.Len()-sys) // two reads: a $SYS topic may come between
}

// RetainedMessage returns the retained message of a topic name.
func (s *Server) RetainedMessage(name string) (RetainedInfo, bool) {
	m, ok := s.retained.Get(name)
	if !ok || m.expired(s.clock.Now()) {
		return RetainedInfo{}, false
	}
	return RetainedInfo{Topic: m.topic, Payload: m.payload, QoS: m.qos, Created: m.created, Expiry: m.expiry}, true
}

// DeleteRetained clears a topic's retained message, from the store too. It
// reports whether there was one. After Shutdown it returns ErrServerClosed.
func (s *Server) DeleteRetained(name string) (bool, error) {
	if !s.work.enter() {
		return false, ErrServerClosed
	}
	defer s.work.leave()
	return s.deleteRetained(name, nil)
}

// Metrics returns the counters for monitoring. It walks every session and
// connection once, under their locks.
func (s *Server) Metrics() Metrics {
	m := Metrics{Stats: s.Stats()}
	byName := map[string]*ListenerMetrics{}
	get := func(name string) *ListenerMetrics {
		lm := byName[name]
		if lm == nil {
			lm = &ListenerMetrics{Listener: name}
			byName[name] = lm
		}
		return lm
	}
	s.mu.Lock()
	for name, lt := range s.byListener {
		lm := get(name)
		lm.Total += lt.total
		lm.Counters.add(lt.counters)
	}
	for c := range s.conns {
		lm := get(c.listener)
		lm.Connections++
		lm.Total++
		lm.Counters.add(c.stats.snapshot())
	}
	for ln := range s.listeners {
		get(ln.Addr().String())
	}
	s.mu.Unlock()
	for _, lm := range byName {
		for q := range 3 {
			m.MessagesIn[q] += lm.Counters.MessagesIn[q]
			m.MessagesOut[q] += lm.Counters.MessagesOut[q]
		}
		m.Listeners = append(m.Listeners, *lm)
	}
	sort.Slice(m.Listeners, func(i, j int) bool { return m.Listeners[i].Listener < m.Listeners[j].Listener })
	for _, ss := range s.sessionList() {
		ss.mu.Lock()
		if !ss.ended {
			m.Inflight += len(ss.inflight)
			m.Queued += ss.queuedLocked()
			m.QueuedBytes += ss.queueSize
			if c := ss.conn; c != nil {
				m.SessionsOnline++
				m.PendingBytes += c.out.pending()
			}
		}
		ss.mu.Unlock()
	}
	return m
}

// limits returns the limits in force: Options.Limits until SetLimits.
func (s *Server) limits() *Limits {
	if l := s.lim.Load(); l != nil {
		return l
	}
	return &s.opts.Limits
}

// Limits returns the limits in force.
func (s *Server) Limits() Limits { return *s.limits() }

// SetLimits replaces the limits at run time (config reload), without
// touching connections: new connections get all of them; established ones
// see the new queue, pending-bytes, rate, topic, subscription and timeout
// limits from their next packet. ReceiveMaximum and MaxTopicAliases are
// promised to each client in CONNACK, so they keep their values from New:
// SetLimits refuses a change to them (restart to change them).
func (s *Server) SetLimits(l Limits) error {
	if l.ReceiveMaximum != s.opts.Limits.ReceiveMaximum || l.MaxTopicAliases != s.opts.Limits.MaxTopicAliases {
		return errors.New("limits.receive_maximum and limits.max_topic_aliases change only on restart")
	}
	o := s.opts
	o.Limits = l
	if err := o.Validate(); err != nil {
		return err
	}
	s.lim.Store(&l)
	return nil
}
