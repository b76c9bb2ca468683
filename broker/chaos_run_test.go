package broker_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/roostmq/roost/internal/faultconn"
	"github.com/roostmq/roost/listener"
	"github.com/roostmq/roost/packet"
)

// The chaos clients: each runs random actions, valid and invalid, on fresh
// connections until the storm ends. They check nothing about the broker's
// answers (the well-behaved clients and the invariants do); each action is
// bounded by its connection's deadline, so the storm stops by itself.

// chaosActions names the actions, in the order of chaosRun.act.
var chaosActions = []string{"session", "partial", "slow", "oversize", "bad-utf8", "qos2-cut", "garbage", "sub-storm", "malformed", "idle"}

// chaosRun is one storm.
type chaosRun struct {
	b        *chaosBroker
	seed     uint64
	n        int
	storm    time.Duration
	deadline time.Time
	wg       sync.WaitGroup
	counts   []atomic.Int64 // per action
	dialErrs atomic.Int64
}

func newChaosRun(b *chaosBroker, seed uint64, n int, storm time.Duration) *chaosRun {
	return &chaosRun{b: b, seed: seed, n: n, storm: storm, counts: make([]atomic.Int64, len(chaosActions))}
}

func (r *chaosRun) start() {
	r.deadline = time.Now().Add(r.storm)
	for i := range r.n {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			rng := rand.New(rand.NewPCG(r.seed, uint64(i)))
			for time.Now().Before(r.deadline) {
				a := rng.IntN(len(chaosActions))
				r.counts[a].Add(1)
				r.act(a, rng, i)
				chaosPause(rng, time.Second) // think time: 200 clients, not 200 busy loops
			}
		}()
	}
}

// wait waits for every chaos client to stop, failing the test after d.
func (r *chaosRun) wait(t *testing.T, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("chaos clients still running %v after the storm began", d)
	}
}

func (r *chaosRun) summary() string {
	var parts []string
	for i, name := range chaosActions {
		parts = append(parts, fmt.Sprintf("%s %d", name, r.counts[i].Load()))
	}
	return strings.Join(parts, ", ") + fmt.Sprintf("; %d dials failed", r.dialErrs.Load())
}

func (r *chaosRun) act(a int, rng *rand.Rand, i int) {
	switch chaosActions[a] {
	case "session":
		r.session(rng)
	case "partial":
		r.partial(rng)
	case "slow":
		r.slow(rng)
	case "oversize":
		r.oversize(rng)
	case "bad-utf8":
		r.badUTF8(rng)
	case "qos2-cut":
		r.qos2Cut(rng, i)
	case "garbage":
		r.garbage(rng)
	case "sub-storm":
		r.subStorm(rng)
	case "malformed":
		r.malformed(rng)
	case "idle":
		r.idle(rng)
	}
}

// cconn is a chaos client's connection.
type cconn struct {
	nc      net.Conn
	v       packet.Version
	r       *packet.Reader
	wmu     sync.Mutex
	pending []packet.Packet // read by await while looking for another type
	drained chan struct{}   // closed when the drainer ends; nil: none
}

// dial opens TCP or WebSocket, sometimes through faultconn splitting every
// write into a few bytes, with a deadline bounding the whole action.
func (r *chaosRun) dial(rng *rand.Rand) *cconn {
	var nc net.Conn
	if rng.IntN(3) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		ws, resp, err := websocket.Dial(ctx, "ws://"+r.b.ws+listener.DefaultWSPath, &websocket.DialOptions{Subprotocols: []string{"mqtt"}})
		cancel()
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		if err != nil {
			r.dialErrs.Add(1)
			return nil
		}
		ws.SetReadLimit(-1)
		nc = websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	} else {
		var err error
		nc, err = net.DialTimeout("tcp", r.b.tcp, 3*time.Second)
		if err != nil {
			r.dialErrs.Add(1)
			return nil
		}
	}
	if rng.IntN(4) == 0 {
		nc = faultconn.Wrap(nc, faultconn.Plan{Chunks: []int{1 + rng.IntN(7)}},
			faultconn.Plan{Chunks: []int{1 + rng.IntN(7)}, Gap: time.Duration(rng.IntN(2)) * time.Millisecond})
	}
	_ = nc.SetDeadline(time.Now().Add(3 * time.Second))
	v := packet.V5
	if rng.IntN(2) == 0 {
		v = packet.V311
	}
	return &cconn{nc: nc, v: v, r: packet.NewReader(nc, 512, 0)}
}

