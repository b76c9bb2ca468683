package auth

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/roostmq/roost/broker"
)

// startBroker runs a broker on 127.0.0.1 with opts and returns its address.
func startBroker(t *testing.T, opts broker.Options) (*broker.Server, string) {
	t.Helper()
	opts.SysInterval = 0
	srv, err := broker.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return srv, ln.Addr().String()
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
