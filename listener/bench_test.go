package listener

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/roostmq/roost/internal/testpki"
)

// BenchmarkTransport measures QoS 0 messages per second through the broker,
// from one publisher to one subscriber, over each transport. Both clients
// are raw byte streams in this process; docs/transports.md records figures.
func BenchmarkTransport(b *testing.B) {
	p := testpki.New(b)
	tlsConf := &TLSConfig{CertFile: p.CertFile, KeyFile: p.KeyFile}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"tcp", Config{Type: TCP, Address: "127.0.0.1:0"}},
		{"tls", Config{Type: TLS, Address: "127.0.0.1:0", TLS: tlsConf}},
		{"ws", Config{Type: WS, Address: "127.0.0.1:0"}},
		{"wss", Config{Type: WSS, Address: "127.0.0.1:0", TLS: tlsConf}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			addr, _ := startBroker(b, tc.cfg)
			dial := func() net.Conn {
				nc, err := benchDial(tc.cfg.Type, addr, p.ClientTLS(nil))
				if err != nil {
					b.Fatal(err)
				}
				return nc
			}
			sub, pub := dial(), dial()
			defer sub.Close()
			defer pub.Close()
			if err := mqttConnect(sub, "sub", ""); err != nil {
				b.Fatal(err)
			}
			if err := mqttConnect(pub, "pub", ""); err != nil {
				b.Fatal(err)
			}
			if _, err := sub.Write(subscribe); err != nil {
				b.Fatal(err)
			}
			if err := expect(sub, suback); err != nil {
				b.Fatal(err)
			}
			msg := frame(0x30, append(appendString(nil, "t/x"), make([]byte, 64)...))
			const batch = 64
			burst := make([]byte, 0, batch*len(msg))
			for range batch {
				burst = append(burst, msg...)
			}
			b.SetBytes(int64(len(msg)))
			b.ResetTimer()
			// The publisher stays at most window bytes ahead of the
			// subscriber, so that the broker never has to drop QoS 0
			// messages or disconnect a slow consumer.
			const window = 1 << 20
			var received atomic.Int64
			progress := make(chan struct{}, 1)
			read := make(chan error, 1)
			total := int64(b.N) * int64(len(msg))
			go func() {
				_ = sub.SetReadDeadline(time.Now().Add(time.Minute))
				buf := make([]byte, 64<<10)
				var err error
				for received.Load() < total && err == nil {
					var n int
					n, err = sub.Read(buf)
					received.Add(int64(n))
					select {
					case progress <- struct{}{}:
					default:
					}
				}
				read <- err
			}()
			sentBytes := int64(0)
			for sent := 0; sent < b.N; sent += batch {
				for sentBytes-received.Load() > window {
					select {
					case <-progress:
					case err := <-read:
						b.Fatal("subscriber:", err)
					}
				}
				n := min(batch, b.N-sent)
				if _, err := pub.Write(burst[:n*len(msg)]); err != nil {
					b.Fatal(err)
				}
				sentBytes += int64(n * len(msg))
			}
			if err := <-read; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// benchDial opens a client byte stream to a listener of type typ.
func benchDial(typ, addr string, conf *tls.Config) (net.Conn, error) {
	switch typ {
	case TCP:
		return net.Dial("tcp", addr)
	case TLS:
		return tls.Dial("tcp", addr, conf)
	}
	scheme := "ws://"
	opts := &websocket.DialOptions{Subprotocols: []string{"mqtt"}}
	if typ == WSS {
		scheme = "wss://"
		opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: conf}}
	}
	c, _, err := websocket.Dial(context.Background(), scheme+addr+"/mqtt", opts)
	if err != nil {
		return nil, err
	}
	return websocket.NetConn(context.Background(), c, websocket.MessageBinary), nil
}
