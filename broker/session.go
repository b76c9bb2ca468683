package broker

import (
	"errors"
	"sync"
	"time"

	"github.com/roostmq/roost/packet"
	"github.com/roostmq/roost/topic"
)

// session is the state of one client id. Lock order: Server.mu, then
// session.mu, then the topic index; outbound.mu is a leaf.
type session struct {
	srv *Server
	id  string

	mu        sync.Mutex
	conn      *conn                    // guarded by mu: nil while offline
	version   packet.Version           // guarded by mu
	expiry    time.Duration            // guarded by mu: after disconnect; <0 never
	subs      map[string]topic.Options // guarded by mu: filter (as sent) -> options
	inflight  []*outMsg                // guarded by mu: outbound QoS 1/2 in send order
	queue     []queued                 // guarded by mu: waiting for the window
	queueSize int                      // guarded by mu: payload bytes queued, in memory and on disk
	// Durable sessions (see persist.go).
	seq        uint64 // guarded by mu: position of the last message record
	diskQueued int    // guarded by mu: queued messages on disk only, after loadedUpTo
	loadedUpTo uint64 // guarded by mu: position of the last record read or kept in memory
	onDisk     bool   // guarded by mu: inflight and queue are on disk only (offline)
	// checkResend: the messages in flight are authorized for the
	// connection before they are resent (claim: the session may have been
	// another user's). Beside onDisk, in what was padding.
	checkResend bool   // guarded by mu
	nextID      uint16 // guarded by mu
	// recheck is how many messages at the head of the queue (in memory and
	// on disk) predate the connection that resumed the session: each is
	// authorized for that connection before it is sent (fillLocked). An
	// int32 beside nextID fits in what was padding.
	recheck   int32                          // guarded by mu
	window    int                            // guarded by mu: client's Receive Maximum (or inflight limit)
	inbound   map[uint16]struct{}            // guarded by mu: QoS 2 ids received, PUBREL pending
	expTimer  Timer                          // guarded by mu
	willTimer Timer                          // guarded by mu
	pendWill  *willMsg                       // guarded by mu: a delayed will waiting
	ended     bool                           // guarded by mu: removed from the server
	epoch     uint64                         // guarded by mu
	drops     *sessionDrops                  // guarded by mu: nil until a message is dropped
	lastSeen  time.Time                      // guarded by mu
	local     func(topic string, m *message) // in-process subscriber callback
	owner     string                         // guarded by mu: username of the last connection (persisted with the session)
}

// sessionDrops counts a session's dropped messages and holds the OnDropped
// calls owed (made by unlock, after mu is released). Most sessions never
// drop anything, so it is allocated at the first drop.
type sessionDrops struct {
	counts [numDropReasons]uint64
	owed   []dropEvent
}

// queued is a message waiting for room in the inflight window.
type queued struct {
	seq    uint64 // position of its record; 0 when not stored
	msg    *message
	qos    byte
	retain bool
	subIDs []uint32
	// group and filter name the shared subscription the message came
	// through ("" when none), so that it can go to another member if this
	// session ends first (see takeSharedLocked).
	group, filter string
}

// outMsg is an outbound QoS 1/2 message in flight.
type outMsg struct {
	queued
	id       uint16
	released bool // QoS 2: PUBREC received, PUBREL sent
}

func newSession(s *Server, id string) *session {
	return &session{srv: s, id: id}
}

// setSubLocked records a subscription; the map is made on first use, so a
// session without subscriptions keeps none.
func (ss *session) setSubLocked(filter string, o topic.Options) {
	if ss.subs == nil {
		ss.subs = map[string]topic.Options{}
	}
	ss.subs[filter] = o
}

// addInboundLocked records an inbound QoS 2 packet id awaiting PUBREL.
func (ss *session) addInboundLocked(id uint16) {
	if ss.inbound == nil {
		ss.inbound = map[uint16]struct{}{}
	}
	ss.inbound[id] = struct{}{}
}

// nextIDLocked returns a packet id not in use. [MQTT-2.3.1-4] [MQTT-2.2.1-4]
func (ss *session) nextIDLocked() uint16 {
	for {
		ss.nextID++
		if ss.nextID == 0 {
			ss.nextID = 1
		}
		free := true
		for _, m := range ss.inflight {
			if m.id == ss.nextID {
				free = false
				break
			}
		}
		if free {
			return ss.nextID
		}
	}
}

// deliver hands one message to this session at the granted QoS. It runs on
// the publisher's goroutine; the returned conn, if any, needs its writer woken.
func (ss *session) deliver(m *message, qos byte, retain bool, subIDs []uint32) *conn {
	w, _ := ss.deliverVia(m, qos, retain, subIDs, "", "", false)
	return w
}

