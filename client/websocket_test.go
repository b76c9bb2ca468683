package client_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/client"
	"github.com/roostmq/roost/listener"
)

// startWSBroker serves a broker on a ws:// listener at 127.0.0.1:0 and
// returns its URL.
func startWSBroker(t *testing.T) string {
	t.Helper()
	opts := broker.DefaultOptions()
	opts.Listen, opts.SysInterval = nil, 0
	s, err := broker.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := listener.Listen(listener.Config{Type: "ws", Address: "127.0.0.1:0"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		if err := <-served; !errors.Is(err, broker.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return "ws://" + ln.Addr().String() + "/mqtt"
}

// Dial with a ws:// URL speaks MQTT over WebSocket to a real listener.
func TestDialWebSocket(t *testing.T) {
	url := startWSBroker(t)
	got := make(chan *client.Message, 1)
	ctx := testCtx(t)
	sub, err := client.Dial(ctx, url, &client.Options{ClientID: "ws-sub", OnMessage: func(m *client.Message) { got <- m }})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Disconnect(ctx, 0)
	if _, err := sub.Subscribe(ctx, client.Subscription{Filter: "ws/#", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	pub, err := client.Dial(ctx, url, &client.Options{ClientID: "ws-pub"})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Disconnect(ctx, 0)
	if err := pub.Publish(ctx, &client.Message{Topic: "ws/a", Payload: []byte("over websocket"), QoS: 1}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m.Topic != "ws/a" || string(m.Payload) != "over websocket" {
			t.Fatalf("got %s %q", m.Topic, m.Payload)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message over websocket")
	}
}
