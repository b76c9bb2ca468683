package broker

import (
	"fmt"
	"testing"

	"github.com/roostmq/roost/internal/faultstore"
	"github.com/roostmq/roost/packet"
	"github.com/roostmq/roost/store"
)

// A transient error reading a durable session's queue (at resume, and when
// the in-memory head runs dry) forgets nothing: the queue's counts stay, the
// read is tried again, and every message arrives once, in order, before
// anything published later. (Review L6: the counts were zeroed as
// "missing" and the records came back out of order at the next resume.)
func TestQueueReadErrorIsRetriedInOrder(t *testing.T) {
	eachVersion(t, func(t *testing.T, v packet.Version) {
		inner := store.NewMemoryDurable()
		fs := faultstore.New(inner, 1)
		s, addr, _ := startOn(t, fs, nil)

		sub, _ := connect(t, addr, v, persistent("sub", v, 3600))
		sub.subscribe(sub1("q", 1))
		sub.disconnect()
		waitDetached(t, s, "sub")

		const queued = queueHead + 44 // more than the in-memory head
		pub := clean(t, addr, v, "pub")
		for i := 1; i <= queued; i++ {
			pub.publish("q", fmt.Sprintf("m%03d", i), 1, false)
		}

		// The read at resume fails, and so does the retry resume makes.
		fs.Add(faultstore.Rule{Method: faultstore.LoadMessages, Key: "sub", Times: 2, Err: faultstore.ErrInjected})
		sub, ack := connect(t, addr, v, persistent("sub", v, 3600))
		eq(t, "session present", ack.SessionPresent, true)
		sub.expectNothing(quiet)

		// The next message routed to the session retries the read: the
		// queue comes first, then the new message.
		pub.publish("q", "later", 1, false)
		for i := 1; i <= queued; i++ {
			if i == queueHead/2 { // the refill when the head runs dry fails once
				fs.Add(faultstore.Rule{Method: faultstore.LoadMessages, Key: "sub", Times: 1, Err: faultstore.ErrInjected})
			}
			sub.expectPub("q", fmt.Sprintf("m%03d", i))
		}
		sub.expectPub("q", "later")
		eq(t, "failed reads", fs.Hits(faultstore.LoadMessages), 3)
		sub.expectNothing(quiet)

		waitFor(t, "every record acknowledged and deleted", func() bool {
			recs, _ := inner.LoadMessages("sub", 0, 0)
			return len(recs) == 0
		})
		s.mu.Lock()
		ss := s.sessions["sub"]
		s.mu.Unlock()
		ss.mu.Lock()
		defer ss.mu.Unlock()
		if ss.diskQueued != 0 || ss.queueSize != 0 || len(ss.queue) != 0 {
			t.Fatalf("counts after the drain: diskQueued %d queueSize %d queue %d", ss.diskQueued, ss.queueSize, len(ss.queue))
		}
	})
}

// Drop-oldest on an offline durable session whose queue cannot be read at
// that moment drops the arriving message instead and keeps the queue's
// counts: the bound still holds, and the next drop takes the oldest. (The
// counts were zeroed, so the queue then grew past its bound.)
func TestDropOldestReadErrorKeepsBound(t *testing.T) {
	inner := store.NewMemoryDurable()
	fs := faultstore.New(inner, 1)
	s, addr, _ := startOn(t, fs, func(o *Options) {
		o.Limits.MaxQueuedMessages = 3
		o.Limits.QueuePolicy = DropOldest
	})
	v := packet.V311
	sub, _ := connect(t, addr, v, persistent("sub", v, 3600))
	sub.subscribe(sub1("q", 1))
	sub.disconnect()
	waitDetached(t, s, "sub")

	pub := clean(t, addr, v, "pub")
	for _, p := range []string{"m1", "m2", "m3"} {
		pub.publish("q", p, 1, false)
	}
	fs.Add(faultstore.Rule{Method: faultstore.LoadMessages, Key: "sub", Times: 1, Err: faultstore.ErrInjected})
	pub.publish("q", "m4", 1, false) // the oldest cannot be read: m4 is dropped
	pub.publish("q", "m5", 1, false) // m1 is dropped

	sub, _ = connect(t, addr, v, persistent("sub", v, 3600))
	for _, p := range []string{"m2", "m3", "m5"} {
		sub.expectPub("q", p)
	}
	sub.expectNothing(quiet)
	eq(t, "failed reads", fs.Hits(faultstore.LoadMessages), 1)
}
