package loadgen

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// Result is what a run measured.
type Result struct {
	Scenario     string        `json:"scenario"`
	Clients      int           `json:"clients"`
	QoS          byte          `json:"qos"`
	PayloadSize  int           `json:"payload_size"`
	Elapsed      time.Duration `json:"elapsed_ns"`
	Published    uint64        `json:"published"`    // PUBLISH packets sent
	Acknowledged uint64        `json:"acknowledged"` // QoS 1/2 flows completed (QoS 0: sent)
	Expected     uint64        `json:"expected"`     // deliveries the subscribers should see
	Received     uint64        `json:"received"`     // PUBLISH packets received
	Lost         uint64        `json:"lost"`
	Duplicates   uint64        `json:"duplicates"`
	PublishRate  float64       `json:"publish_msgs_per_sec"`
	DeliveryRate float64       `json:"delivery_msgs_per_sec"`
	LatencyP50   time.Duration `json:"latency_p50_ns"`
	LatencyP90   time.Duration `json:"latency_p90_ns"`
	LatencyP99   time.Duration `json:"latency_p99_ns"`
	LatencyMax   time.Duration `json:"latency_max_ns"`
	// Latency is the distribution behind the percentiles: deliveries per
	// bucket of a 1-2-5 series, empty buckets at either end left out.
	Latency       []LatencyBucket `json:"latency_histogram,omitempty"`
	Connections   int             `json:"connections"`
	ConnectRate   float64         `json:"connects_per_sec"`
	ConnectErrors int             `json:"connect_errors"`
	FirstError    string          `json:"first_connect_error,omitempty"`
}

// Run executes one benchmark. Progress, when non-nil, gets a status line
// every second.
func Run(ctx context.Context, cfg Config, progress io.Writer) (*Result, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Scenario == ScenarioIdle {
		return runIdle(ctx, &cfg, progress)
	}
	r := &runner{cfg: &cfg}
	defer r.closeAll()
	connStart := time.Now()
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	connTime := time.Since(connStart)
	res := r.measure(ctx, progress)
	res.Connections = len(r.pubs) + len(r.subs)
	res.ConnectRate = float64(res.Connections) / connTime.Seconds()
	return res, nil
}

type runner struct {
	cfg     *Config
	pubs    []*publisher
	subs    []*subscriber
	srcNext int
	flow    *flow // flood flow control, nil without
}

func (r *runner) src() string {
	if len(r.cfg.SourceAddrs) == 0 {
		return ""
	}
	s := r.cfg.SourceAddrs[r.srcNext%len(r.cfg.SourceAddrs)]
	r.srcNext++
	return s
}

func (r *runner) topic(i int) string { return r.cfg.TopicPrefix + "/" + strconv.Itoa(i) }

// setup connects subscribers first, then publishers.
func (r *runner) setup(ctx context.Context) error {
	cfg := r.cfg
	nPub, nSub, filter := cfg.Clients, 0, ""
	switch cfg.Scenario {
	case ScenarioP2P:
		nSub = cfg.Clients
	case ScenarioFanIn:
		nSub, filter = 1, cfg.TopicPrefix+"/#"
	case ScenarioFanOut:
		nPub, nSub, filter = 1, cfg.Clients, cfg.TopicPrefix+"/0"
	case ScenarioSub:
		nPub, nSub, filter = 0, cfg.Clients, cfg.TopicPrefix+"/#"
	}
	if cfg.Rate == 0 && nPub > 0 && nSub > 0 && cfg.MaxOutstanding >= 0 {
		copies := uint64(1)
		if cfg.Scenario == ScenarioFanOut {
			copies = uint64(nSub)
		}
		max := uint64(cfg.MaxOutstanding)
		if max == 0 {
			max = 10000
		}
		r.flow = &flow{copies: copies, max: max}
	}
	for i := range nSub {
		c, err := dial(ctx, cfg, fmt.Sprintf("%s-sub-%d", cfg.ClientIDPrefix, i), r.src(), cfg.Persistent)
		if err != nil {
			return fmt.Errorf("subscriber %d: %w", i, err)
		}
		f := filter
		if f == "" {
			f = r.topic(i)
		}
		s := &subscriber{c: c, seen: map[uint32]*bitset{}, done: make(chan struct{}), flow: r.flow}
		r.subs = append(r.subs, s)
		if err := c.subscribe(f, cfg.QoS); err != nil {
			return err
		}
		go s.loop()
	}
	for i := range nPub {
		c, err := dial(ctx, cfg, fmt.Sprintf("%s-pub-%d", cfg.ClientIDPrefix, i), r.src(), false)
		if err != nil {
			return fmt.Errorf("publisher %d: %w", i, err)
		}
		p := &publisher{cfg: cfg, idx: uint32(i), topic: r.topic(i), c: c, flow: r.flow,
			window: make(chan struct{}, cfg.Inflight), done: make(chan struct{})}
		r.pubs = append(r.pubs, p)
		go p.ackLoop()
	}
	return nil
}

