package broker_test

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/client"
	"github.com/roostmq/roost/listener"
	"github.com/roostmq/roost/packet"
)

// TestChaos runs a storm of hostile and careless clients over TCP and
// WebSocket (chaos_run_test.go) beside well-behaved ones, and checks that
// the well-behaved ones do not notice: every QoS 1 and 2 message arrives, no
// QoS 2 message twice, p99 latency under 50 ms; and that the broker comes
// back to where it started: heap, goroutines, sessions, and the invariants
// of invariants_test.go when it shuts down. ROOST_CHAOS_HEAP_CHECK=0 reports
// the heap bound without enforcing it.
//
// It is seeded: the seed is printed, and ROOST_CHAOS_SEED=n replays the
// same choices (not the same timing). ROOST_CHAOS_STORM=20s sets the storm's
// length; -short runs a small one. ROOST_CHAOS_DEBUG=1 prints every delivery
// slower than 100 ms; ROOST_CHAOS_HEAPPROF=/tmp/x writes heap profiles
// before and after the storm.
//
// Latency: on a machine shared with other work, under the race detector,
// the process is regularly denied CPU for tens or hundreds of milliseconds.
// A watchdog (chaosWatchdog) records those periods; deliveries in flight
// during one are reported but not judged, the p99 of the rest must be under
// 50 ms. A broker that holds a delivery back (a lock, a missed wake-up)
// does not starve the watchdog, so it is still caught.
//
// Memory is measured in process, as the live heap after garbage collection
// (runtime.MemStats.HeapAlloc), and the baseline is taken after a short
// warm-up storm: what stays by design after any storm (retained messages on
// a bounded set of topics, match-cache entries, maps at their high-water
// mark) is in the baseline, while a leak grows with every storm. RSS would
// not do in process: under the race detector it mostly measures the
// detector's shadow memory, and the runtime keeps freed pages mapped for a
// while. What the test itself keeps (its bookkeeping of the well-behaved
// clients' messages) is allocated before the baseline.
func TestChaos(t *testing.T) {
	cfg := chaosConfig{clients: 200, good: 10, storm: 35 * time.Second, interval: 20 * time.Millisecond}
	if testing.Short() {
		cfg.clients, cfg.storm = 50, 5*time.Second
	}
	if d := os.Getenv("ROOST_CHAOS_STORM"); d != "" {
		v, err := time.ParseDuration(d)
		if err != nil {
			t.Fatalf("ROOST_CHAOS_STORM: %v", err)
		}
		cfg.storm = v
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ROOST_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("ROOST_CHAOS_SEED: %v", err)
		}
		seed = v
	}
	if os.Getenv("ROOST_CHAOS_HEAPPROF") != "" {
		old := runtime.MemProfileRate
		runtime.MemProfileRate = 1 // every allocation: the heap is small
		t.Cleanup(func() { runtime.MemProfileRate = old })
	}
	fmt.Fprintf(os.Stderr, "TestChaos: seed %d (replay with ROOST_CHAOS_SEED=%d)\n", seed, seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chaos seed %d: replay with ROOST_CHAOS_SEED=%d", seed, seed)
		}
	})
	runChaos(t, cfg, seed)
}

type chaosConfig struct {
	clients, good int
	storm         time.Duration
	interval      time.Duration // between a well-behaved client's publishes
}

// chaosLog counts the broker's log records that report a recovered panic.
type chaosLog struct {
	panics atomic.Int64
	mu     sync.Mutex
	first  string
}

func (l *chaosLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *chaosLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *chaosLog) WithGroup(string) slog.Handler            { return l }
func (l *chaosLog) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") {
		if l.panics.Add(1) == 1 {
			var b strings.Builder
			b.WriteString(r.Message)
			r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
			l.mu.Lock()
			l.first = b.String()
			l.mu.Unlock()
		}
	}
	return nil
}

// chaosBroker is the broker under test with its two listeners.
type chaosBroker struct {
	s       *broker.Server
	tcp, ws string // addresses
	log     *chaosLog
	served  sync.WaitGroup
}