func (c *cconn) raw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.nc.Write(b)
	return err
}

func (c *cconn) send(pk packet.Packet) error { return c.raw(pk.Append(nil, c.v)) }

func (c *cconn) next() (packet.Packet, error) {
	first, body, err := c.r.Read()
	if err != nil {
		return nil, err
	}
	return packet.Decode(first, body, c.v)
}

// await returns the next packet of type t, keeping others for later.
func (c *cconn) await(t packet.Type) (packet.Packet, error) {
	for i, pk := range c.pending {
		if pk.Type() == t {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			return pk, nil
		}
	}
	for {
		pk, err := c.next()
		if err != nil {
			return nil, err
		}
		if pk.Type() == t {
			return pk, nil
		}
		if len(c.pending) < 64 {
			if pk, err = packet.Clone(pk, c.v); err == nil {
				c.pending = append(c.pending, pk)
			}
		}
	}
}

// untilClosed reads until the broker closes the connection (or the deadline).
func (c *cconn) untilClosed() {
	for {
		if _, _, err := c.r.Read(); err != nil {
			return
		}
	}
}

// drain reads and acknowledges in the background (ack false: reads but
// acknowledges nothing), until the connection ends.
func (c *cconn) drain(ack bool) {
	c.drained = make(chan struct{})
	go func() {
		defer close(c.drained)
		for {
			first, body, err := c.r.Read()
			if err != nil {
				return
			}
			pk, err := packet.Decode(first, body, c.v)
			if err != nil {
				continue // not ours to judge here
			}
			if !ack {
				continue
			}
			switch p := pk.(type) {
			case *packet.Publish:
				switch p.QoS {
				case 1:
					_ = c.send(&packet.Puback{Ack: packet.Ack{PacketID: p.PacketID}})
				case 2:
					_ = c.send(&packet.Pubrec{Ack: packet.Ack{PacketID: p.PacketID}})
				}
			case *packet.Pubrec:
				_ = c.send(&packet.Pubrel{Ack: packet.Ack{PacketID: p.PacketID}})
			case *packet.Pubrel:
				_ = c.send(&packet.Pubcomp{Ack: packet.Ack{PacketID: p.PacketID}})
			}
		}
	}()
}

// end closes the connection one of the ways a client does: DISCONNECT,
// DISCONNECT with will (5.0), a plain close, or a reset.
func (c *cconn) end(rng *rand.Rand) {
	switch rng.IntN(4) {
	case 0:
		_ = c.send(&packet.Disconnect{})
	case 1:
		if c.v == packet.V5 {
			_ = c.send(&packet.Disconnect{ReasonCode: packet.DisconnectWithWill})
		}
	case 2:
		c.reset()
	}
	c.close()
}

