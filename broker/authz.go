package broker

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/roostmq/roost/topic"
)

var _ Authorizer = (*DenyList)(nil)

// isSysTopic reports whether name is in the broker's own $SYS tree.
func isSysTopic(name string) bool {
	return len(name) >= 4 && name[0] == '$' && name[1:4] == "SYS" && (len(name) == 4 || name[4] == '/')
}

// mayPublish decides whether a client may publish to name (a PUBLISH or a
// will). Without an Authorizer every topic is open but the $SYS tree, which
// is the broker's own; an Authorizer decides every topic itself (DenyList
// and the auth package's Chain refuse $SYS unless a rule allows it).
func (s *Server) mayPublish(clientID, username, name string) bool {
	if a := s.authorizer(); a != nil {
		return a.Authorize(clientID, username, AccessPublish, name)
	}
	return !isSysTopic(name)
}

// Authorize implements Authorizer. Publishing into $SYS is refused.
func (d *DenyList) Authorize(_, _ string, access Access, name string) bool {
	switch access {
	case AccessPublish:
		if isSysTopic(name) {
			return false
		}
		for _, f := range d.Publish {
			if topic.Match(f, name) {
				return false
			}
		}
	case AccessSubscribe:
		for _, f := range d.Subscribe {
			if topic.Subsumes(f, name) || d.RefuseOverlapping && topic.Overlaps(f, name) {
				return false
			}
		}
	case AccessReceive:
		for _, f := range d.Subscribe {
			if topic.Match(f, name) {
				return false
			}
		}
	}
	return true
}

// ReceiveAuthorizer is an optional interface of an Authorizer whose answer
// may take a network round trip (the auth package's Chain with an HTTP ACL
// service). The broker then never waits for it on a publisher's reader:
//
//   - a subscription to a filter without wildcards, whose deliveries all ask
//     the same question, is authorized to receive once, at SUBSCRIBE (on the
//     subscriber's reader), and the answer is kept with the subscription
//     for as long as it lives;
//   - any other delivery asks TryAuthorizeReceive, which answers from what
//     is known at once (a bounded cache). When it does not know, a QoS 0
//     delivery is dropped (counted as not_authorized) and a QoS 1 or 2
//     delivery waits, in a bounded queue, for one goroutine that asks
//     Authorize and then delivers it; a full queue drops it (counted).
type ReceiveAuthorizer interface {
	// TryAuthorizeReceive answers whether a client may receive a message
	// on topic without blocking; known is false when the answer is not at
	// hand, and it should then be found out in the background.
	TryAuthorizeReceive(clientID, username, topic string) (allowed, known bool)
	// ReceiveMayBlock reports whether Authorize may block for receive
	// checks; false makes the broker ask Authorize as usual.
	ReceiveMayBlock() bool
}

// Receive authorizations kept with a subscription (topic.Options.Tag).
const (
	recvAsk     uint8 = iota // decide per delivery
	recvAllowed              // decided at subscribe time: allowed
	recvRefused              // decided at subscribe time: refused
)

// deferredRecvQueue bounds the deliveries waiting for a receive check.
const deferredRecvQueue = 4096

// recvChecks runs the receive checks taken off the routing path.
type recvChecks struct {
	start sync.Once
	queue chan deferredRecv

	// Deliveries waiting in queue, in all and per session: while a session
	// has some, its later deliveries queue behind them, so that the checks
	// keep each subscriber's messages in order.
	pending atomic.Int64
	mu      sync.Mutex
	waiting map[*session]int // guarded by mu
}

// behind reports whether ss has deliveries waiting for a check.
func (r *recvChecks) behind(ss *session) bool {
	if r.pending.Load() == 0 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.waiting[ss] > 0
}

// count adds n to the deliveries waiting for ss.
func (r *recvChecks) count(ss *session, n int) {
	r.mu.Lock()
	if r.waiting == nil {
		r.waiting = make(map[*session]int)
	}
	if r.waiting[ss] += n; r.waiting[ss] <= 0 {
		delete(r.waiting, ss)
	}
	r.pending.Add(int64(n))
	r.mu.Unlock()
}

type deferredRecv struct {
	ss            *session
	m             *message
	qos           byte
	retain        bool
	ids           []uint32
	group, filter string
}

// asyncReceiver returns the Authorizer as a ReceiveAuthorizer when its
// receive checks may block, else nil.
func (s *Server) asyncReceiver() ReceiveAuthorizer { return s.auth.Load().async }

// authSet is the authentication and authorization in force; SetAuth
// replaces it whole at run time.
type authSet struct {
	authn    Authenticator
	authz    Authorizer
	enhanced EnhancedAuth
	async    ReceiveAuthorizer // authz, when its receive checks may block
}

func newAuthSet(authn Authenticator, authz Authorizer, enhanced EnhancedAuth) *authSet {
	a := &authSet{authn: authn, authz: authz, enhanced: enhanced}
	if ra, ok := authz.(ReceiveAuthorizer); ok && ra.ReceiveMayBlock() {
		a.async = ra
	}
	return a
}

func (s *Server) authenticator() Authenticator { return s.auth.Load().authn }
func (s *Server) authorizer() Authorizer       { return s.auth.Load().authz }
func (s *Server) enhancedAuth() EnhancedAuth   { return s.auth.Load().enhanced }

