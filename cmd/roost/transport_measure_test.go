package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/roostmq/roost/internal/testpki"
)

// TestMeasureIdleMemory reports the resident memory the roost process
// spends per idle connection (connected with CONNECT, then silent) over
// each transport. It only runs with ROOST_MEASURE=1 (it opens thousands of
// connections); ROOST_MEASURE_CONNS sets how many (default 5000).
// docs/transports.md records its figures.
func TestMeasureIdleMemory(t *testing.T) {
	if os.Getenv("ROOST_MEASURE") != "1" {
		t.Skip("a measurement; set ROOST_MEASURE=1 to run it")
	}
	n := 5000
	if s := os.Getenv("ROOST_MEASURE_CONNS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	p := testpki.New(t)
	tlsSection := fmt.Sprintf("{cert_file: %q, key_file: %q}", p.CertFile, p.KeyFile)
	for _, typ := range []string{"tcp", "tls", "ws", "wss"} {
		t.Run(typ, func(t *testing.T) {
			addr := freeAddr(t)
			conf := fmt.Sprintf("listeners:\n  - type: %s\n    address: %q\n", typ, addr)
			if typ == "tls" || typ == "wss" {
				conf += "    tls: " + tlsSection + "\n"
			}
			conf += "sys_interval: 0\nhibernate_after: 1s\nlimits:\n  connect_timeout: 1m\n"
			start := time.Now()
			pid := startRoostPID(t, conf, addr)
			before := rssKiB(t, pid)
			conns := make([]io.Closer, 0, n)
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			connect := []byte{0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 0, 0, 0}
			for i := range n {
				nc, err := measureDial(typ, addr, p.ClientTLS(nil))
				if err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				conns = append(conns, nc)
				if _, err := nc.Write(connect); err != nil {
					t.Fatal(err)
				}
				ack := make([]byte, 4)
				if _, err := io.ReadFull(nc, ack); err != nil || !bytes.Equal(ack, []byte{0x20, 2, 0, 0}) {
					t.Fatalf("connection %d: CONNACK %x %v", i, ack, err)
				}
			}
			time.Sleep(4 * time.Second) // let connections hibernate and the broker settle (measurement, not synchronisation)
			after := rssKiB(t, pid)
			t.Logf("%s: %d idle connections: RSS %d KiB -> %d KiB: %.1f KiB per connection (%v)",
				typ, n, before, after, float64(after-before)/float64(n), time.Since(start).Round(time.Millisecond))
		})
	}
}

// startRoostPID starts roost with a config and returns its process id.
func startRoostPID(t *testing.T, conf, addr string) int {
	t.Helper()
	startRoostConfig(t, conf, addr)
	out, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	// The newest roost process started from roostBin.
	best := 0
	for _, e := range out {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err == nil && exe == roostBin && pid > best {
			best = pid
		}
	}
	if best == 0 {
		t.Fatal("roost process not found")
	}
	return best
}

func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			v, _ := strconv.Atoi(f[1])
			return v
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

func measureDial(typ, addr string, conf *tls.Config) (net.Conn, error) {
	switch typ {
	case "tcp":
		return net.Dial("tcp", addr)
	case "tls":
		return tls.Dial("tcp", addr, conf)
	}
	scheme := "ws://"
	opts := &websocket.DialOptions{Subprotocols: []string{"mqtt"}}
	if typ == "wss" {
		scheme = "wss://"
		opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: conf}}
	} else {
		opts.HTTPClient = &http.Client{Transport: &http.Transport{}}
	}
	c, _, err := websocket.Dial(context.Background(), scheme+addr+"/mqtt", opts)
	if err != nil {
		return nil, err
	}
	return websocket.NetConn(context.Background(), c, websocket.MessageBinary), nil
}