// stored says what deliverVia wrote to a durable store.
type stored int

const (
	storedNothing stored = iota
	storedRecord         // a record the publisher's acknowledgement waits for
	storeFailed          // the write failed: the message must not be acknowledged
)

// deliverVia is deliver for a message that came through the shared
// subscription $share/group/filter (both "" for none). batch: the caller
// is a reader that wakes the returned conn after its read batch
// (outbound.appendFn); otherwise it wakes it at once.
func (ss *session) deliverVia(m *message, qos byte, retain bool, subIDs []uint32, group, filter string, batch bool) (*conn, stored) {
	if ss.local != nil {
		ss.local(m.topic, m)
		return nil, storedNothing
	}
	ss.mu.Lock()
	defer ss.unlock()
	if ss.ended {
		return nil, storedNothing
	}
	c := ss.conn
	if qos == 0 {
		if c == nil {
			return nil, storedNothing // QoS 0 is not queued for offline sessions
		}
		if c.tooLarge(m, 0, subIDs) {
			ss.dropLocked(m, DropTooLarge) // [MQTT-3.1.2-25]
			return nil, storedNothing
		}
		lim := c.srv.limits()
		ok, wake := c.writePublish(m, 0, 0, retain, subIDs, false, lim.MaxPendingBytes, batch)
		if !ok {
			// QoS 0 beyond the pending limit is dropped for this subscriber
			// alone; one that stays over it is disconnected as a slow consumer.
			ss.dropLocked(m, DropPendingFull)
			if lim.SlowConsumerAfter > 0 && c.out.overSince(time.Now()) > lim.SlowConsumerAfter &&
				c.kicked.CompareAndSwap(false, true) {
				go c.dropSlow() // once per connection: kicked was set here
			}
		}
		return wakeIf(c, wake), storedNothing
	}
	q := queued{msg: m, qos: qos, retain: retain, group: group, filter: filter}
	if len(subIDs) > 0 {
		q.subIDs = append([]uint32(nil), subIDs...)
	}
	if ss.persistLocked() {
		ss.seq++
		q.seq = ss.seq
	}
	if c != nil && len(ss.inflight) < ss.window && ss.queuedLocked() == 0 && !ss.onDisk {
		wake, ok := ss.sendLocked(c, q, batch)
		return wakeIf(c, wake), storeResult(q.seq, ok)
	}
	w, ok := ss.enqueueLocked(q)
	if c != nil && len(ss.inflight) < ss.window && ss.fillLocked(c) {
		w = c // a read of the queue had failed (persist.go): retried now
	}
	return w, storeResult(q.seq, ok)
}

func storeResult(seq uint64, ok bool) stored {
	switch {
	case !ok:
		return storeFailed
	case seq != 0:
		return storedRecord
	}
	return storedNothing
}

func wakeIf(c *conn, wake bool) *conn {
	if wake {
		return c
	}
	return nil
}

// sendLocked puts q in flight with a new packet id and encodes it. A stored
// message's record gets the packet id first; for QoS 2 the PUBLISH waits
// for it to be durable, so that a resend after a crash keeps the id the
// client knows. ok is false when the record could not be written. batch:
// as for deliverVia.
func (ss *session) sendLocked(c *conn, q queued, batch bool) (wake, ok bool) {
	om := &outMsg{queued: q, id: ss.nextIDLocked()}
	ok = true
	if q.seq != 0 {
		ok = ss.putLocked(q.record(om.id, false))
		if q.qos == 2 {
			c.needSync.Store(true)
		}
	}
	ss.inflight = append(ss.inflight, om)
	sent, wake := c.writePublish(q.msg, q.qos, om.id, q.retain, q.subIDs, false, 0, batch)
	if !sent {
		// Too large for the client or the connection is closing: a message
		// too large is treated as delivered. [MQTT-3.1.2-25]
		if c.tooLarge(q.msg, q.qos, q.subIDs) {
			ss.inflight = ss.inflight[:len(ss.inflight)-1]
			ss.deleteRecordLocked(q.seq)
			ss.dropLocked(q.msg, DropTooLarge)
		}
	}
	return wake, ok
}