// ErrAuthNotSwappable is returned by SetAuth for an Authorizer whose receive
// checks may block (an HTTP ACL service): subscriptions keep answers it gave
// at subscribe time, so it is replaced by a restart only.
var ErrAuthNotSwappable = errors.New("broker: an authorizer whose receive checks may block (HTTP ACL) is replaced by a restart only")

// SetAuth replaces the Authenticator, Authorizer and EnhancedAuth (any may
// be nil, as in Options) for what happens next: connections and packets
// already being handled finish with the old ones, and the next CONNECT,
// PUBLISH, SUBSCRIBE and delivery use the new ones. Connected clients are
// not authenticated again; their access is checked by the new Authorizer
// from now on (config reload).
func (s *Server) SetAuth(authn Authenticator, authz Authorizer, enhanced EnhancedAuth) error {
	next := newAuthSet(authn, authz, enhanced)
	if next.async != nil || s.auth.Load().async != nil {
		return ErrAuthNotSwappable
	}
	s.auth.Store(next)
	return nil
}

// subscribeRecvTag decides at subscribe time whether the client may receive
// the messages of a filter without wildcards, when the Authorizer may block:
// every delivery would ask the same question, as long as only the same
// user can take the session over (else another user could inherit the
// answer). Otherwise recvAsk.
func (c *conn) subscribeRecvTag(inner string) uint8 {
	s := c.srv
	if s.asyncReceiver() == nil || strings.ContainsAny(inner, "+#") || !s.takeoverSameUser() {
		return recvAsk
	}
	if s.authorizer().Authorize(c.clientID, c.username, AccessReceive, inner) {
		return recvAllowed
	}
	return recvRefused
}

// receiveDecision says whether ss may receive a message on name: tag is the
// subscription's decision made at subscribe time, if any. known is false
// when the Authorizer cannot answer without blocking.
func (s *Server) receiveDecision(ss *session, name string, tag uint8) (allowed, known bool) {
	a := s.authorizer()
	if a == nil || ss.local != nil {
		return true, true
	}
	switch tag {
	case recvAllowed:
		return true, true
	case recvRefused:
		return false, true
	}
	if ra := s.asyncReceiver(); ra != nil {
		return ra.TryAuthorizeReceive(ss.id, ss.username(), name)
	}
	return a.Authorize(ss.id, ss.username(), AccessReceive, name), true
}

// refusedDelivery counts a delivery the authorizer refused. (review L2)
func (s *Server) refusedDelivery(ss *session, m *message) { s.countDrop(ss, m, DropNotAuthorized) }

// countDrop counts a delivery dropped before it reached the session.
func (s *Server) countDrop(ss *session, m *message, why DropReason) {
	s.stats.dropped[why].Add(1)
	ss.mu.Lock()
	if ss.drops == nil {
		ss.drops = &sessionDrops{}
	}
	ss.drops.counts[why]++
	ss.mu.Unlock()
	if h := s.opts.Hooks.OnDropped; h != nil {
		h(ss.id, m.topic, why)
	}
}

// deferReceive handles a delivery whose receive check is not at hand: QoS 0
// is dropped (the check goes on in the background, for the next message);
// QoS 1 and 2 wait for the checker goroutine, or are dropped when its queue
// is full. inLine: the delivery is allowed, but queues behind ss's
// waiting ones to stay in order (QoS 0 too).
func (s *Server) deferReceive(ss *session, m *message, qos byte, retain bool, ids []uint32, group, filter string, inLine bool) {
	if qos > 0 || inLine {
		r := &s.recv
		r.start.Do(func() {
			r.queue = make(chan deferredRecv, deferredRecvQueue)
			s.mu.Lock()
			closed := s.closed
			if !closed {
				s.bgWG.Add(1)
			}
			s.mu.Unlock()
			if !closed {
				go s.runRecvChecks(r.queue)
			}
		})
		d := deferredRecv{ss: ss, m: m, qos: qos, retain: retain, group: group, filter: filter}
		if len(ids) > 0 {
			d.ids = append([]uint32(nil), ids...) // ids may point into the router's scratch
		}
		r.count(ss, 1)
		select {
		case r.queue <- d:
			return
		default:
			r.count(ss, -1)
			if inLine {
				s.countDrop(ss, m, DropQueueFull) // allowed, but no room to keep it in order
				return
			}
		}
	}
	s.refusedDelivery(ss, m)
}

// runRecvChecks asks the Authorizer about each deferred delivery, in order,
// and delivers the allowed ones, until the server shuts down.
func (s *Server) runRecvChecks(q chan deferredRecv) {
	defer s.bgWG.Done()
	for {
		select {
		case <-s.done:
			return
		case d := <-q:
			s.checkDeferred(d)
		}
	}
}

// checkDeferred is one deferred delivery's check; a panic in it (the
// Authorizer's, say) is contained: that delivery is lost, and the checker
// goes on with the next.
func (s *Server) checkDeferred(d deferredRecv) {
	defer s.recv.count(d.ss, -1) // also after a panic: later deliveries need not wait for it
	defer s.contain("receive authorization checker")
	ok, known := s.receiveDecision(d.ss, d.m.topic, recvAsk) // queued in line: known already
	if !known {
		ok = s.authorizer().Authorize(d.ss.id, d.ss.username(), AccessReceive, d.m.topic)
	}
	if ok {
		s.deliverAllowed(nil, d.ss, d.m, d.qos, d.retain, d.ids, d.group, d.filter)
	} else {
		s.refusedDelivery(d.ss, d.m)
	}
}
