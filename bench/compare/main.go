// Command compare runs the same `roost bench` scenarios against Roost and
// Mosquitto, each broker pinned to one CPU and the load generator to another,
// and prints Roost/Mosquitto ratios.
//
//	go run ./bench/compare                 # pinned: broker on CPU 1, generator on CPU 0
//	go run ./bench/compare -unpinned       # Roost may use every core
//	go run ./bench/compare -duration 5s -idle 10000,100000
//
// Both brokers keep messages in memory (Mosquitto: persistence false;
// Roost: storage type memory), except in the persistent scenario, where
// Roost writes every QoS 1 message for a persistent session to its disk
// store and syncs before acknowledging (sync: always) while Mosquitto keeps
// it in memory.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type scenario struct {
	name     string
	args     []string
	paced    bool // compare latency rather than rates
	idleConn int  // idle-memory scenario: connections
	durable  bool // Roost stores on disk with sync: always
}

type result struct {
	DeliveryRate float64       `json:"delivery_msgs_per_sec"`
	PublishRate  float64       `json:"publish_msgs_per_sec"`
	Lost         uint64        `json:"lost"`
	Duplicates   uint64        `json:"duplicates"`
	LatencyP50   time.Duration `json:"latency_p50_ns"`
	LatencyP99   time.Duration `json:"latency_p99_ns"`
	Connections  int           `json:"connections"`
	FirstError   string        `json:"first_connect_error"`
}

type brokerProc struct {
	name string
	cmd  *exec.Cmd
	port int
}

func main() {
	dur := flag.Duration("duration", 5*time.Second, "length of each throughput scenario")
	unpinned := flag.Bool("unpinned", false, "do not pin the brokers to CPU 1")
	idle := flag.String("idle", "10000,100000", "comma-separated idle connection counts to measure memory at")
	pacedRounds := flag.Int("paced-rounds", 5, "runs of the paced scenario per broker, alternating; the median p99 is shown")
	only := flag.String("run", "", "run only the scenarios whose name matches this regular expression")
	flag.Parse()
	raiseFileLimit()
	match := regexp.MustCompile(*only)
	tmp, err := os.MkdirTemp("", "roost-compare")
	check(err)
	defer os.RemoveAll(tmp)
	roost := filepath.Join(tmp, "roost")
	run("go", "build", "-o", roost, "./cmd/roost")

	d := dur.String()
	scen := []scenario{}
	for _, q := range []string{"0", "1", "2"} {
		scen = append(scen,
			scenario{name: "p2p qos" + q, args: []string{"-S", "p2p", "-c", "4", "-q", q, "-d", d}},
			scenario{name: "fan-in qos" + q, args: []string{"-S", "fan-in", "-c", "4", "-q", q, "-d", d}},
			scenario{name: "fan-out qos" + q, args: []string{"-S", "fan-out", "-c", "8", "-q", q, "-d", d}})
	}
	scen = append(scen,
		scenario{name: "p2p qos0 4KiB", args: []string{"-S", "p2p", "-c", "4", "-q", "0", "-s", "4096", "-d", d}},
		scenario{name: "paced 8000/s qos1 p99 (µs, median)", args: []string{"-S", "p2p", "-c", "4", "-q", "1", "-r", "8000", "-d", d}, paced: true},
		scenario{name: "persistent qos1 (roost fsync)", args: []string{"-S", "p2p", "-c", "4", "-q", "1", "--persistent", "-d", d}, durable: true})
	for _, n := range strings.Split(*idle, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(n))
		check(err)
		if lim := fileLimit(); c > lim-500 {
			fmt.Fprintf(os.Stderr, "skipping idle %d: a process may open only %d files here\n", c, lim)
			continue
		}
		scen = append(scen, scenario{name: fmt.Sprintf("idle %d: bytes/conn", c), idleConn: c})
	}

	fmt.Printf("%-28s %14s %14s %8s  %s\n", "scenario", "roost", "mosquitto", "ratio", "loss/dups (roost, mosquitto)")
	for _, s := range scen {
		if !match.MatchString(s.name) {
			continue
		}
		var vals [2]float64
		var notes [2]string
		starts := []func() *brokerProc{
			func() *brokerProc { return startRoost(roost, tmp, !*unpinned, s.durable) },
			func() *brokerProc { return startMosquitto(tmp, true) },
		}
		rounds := 1
		if s.paced {
			rounds = *pacedRounds // latency is noisy: alternate, take the median
		}
		samples, p50s := [2][]float64{}, [2][]float64{}
		var lost, dups [2]uint64
		for range rounds {
			for i, start := range starts {
				b := start()
				if s.idleConn > 0 {
					samples[i] = append(samples[i], idleBytes(roost, b, s.idleConn))
				} else {
					r := bench(roost, b.port, s.args)
					v := r.DeliveryRate
					if s.paced {
						v = float64(r.LatencyP99) / 1e3 // µs
						p50s[i] = append(p50s[i], float64(r.LatencyP50)/1e3)
					}
					samples[i] = append(samples[i], v)
					lost[i] += r.Lost
					dups[i] += r.Duplicates
				}
				b.stop()
			}
		}
		for i := range vals {
			vals[i] = median(samples[i])
			if s.idleConn == 0 {
				notes[i] = fmt.Sprintf("%d/%d", lost[i], dups[i])
			}
			if rounds > 1 {
				notes[i] += fmt.Sprintf(" (p99 %.0f–%.0f, p50 %.0f)", slices.Min(samples[i]), slices.Max(samples[i]), median(p50s[i]))
			}
		}
		ratio := vals[0] / vals[1]
		if s.paced || s.idleConn > 0 {
			ratio = vals[1] / vals[0] // lower is better: ratio > 1 means Roost is better
		}
		fmt.Printf("%-28s %14.0f %14.0f %7.2fx  %s, %s\n", s.name, vals[0], vals[1], ratio, notes[0], notes[1])
	}
	fmt.Println("\nratios are Roost's advantage: rates roost/mosquitto; latency and memory mosquitto/roost.")
}