func startChaosBroker(t *testing.T) *chaosBroker {
	t.Helper()
	b := &chaosBroker{log: &chaosLog{}}
	opts := broker.DefaultOptions()
	opts.Listen = nil
	opts.SysInterval = time.Second
	opts.Logger = slog.New(b.log)
	opts.HibernateAfter = 2 * time.Second
	opts.Limits.MaxPacketSize = 64 << 10
	opts.Limits.MaxQueuedMessages = 500
	opts.Limits.MaxPendingBytes = 1 << 20
	opts.Limits.SlowConsumerAfter = 2 * time.Second
	opts.Limits.ConnectTimeout = 2 * time.Second
	opts.Limits.WriteTimeout = 5 * time.Second
	opts.Sessions.MaxExpiry = 2 * time.Second // persistent chaos sessions end soon after the storm
	s, err := broker.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	b.s = s
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := listener.Listen(listener.Config{Type: listener.WS, Address: "127.0.0.1:0", HandshakeTimeout: 2 * time.Second}, nil)
	if err != nil {
		_ = tcp.Close()
		t.Fatal(err)
	}
	b.tcp, b.ws = tcp.Addr().String(), ws.Addr().String()
	for _, ln := range []net.Listener{tcp, ws} {
		b.served.Add(1)
		go func() {
			defer b.served.Done()
			if err := s.Serve(ln); !errors.Is(err, broker.ErrServerClosed) {
				t.Errorf("serve %s: %v", ln.Addr(), err)
			}
		}()
	}
	return b
}

// goodClient is a well-behaved client: it publishes to the next one's
// topic, alternating QoS 1 and 2, and checks what it receives from the
// previous one.
type goodClient struct {
	i    int
	c    *client.Client
	sent atomic.Int64 // messages published and acknowledged
	errs chan error   // first publish error

	// What it received, preallocated before the baseline is measured.
	mu     sync.Mutex
	counts []uint8       // per sequence number of its sender
	lat    []chaosSample // each delivery's send and receive times
	stray  int           // deliveries that are not a well-behaved message
}

// chaosEpoch is the time origin of well-behaved payloads.
var chaosEpoch = time.Now()

func (g *goodClient) onMessage(m *client.Message) {
	now := time.Since(chaosEpoch)
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(m.Payload) != 16 {
		g.stray++
		return
	}
	seq := binary.BigEndian.Uint64(m.Payload)
	sentAt := time.Duration(binary.BigEndian.Uint64(m.Payload[8:]))
	if seq >= uint64(len(g.counts)) {
		g.stray++
		return
	}
	if g.counts[seq] < 255 {
		g.counts[seq]++
	}
	if len(g.lat) < cap(g.lat) {
		g.lat = append(g.lat, chaosSample{sentAt, now})
	}
	if d := now - sentAt; d > 100*time.Millisecond && os.Getenv("ROOST_CHAOS_DEBUG") != "" {
		fmt.Fprintf(os.Stderr, "slow delivery to %d: sent %v latency %v qos %d\n", g.i, sentAt.Round(time.Millisecond), d.Round(time.Millisecond), m.QoS)
	}
}

func connectGood(t *testing.T, b *chaosBroker, i, maxMsgs int) *goodClient {
	t.Helper()
	g := &goodClient{i: i, errs: make(chan error, 1), counts: make([]uint8, maxMsgs), lat: make([]chaosSample, 0, maxMsgs)}
	url := "mqtt://" + b.tcp
	if i%2 == 1 {
		url = "ws://" + b.ws + listener.DefaultWSPath
	}
	v := packet.V5
	if i%3 == 2 {
		v = packet.V311
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, &client.Options{ClientID: "good-" + strconv.Itoa(i), Version: v, CleanStart: true,
		KeepAlive: 30 * time.Second, OnMessage: g.onMessage})
	if err != nil {
		t.Fatalf("well-behaved client %d: %v", i, err)
	}
	g.c = c
	if _, err := c.Subscribe(ctx, client.Subscription{Filter: "good/" + strconv.Itoa(i), QoS: 2}); err != nil {
		t.Fatalf("well-behaved client %d: subscribe: %v", i, err)
	}
	return g
}

