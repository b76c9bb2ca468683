package broker

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// secSlowAuthz is an Authorizer whose receive checks block until release
// is closed (a slow HTTP service), with a non-blocking cache of what it
// has answered.
type secSlowAuthz struct {
	release      chan struct{}
	blockingRecv atomic.Int32 // Authorize calls for AccessReceive
	tries        atomic.Int32 // TryAuthorizeReceive calls
	mu           sync.Mutex
	known        map[string]bool
}

func newSecSlowAuthz() *secSlowAuthz {
	return &secSlowAuthz{release: make(chan struct{}), known: map[string]bool{}}
}

func (a *secSlowAuthz) Authorize(id, _ string, access Access, name string) bool {
	if access != AccessReceive {
		return true
	}
	a.blockingRecv.Add(1)
	<-a.release
	a.mu.Lock()
	a.known[id+"|"+name] = true
	a.mu.Unlock()
	return true
}

func (a *secSlowAuthz) TryAuthorizeReceive(id, _ string, name string) (bool, bool) {
	a.tries.Add(1)
	a.mu.Lock()
	defer a.mu.Unlock()
	ok, known := a.known[id+"|"+name]
	return ok, known
}

func (a *secSlowAuthz) ReceiveMayBlock() bool { return true }

// With an Authorizer that may block, a subscription to a filter without
// wildcards is authorized to receive once, at SUBSCRIBE, when only its user
// can take the session over; its deliveries ask nothing. (review M2)
func TestSecRecvAuthorizedAtSubscribe(t *testing.T) {
	az := newSecSlowAuthz()
	close(az.release)
	_, addr := startServer(t, func(o *Options) { o.Authorizer, o.Sessions.TakeoverSameUser = az, true })
	sub5 := clean(t, addr, packet.V5, "recv-exact-sub")
	sub5.subscribe(sub("exact/topic", 1), sub("$share/g/exact/shared", 1))
	eq(t, "receive checks at SUBSCRIBE", az.blockingRecv.Load(), int32(2))
	p := clean(t, addr, packet.V5, "recv-exact-pub")
	for i := 0; i < 20; i++ {
		p.publish("exact/topic", "m", 1, false)
		sub5.expectPub("exact/topic", "m")
		p.publish("exact/shared", "s", 1, false)
		sub5.expectPub("exact/shared", "s")
	}
	eq(t, "receive checks after SUBSCRIBE", az.blockingRecv.Load(), int32(2))
	eq(t, "non-blocking checks", az.tries.Load(), int32(0))
}

// A wildcard subscription's first delivery on a topic is never decided on
// the publisher's reader when the Authorizer may block: the publisher is
// acknowledged at once; QoS 0 is dropped and counted, QoS 1 waits for the
// check and then arrives; once known, deliveries go straight through.
// (review M2, L2)
func TestSecRecvNeverBlocksPublisher(t *testing.T) {
	az := newSecSlowAuthz()
	var hooked atomic.Int32
	s, addr := startServer(t, func(o *Options) {
		o.Authorizer = az
		o.Hooks.OnDropped = func(_, _ string, why DropReason) {
			if why == DropNotAuthorized {
				hooked.Add(1)
			}
		}
	})
	subr := clean(t, addr, packet.V5, "recv-wild-sub")
	subr.subscribe(sub("wild/#", 1))
	eq(t, "receive checks at SUBSCRIBE", az.blockingRecv.Load(), int32(0))
	p := clean(t, addr, packet.V5, "recv-wild-pub")
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.publish("wild/a", "q0", 0, false)
		p.publish("wild/a", "q1", 1, false) // PUBACK while the check is blocked
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		close(az.release)
		t.Fatal("the publisher waited for the receive check")
	}
	waitFor(t, "the QoS 0 drop counted", func() bool {
		return s.stats.dropped[DropNotAuthorized].Load() == 1 && hooked.Load() == 1
	})
	close(az.release)
	subr.expectPub("wild/a", "q1")
	p.publish("wild/a", "known", 0, false)
	subr.expectPub("wild/a", "known")
}

// secRecvDeny refuses receiving one topic and allows everything else.
type secRecvDeny string

func (d secRecvDeny) Authorize(_, _ string, access Access, name string) bool {
	return access != AccessReceive || name != string(d)
}

// A delivery the Authorizer refuses is counted as not_authorized, in the
// server's and the session's counters and through OnDropped. (review L2)
func TestSecRefusedDeliveryCounted(t *testing.T) {
	var hooked atomic.Int32
	s, addr := startServer(t, func(o *Options) {
		o.Authorizer = secRecvDeny("secret/x")
		o.Hooks.OnDropped = func(_, topic string, why DropReason) {
			if why == DropNotAuthorized && topic == "secret/x" {
				hooked.Add(1)
			}
		}
	})
	subr := clean(t, addr, packet.V311, "refused-sub")
	subr.subscribe(sub("#", 1))
	p := clean(t, addr, packet.V311, "refused-pub")
	p.publish("secret/x", "no", 1, false)
	p.publish("open/x", "yes", 1, false)
	subr.expectPub("open/x", "yes")
	eq(t, "dropped not_authorized", s.stats.dropped[DropNotAuthorized].Load(), uint64(1))
	eq(t, "OnDropped", hooked.Load(), int32(1))
	s.mu.Lock()
	ss := s.sessions["refused-sub"]
	s.mu.Unlock()
	ss.mu.Lock()
	n := ss.droppedLocked(DropNotAuthorized)
	ss.mu.Unlock()
	eq(t, "session's not_authorized", n, uint64(1))
}

// A delivery whose check is known while an earlier one to the same
// subscriber still waits for its check queues behind it: the subscriber
// gets them in the order they were published. (review M2)
func TestSecRecvDeferredKeepsOrder(t *testing.T) {
	az := newSecSlowAuthz()
	_, addr := startServer(t, func(o *Options) { o.Authorizer = az })
	subr := clean(t, addr, packet.V5, "recv-order-sub")
	subr.subscribe(sub("ord/#", 1))
	p := clean(t, addr, packet.V5, "recv-order-pub")
	p.publish("ord/a", "first", 1, false) // waits for the blocked check
	waitFor(t, "the check to start", func() bool { return az.blockingRecv.Load() == 1 })
	az.mu.Lock()
	az.known["recv-order-sub|ord/a"] = true // the answer is at hand for what follows
	az.mu.Unlock()
	p.publish("ord/a", "second", 1, false)
	p.publish("ord/a", "third", 0, false)
	close(az.release)
	subr.expectPub("ord/a", "first")
	subr.expectPub("ord/a", "second")
	subr.expectPub("ord/a", "third")
}
