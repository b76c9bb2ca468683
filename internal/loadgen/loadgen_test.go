package loadgen

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/packet"
)

func startBroker(t *testing.T) string {
	t.Helper()
	_, addr := startServer(t)
	return addr
}

func startServer(t *testing.T) (*broker.Server, string) {
	t.Helper()
	opts := broker.DefaultOptions()
	opts.Listen, opts.SysInterval = nil, 0
	s, err := broker.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s, ln.Addr().String()
}

func TestScenariosNoLossNoDuplicates(t *testing.T) {
	addr := startBroker(t)
	for _, sc := range []string{ScenarioP2P, ScenarioFanIn, ScenarioFanOut} {
		for qos := byte(0); qos <= 2; qos++ {
			for _, v := range []packet.Version{packet.V311, packet.V5} {
				cfg := Config{Addr: addr, Scenario: sc, Clients: 3, QoS: qos, Count: 200, Version: v, Drain: 5 * time.Second,
					TopicPrefix: "t/" + sc}
				res, err := Run(context.Background(), cfg, nil)
				if err != nil {
					t.Fatalf("%s qos %d v%v: %v", sc, qos, v, err)
				}
				// p2p and fan-in: 3 publishers x 200, one copy each; fan-out:
				// 1 publisher x 200, three copies each.
				want, published := uint64(600), uint64(600)
				if sc == ScenarioFanOut {
					published = 200
				}
				if res.Published != published {
					t.Fatalf("%s: published %d, want %d", sc, res.Published, published)
				}
				if res.Expected != want || res.Received != want || res.Lost != 0 || res.Duplicates != 0 {
					t.Fatalf("%s qos %d v%v: %+v", sc, qos, v, res)
				}
				if res.LatencyP99 <= 0 || res.LatencyP50 > res.LatencyP99 {
					t.Fatalf("latency percentiles: %+v", res)
				}
			}
		}
	}
}

func TestRateIsPaced(t *testing.T) {
	addr := startBroker(t)
	cfg := Config{Addr: addr, Scenario: ScenarioP2P, Clients: 2, QoS: 1, Count: 50, Rate: 500}
	res, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 100 messages at 500/s take at least ~0.2 s; a flood would take milliseconds.
	if res.Elapsed < 150*time.Millisecond || res.Lost != 0 {
		t.Fatalf("not paced: %+v", res)
	}
}

func TestIdleConnections(t *testing.T) {
	addr := startBroker(t)
	res, err := Run(context.Background(), Config{Addr: addr, Scenario: ScenarioIdle, Clients: 100, Duration: 100 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Connections != 100 || res.ConnectErrors != 0 || res.ConnectRate <= 0 {
		t.Fatalf("%+v", res)
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}} {
		got := h.quantile(c.q)
		if got < c.want*93/100 || got > c.want {
			t.Fatalf("q%.2f = %v, want about %v", c.q, got, c.want)
		}
	}
	if h.quantile(1) != time.Millisecond {
		t.Fatalf("max %v", h.quantile(1))
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{{Addr: "x", Scenario: "nope"}, {Addr: "x", QoS: 3}, {Scenario: ScenarioPub}} {
		if _, err := Run(context.Background(), c, nil); err == nil {
			t.Fatalf("accepted %+v", c)
		}
	}
}

// Persistent subscribers leave their sessions in the broker after the run,
// in both protocol versions; publishers do not.
func TestPersistentSubscribers(t *testing.T) {
	for _, v := range []packet.Version{packet.V311, packet.V5} {
		s, addr := startServer(t)
		cfg := Config{Addr: addr, Scenario: ScenarioP2P, Clients: 3, QoS: 1, Count: 100, Version: v, Persistent: true}
		res, err := Run(context.Background(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Received != 300 || res.Lost != 0 || res.Duplicates != 0 {
			t.Fatalf("v%v: %+v", v, res)
		}
		deadline := time.Now().Add(5 * time.Second)
		for s.Stats().ClientsConnected != 0 {
			if time.Now().After(deadline) {
				t.Fatal("clients still connected")
			}
			time.Sleep(time.Millisecond) // polling with a deadline
		}
		if n := s.Stats().Sessions; n != 3 {
			t.Fatalf("v%v: %d sessions after the run, want the 3 subscribers'", v, n)
		}
	}
}
