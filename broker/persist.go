package broker

import (
	"strings"
	"time"

	"github.com/roostmq/roost/store"
)

// Durable sessions. With a durable store (Store.Durable), every QoS 1/2
// message a session with a non-zero expiry must keep is written as a record
// at its own position (queued.seq): queued, then in flight with its packet
// id, then (QoS 2) released. Writes go to the store without waiting; an
// acknowledgement that depends on one (PUBACK, PUBREC, SUBACK, PUBLISH of a
// QoS 2 message with a packet id, PUBREL, PUBCOMP) is held by the
// connection's writer until Store.Sync returns: the write sets conn.needSync
// before the packet is queued, and the writer syncs after taking the packets
// and before writing them. Concurrent Syncs share one fsync.
//
// A durable session keeps only a bounded head of its queue in memory
// (queueHead messages); the rest stays on disk (diskQueued) and is read when
// the head runs dry. An offline durable session keeps nothing in memory: its
// inflight and queue are dropped on detach (onDisk) and read again when a
// client resumes it.

// queueHead is how many queued messages a durable session keeps in memory.
const queueHead = 256

// persistLocked reports whether ss writes its messages to the store.
func (ss *session) persistLocked() bool {
	return ss.srv.durable && ss.expiry != 0 && ss.local == nil
}

// queuedLocked is the number of queued messages, in memory and on disk.
func (ss *session) queuedLocked() int { return len(ss.queue) + ss.diskQueued }

func toStoreMessage(m *message) *store.Message {
	return &store.Message{Topic: m.topic, Payload: m.payload, QoS: m.qos, Retain: m.retain,
		Props: m.propsBytes(), Created: m.created, Expiry: m.expiry}
}

func fromStoreMessage(sm *store.Message) *message {
	m := &message{topic: sm.Topic, payload: sm.Payload, qos: sm.QoS, retain: sm.Retain, created: sm.Created, expiry: sm.Expiry}
	if len(sm.Props) > 0 {
		m.props = decodeProps(sm.Props)
	}
	return m
}

func (q *queued) record(id uint16, released bool) *store.Record {
	r := &store.Record{Seq: q.seq, PacketID: id, Released: released, QoS: q.qos, Retain: q.retain,
		SubIDs: q.subIDs, Group: q.group, Filter: q.filter}
	if !released {
		r.Msg = toStoreMessage(q.msg)
	}
	return r
}

// putLocked writes a record; it reports failure (already logged).
func (ss *session) putLocked(r *store.Record) bool {
	if err := ss.srv.store.PutMessage(ss.id, r); err != nil {
		ss.srv.log.Error("store: writing a message record", "client", ss.id, "err", err)
		return false
	}
	return true
}

func (ss *session) deleteRecordLocked(seq uint64) {
	if seq == 0 {
		return
	}
	if err := ss.srv.store.DeleteMessage(ss.id, seq); err != nil {
		ss.srv.log.Error("store: deleting a message record", "client", ss.id, "err", err)
	}
}

// markSyncLocked makes the session's connection sync before its next write.
func (ss *session) markSyncLocked() {
	if c := ss.conn; c != nil {
		c.needSync.Store(true)
	}
}

// releaseLocked drops an offline durable session's messages from memory:
// every one of them is on disk. Messages without a record stay.
func (ss *session) releaseLocked() {
	if !ss.persistLocked() {
		return
	}
	for _, m := range ss.inflight {
		if m.seq == 0 {
			return
		}
	}
	for _, q := range ss.queue {
		if q.seq == 0 {
			return
		}
	}
	ss.diskQueued += len(ss.queue)
	clear(ss.inflight)
	clear(ss.queue)
	ss.inflight, ss.queue = nil, nil
	ss.loadedUpTo = 0
	ss.onDisk = true
}

// loadLocked reads an onDisk session's inflight messages and the head of
// its queue back from the store, and reports whether it could. When the read
// fails the session stays onDisk, with its counts, and the next loadLocked
// (fillLocked calls it) reads it again from the start.
func (ss *session) loadLocked() bool {
	if !ss.onDisk {
		return true
	}
	ss.loadedUpTo = 0
	if !ss.refillLocked(true) {
		// Only records in flight were kept (a refill returns once it has
		// queued one): forget them, they are read again.
		ss.inflight, ss.queue, ss.loadedUpTo = nil, nil, 0
		return false
	}
	ss.onDisk = false
	return true
}

