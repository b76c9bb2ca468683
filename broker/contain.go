package broker

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// Work that runs outside any connection (timer callbacks, Server.Publish,
// Server.DeleteRetained) passes a gate that Shutdown closes: nothing starts
// once Shutdown has begun, and Shutdown waits for what had started before
// it closes the store, so the store is never used after it is closed.

// gate counts work in progress and refuses new work once closed.
type gate struct {
	mu     sync.Mutex
	closed bool // guarded by mu
	wg     sync.WaitGroup
}

// enter reports whether work may start; if so, the caller calls leave when
// it is done.
func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	return true
}

func (g *gate) leave() { g.wg.Done() }

// close refuses new work; wait then waits for the work already started.
// Every Add happens before close (under mu), so wait never races with one.
func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

func (g *gate) wait() { g.wg.Wait() }

// gatedClock is the server's view of Options.Clock: every timer callback
// (session expiry, will delay, credential expiry) passes the server's
// gate and runs under a recover, so Shutdown can wait for callbacks that
// have fired and a panicking callback ends only itself.
type gatedClock struct {
	Clock
	s *Server
}

// AfterFunc implements Clock.
func (g gatedClock) AfterFunc(d time.Duration, f func()) Timer {
	s := g.s
	return g.Clock.AfterFunc(d, func() {
		if !s.work.enter() {
			return // shutting down: the store may be closing
		}
		defer s.work.leave()
		defer s.contain("timer")
		s.fault("timer")
		f()
	})
}

// fault lets a test inject a panic at point; without one it costs a load
// and a branch.
func (s *Server) fault(point string) {
	if s.panicAt != nil {
		s.panicAt(point)
	}
}

// errPanicked closes a connection whose goroutine panicked.
var errPanicked = errors.New("internal error")

// contain, deferred at the top of a goroutine of the broker that owns no
// connection (the $SYS loop, the hibernation sweeper and poller, timer
// callbacks, an in-process subscriber's delivery), recovers a panic: it is
// logged and counted (Stats.Panics), and the goroutine's work ends there
// instead of the process.
func (s *Server) contain(what string) {
	if r := recover(); r != nil {
		s.stats.panics.Add(1)
		s.log.Error(what+" panicked; recovered", "panic", r, "stack", string(debug.Stack()))
	}
}

// closeStore closes the store at the end of Shutdown; a panic in it is
// returned as an error.
func (s *Server) closeStore() (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.stats.panics.Add(1)
			err = fmt.Errorf("closing the store: panic: %v", r)
		}
	}()
	return s.store.Close()
}

// takeShared is takeSharedLocked under ss.mu, released on a panic too
// (it may read the session's queue from disk).
func (ss *session) takeShared() []handoff {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.takeSharedLocked()
}
