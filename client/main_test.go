package client_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/client"
	"github.com/roostmq/roost/packet"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startBroker runs a broker on 127.0.0.1:0 until the test ends and returns
// its address.
func startBroker(t testing.TB, modify func(*broker.Options)) string {
	t.Helper()
	opts := broker.DefaultOptions()
	opts.Listen, opts.SysInterval = nil, 0
	if modify != nil {
		modify(&opts)
	}
	s, err := broker.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, broker.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dial connects a client and disconnects it when the test ends.
func dial(t testing.TB, addr string, opts *client.Options) *client.Client {
	t.Helper()
	c, err := client.Dial(testCtx(t), "mqtt://"+addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Disconnect(ctx, packet.NormalDisconnection)
	})
	return c
}

// collector gathers messages from OnMessage.
type collector chan *client.Message

func newCollector() collector { return make(collector, 100) }

func (c collector) handler(m *client.Message) { c <- m }

func (c collector) next(t testing.TB) *client.Message {
	t.Helper()
	select {
	case m := <-c:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5 s")
		return nil
	}
}
