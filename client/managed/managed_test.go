package managed_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/client"
	"github.com/roostmq/roost/client/managed"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// runBroker serves a broker on addr ("127.0.0.1:0" for any port) and
// returns its address and a stop function.
func runBroker(t *testing.T, addr string) (string, func()) {
	t.Helper()
	opts := broker.DefaultOptions()
	opts.Listen, opts.SysInterval = nil, 0
	s, err := broker.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	deadline := time.Now().Add(5 * time.Second)
	for {
		if ln, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // the port may take a moment to free
	}
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, broker.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

func next(t *testing.T, ch chan *client.Message) *client.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10 s")
		return nil
	}
}

// The broker goes away and comes back on the same port: the Manager
// reconnects, subscribes again (the new broker has no session) and sends
// what was published while offline.
func TestReconnect(t *testing.T) {
	addr, stop := runBroker(t, "127.0.0.1:0")
	msgs := make(chan *client.Message, 10)
	connects := make(chan struct{}, 10)
	q := managed.NewMemoryQueue(10)
	m := managed.New(managed.Options{
		Queue:      q,
		URL:        "mqtt://" + addr,
		Client:     client.Options{ClientID: "managed", CleanStart: true, SessionExpiry: time.Hour, OnMessage: func(msg *client.Message) { msgs <- msg }},
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		OnConnect: func(*client.Client) { connects <- struct{}{} },
	})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := m.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	<-connects
	if _, err := m.Subscribe(ctx, client.Subscription{Filter: "t/#", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	if err := m.Publish(ctx, &client.Message{Topic: "t/1", Payload: []byte("online"), QoS: 1}); err != nil {
		t.Fatal(err)
	}
	if got := next(t, msgs); string(got.Payload) != "online" {
		t.Fatalf("got %q", got.Payload)
	}

	// Wait until "online" has been acknowledged and left the queue, so that
	// it is not sent again (delivery is at least once).
	deadline := time.Now().Add(10 * time.Second)
	for q.Len() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("queue not drained")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	for m.Client() != nil {
		if time.Now().After(deadline) {
			t.Fatal("still connected after the broker stopped")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, p := range []string{"offline-1", "offline-2"} {
		if err := m.Publish(ctx, &client.Message{Topic: "t/2", Payload: []byte(p), QoS: 1}); err != nil {
			t.Fatal(err)
		}
	}
	runBroker(t, addr)
	if _, err := m.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"offline-1", "offline-2"} {
		if got := next(t, msgs); string(got.Payload) != want {
			t.Fatalf("got %q, want %q", got.Payload, want)
		}
	}
}

func TestWaitConnectedContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there
	m := managed.New(managed.Options{URL: addr, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := m.WaitConnected(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitConnected: %v", err)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.WaitConnected(context.Background()); !errors.Is(err, managed.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}