// reset closes with an RST where the transport allows.
func (c *cconn) reset() {
	nc := c.nc
	if fc, ok := nc.(*faultconn.Conn); ok {
		nc = fc.Conn
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.close()
}

func (c *cconn) close() {
	_ = c.nc.Close()
	if c.drained != nil {
		<-c.drained
	}
}

// Bounded names, so that what stays by design (retained messages, the
// match cache) stays bounded too.
func chaosTopic(rng *rand.Rand) string {
	return "chaos/" + strconv.Itoa(rng.IntN(8)) + "/" + strconv.Itoa(rng.IntN(8))
}

var chaosFilters = []string{"chaos/#", "chaos/+/1", "chaos/2/+", "#", "+/+/+", "good/#", "good/+", "chaos/ret/#",
	"$share/g1/chaos/#", "$share/g2/chaos/+/3", "$SYS/#", "chaos/q2/+"}

func chaosFilter(rng *rand.Rand) string {
	if rng.IntN(2) == 0 {
		return chaosTopic(rng)
	}
	return chaosFilters[rng.IntN(len(chaosFilters))]
}

// chaosID picks a client id from a small pool, so that clients take over
// each other's sessions.
func chaosID(rng *rand.Rand) string { return "chaos-" + strconv.Itoa(rng.IntN(60)) }

// connect dials and completes CONNECT with random options: version, clean
// or persistent session (which the broker caps at two seconds), a will.
func (r *chaosRun) connect(rng *rand.Rand, id string) *cconn {
	c := r.dial(rng)
	if c == nil {
		return nil
	}
	cp := &packet.Connect{Version: c.v, ClientID: []byte(id), CleanStart: rng.IntN(2) == 0, KeepAlive: uint16(rng.IntN(3) * 5)}
	if c.v == packet.V5 && rng.IntN(2) == 0 {
		cp.Properties.SessionExpiry = uint32(rng.IntN(5))
		cp.Properties.Set(packet.PropSessionExpiry)
	}
	if rng.IntN(3) == 0 {
		cp.WillFlag, cp.WillTopic, cp.WillPayload, cp.WillQoS = true, []byte("chaos/will/"+id), []byte("bye"), byte(rng.IntN(3))
	}
	if c.send(cp) != nil {
		c.close()
		return nil
	}
	pk, err := c.await(packet.CONNACK)
	if err != nil || pk.(*packet.Connack).ReasonCode != 0 {
		c.close()
		return nil
	}
	return c
}

func (c *cconn) subscribe(rng *rand.Rand, filters ...string) error {
	s := &packet.Subscribe{PacketID: uint16(1 + rng.IntN(1000))}
	for _, f := range filters {
		s.Subscriptions = append(s.Subscriptions, packet.Subscription{Filter: []byte(f), QoS: byte(rng.IntN(3))})
	}
	return c.send(s)
}

// chaosPublish returns a random valid PUBLISH on a chaos topic, sometimes
// retained (on a bounded set of topics, with a fixed size, or clearing).
func chaosPublish(rng *rand.Rand) *packet.Publish {
	p := &packet.Publish{QoS: byte(rng.IntN(3)), Topic: []byte(chaosTopic(rng)), Payload: make([]byte, rng.IntN(2048))}
	if p.QoS > 0 {
		p.PacketID = uint16(1 + rng.IntN(65535))
	}
	if rng.IntN(10) == 0 {
		p.Retain, p.Topic = true, []byte("chaos/ret/"+strconv.Itoa(rng.IntN(8)))
		p.Payload = p.Payload[:0]
		if rng.IntN(3) != 0 {
			p.Payload = make([]byte, 16)
		}
	}
	return p
}

// session is an ordinary client: subscribe, publish, maybe acknowledge,
// then leave one way or another.
func (r *chaosRun) session(rng *rand.Rand) {
	c := r.connect(rng, chaosID(rng))
	if c == nil {
		return
	}
	c.drain(rng.IntN(4) != 0)
	var fs []string
	for range 1 + rng.IntN(5) {
		fs = append(fs, chaosFilter(rng))
	}
	_ = c.subscribe(rng, fs...)
	for range rng.IntN(20) {
		if c.send(chaosPublish(rng)) != nil {
			break
		}
	}
	chaosPause(rng, 500*time.Millisecond)
	c.end(rng)
}

// chaosPause is a chaos client dawdling: it paces the client, it does not
// wait for anything.
func chaosPause(rng *rand.Rand, upTo time.Duration) {
	time.Sleep(time.Duration(rng.Int64N(int64(upTo))))
}

// partial sends part of a packet, waits, and goes.
func (r *chaosRun) partial(rng *rand.Rand) {
	c := r.connect(rng, chaosID(rng))
	if c == nil {
		return
	}
	var pk packet.Packet = chaosPublish(rng)
	switch rng.IntN(3) {
	case 1:
		pk = &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: []byte(chaosFilter(rng))}}}
	case 2:
		pk = &packet.Pubrel{Ack: packet.Ack{PacketID: 1}}
	}
	b := pk.Append(nil, c.v)
	_ = c.raw(b[:rng.IntN(len(b))])
	chaosPause(rng, 300*time.Millisecond)
	if rng.IntN(2) == 0 {
		c.reset()
		return
	}
	c.close()
}

// slow subscribes to busy filters and stops reading.
func (r *chaosRun) slow(rng *rand.Rand) {
	c := r.connect(rng, chaosID(rng))
	if c == nil {
		return
	}
	if tc, ok := c.nc.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	_ = c.subscribe(rng, []string{"good/#", "chaos/#", "#"}[rng.IntN(3)])
	chaosPause(rng, 2500*time.Millisecond)
	c.end(rng)
}

// oversize claims a packet beyond the broker's limit and sends some of it.
func (r *chaosRun) oversize(rng *rand.Rand) {
	c := r.connect(rng, chaosID(rng))
	if c == nil {
		return
	}
	claim := uint32(100<<10 + rng.IntN(1<<20))
	b := packet.AppendVarint([]byte{0x30}, claim)
	b = append(b, make([]byte, rng.IntN(4096))...)
	_ = c.raw(b)
	c.untilClosed()
	c.close()
}