// publishLoop publishes every interval until stop or max messages.
func (g *goodClient) publishLoop(stop <-chan struct{}, n int, interval time.Duration) {
	topic := "good/" + strconv.Itoa((g.i+1)%n)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	limit := int64(len(g.counts)) // the receiver's bookkeeping is as long as ours
	for seq := g.sent.Load(); seq < limit; seq++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		payload := make([]byte, 16)
		binary.BigEndian.PutUint64(payload, uint64(seq))
		binary.BigEndian.PutUint64(payload[8:], uint64(time.Since(chaosEpoch)))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := g.c.Publish(ctx, &client.Message{Topic: topic, Payload: payload, QoS: byte(1 + seq%2)})
		cancel()
		if err != nil {
			select {
			case g.errs <- fmt.Errorf("well-behaved client %d: publish %d: %w", g.i, seq, err):
			default:
			}
			return
		}
		g.sent.Store(seq + 1)
	}
}

// heapAfterGC returns the live heap once garbage is collected.
func heapAfterGC() uint64 {
	var ms runtime.MemStats
	for range 3 { // sync.Pool contents survive one collection
		runtime.GC()
	}
	debug.FreeOSMemory()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func runChaos(t *testing.T, cfg chaosConfig, seed uint64) {
	b := startChaosBroker(t)
	maxMsgs := int(cfg.storm/cfg.interval) + 2000
	good := make([]*goodClient, cfg.good)
	for i := range good {
		good[i] = connectGood(t, b, i, maxMsgs)
	}
	// The well-behaved clients publish in two periods: before the baseline
	// and during the storm. Both measurements of the heap are taken with
	// them idle, their connections in the same state.
	var stopGood chan struct{}
	var goodWG sync.WaitGroup
	startGood := func() {
		stopGood = make(chan struct{})
		for _, g := range good {
			goodWG.Add(1)
			go func() { defer goodWG.Done(); g.publishLoop(stopGood, cfg.good, cfg.interval) }()
		}
	}
	stopGoodOnce := func() {
		if stopGood != nil {
			close(stopGood)
			goodWG.Wait()
			stopGood = nil
		}
	}
	startGood()
	defer func() {
		stopGoodOnce()
		for _, g := range good {
			_ = g.c.Close()
		}
		broker.ShutdownCheckedForTest(t, b.s)
		b.served.Wait()
	}()

	// Calm: the well-behaved clients alone, for the latency they see
	// without a storm on this machine.
	waitUntil(t, "well-behaved traffic to start", 10*time.Second, func() bool { return good[0].sent.Load() > 20 })
	time.Sleep(2 * time.Second) // a measurement period, not synchronisation
	calm := takeSamples(good)
	t.Logf("calm: %s", latencySummary(latencies(calm)))

	// Warm-up storm: a short one first, so that the baseline holds what
	// stays by design after any storm (retained messages on a bounded set
	// of topics, match-cache entries, maps at their high-water mark). A
	// leak grows with every storm; a high-water mark does not.
	warm := newChaosRun(b, seed^0x5eed5eed, cfg.clients, cfg.storm/5)
	warm.retainedAll()
	warm.start()
	warm.wait(t, cfg.storm/5+15*time.Second)
	waitUntil(t, "warm-up sessions to end", 15*time.Second, func() bool { return broker.SessionCountForTest(b.s) <= cfg.good })
	stopGoodOnce()
	time.Sleep(chaosSettle) // a measurement condition: idle connections hibernate
	baseGoroutines := waitSteadyGoroutines()
	warm.flushMatchCache()
	baseHeap := heapAfterGC()
	chaosHeapProfile(t, "before")
	baseSessions := broker.SessionCountForTest(b.s)
	t.Logf("baseline after the warm-up storm (%s): heap %d KiB, %d goroutines, %d sessions", warm.summary(), baseHeap>>10, baseGoroutines, baseSessions)
	takeSamples(good) // the warm-up's latencies are not judged
	startGood()
	wd := startWatchdog()

	run := newChaosRun(b, seed, cfg.clients, cfg.storm)
	start := time.Now()
	run.start()
	run.wait(t, cfg.storm+15*time.Second)
	t.Logf("storm: %d clients for %v: %s", cfg.clients, time.Since(start).Round(time.Millisecond), run.summary())

	stopGoodOnce()
	for _, g := range good {
		select {
		case err := <-g.errs:
			t.Error(err)
		default:
		}
	}
	// Every acknowledged message arrives, then no more.
	waitUntil(t, "well-behaved messages to arrive", 15*time.Second, func() bool {
		for i, g := range good {
			from := good[(i+cfg.good-1)%cfg.good]
			g.mu.Lock()
			n := from.sent.Load()
			done := true
			for seq := range n {
				if g.counts[seq] == 0 {
					done = false
					break
				}
			}
			g.mu.Unlock()
			if !done {
				return false
			}
		}
		return true
	})
	var lost, dup2, total, stray int
	for i, g := range good {
		from := good[(i+cfg.good-1)%cfg.good]
		g.mu.Lock()
		n := from.sent.Load()
		total += int(n)
		stray += g.stray
		for seq := range n {
			switch c := g.counts[seq]; {
			case c == 0:
				lost++
			case c > 1 && seq%2 == 1: // odd sequence numbers are QoS 2
				dup2++
			}
		}
		g.mu.Unlock()
	}
	samples := takeSamples(good)
	stalls := wd.stop()
	fair := unstarved(samples, stalls)
	t.Logf("well-behaved: %d messages, %d lost, %d QoS 2 duplicates, %d stray; during the storm %s",
		total, lost, dup2, stray, latencySummary(latencies(samples)))
	t.Logf("the process was starved of CPU (a 1 ms sleeper woke over %v late) %d times for %v in all; %d deliveries in flight then are not judged; the rest: %s",
		chaosStallGap, len(stalls), stallTotal(stalls), len(samples)-len(fair), latencySummary(fair))
	if lost != 0 || dup2 != 0 || stray != 0 {
		t.Errorf("well-behaved clients: %d of %d messages lost, %d QoS 2 duplicates, %d stray deliveries", lost, total, dup2, stray)
	}
	switch p99 := percentile(fair, 99); {
	case len(fair) < chaosMinJudged:
		t.Logf("latency NOT JUDGED: the machine starved the test of CPU during %d of %d deliveries, fewer than %d left", len(samples)-len(fair), len(samples), chaosMinJudged)
	case p99 > chaosP99:
		t.Errorf("well-behaved clients' p99 latency %v (outside CPU starvation), want under %v", p99, chaosP99)
	}
	if n := b.log.panics.Load(); n > 0 {
		b.log.mu.Lock()
		t.Errorf("the broker recovered %d panics; the first: %s", n, b.log.first)
		b.log.mu.Unlock()
	}

	// The broker comes back: chaos sessions expire, goroutines end, the
	// heap returns to its size before the storm.
	waitUntil(t, "chaos sessions to end", 15*time.Second, func() bool { return broker.SessionCountForTest(b.s) <= baseSessions })
	waitUntil(t, "goroutines to end", 15*time.Second, func() bool { return runtime.NumGoroutine() <= baseGoroutines })
	time.Sleep(chaosSettle) // the same measurement condition as the baseline's
	var heap uint64
	deadline := time.Now().Add(15 * time.Second)
	for {
		run.flushMatchCache()
		heap = heapAfterGC()
		if heap <= baseHeap+baseHeap/10 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // polling with a deadline
	}
	chaosHeapProfile(t, "after")
	growth := 100 * (float64(heap) - float64(baseHeap)) / float64(baseHeap)
	t.Logf("after the storm: heap %d KiB (%+.1f%%), %d goroutines, %d sessions", heap>>10, growth,
		runtime.NumGoroutine(), broker.SessionCountForTest(b.s))
	if heap > baseHeap+baseHeap/10 {
		// Before messages stopped pinning their publishers' sessions
		// (TestEndedSessionNotPinnedByItsMessages) this grew by up to 32 %.
		msg := fmt.Sprintf("heap %d KiB after the storm, %+.1f%% over the %d KiB before it (at most +10%%)", heap>>10, growth, baseHeap>>10)
		if os.Getenv("ROOST_CHAOS_HEAP_CHECK") != "0" {
			t.Error(msg)
		} else {
			t.Log("HEAP CHECK NOT ENFORCED (ROOST_CHAOS_HEAP_CHECK=0): " + msg)
		}
	}
}

// chaosHeapProfile writes a heap profile to $ROOST_CHAOS_HEAPPROF.name
// when that is set, to find what a failing heap check holds on to
// (go tool pprof -base X.before X.after).
func chaosHeapProfile(t *testing.T, name string) {
	prefix := os.Getenv("ROOST_CHAOS_HEAPPROF")
	if prefix == "" {
		return
	}
	f, err := os.Create(prefix + "." + name)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		t.Error(err)
	}
}