func startRoost(bin, tmp string, pin, durable bool) *brokerProc {
	port := freePort()
	cfg := filepath.Join(tmp, "roost.yaml")
	storage := "storage:\n  type: memory\n"
	if durable {
		dir, err := os.MkdirTemp(tmp, "data")
		check(err)
		storage = fmt.Sprintf("storage:\n  type: disk\n  dir: %s\n  sync: always\n", dir)
	}
	check(os.WriteFile(cfg, []byte(fmt.Sprintf(`listeners:
  - type: tcp
    address: 127.0.0.1:%d
limits:
  max_pending_bytes: 256MiB
  max_queued_messages: 1000000
  max_queued_bytes: 1GiB
  max_inflight: 65535
  receive_maximum: 65535
sys_interval: 0s
log:
  level: error
%s`, port, storage)), 0o644))
	return start("roost", port, pin, bin, "serve", "--config", cfg)
}

func startMosquitto(tmp string, pin bool) *brokerProc {
	port := freePort()
	cfg := filepath.Join(tmp, "mosquitto.conf")
	check(os.WriteFile(cfg, []byte(fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous true
max_inflight_messages 0
max_queued_messages 1000000
persistence false
log_type error
`, port)), 0o644))
	return start("mosquitto", port, pin, "mosquitto", "-c", cfg)
}

func start(name string, port int, pin bool, argv ...string) *brokerProc {
	if pin {
		argv = append([]string{"taskset", "-c", "1"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...) // output discarded: banners would break the table
	check(cmd.Start())
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			fail("%s did not start listening on %d", name, port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	running = &brokerProc{name: name, cmd: cmd, port: port}
	return running
}

func (b *brokerProc) stop() {
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-done
	}
}

func bench(bin string, port int, args []string) result {
	argv := append([]string{"-c", "0", bin, "bench", "--json", "--quiet", "-V", "mqttv311", "-p", strconv.Itoa(port)}, args...)
	out, err := exec.Command("taskset", argv...).Output()
	if err != nil {
		fail("bench %v: %v", args, err)
	}
	var r result
	check(json.Unmarshal(out, &r))
	return r
}

// idleBytes opens n idle connections and returns the broker's RSS growth per
// connection, sampled once they have been idle for longer than Roost's
// hibernate_after (5 s by default).
func idleBytes(bin string, b *brokerProc, n int) float64 {
	before := rss(b.cmd.Process.Pid)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hold := 12*time.Second + time.Duration(n/5000)*time.Second
	cmd := exec.CommandContext(ctx, bin, "bench", "--json", "--quiet", "-V", "mqttv311", "-S", "idle", "-c", strconv.Itoa(n),
		"-d", hold.String(), "-p", strconv.Itoa(b.port), "--source", sources(n))
	var out bytes.Buffer
	cmd.Stdout = &out
	check(cmd.Start())
	time.Sleep(hold - 2*time.Second) // let the connections settle before sampling RSS
	during := rss(b.cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		fail("idle %d against %s: %v", n, b.name, err)
	}
	var r result
	check(json.Unmarshal(out.Bytes(), &r))
	if r.Connections != n {
		fail("idle %d against %s: only %d connections were made (first error: %s)", n, b.name, r.Connections, r.FirstError)
	}
	return float64(during-before) / float64(n)
}

// sources spreads n connections over enough loopback addresses that the
// ephemeral ports of one, less those in TIME_WAIT from earlier runs, suffice.
func sources(n int) string {
	k := n/5000 + 2
	var s []string
	for i := range k {
		s = append(s, fmt.Sprintf("127.0.0.%d", i+2))
	}
	return strings.Join(s, ",")
}

// rss reads VmRSS of pid (taskset execs the broker, so the pid is the broker).
func rss(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	check(err)
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// raiseFileLimit lets the brokers and the generator, which inherit it, hold
// 100,000 idle connections: the soft limit goes up to the hard one, which
// only a process with CAP_SYS_RESOURCE may raise.
func raiseFileLimit() {
	var l syscall.Rlimit
	check(syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l))
	want := max(l.Max, 300000)
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}) != nil {
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: l.Max, Max: l.Max})
	}
}

func fileLimit() int {
	var l syscall.Rlimit
	check(syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l))
	return int(min(l.Cur, 1<<30))
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func run(name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	check(cmd.Run())
}

func check(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

// running is the broker started last; fail stops it.
var running *brokerProc

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "compare: "+format+"\n", args...)
	if running != nil && running.cmd.ProcessState == nil {
		_ = running.cmd.Process.Kill()
	}
	os.Exit(1)
}