// expected is how many deliveries the subscribers should see in total.
func (r *runner) expected(published uint64) uint64 {
	switch r.cfg.Scenario {
	case ScenarioFanOut:
		return published * uint64(len(r.subs))
	case ScenarioP2P, ScenarioFanIn:
		return published
	}
	return 0
}

func (r *runner) measure(ctx context.Context, progress io.Writer) *Result {
	cfg := r.cfg
	start := time.Now()
	stopProgress := r.progress(progress, start)
	var per time.Duration
	if cfg.Rate > 0 && len(r.pubs) > 0 {
		per = time.Duration(float64(time.Second) * float64(len(r.pubs)) / float64(cfg.Rate))
	}
	var wg sync.WaitGroup
	for _, p := range r.pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.err = p.run(ctx, start, per)
			p.drain(cfg.Drain)
		}()
	}
	wg.Wait()
	pubElapsed := time.Since(start)
	res := &Result{Scenario: cfg.Scenario, Clients: cfg.Clients, QoS: cfg.QoS, PayloadSize: cfg.PayloadSize}
	for _, p := range r.pubs {
		res.Published += p.sent.Load()
		res.Acknowledged += p.acked.Load()
	}
	res.Expected = r.expected(res.Acknowledged)
	if cfg.Scenario == ScenarioSub {
		r.waitDuration(ctx, start)
	} else {
		r.waitDeliveries(ctx, res.Expected)
	}
	stopProgress()
	res.Elapsed = time.Since(start)
	var lat histogram
	var unique uint64
	for _, s := range r.subs {
		s.mu.Lock()
		lat.merge(&s.lat)
		unique += s.unique
		res.Duplicates += s.dups
		s.mu.Unlock()
		res.Received += s.received.Load()
	}
	if res.Expected > unique {
		res.Lost = res.Expected - unique
	}
	res.PublishRate = float64(res.Acknowledged) / pubElapsed.Seconds()
	res.DeliveryRate = float64(res.Received) / res.Elapsed.Seconds()
	res.LatencyP50, res.LatencyP90, res.LatencyP99 = lat.quantile(0.5), lat.quantile(0.9), lat.quantile(0.99)
	res.LatencyMax = time.Duration(lat.max)
	res.Latency = lat.buckets()
	return res
}

func (r *runner) received() uint64 {
	var n uint64
	for _, s := range r.subs {
		n += s.received.Load()
	}
	return n
}

// waitDeliveries polls until the subscribers saw want messages or the drain
// time passed without progress.
func (r *runner) waitDeliveries(ctx context.Context, want uint64) {
	last, lastChange := r.received(), time.Now()
	for ctx.Err() == nil {
		n := r.received()
		if n >= want {
			return
		}
		if n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) > r.cfg.Drain {
			return
		}
		time.Sleep(2 * time.Millisecond) // a load generator's own polling loop
	}
}

func (r *runner) waitDuration(ctx context.Context, start time.Time) {
	t := time.NewTimer(time.Until(start.Add(r.cfg.Duration)))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// progress prints rates every second until the returned function is called.
func (r *runner) progress(w io.Writer, start time.Time) func() {
	if w == nil {
		return func() {}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var lastPub, lastRecv uint64
		for {
			select {
			case <-stop:
				fmt.Fprintln(w)
				return
			case <-t.C:
			}
			var pub uint64
			for _, p := range r.pubs {
				pub += p.acked.Load()
			}
			recv := r.received()
			fmt.Fprintf(w, "\r%5.0fs  publish %9d msg/s  deliver %9d msg/s  total %d/%d ",
				time.Since(start).Seconds(), pub-lastPub, recv-lastRecv, pub, recv)
			lastPub, lastRecv = pub, recv
		}
	}()
	return func() { close(stop); <-done }
}

func (r *runner) closeAll() {
	for _, p := range r.pubs {
		p.c.close()
		<-p.done
	}
	for _, s := range r.subs {
		s.c.close()
		<-s.done
	}
}