// chaosSample is one delivery: when it was published and received, since
// chaosEpoch.
type chaosSample struct{ sent, recv time.Duration }

// takeSamples returns the deliveries the well-behaved clients saw since the
// last call, and forgets them.
func takeSamples(good []*goodClient) []chaosSample {
	var out []chaosSample
	for _, g := range good {
		g.mu.Lock()
		out = append(out, g.lat...)
		g.lat = g.lat[:0]
		g.mu.Unlock()
	}
	return out
}

// latencies returns the samples' latencies, sorted.
func latencies(samples []chaosSample) []time.Duration {
	out := make([]time.Duration, len(samples))
	for i, s := range samples {
		out[i] = s.recv - s.sent
	}
	slices.Sort(out)
	return out
}

// chaosStallGap is how late a 1 ms sleeper must wake for the process to
// count as starved of CPU then.
const chaosStallGap = 10 * time.Millisecond

// chaosWatchdog records when the process gets no CPU: a goroutine sleeping
// 1 ms at a time notes every wake-up that comes chaosStallGap late. On a
// shared machine under the race detector, a delivery in flight across such
// a gap measures the machine, not the broker; a broker that blocks a
// delivery (a lock, a wake-up never sent) does not starve the sleeper.
type chaosWatchdog struct {
	mu     sync.Mutex
	stalls []chaosSample // [start, end] of each gap, in order
	quit   chan struct{}
	done   chan struct{}
}