// refillLocked reads queued records after loadedUpTo into the queue head
// (and, when first, the records in flight into the window). It reports
// false when the store could not be read: a read error is taken as
// transient, so the queue's counts stay as they are and the next refill
// reads the same records again, in order. (Forgetting them as missing
// would let them come back out of order at the next resume.)
func (ss *session) refillLocked(first bool) bool {
	for ss.diskQueued > 0 || first {
		recs, err := ss.srv.store.LoadMessages(ss.id, ss.loadedUpTo, queueHead)
		if err != nil {
			ss.srv.log.Error("store: reading queued messages; they stay on disk and are read again at the next refill",
				"client", ss.id, "err", err)
			return false
		}
		for _, r := range recs {
			ss.loadedUpTo = r.Seq
			q := queued{seq: r.Seq, qos: r.QoS, retain: r.Retain, subIDs: r.SubIDs, group: r.Group, filter: r.Filter}
			if r.Msg != nil {
				q.msg = fromStoreMessage(r.Msg)
			}
			if r.PacketID != 0 || r.Released {
				if first { // later, the messages in flight are in memory already
					ss.inflight = append(ss.inflight, &outMsg{queued: q, id: r.PacketID, released: r.Released})
				}
				continue
			}
			ss.queue = append(ss.queue, q)
			ss.diskQueued = max(ss.diskQueued-1, 0)
		}
		if len(ss.queue) > 0 {
			return true
		}
		if len(recs) < queueHead {
			if ss.diskQueued > 0 {
				// The store read without an error and has fewer records
				// than counted (skipped as unreadable, or counted wrongly):
				// forget them.
				ss.srv.log.Warn("store: queued messages missing on disk", "client", ss.id, "missing", ss.diskQueued)
				ss.diskQueued, ss.queueSize = 0, 0
			}
			return true
		}
	}
	return true
}

// loadAllLocked reads every message of the session into memory (before its
// shared-subscription messages are handed to another member).
func (ss *session) loadAllLocked() {
	if !ss.loadLocked() {
		return
	}
	for ss.diskQueued > 0 {
		n := len(ss.queue)
		if !ss.refillLocked(false) || len(ss.queue) == n {
			return
		}
	}
}

func (ss *session) hasSharedLocked() bool {
	for f := range ss.subs {
		if strings.HasPrefix(f, "$share/") {
			return true
		}
	}
	return false
}

// restoreLocked fills a session loaded at start from its stored state.
func (ss *session) restoreLocked(st *store.Session, now time.Time) {
	ss.seq = st.LastSeq
	for _, id := range st.Inbound {
		ss.addInboundLocked(id)
	}
	if ss.srv.durable {
		ss.onDisk = true
		ss.diskQueued = st.Queued
		ss.queueSize = st.QueuedBytes
	}
	since := st.DisconnectedAt
	if since.IsZero() {
		since = now // connected when the broker stopped: offline from now
	}
	ss.lastSeen = since
	if st.Will != nil {
		w := &willMsg{msg: fromStoreMessage(st.Will), delay: st.WillDelay}
		ss.pendWill = w
		left := max(min(st.WillDelay, positive(st.Expiry))-now.Sub(since), 0)
		ss.willTimer = ss.srv.clock.AfterFunc(left, func() { ss.srv.fireWill(ss, w) })
	}
	if st.Expiry >= 0 {
		ss.scheduleExpiryLocked(max(st.Expiry-now.Sub(since), 0))
	}
}

// dropOldestOnDiskLocked drops the oldest queued message of an offline
// durable session (queue policy drop-oldest). It reports false when the
// store could not be read: nothing was dropped and the counts stay.
func (ss *session) dropOldestOnDiskLocked() bool {
	var after uint64
	for {
		recs, err := ss.srv.store.LoadMessages(ss.id, after, 64)
		if err != nil {
			ss.srv.log.Error("store: reading queued messages to drop the oldest", "client", ss.id, "err", err)
			return false
		}
		if len(recs) == 0 {
			ss.diskQueued, ss.queueSize = 0, 0 // counted wrongly: nothing is queued
			return true
		}
		for _, r := range recs {
			after = r.Seq
			if r.PacketID == 0 && !r.Released && r.Msg != nil {
				ss.deleteRecordLocked(r.Seq)
				ss.diskQueued--
				ss.queueSize -= len(r.Msg.Payload)
				ss.dropLocked(fromStoreMessage(r.Msg), DropQueueFull)
				return true
			}
		}
	}
}
