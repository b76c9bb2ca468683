package loadgen

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/roostmq/roost/packet"
)

// runIdle opens cfg.Clients connections, measures the connect rate and holds
// them for cfg.Duration, pinging at half the keep alive.
func runIdle(ctx context.Context, cfg *Config, progress io.Writer) (*Result, error) {
	res := &Result{Scenario: ScenarioIdle, Clients: cfg.Clients}
	conns := make([]*mconn, 0, cfg.Clients)
	start := time.Now()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64) // concurrent handshakes
	for i := range cfg.Clients {
		src := ""
		if n := len(cfg.SourceAddrs); n > 0 {
			src = cfg.SourceAddrs[i%n]
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dial(ctx, cfg, fmt.Sprintf("%s-idle-%d", cfg.ClientIDPrefix, i), src, false)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if res.ConnectErrors == 0 {
					res.FirstError = err.Error()
				}
				res.ConnectErrors++
				return
			}
			conns = append(conns, c)
			if progress != nil && len(conns)%1000 == 0 {
				fmt.Fprintf(progress, "\r%d connections ", len(conns))
			}
		}()
	}
	wg.Wait()
	connTime := time.Since(start)
	res.Connections = len(conns)
	res.ConnectRate = float64(len(conns)) / connTime.Seconds()
	// Read and discard whatever arrives (PINGRESP) so sockets never fill.
	for _, c := range conns {
		go func() {
			for {
				if _, _, err := c.r.Read(); err != nil {
					return
				}
			}
		}()
	}
	hold := time.NewTimer(cfg.Duration)
	ping := time.NewTicker(time.Duration(cfg.KeepAlive) * time.Second / 2)
	defer ping.Stop()
loop:
	for {
		select {
		case <-hold.C:
			break loop
		case <-ctx.Done():
			hold.Stop()
			break loop
		case <-ping.C:
			for _, c := range conns {
				_ = c.write(&packet.Pingreq{})
			}
		}
	}
	for _, c := range conns {
		c.close()
	}
	res.Elapsed = time.Since(start)
	if progress != nil {
		fmt.Fprintln(progress)
	}
	return res, nil
}