func startWatchdog() *chaosWatchdog {
	w := &chaosWatchdog{stalls: make([]chaosSample, 0, 1<<16), quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		prev := time.Since(chaosEpoch)
		for {
			select {
			case <-w.quit:
				return
			default:
			}
			time.Sleep(time.Millisecond) // the measurement itself
			now := time.Since(chaosEpoch)
			if now-prev > chaosStallGap+time.Millisecond {
				w.mu.Lock()
				if len(w.stalls) < cap(w.stalls) {
					w.stalls = append(w.stalls, chaosSample{prev, now})
				}
				w.mu.Unlock()
			}
			prev = now
		}
	}()
	return w
}

func (w *chaosWatchdog) stop() []chaosSample {
	close(w.quit)
	<-w.done
	return w.stalls
}

// unstarved returns the latencies, sorted, of the deliveries that no stall
// overlapped.
func unstarved(samples, stalls []chaosSample) []time.Duration {
	var out []time.Duration
	for _, s := range samples {
		// The first stall that ends after the message was sent.
		i, _ := slices.BinarySearchFunc(stalls, s.sent, func(st chaosSample, t time.Duration) int {
			return cmp.Compare(st.recv, t)
		})
		if i < len(stalls) && stalls[i].sent < s.recv {
			continue
		}
		out = append(out, s.recv-s.sent)
	}
	slices.Sort(out)
	return out
}

func stallTotal(stalls []chaosSample) time.Duration {
	var d time.Duration
	for _, s := range stalls {
		d += s.recv - s.sent
	}
	return d.Round(time.Millisecond)
}

// percentile returns the p-th percentile of sorted latencies.
func percentile(lat []time.Duration, p int) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	return lat[min(len(lat)-1, len(lat)*p/100)]
}

func latencySummary(lat []time.Duration) string {
	if len(lat) == 0 {
		return "no messages"
	}
	return fmt.Sprintf("%d deliveries, latency p50 %v p99 %v p99.9 %v max %v", len(lat),
		percentile(lat, 50).Round(time.Microsecond), percentile(lat, 99).Round(time.Microsecond),
		lat[min(len(lat)-1, len(lat)*999/1000)].Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
}

// waitSteadyGoroutines returns the number of goroutines once it stops
// falling (connections' writers retire, timers end).
func waitSteadyGoroutines() int {
	n := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(100 * time.Millisecond) // polling with a bound
		m := runtime.NumGoroutine()
		if m >= n {
			return n
		}
		n = m
	}
	return n
}

// chaosP99 is the latency bound of the well-behaved clients.
const chaosP99 = 50 * time.Millisecond

// chaosSettle is how long the test lets the broker's idle connections
// settle (hibernate, drop their buffers) before it measures the heap; it is
// above the HibernateAfter of startChaosBroker.
const chaosSettle = 3 * time.Second

// chaosMinJudged is how many deliveries outside CPU starvation a p99 needs
// to be judged.
const chaosMinJudged = 200

// waitUntil polls cond until it holds or d passes.
func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline, not synchronisation by sleep
	}
}
