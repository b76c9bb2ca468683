// Package faultstore wraps any store.Store and injects faults into chosen
// calls: an error instead of the call, latency before it, or a gate that
// holds the call until the test releases it. Tests of the broker use it to
// drive error paths (a failed write, a transient read error, a slow fsync)
// that a real store produces only rarely.
//
// A Store passes every call to the wrapped store unless a Rule hits it:
//
//	fs := faultstore.New(store.NewMemoryDurable(), 1)
//	fs.Add(faultstore.Rule{Method: faultstore.LoadMessages, Nth: 2, Err: faultstore.ErrInjected})
//	gate := faultstore.NewGate()
//	fs.Add(faultstore.Rule{Method: faultstore.Sync, Gate: gate})
//	... // start a broker on fs; <-gate.Arrived(); check; gate.Release()
//
// Rules are checked in the order added; every rule that hits a call applies
// (delays add up, the first gate waits before the second, the first error
// wins), and a call that gets an error is not passed on.
package faultstore

import (
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/roostmq/roost/store"
)

// Method names a method of store.Store.
type Method string

// The methods a Rule can target.
const (
	SaveSession    Method = "SaveSession"
	DeleteSession  Method = "DeleteSession"
	LoadSessions   Method = "LoadSessions"
	SetRetained    Method = "SetRetained"
	DeleteRetained Method = "DeleteRetained"
	LoadRetained   Method = "LoadRetained"
	PutMessage     Method = "PutMessage"
	DeleteMessage  Method = "DeleteMessage"
	LoadMessages   Method = "LoadMessages"
	AddInbound     Method = "AddInbound"
	DeleteInbound  Method = "DeleteInbound"
	Sync           Method = "Sync"
	Close          Method = "Close"
)

// ErrInjected is a ready-made error for Rule.Err.
var ErrInjected = errors.New("faultstore: injected error")

// Rule says which calls to hit and what to do to them.
type Rule struct {
	Method Method // the method it targets; "" targets every method
	// Key, when not empty, limits the rule to calls about this client id
	// (session, message and inbound methods) or topic (retained methods).
	Key string
	// Nth, when positive, hits only the Nth call (counting from 1) of
	// Method (of every method when Method is "") made since New.
	Nth int
	// Prob, when in (0, 1), hits a matching call with this probability,
	// drawn from the Store's seeded source; 0 means always.
	Prob float64
	// Times, when positive, retires the rule after it has hit this often.
	Times int

	Delay time.Duration // wait this long before the call
	Gate  *Gate         // then wait until the gate is released
	Err   error         // then return Err instead of making the call (nil: make it)
}

type rule struct {
	Rule
	hits int
}

// Store is a store.Store that injects the faults of its rules. It is safe
// for concurrent use.
type Store struct {
	inner store.Store

	mu    sync.Mutex
	rules []*rule        // guarded by mu
	calls map[Method]int // guarded by mu
	all   int            // guarded by mu: calls of every method
	rng   *rand.Rand     // guarded by mu
	hits  map[Method]int // guarded by mu
}

var _ store.Store = (*Store)(nil)

// New wraps inner. seed makes Rule.Prob reproducible.
func New(inner store.Store, seed uint64) *Store {
	return &Store{inner: inner, calls: map[Method]int{}, hits: map[Method]int{},
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Inner returns the wrapped store.
func (s *Store) Inner() store.Store { return s.inner }

// Add adds a rule; it applies to calls made from now on.
func (s *Store) Add(r Rule) {
	s.mu.Lock()
	s.rules = append(s.rules, &rule{Rule: r})
	s.mu.Unlock()
}

// Clear removes every rule. Calls already waiting on a gate keep waiting
// until it is released.
func (s *Store) Clear() {
	s.mu.Lock()
	s.rules = nil
	s.mu.Unlock()
}

// Calls returns how many calls of m were made ("" : of every method),
// faulted or not.
func (s *Store) Calls(m Method) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m == "" {
		return s.all
	}
	return s.calls[m]
}

// Hits returns how many calls of m ("" : of every method) a rule hit.
func (s *Store) Hits(m Method) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m == "" {
		n := 0
		for _, h := range s.hits {
			n += h
		}
		return n
	}
	return s.hits[m]
}

