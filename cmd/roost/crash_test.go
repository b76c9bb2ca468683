package main

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
	"github.com/roostmq/roost/store"
)

// go test ./cmd/roost -run TestCrash -crash.cycles=100 runs the long variant.
var crashCycles = flag.Int("crash.cycles", 20, "SIGKILL/restart cycles of TestCrashRecovery")

// TestCrashRecovery starts a real `roost serve` on a disk store, runs
// persistent QoS 1 and QoS 2 subscribers and concurrent QoS 1 and QoS 2
// publishers, kills the broker with SIGKILL at a random moment, restarts it
// and reconnects, over and over. At the end every acknowledged QoS 1 message
// has arrived at least once, every acknowledged QoS 2 message exactly once
// (and no QoS 2 message twice), the sessions were present after every
// restart, and the retained message is the last acknowledged one or the one
// in flight at the kill.
func TestCrashRecovery(t *testing.T) {
	cycles := *crashCycles
	if testing.Short() {
		cycles = min(cycles, 5)
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := filepath.Join(dir, "roost.yaml")
	conf := fmt.Sprintf("listeners:\n  - type: tcp\n    address: %q\nsys_interval: 0s\nlog: {level: warn}\nstorage:\n  type: disk\n  dir: %q\n  sync: always\n",
		addr, filepath.Join(dir, "data"))
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &crashHarness{t: t, addr: addr, cfg: cfg, acked: map[string]byte{}, got: map[string]int{},
		pending: map[uint16]bool{}}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for cycle := range cycles {
		b := h.start()
		h.connectSubs(cycle > 0)
		h.checkRetained(cycle)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h.publisher(fmt.Sprintf("p%d-%d", cycle, i), byte(1+i%2), stop)
			}()
		}
		wg.Add(1)
		go func() { defer wg.Done(); h.retainer(fmt.Sprintf("r%d", cycle), stop) }()
		time.Sleep(time.Duration(50+rng.IntN(350)) * time.Millisecond) // the random moment of the crash
		b.kill()
		close(stop)
		wg.Wait()
		h.closeSubs()
		if t.Failed() {
			return
		}
	}
	// A final start: everything acknowledged must arrive.
	b := h.start()
	defer b.kill()
	h.connectSubs(true)
	h.checkRetained(cycles)
	deadline := time.Now().Add(15 * time.Second)
	for {
		missing := h.missing()
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d acknowledged messages never arrived, e.g. %v; stderr:\n%s", len(missing), missing[:min(10, len(missing))], b.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.closeSubs()
	h.mu.Lock()
	defer h.mu.Unlock()
	n1, n2 := 0, 0
	for id, q := range h.acked {
		if q == 1 {
			n1++
		} else {
			n2++
			if h.got[id] != 1 {
				t.Errorf("QoS 2 message %s arrived %d times", id, h.got[id])
			}
		}
	}
	for id, n := range h.got {
		if strings.HasPrefix(id, "q2") && n > 1 {
			t.Errorf("QoS 2 message %s arrived %d times", id, n)
		}
	}
	if n1 == 0 || n2 == 0 {
		t.Fatalf("too few acknowledged messages: QoS 1 %d, QoS 2 %d", n1, n2)
	}
	t.Logf("%d cycles: %d QoS 1 and %d QoS 2 messages acknowledged, all delivered; %d retained updates acknowledged",
		cycles, n1, n2, h.retainAcks)
}

type crashHarness struct {
	t         *testing.T
	addr, cfg string

	mu         sync.Mutex
	acked      map[string]byte // message id -> QoS, once the broker acknowledged it
	got        map[string]int  // message id -> deliveries to its subscriber
	pending    map[uint16]bool // QoS 2 subscriber: ids received, PUBREL not yet (its session state)
	retained   string          // last acknowledged retained payload
	inflight   string          // retained payload sent, not yet acknowledged
	retainAcks int
	subs       []*rawClient
	subWG      sync.WaitGroup
}