// enqueueLocked stores q for later, applying the queue policy when full.
// A durable session writes it to disk and keeps it in memory only while it
// is online and the in-memory head has room (persist.go). ok is false when
// the record could not be written.
func (ss *session) enqueueLocked(q queued) (w *conn, ok bool) {
	lim := ss.srv.limits()
	full := (lim.MaxQueuedMessages > 0 && ss.queuedLocked() >= lim.MaxQueuedMessages) ||
		(lim.MaxQueuedBytes > 0 && ss.queueSize+len(q.msg.payload) > lim.MaxQueuedBytes)
	if full {
		switch lim.QueuePolicy {
		case DropOldest:
			if len(ss.queue) == 0 && ss.diskQueued > 0 && !ss.onDisk {
				ss.refillLocked(false)
			} else if ss.onDisk && ss.diskQueued > 0 {
				if ss.dropOldestOnDiskLocked() {
					break
				}
				ss.dropLocked(q.msg, DropQueueFull) // the oldest could not be read
				return nil, true
			}
			if len(ss.queue) > 0 {
				old := ss.queue[0]
				ss.queue[0] = queued{}
				ss.queue = ss.queue[1:]
				ss.queueSize -= len(old.msg.payload)
				ss.deleteRecordLocked(old.seq)
				ss.dropLocked(old.msg, DropQueueFull)
				break
			}
			ss.dropLocked(q.msg, DropQueueFull)
			return nil, true
		case Disconnect:
			ss.dropLocked(q.msg, DropQueueFull)
			if c := ss.conn; c != nil && c.kicked.CompareAndSwap(false, true) {
				go c.closeKicked(packet.QuotaExceeded) // once per connection
			}
			return nil, true
		default:
			ss.dropLocked(q.msg, DropQueueFull)
			return nil, true
		}
	}
	ok = true
	if q.seq != 0 {
		ok = ss.putLocked(q.record(0, false))
	}
	ss.queueSize += len(q.msg.payload)
	if q.seq != 0 && (ss.conn == nil || ss.onDisk || ss.diskQueued > 0 || len(ss.queue) >= queueHead) {
		ss.diskQueued++ // on disk only
		return nil, ok
	}
	ss.queue = append(ss.queue, q)
	ss.loadedUpTo = max(ss.loadedUpTo, q.seq)
	return nil, ok
}

func (ss *session) dropLocked(m *message, why DropReason) {
	if ss.drops == nil {
		ss.drops = &sessionDrops{}
	}
	ss.drops.counts[why]++
	ss.srv.stats.dropped[why].Add(1)
	if ss.srv.opts.Hooks.OnDropped != nil {
		// Called by unlock, after mu is released: the hook may call back
		// into the Server for this client. [review L4]
		ss.drops.owed = append(ss.drops.owed, dropEvent{m.topic, why})
	}
}

// droppedLocked is how many messages of this session were dropped for why.
func (ss *session) droppedLocked(why DropReason) uint64 {
	if ss.drops == nil {
		return 0
	}
	return ss.drops.counts[why]
}

// dropEvent is an OnDropped call owed.
type dropEvent struct {
	topic string
	why   DropReason
}

// unlock releases mu, then makes the OnDropped calls that the work done
// under it owes. Code that may drop messages unlocks with it; calls left
// by other code are made at the next unlock.
func (ss *session) unlock() {
	var ev []dropEvent
	if ss.drops != nil {
		ev, ss.drops.owed = ss.drops.owed, nil
	}
	ss.mu.Unlock()
	for _, e := range ev {
		ss.srv.opts.Hooks.OnDropped(ss.id, e.topic, e.why)
	}
}

// fillLocked moves queued messages into the window while there is room.
func (ss *session) fillLocked(c *conn) (wake bool) {
	if ss.onDisk { // reading the session at resume failed: read it again
		if !ss.loadLocked() {
			return false
		}
		ss.resendLocked(c)
		wake = true
	}
	now := ss.srv.clock.Now()
	for len(ss.inflight) < ss.window {
		if len(ss.queue) == 0 {
			if ss.diskQueued == 0 {
				break
			}
			ss.refillLocked(false)
			if len(ss.queue) == 0 {
				break
			}
		}
		q := ss.queue[0]
		ss.queue[0] = queued{}
		ss.queue = ss.queue[1:]
		ss.queueSize -= len(q.msg.payload)
		if q.msg.expired(now) {
			ss.deleteRecordLocked(q.seq)
			ss.dropLocked(q.msg, DropExpired)
			continue
		}
		if ss.recheck > 0 {
			ss.recheck--
			if !ss.mayDeliverLocked(c, q.msg) {
				ss.deleteRecordLocked(q.seq)
				ss.dropLocked(q.msg, DropNotAuthorized)
				continue
			}
		}
		if w, _ := ss.sendLocked(c, q, false); w {
			wake = true
		}
	}
	if len(ss.queue) == 0 {
		ss.queue = nil
	}
	return wake
}