// before runs the faults of the rules that hit a call of m about key and
// returns the error the call must return instead of being made, if any.
func (s *Store) before(m Method, key string) error {
	var delay time.Duration
	var gates []*Gate
	var err error
	s.mu.Lock()
	s.calls[m]++
	s.all++
	n := s.calls[m]
	hit := false
	for _, r := range s.rules {
		if (r.Method != "" && r.Method != m) || (r.Key != "" && r.Key != key) || (r.Times > 0 && r.hits >= r.Times) {
			continue
		}
		if r.Nth > 0 && ((r.Method == "" && r.Nth != s.all) || (r.Method != "" && r.Nth != n)) {
			continue
		}
		if r.Prob > 0 && r.Prob < 1 && s.rng.Float64() >= r.Prob {
			continue
		}
		r.hits++
		hit = true
		delay += r.Delay
		if r.Gate != nil {
			gates = append(gates, r.Gate)
		}
		if err == nil {
			err = r.Err
		}
	}
	if hit {
		s.hits[m]++
	}
	s.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay) // injected latency, not synchronisation
	}
	for _, g := range gates {
		g.wait()
	}
	return err
}

// SaveSession implements store.Store.
func (s *Store) SaveSession(ss *store.Session) error {
	if err := s.before(SaveSession, ss.ClientID); err != nil {
		return err
	}
	return s.inner.SaveSession(ss)
}

// DeleteSession implements store.Store.
func (s *Store) DeleteSession(clientID string) error {
	if err := s.before(DeleteSession, clientID); err != nil {
		return err
	}
	return s.inner.DeleteSession(clientID)
}

// LoadSessions implements store.Store.
func (s *Store) LoadSessions() ([]*store.Session, error) {
	if err := s.before(LoadSessions, ""); err != nil {
		return nil, err
	}
	return s.inner.LoadSessions()
}

// SetRetained implements store.Store.
func (s *Store) SetRetained(m *store.Message) error {
	if err := s.before(SetRetained, m.Topic); err != nil {
		return err
	}
	return s.inner.SetRetained(m)
}

// DeleteRetained implements store.Store.
func (s *Store) DeleteRetained(topic string) error {
	if err := s.before(DeleteRetained, topic); err != nil {
		return err
	}
	return s.inner.DeleteRetained(topic)
}

// LoadRetained implements store.Store.
func (s *Store) LoadRetained() ([]*store.Message, error) {
	if err := s.before(LoadRetained, ""); err != nil {
		return nil, err
	}
	return s.inner.LoadRetained()
}

// PutMessage implements store.Store.
func (s *Store) PutMessage(clientID string, r *store.Record) error {
	if err := s.before(PutMessage, clientID); err != nil {
		return err
	}
	return s.inner.PutMessage(clientID, r)
}

// DeleteMessage implements store.Store.
func (s *Store) DeleteMessage(clientID string, seq uint64) error {
	if err := s.before(DeleteMessage, clientID); err != nil {
		return err
	}
	return s.inner.DeleteMessage(clientID, seq)
}

// LoadMessages implements store.Store.
func (s *Store) LoadMessages(clientID string, after uint64, limit int) ([]*store.Record, error) {
	if err := s.before(LoadMessages, clientID); err != nil {
		return nil, err
	}
	return s.inner.LoadMessages(clientID, after, limit)
}

// AddInbound implements store.Store.
func (s *Store) AddInbound(clientID string, id uint16) error {
	if err := s.before(AddInbound, clientID); err != nil {
		return err
	}
	return s.inner.AddInbound(clientID, id)
}

// DeleteInbound implements store.Store.
func (s *Store) DeleteInbound(clientID string, id uint16) error {
	if err := s.before(DeleteInbound, clientID); err != nil {
		return err
	}
	return s.inner.DeleteInbound(clientID, id)
}

// Durable implements store.Store: the wrapped store's answer, never faulted.
func (s *Store) Durable() bool { return s.inner.Durable() }

// Sync implements store.Store.
func (s *Store) Sync() error {
	if err := s.before(Sync, ""); err != nil {
		return err
	}
	return s.inner.Sync()
}

// Close implements store.Store. An injected error leaves the wrapped store
// open.
func (s *Store) Close() error {
	if err := s.before(Close, ""); err != nil {
		return err
	}
	return s.inner.Close()
}

// Gate holds the calls that reach it until Release. Arrived tells a test
// that a call is being held.
type Gate struct {
	release chan struct{}
	relOnce sync.Once
	arrived chan struct{}
	arrOnce sync.Once
	mu      sync.Mutex
	waiting int // guarded by mu
}

// NewGate returns a closed gate.
func NewGate() *Gate {
	return &Gate{release: make(chan struct{}), arrived: make(chan struct{})}
}

// Release lets every held call through, and every later one.
func (g *Gate) Release() { g.relOnce.Do(func() { close(g.release) }) }

// Arrived is closed when the first call reaches the gate.
func (g *Gate) Arrived() <-chan struct{} { return g.arrived }

// Waiting returns how many calls the gate holds now.
func (g *Gate) Waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting
}

func (g *Gate) wait() {
	g.mu.Lock()
	g.waiting++
	g.mu.Unlock()
	g.arrOnce.Do(func() { close(g.arrived) })
	<-g.release
	g.mu.Lock()
	g.waiting--
	g.mu.Unlock()
}