type brokerProc struct {
	cmd    *exec.Cmd
	exited chan struct{}
	stderr *syncBuffer
}

func (b *brokerProc) kill() {
	_ = b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.exited
}

func (h *crashHarness) start() *brokerProc {
	t := h.t
	b := &brokerProc{cmd: exec.Command(roostBin, "serve", "--config", h.cfg), exited: make(chan struct{}), stderr: &syncBuffer{}}
	b.cmd.Stderr = b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = b.cmd.Wait(); close(b.exited) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", h.addr, time.Second)
		if err == nil {
			c.Close()
			return b
		}
		select {
		case <-b.exited:
			t.Fatalf("roost exited at start; stderr:\n%s", b.stderr)
		default:
		}
		if time.Now().After(deadline) {
			b.kill()
			t.Fatalf("roost not listening: %v; stderr:\n%s", err, b.stderr)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawClient is a minimal MQTT 3.1.1/5.0 client on the packet codec.
type rawClient struct {
	nc  net.Conn
	r   *packet.Reader
	v   packet.Version
	wmu sync.Mutex
}

func dialRaw(addr string, v packet.Version, c *packet.Connect) (*rawClient, *packet.Connack, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	rc := &rawClient{nc: nc, r: packet.NewReader(nc, 4096, 0), v: v}
	c.Version = v
	if err := rc.send(c); err != nil {
		nc.Close()
		return nil, nil, err
	}
	pk, err := rc.read(10 * time.Second)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	ack, ok := pk.(*packet.Connack)
	if !ok || ack.ReasonCode != 0 {
		nc.Close()
		return nil, nil, fmt.Errorf("CONNACK %+v", pk)
	}
	return rc, ack, nil
}

func (c *rawClient) send(p packet.Packet) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.nc.Write(p.Append(nil, c.v))
	return err
}

func (c *rawClient) read(timeout time.Duration) (packet.Packet, error) {
	if timeout > 0 {
		_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
	} else {
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	first, body, err := c.r.Read()
	if err != nil {
		return nil, err
	}
	pk, err := packet.Decode(first, body, c.v)
	if err != nil {
		return nil, err
	}
	return packet.Clone(pk, c.v)
}

// connectSubs connects the two persistent subscribers: "s1" (3.1.1, QoS 1
// on c/1) and "s2" (5.0, QoS 2 on c/2). Their sessions must be present after
// a restart.
func (h *crashHarness) connectSubs(resume bool) {
	t := h.t
	for _, spec := range []struct {
		id     string
		v      packet.Version
		filter string
		qos    byte
	}{{"s1", packet.V311, "c/1", 1}, {"s2", packet.V5, "c/2", 2}} {
		// 3.1.1: clean session 0 makes the session persistent; the store
		// is empty at the first start.
		c := &packet.Connect{ClientID: []byte(spec.id), CleanStart: !resume && spec.v == packet.V5}
		if spec.v == packet.V5 {
			c.Properties.SessionExpiry = 3600
			c.Properties.Set(packet.PropSessionExpiry)
		}
		rc, ack, err := dialRaw(h.addr, spec.v, c)
		if err != nil {
			t.Fatalf("subscriber %s: %v", spec.id, err)
		}
		if ack.SessionPresent != resume {
			t.Fatalf("subscriber %s: session present %v after a restart", spec.id, ack.SessionPresent)
		}
		if !resume {
			if err := rc.send(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: []byte(spec.filter), QoS: spec.qos}}}); err != nil {
				t.Fatal(err)
			}
		}
		h.subs = append(h.subs, rc)
		h.subWG.Add(1)
		go h.subscriber(rc)
		if !resume {
			// SUBACK is read by the subscriber loop; wait for the
			// subscription to work before publishing.
			h.waitSubscribed(spec.filter)
		}
	}
}