// badUTF8 sends a topic, filter or client id that is not valid UTF-8, or
// holds U+0000.
func (r *chaosRun) badUTF8(rng *rand.Rand) {
	bad := [][]byte{{0xC3, 0x28}, {'a', 0xFF, 'b'}, {'a', 0, 'b'}, {0xED, 0xA0, 0x80}}[rng.IntN(4)]
	if rng.IntN(4) == 0 {
		c := r.dial(rng)
		if c == nil {
			return
		}
		_ = c.send(&packet.Connect{Version: c.v, ClientID: bad, CleanStart: true})
		c.untilClosed()
		c.close()
		return
	}
	c := r.connect(rng, chaosID(rng))
	if c == nil {
		return
	}
	if rng.IntN(2) == 0 {
		_ = c.send(&packet.Publish{Topic: append([]byte("chaos/"), bad...), Payload: []byte("x")})
	} else {
		_ = c.send(&packet.Subscribe{PacketID: 3, Subscriptions: []packet.Subscription{{Filter: append([]byte("chaos/"), bad...)}}})
	}
	c.untilClosed()
	c.close()
}

// qos2Cut runs a QoS 2 flow, as publisher and as subscriber of its own
// message, and cuts the connection after a random step.
func (r *chaosRun) qos2Cut(rng *rand.Rand, i int) {
	c := r.connect(rng, chaosID(rng))
	if c == nil {
		return
	}
	defer c.close()
	topic := "chaos/q2/" + strconv.Itoa(i%8)
	cut := rng.IntN(8)
	id := uint16(1 + rng.IntN(65535))
	var in uint16
	steps := []func() error{
		func() error {
			if err := c.send(&packet.Subscribe{PacketID: 9, Subscriptions: []packet.Subscription{{Filter: []byte(topic), QoS: 2}}}); err != nil {
				return err
			}
			_, err := c.await(packet.SUBACK)
			return err
		},
		func() error {
			return c.send(&packet.Publish{QoS: 2, PacketID: id, Topic: []byte(topic), Payload: []byte("q2")})
		},
		func() error { _, err := c.await(packet.PUBREC); return err },
		func() error { return c.send(&packet.Pubrel{Ack: packet.Ack{PacketID: id}}) },
		func() error {
			pk, err := c.await(packet.PUBLISH)
			if err == nil {
				in = pk.(*packet.Publish).PacketID
			}
			return err
		},
		func() error { return c.send(&packet.Pubrec{Ack: packet.Ack{PacketID: in}}) },
		func() error { _, err := c.await(packet.PUBREL); return err },
		func() error { return c.send(&packet.Pubcomp{Ack: packet.Ack{PacketID: in}}) },
	}
	for k, step := range steps {
		if k > cut || step() != nil {
			break
		}
	}
	if rng.IntN(2) == 0 {
		c.reset()
	}
}

// garbage sends what is not MQTT, or not a CONNECT first, or a second
// CONNECT.
func (r *chaosRun) garbage(rng *rand.Rand) {
	c := r.dial(rng)
	if c == nil {
		return
	}
	defer c.close()
	switch rng.IntN(4) {
	case 0:
		b := make([]byte, 1+rng.IntN(64))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		_ = c.raw(b)
	case 1:
		_ = c.send(&packet.Pingreq{})
	case 2:
		b := (&packet.Connect{Version: c.v, ClientID: []byte(chaosID(rng))}).Append(nil, c.v)
		b[5] = 'X' // protocol name "MXTT"
		_ = c.raw(b)
	case 3:
		cp := &packet.Connect{Version: c.v, ClientID: []byte(chaosID(rng)), CleanStart: true}
		_ = c.raw(append(cp.Append(nil, c.v), cp.Append(nil, c.v)...))
	}
	c.untilClosed()
}

// subStorm subscribes and unsubscribes many filters at once, repeatedly.
func (r *chaosRun) subStorm(rng *rand.Rand) {
	c := r.connect(rng, chaosID(rng))
	if c == nil {
		return
	}
	c.drain(true)
	for range 1 + rng.IntN(5) {
		var fs []string
		for range 20 + rng.IntN(80) {
			fs = append(fs, chaosFilter(rng))
		}
		if c.subscribe(rng, fs...) != nil {
			break
		}
		u := &packet.Unsubscribe{PacketID: uint16(1 + rng.IntN(1000))}
		for _, f := range fs[:len(fs)/2] {
			u.Filters = append(u.Filters, []byte(f))
		}
		if c.send(u) != nil {
			break
		}
	}
	c.end(rng)
}

