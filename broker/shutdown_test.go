package broker

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
	"github.com/roostmq/roost/store"
)

// Tests of Shutdown: it returns at ctx expiry, and nothing uses the store
// after Shutdown has closed it (review L1, M5, M6).

// shutWatchStore wraps a store and fails the test when it is used after
// Close. DeleteSession may be made to wait (block) until released.
type shutWatchStore struct {
	store.Store
	t       testing.TB
	closed  atomic.Bool
	late    atomic.Int32 // calls after Close
	block   chan struct{}
	entered chan struct{}
}

func newShutWatchStore(t testing.TB) *shutWatchStore {
	return &shutWatchStore{Store: store.NewMemory(), t: t}
}

func (w *shutWatchStore) use(what string) {
	if w.closed.Load() {
		w.late.Add(1)
		w.t.Errorf("store.%s after Close", what)
	}
}

func (w *shutWatchStore) SaveSession(s *store.Session) error {
	w.use("SaveSession")
	return w.Store.SaveSession(s)
}

func (w *shutWatchStore) DeleteSession(id string) error {
	if w.block != nil {
		w.entered <- struct{}{}
		<-w.block
	}
	w.use("DeleteSession")
	return w.Store.DeleteSession(id)
}

func (w *shutWatchStore) SetRetained(m *store.Message) error {
	w.use("SetRetained")
	return w.Store.SetRetained(m)
}

func (w *shutWatchStore) DeleteRetained(name string) error {
	w.use("DeleteRetained")
	return w.Store.DeleteRetained(name)
}

func (w *shutWatchStore) PutMessage(id string, r *store.Record) error {
	w.use("PutMessage")
	return w.Store.PutMessage(id, r)
}

func (w *shutWatchStore) DeleteMessage(id string, seq uint64) error {
	w.use("DeleteMessage")
	return w.Store.DeleteMessage(id, seq)
}

func (w *shutWatchStore) AddInbound(id string, pid uint16) error {
	w.use("AddInbound")
	return w.Store.AddInbound(id, pid)
}

func (w *shutWatchStore) DeleteInbound(id string, pid uint16) error {
	w.use("DeleteInbound")
	return w.Store.DeleteInbound(id, pid)
}

func (w *shutWatchStore) Sync() error {
	w.use("Sync")
	return w.Store.Sync()
}

func (w *shutWatchStore) Close() error {
	w.use("Close")
	w.closed.Store(true)
	return w.Store.Close()
}

// shutBlockingAuth holds every CONNECT until release is closed.
type shutBlockingAuth struct {
	entered chan struct{}
	release chan struct{}
}

func (a *shutBlockingAuth) Authenticate(*ConnectInfo) error {
	a.entered <- struct{}{}
	<-a.release
	return nil
}

// A reader stuck in an Authenticator does not hold Shutdown past ctx: it
// returns ctx.Err() at expiry. The store is closed only once that reader
// has ended, and never used after.
func TestShutdownReturnsAtContextExpiry(t *testing.T) {
	auth := &shutBlockingAuth{entered: make(chan struct{}, 1), release: make(chan struct{})}
	st := newShutWatchStore(t)
	s, addr := startServer(t, func(o *Options) { o.Authenticator = auth; o.Store = st })
	p := dial(t, addr, packet.V311)
	p.send(&packet.Connect{Version: packet.V311, ClientID: []byte("shut-stuck"), KeepAlive: 60})
	<-auth.entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Shutdown returned %v after its deadline", d)
	}
	if st.closed.Load() {
		t.Fatal("store closed while a reader is still running")
	}
	close(auth.release)
	waitFor(t, "the store to be closed after the reader ended", st.closed.Load)
	if err := s.Publish("shut/t", []byte("x"), 1, true); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Publish after Shutdown: %v, want ErrServerClosed", err)
	}
}

