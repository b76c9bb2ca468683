// Package managed is a reconnecting MQTT client built on package client.
//
// A Manager keeps one connection up: it dials, reconnects with exponential
// backoff when the connection ends, resumes the session (clean start only
// on the very first connection), subscribes again to what was subscribed
// when the server has no session, and sends messages from an outbound Queue
// so that nothing published while offline is lost.
//
// Publish only queues a message; one goroutine per Manager takes messages
// from the queue in order and publishes each on the current connection,
// removing it from the queue once the publish completed (after PUBACK or
// PUBCOMP for QoS 1 and 2). A message whose connection dropped before its
// acknowledgement is sent again on the next connection, so delivery is at
// least once. A message the server refuses with a reason code is dropped
// and reported to Options.OnPublishError.
package managed

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/roostmq/roost/client"
	"github.com/roostmq/roost/packet"
)

// Options configures a Manager.
type Options struct {
	// URL is the broker address, as for client.Dial.
	URL string
	// Client holds the connection options. CleanStart applies to the first
	// connection only; later ones resume the session. OnMessage and
	// OnDisconnect are called as with package client.
	Client client.Options
	// MinBackoff and MaxBackoff bound the wait between connection attempts
	// (defaults 100 ms and 30 s); the wait doubles after each failure.
	MinBackoff, MaxBackoff time.Duration
	// ConnectTimeout bounds one connection attempt (default 30 s).
	ConnectTimeout time.Duration
	// Queue holds outbound messages; nil means NewMemoryQueue(0). Use
	// OpenFileQueue to keep them on disk across restarts of the program.
	Queue Queue
	// OnConnect is called (on the Manager's goroutine) after each
	// connection is up and subscriptions are restored.
	OnConnect func(*client.Client)
	// OnConnectError is called after each failed connection attempt.
	OnConnectError func(error)
	// OnPublishError is called when the server refused a queued message.
	OnPublishError func(*client.Message, error)
}