// ack handles PUBACK (QoS 1) and PUBCOMP (QoS 2) from the client. found:
// the message was in flight and is done. wrong: the id is in flight but the
// acknowledgement does not fit it (PUBACK for QoS 2, PUBCOMP for QoS 1 or
// before PUBREC), a protocol error the caller closes on.
func (ss *session) ack(c *conn, id uint16, t packet.Type) (found, wrong bool) {
	ss.mu.Lock()
	defer ss.unlock()
	for i, m := range ss.inflight {
		if m.id != id {
			continue
		}
		if (t == packet.PUBACK && m.qos != 1) || (t == packet.PUBCOMP && (m.qos != 2 || !m.released)) {
			return false, true
		}
		ss.deleteRecordLocked(m.seq)
		copy(ss.inflight[i:], ss.inflight[i+1:])
		ss.inflight[len(ss.inflight)-1] = nil
		ss.inflight = ss.inflight[:len(ss.inflight)-1]
		// Fill the current connection's window: c may have been taken over.
		if cur := ss.conn; cur != nil && ss.fillLocked(cur) {
			cur.out.wake()
		}
		return true, false
	}
	return false, false
}

// received handles PUBREC: the message is no longer resent, PUBREL is. A
// stored message's record says so before PUBREL goes out; err reports that
// it could not, and the message stays as it was. wrong: the id is in flight
// at QoS 1.
func (ss *session) received(c *conn, id uint16) (found, wrong bool, err error) {
	ss.mu.Lock()
	defer ss.unlock()
	for _, m := range ss.inflight {
		if m.id != id {
			continue
		}
		if m.qos != 2 {
			return false, true, nil
		}
		if !m.released && m.seq != 0 {
			if !ss.putLocked(m.record(m.id, true)) {
				return true, false, errRecordWrite
			}
			c.needSync.Store(true)
		}
		m.released = true
		m.msg = nil // only PUBREL is resent from now on
		return true, false, nil
	}
	return false, false, nil
}

// errRecordWrite: a message record could not be written (logged by putLocked).
var errRecordWrite = errors.New("a message record could not be written")

// resumeLocked resends unacknowledged messages in order with DUP set, then
// fills the window from the queue. [MQTT-4.4.0-1] [MQTT-4.6.0-1]
// With check, a message is resent only if c may receive it: the session
// may have been another user's (only PUBREL, which carries no message, is
// always resent).
func (ss *session) resumeLocked(c *conn, check bool) {
	ss.checkResend = check
	ss.resendLocked(c)
	ss.fillLocked(c)
	c.out.wake()
}

// resendLocked sends again what is in flight: PUBLISH with DUP, or PUBREL.
func (ss *session) resendLocked(c *conn) {
	check := ss.checkResend
	if !ss.onDisk {
		ss.checkResend = false // what is in flight is read: checked below
	}
	kept := ss.inflight[:0]
	for _, m := range ss.inflight {
		if m.released {
			kept = append(kept, m)
			c.sendPacket(&packet.Pubrel{Ack: packet.Ack{PacketID: m.id}})
			continue
		}
		if check && !ss.mayDeliverLocked(c, m.msg) {
			ss.deleteRecordLocked(m.seq)
			ss.dropLocked(m.msg, DropNotAuthorized)
			continue
		}
		kept = append(kept, m)
		c.writePublish(m.msg, m.qos, m.id, m.retain, m.subIDs, true, 0, false)
	}
	clear(ss.inflight[len(kept):])
	ss.inflight = kept
}

// mayDeliverLocked asks the authorizer whether c may receive m, which the
// session got before c resumed it. An authorizer that may block is asked
// only for what it knows at once (no network call under ss.mu): a message
// whose answer is not at hand is refused, in the one case that asks it, a
// session taken over by another user.
func (ss *session) mayDeliverLocked(c *conn, m *message) bool {
	a := ss.srv.authorizer()
	if a == nil {
		return true
	}
	if ra := ss.srv.asyncReceiver(); ra != nil {
		ok, known := ra.TryAuthorizeReceive(c.clientID, c.username, m.topic)
		return ok && known
	}
	return a.Authorize(c.clientID, c.username, AccessReceive, m.topic)
}

// drop forgets an inflight message the client refused (5.0 PUBREC >= 0x80);
// it reports wrong, and keeps the message, when id is in flight at QoS 1.
func (ss *session) drop(id uint16) (wrong bool) {
	ss.mu.Lock()
	defer ss.unlock()
	for i, m := range ss.inflight {
		if m.id == id {
			if m.qos != 2 {
				return true
			}
			ss.deleteRecordLocked(m.seq)
			ss.inflight = append(ss.inflight[:i], ss.inflight[i+1:]...)
			if c := ss.conn; c != nil && ss.fillLocked(c) {
				c.out.wake()
			}
			return false
		}
	}
	return false
}