// A session-expiry timer that has fired (and is inside the store) when
// Shutdown begins is waited for before the store is closed; a timer that
// comes due after Shutdown began does nothing. Server.Publish and
// Server.DeleteRetained after Shutdown return ErrServerClosed instead of
// using a closed store.
func TestShutdownWaitsForTimersBeforeClosingStore(t *testing.T) {
	clock := newFakeClock()
	st := newShutWatchStore(t)
	s, addr := startServer(t, func(o *Options) { o.Clock = clock; o.Store = st })
	for _, id := range []string{"shut-exp1", "shut-exp2"} {
		p, _ := connect(t, addr, packet.V5, persistent(id, packet.V5, 10))
		p.disconnect()
		waitDetached(t, s, id)
	}
	// Make the first expiry wait inside the store.
	st.block, st.entered = make(chan struct{}), make(chan struct{}, 2)
	fired := make(chan struct{})
	go func() {
		defer close(fired)
		clock.Advance(10 * time.Second) // both come due; the first blocks
	}()
	<-st.entered
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	waitFor(t, "Shutdown to begin", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.closed
	})
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while a timer callback was using the store", err)
	case <-time.After(300 * time.Millisecond): // a negative check: Shutdown must keep waiting
	}
	if st.closed.Load() {
		t.Fatal("store closed under a running timer callback")
	}
	close(st.block)
	<-fired
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := st.late.Load(); n != 0 {
		t.Fatalf("%d store calls after Close", n)
	}
	// Timers that come due now find the server closed.
	clock.Advance(time.Hour)
	if err := s.Publish("shut/t", []byte("x"), 0, true); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Publish after Shutdown: %v, want ErrServerClosed", err)
	}
	if _, err := s.DeleteRetained("shut/t"); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("DeleteRetained after Shutdown: %v, want ErrServerClosed", err)
	}
}

// shutSlowListener is a listener whose Close waits until released.
type shutSlowListener struct {
	net.Listener
	closing chan struct{}
	release chan struct{}
	once    sync.Once
}

func (l *shutSlowListener) Close() error {
	l.once.Do(func() {
		close(l.closing)
		<-l.release
	})
	return l.Listener.Close()
}

// Shutdown closes listeners without holding Server.mu: a listener slow to
// close keeps no Stats (or CONNECT, or disconnect) waiting.
func TestShutdownClosesListenersOutsideServerLock(t *testing.T) {
	s, _ := startServer(t, nil)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &shutSlowListener{Listener: inner, closing: make(chan struct{}), release: make(chan struct{})}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	waitFor(t, "the listener to be served", func() bool { return len(s.Addrs()) == 2 })
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	<-ln.closing
	stats := make(chan Stats, 1)
	go func() { stats <- s.Stats() }()
	select {
	case <-stats:
	case <-time.After(peerTimeout):
		t.Fatal("Stats blocked while a listener was closing")
	}
	close(ln.release)
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
}

// The hibernation sweeper does not hold Server.mu while it visits each
// connection: one connection whose outbound lock is held (a stuck encoder,
// say) keeps no Stats waiting.
func TestSweepDoesNotHoldServerLock(t *testing.T) {
	s, addr := startHibernating(t)
	p := clean(t, addr, packet.V311, "shut-sweep")
	var c *conn
	s.mu.Lock()
	for x := range s.conns {
		c = x
	}
	s.mu.Unlock()
	c.out.mu.Lock()
	waitTicks(t, s, 1)
	// The next sweep waits on c's outbound lock. Stats keeps answering
	// for several sweep periods meanwhile.
	stats := make(chan Stats, 1)
	until := time.Now().Add(5 * s.hib.interval)
	for time.Now().Before(until) {
		go func() { stats <- s.Stats() }()
		select {
		case <-stats:
		case <-time.After(peerTimeout):
			c.out.mu.Unlock()
			<-stats
			t.Fatal("Stats blocked behind a sweep")
		}
	}
	c.out.mu.Unlock()
	p.send(&packet.Pingreq{})
	p.expect(packet.PINGRESP)
}