// malformed sends a packet the protocol forbids after a valid CONNECT.
func (r *chaosRun) malformed(rng *rand.Rand) {
	c := r.connect(rng, chaosID(rng))
	if c == nil {
		return
	}
	var b []byte
	switch rng.IntN(7) {
	case 0: // QoS 3
		b = (&packet.Publish{Topic: []byte("chaos/x"), Payload: []byte("x")}).Append(nil, c.v)
		b[0] |= 0x06
	case 1: // SUBSCRIBE with reserved flags 0
		b = (&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: []byte("a")}}}).Append(nil, c.v)
		b[0] &^= 0x02
	case 2: // packet id 0
		b = (&packet.Publish{QoS: 1, Topic: []byte("chaos/x")}).Append(nil, c.v)
	case 3: // a remaining length of five bytes
		b = []byte{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}
	case 4: // a wildcard in a topic name
		b = (&packet.Publish{Topic: []byte("chaos/+/x"), Payload: []byte("x")}).Append(nil, c.v)
	case 5: // an empty filter
		b = (&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: nil}}}).Append(nil, c.v)
	case 6: // a server-only packet
		b = (&packet.Suback{PacketID: 1, ReasonCodes: []packet.ReasonCode{0}}).Append(nil, c.v)
	}
	_ = c.raw(b)
	c.untilClosed()
	c.close()
}

// idle connects, stays quiet long enough for the connection to hibernate,
// then publishes and goes.
func (r *chaosRun) idle(rng *rand.Rand) {
	c := r.connect(rng, chaosID(rng))
	if c == nil {
		return
	}
	_ = c.nc.SetDeadline(time.Now().Add(6 * time.Second))
	c.drain(true)
	if rng.IntN(2) == 0 {
		_ = c.subscribe(rng, chaosFilter(rng))
	}
	chaosPause(rng, 3*time.Second)
	_ = c.send(chaosPublish(rng))
	c.end(rng)
}

// retainedAll publishes the retained messages and touches the topics the
// storm uses, so that the baseline holds what stays by design.
func (r *chaosRun) retainedAll() {
	c := r.controlConn("chaos-warmup")
	if c == nil {
		return
	}
	defer c.close()
	for k := range 8 {
		_ = c.send(&packet.Publish{Retain: true, Topic: []byte("chaos/ret/" + strconv.Itoa(k)), Payload: make([]byte, 16)})
		for j := range 8 {
			_ = c.send(&packet.Publish{Topic: []byte("chaos/" + strconv.Itoa(k) + "/" + strconv.Itoa(j))})
		}
	}
	_ = c.send(&packet.Pingreq{})
	_, _ = c.await(packet.PINGRESP)
	_ = c.send(&packet.Disconnect{})
}

// flushMatchCache makes the broker's match cache drop what it holds: a
// subscription change starts a new generation, and a publish on a name of
// each shard then empties that shard. A stale entry pins the sessions it
// names, ended ones included, with whatever they still reference, until its
// shard is next written; measured without this, the heap after a storm
// depends on which shards the last publishes happened to touch.
func (r *chaosRun) flushMatchCache() {
	c := r.controlConn("chaos-flush")
	if c == nil {
		return
	}
	defer c.close()
	// Results with no subscriber are not cached: these names match this
	// client, so each publish stores an entry and empties its shard.
	_ = c.send(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: []byte("flush/#")}}})
	_, _ = c.await(packet.SUBACK)
	for k := range 256 {
		_ = c.send(&packet.Publish{Topic: []byte("flush/" + strconv.Itoa(k))})
	}
	_ = c.send(&packet.Pingreq{})
	_, _ = c.await(packet.PINGRESP)
	_ = c.send(&packet.Disconnect{})
}

// controlConn connects a 5.0 client with a clean start for the run's own
// set-up steps, with 10 s for all it does; nil when it cannot connect.
func (r *chaosRun) controlConn(id string) *cconn {
	nc, err := net.DialTimeout("tcp", r.b.tcp, 3*time.Second)
	if err != nil {
		return nil
	}
	c := &cconn{nc: nc, v: packet.V5, r: packet.NewReader(nc, 512, 0)}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	_ = c.send(&packet.Connect{Version: c.v, ClientID: []byte(id), CleanStart: true})
	if _, err := c.await(packet.CONNACK); err != nil {
		c.close()
		return nil
	}
	return c
}