// Manager is a reconnecting client. Its methods are safe for concurrent use.
type Manager struct {
	opts   Options
	queue  Queue
	ctx    context.Context
	cancel context.CancelFunc
	exited chan struct{}
	notify chan struct{} // one slot: the queue has something

	mu        sync.Mutex
	cur       *client.Client        // guarded by mu; nil while offline
	connected chan struct{}         // guarded by mu; closed while cur != nil
	subs      []client.Subscription // guarded by mu; in subscription order
	subIndex  map[string]int        // guarded by mu; filter -> index in subs
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("managed: closed")

// New starts a Manager; it connects in the background (see WaitConnected).
func New(opts Options) *Manager {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(30*time.Second, opts.MinBackoff)
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 30 * time.Second
	}
	m := &Manager{
		opts:      opts,
		queue:     opts.Queue,
		exited:    make(chan struct{}),
		notify:    make(chan struct{}, 1),
		connected: make(chan struct{}),
		subIndex:  make(map[string]int),
	}
	if m.queue == nil {
		m.queue = NewMemoryQueue(0)
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	go m.run()
	return m
}

// WaitConnected waits until a connection is up and returns it.
func (m *Manager) WaitConnected(ctx context.Context) (*client.Client, error) {
	for {
		m.mu.Lock()
		c, ch := m.cur, m.connected
		m.mu.Unlock()
		if c != nil {
			return c, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-m.exited:
			return nil, ErrClosed
		}
	}
}

// Client returns the current connection, or nil while offline.
func (m *Manager) Client() *client.Client {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur
}

// Publish queues a message for sending; it returns once the message is in
// the queue (an error only when the queue refuses it or after Close).
func (m *Manager) Publish(_ context.Context, msg *client.Message) error {
	select {
	case <-m.ctx.Done():
		return ErrClosed
	default:
	}
	if err := m.queue.Push(msg); err != nil {
		return err
	}
	select {
	case m.notify <- struct{}{}:
	default:
	}
	return nil
}

// Subscribe records the subscriptions, restored on every new session, and
// subscribes now when connected (returning the server's codes), else on the
// next connection (returning nil codes).
func (m *Manager) Subscribe(ctx context.Context, subs ...client.Subscription) ([]packet.ReasonCode, error) {
	m.mu.Lock()
	for _, s := range subs {
		if i, ok := m.subIndex[s.Filter]; ok {
			m.subs[i] = s
		} else {
			m.subIndex[s.Filter] = len(m.subs)
			m.subs = append(m.subs, s)
		}
	}
	c := m.cur
	m.mu.Unlock()
	if c == nil {
		return nil, nil
	}
	return c.Subscribe(ctx, subs...)
}

// Unsubscribe forgets the filters and unsubscribes when connected.
func (m *Manager) Unsubscribe(ctx context.Context, filters ...string) error {
	m.mu.Lock()
	for _, f := range filters {
		if i, ok := m.subIndex[f]; ok {
			m.subs = append(m.subs[:i], m.subs[i+1:]...)
			delete(m.subIndex, f)
			for j := i; j < len(m.subs); j++ {
				m.subIndex[m.subs[j].Filter] = j
			}
		}
	}
	c := m.cur
	m.mu.Unlock()
	if c == nil {
		return nil
	}
	_, err := c.Unsubscribe(ctx, filters...)
	return err
}

// Close stops reconnecting, disconnects and waits for the Manager's
// goroutine. Messages still queued stay in the Queue.
func (m *Manager) Close(ctx context.Context) error {
	m.cancel()
	m.mu.Lock()
	c := m.cur
	m.mu.Unlock()
	if c != nil {
		_ = c.Disconnect(ctx, packet.NormalDisconnection)
	}
	select {
	case <-m.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run connects, serves a connection until it ends, and reconnects.
func (m *Manager) run() {
	defer close(m.exited)
	backoff := m.opts.MinBackoff
	first := true
	for m.ctx.Err() == nil {
		c, err := m.connect(first)
		if err != nil {
			if m.opts.OnConnectError != nil {
				m.opts.OnConnectError(err)
			}
			select {
			case <-time.After(backoff):
			case <-m.ctx.Done():
				return
			}
			backoff = min(2*backoff, m.opts.MaxBackoff)
			continue
		}
		first, backoff = false, m.opts.MinBackoff
		m.serve(c)
		m.mu.Lock()
		m.cur = nil
		m.connected = make(chan struct{})
		m.mu.Unlock()
	}
}

// connect dials, restores subscriptions and publishes the connection.
func (m *Manager) connect(first bool) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(m.ctx, m.opts.ConnectTimeout)
	defer cancel()
	o := m.opts.Client
	if !first {
		o.CleanStart = false
	}
	c, err := client.Dial(ctx, m.opts.URL, &o)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	subs := append([]client.Subscription(nil), m.subs...)
	m.mu.Unlock()
	if !c.SessionPresent() && len(subs) > 0 {
		if _, err := c.Subscribe(ctx, subs...); err != nil {
			var ae *client.AckError
			if !errors.As(err, &ae) {
				_ = c.Close()
				return nil, err
			}
		}
	}
	m.mu.Lock()
	m.cur = c
	close(m.connected)
	m.mu.Unlock()
	if m.opts.OnConnect != nil {
		m.opts.OnConnect(c)
	}
	return c, nil
}

// serve sends queued messages on c until c ends or the Manager closes.
func (m *Manager) serve(c *client.Client) {
	for {
		msg, err := m.queue.Peek()
		if err == nil && msg == nil {
			select {
			case <-m.notify:
				continue
			case <-c.Done():
				return
			case <-m.ctx.Done():
				m.hangUp(c)
				return
			}
		}
		if err == nil {
			err = c.Publish(m.ctx, msg)
		}
		select {
		case <-c.Done():
			return // sent again on the next connection
		default:
		}
		if m.ctx.Err() != nil {
			m.hangUp(c)
			return
		}
		if err != nil && m.opts.OnPublishError != nil {
			m.opts.OnPublishError(msg, err)
		}
		if perr := m.queue.Pop(); perr != nil && m.opts.OnPublishError != nil {
			m.opts.OnPublishError(nil, perr)
		}
	}
}

// hangUp disconnects c after Close.
func (m *Manager) hangUp(c *client.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Disconnect(ctx, packet.NormalDisconnection)
}