// waitSubscribed publishes probes on filter until one arrives.
func (h *crashHarness) waitSubscribed(topic string) {
	pub, _, err := dialRaw(h.addr, packet.V311, &packet.Connect{ClientID: []byte("probe"), CleanStart: true})
	if err != nil {
		h.t.Fatal(err)
	}
	defer pub.nc.Close()
	for i := 0; ; i++ {
		id := fmt.Sprintf("probe-%s-%d", topic, i)
		_ = pub.send(&packet.Publish{Topic: []byte(topic), Payload: []byte(id)})
		time.Sleep(10 * time.Millisecond)
		h.mu.Lock()
		n := h.got[id]
		h.mu.Unlock()
		if n > 0 {
			return
		}
		if i > 500 {
			h.t.Fatalf("subscription to %s never worked", topic)
		}
	}
}

func (h *crashHarness) closeSubs() {
	for _, c := range h.subs {
		c.nc.Close()
	}
	h.subWG.Wait()
	h.subs = nil
}

// subscriber acknowledges what it gets; the QoS 2 one keeps the received
// packet ids until PUBREL (method B of the spec), across reconnections,
// so a resent PUBLISH is not delivered twice.
func (h *crashHarness) subscriber(c *rawClient) {
	defer h.subWG.Done()
	for {
		pk, err := c.read(0)
		if err != nil {
			return
		}
		switch pk := pk.(type) {
		case *packet.Publish:
			id := string(pk.Payload)
			h.mu.Lock()
			deliver := true
			if pk.QoS == 2 {
				deliver = !h.pending[pk.PacketID]
				h.pending[pk.PacketID] = true
			}
			if deliver {
				h.got[id]++
			}
			h.mu.Unlock()
			switch pk.QoS {
			case 1:
				_ = c.send(&packet.Puback{Ack: packet.Ack{PacketID: pk.PacketID}})
			case 2:
				_ = c.send(&packet.Pubrec{Ack: packet.Ack{PacketID: pk.PacketID}})
			}
		case *packet.Pubrel:
			h.mu.Lock()
			delete(h.pending, pk.PacketID)
			h.mu.Unlock()
			_ = c.send(&packet.Pubcomp{Ack: packet.Ack{PacketID: pk.PacketID}})
		}
	}
}

// publisher sends numbered messages at qos on c/qos one after another until
// stop or the broker dies, recording each acknowledged one.
func (h *crashHarness) publisher(name string, qos byte, stop chan struct{}) {
	c, _, err := dialRaw(h.addr, packet.V5, &packet.Connect{ClientID: []byte(name), CleanStart: true})
	if err != nil {
		return // the broker may already be gone
	}
	defer c.nc.Close()
	for n := 1; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		id := fmt.Sprintf("q%d-%s-%d", qos, name, n)
		pid := uint16(n%60000 + 1)
		if c.send(&packet.Publish{QoS: qos, PacketID: pid, Topic: []byte(fmt.Sprintf("c/%d", qos)), Payload: []byte(id)}) != nil {
			return
		}
		pk, err := c.read(10 * time.Second)
		if err != nil {
			return
		}
		switch pk := pk.(type) {
		case *packet.Puback, *packet.Pubrec:
			h.mu.Lock()
			h.acked[id] = qos
			h.mu.Unlock()
			if _, ok := pk.(*packet.Pubrec); ok {
				if c.send(&packet.Pubrel{Ack: packet.Ack{PacketID: pid}}) != nil {
					return
				}
				if _, err := c.read(10 * time.Second); err != nil {
					return
				}
			}
		default:
			h.t.Errorf("publisher %s: got %v", name, pk.Type())
			return
		}
	}
}

// retainer updates the retained message on r/x, one acknowledged QoS 1
// publish after another.
func (h *crashHarness) retainer(name string, stop chan struct{}) {
	c, _, err := dialRaw(h.addr, packet.V311, &packet.Connect{ClientID: []byte(name), CleanStart: true})
	if err != nil {
		return
	}
	defer c.nc.Close()
	for n := 1; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		v := fmt.Sprintf("%s-%d", name, n)
		h.mu.Lock()
		h.inflight = v
		h.mu.Unlock()
		if c.send(&packet.Publish{QoS: 1, PacketID: 1, Retain: true, Topic: []byte("r/x"), Payload: []byte(v)}) != nil {
			return
		}
		if _, err := c.read(10 * time.Second); err != nil {
			return
		}
		h.mu.Lock()
		h.retained, h.inflight = v, ""
		h.retainAcks++
		h.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
}

// checkRetained reads the retained message: the last acknowledged value, or
// the one in flight when the broker died.
func (h *crashHarness) checkRetained(cycle int) {
	h.mu.Lock()
	want, alt := h.retained, h.inflight
	h.mu.Unlock()
	if want == "" && alt == "" {
		return
	}
	c, _, err := dialRaw(h.addr, packet.V311, &packet.Connect{ClientID: []byte("rcheck"), CleanStart: true})
	if err != nil {
		h.t.Fatal(err)
	}
	defer c.nc.Close()
	_ = c.send(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: []byte("r/#"), QoS: 1}}})
	for {
		pk, err := c.read(5 * time.Second)
		if err != nil {
			h.t.Fatalf("cycle %d: no retained message (want %q): %v", cycle, want, err)
		}
		if p, ok := pk.(*packet.Publish); ok {
			if got := string(p.Payload); got != want && (alt == "" || got != alt) {
				h.t.Fatalf("cycle %d: retained %q, want %q (or %q in flight)", cycle, got, want, alt)
			}
			h.mu.Lock()
			h.retained, h.inflight = string(p.Payload), ""
			h.mu.Unlock()
			return
		}
	}
}

// missing lists the acknowledged messages not delivered yet.
func (h *crashHarness) missing() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for id := range h.acked {
		if h.got[id] == 0 {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// A damaged store: `roost serve` with storage.strict refuses to start with a
// clear error; without it, it reports the damage and starts with what is
// intact.
func TestServeDamagedStore(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d, err := store.OpenDisk(data, store.DiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SaveSession(&store.Session{ClientID: "kept", Version: 4, Expiry: time.Hour}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2000; i++ {
		msg := &store.Message{Topic: "t", Payload: fmt.Appendf(nil, "m%04d", i), QoS: 1}
		if err := d.PutMessage("kept", &store.Record{Seq: uint64(i), QoS: 1, Msg: msg}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	logs, _ := filepath.Glob(filepath.Join(data, "*.log"))
	if len(logs) != 1 {
		t.Fatalf("logs %v", logs)
	}
	raw, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	raw[bytes.Index(raw, []byte("m0100"))] ^= 0xFF
	if err := os.WriteFile(logs[0], raw, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	conf := func(strict bool) string {
		p := filepath.Join(dir, fmt.Sprintf("strict-%v.yaml", strict))
		c := fmt.Sprintf("listeners:\n  - type: tcp\n    address: %q\nsys_interval: 0s\nstorage:\n  dir: %q\n  strict: %v\n", addr, data, strict)
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	r := roost(t, "serve", "--config", conf(true))
	if r.code == 0 || !strings.Contains(r.stderr, "is damaged") || !strings.Contains(r.stderr, "storage.strict") {
		t.Fatalf("strict: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	h := &crashHarness{t: t, addr: addr, cfg: conf(false)}
	b := h.start()
	defer b.kill()
	c, ack, err := dialRaw(addr, packet.V311, &packet.Connect{ClientID: []byte("kept")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.nc.Close()
	if !ack.SessionPresent {
		t.Fatal("the intact session was not kept")
	}
	for i := 1; i <= 99; i++ {
		pk, err := c.read(5 * time.Second)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		p := pk.(*packet.Publish)
		if want := fmt.Sprintf("m%04d", i); string(p.Payload) != want {
			t.Fatalf("got %q, want %q", p.Payload, want)
		}
		_ = c.send(&packet.Puback{Ack: packet.Ack{PacketID: p.PacketID}})
	}
	if out := b.stderr.String(); !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "cut there") {
		t.Fatalf("damage not reported:\n%s", out)
	}
}
