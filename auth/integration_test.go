package auth

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/packet"
)

// v5 is a paho.golang 5.0 client with its received messages and the
// DISCONNECT it got, if any.
type v5 struct {
	cl   *paho.Client
	ack  *paho.Connack
	err  error
	msgs chan *paho.Publish
	disc chan *paho.Disconnect
}

type v5opts struct {
	id, user, pass string
	clean          bool
}

func dial5(t *testing.T, addr string, o v5opts) *v5 {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &v5{msgs: make(chan *paho.Publish, 100), disc: make(chan *paho.Disconnect, 1)}
	c.cl = paho.NewClient(paho.ClientConfig{Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			c.msgs <- pr.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) { c.disc <- d },
		OnClientError:      func(error) {},
	})
	cp := &paho.Connect{ClientID: o.id, CleanStart: !o.clean, KeepAlive: 30}
	if o.clean {
		cp.CleanStart = false
		cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: new(uint32)}
		*cp.Properties.SessionExpiryInterval = 3600
	}
	if o.user != "" {
		cp.Username, cp.UsernameFlag = o.user, true
	}
	if o.pass != "" {
		cp.Password, cp.PasswordFlag = []byte(o.pass), true
	}
	c.ack, c.err = c.cl.Connect(testCtx(t), cp)
	if c.err == nil {
		t.Cleanup(func() { _ = c.cl.Disconnect(&paho.Disconnect{}) })
	}
	return c
}

// code is the CONNACK reason code, 0 when accepted.
func (c *v5) code() byte {
	if c.ack == nil {
		return 0xFF
	}
	return c.ack.ReasonCode
}

func (c *v5) must(t *testing.T) *v5 {
	t.Helper()
	if c.err != nil {
		t.Fatalf("connect: %v (CONNACK %#x)", c.err, c.code())
	}
	return c
}

func (c *v5) sub(t *testing.T, filters ...string) []byte {
	t.Helper()
	s := &paho.Subscribe{}
	for _, f := range filters {
		s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: 1})
	}
	ack, err := c.cl.Subscribe(testCtx(t), s)
	if err != nil && ack == nil {
		t.Fatalf("subscribe: %v", err)
	}
	return ack.Reasons
}

func (c *v5) pub(t *testing.T, topic, payload string, retain bool) byte {
	t.Helper()
	r, err := c.cl.Publish(testCtx(t), &paho.Publish{Topic: topic, Payload: []byte(payload), QoS: 1, Retain: retain})
	if r == nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
	return r.ReasonCode
}

// expect reads the next messages' topics, then checks none follows after a
// marker message published by from on marker.
func (c *v5) expect(t *testing.T, from *v5, marker string, want ...string) {
	t.Helper()
	from.pub(t, marker, "end", false)
	var got []string
	for {
		select {
		case m := <-c.msgs:
			if m.Topic == marker {
				if len(got) != len(want) {
					t.Errorf("got %q, want %q", got, want)
					return
				}
				for i := range got {
					if got[i] != want[i] {
						t.Errorf("got %q, want %q", got, want)
					}
				}
				return
			}
			got = append(got, m.Topic)
		case <-time.After(5 * time.Second):
			t.Fatalf("marker %s not received; got %q", marker, got)
		}
	}
}

const integrationACL = `
user alice
topic readwrite #
topic read $SYS/#
user bob
topic read sensors/#
topic deny sensors/secret/#
topic readwrite end/bob
pattern readwrite clients/%c/#
`

func aclBroker(t *testing.T, mut func(*broker.Options)) (*broker.Server, string) {
	t.Helper()
	return aclBrokerMode(t, "", mut)
}

// aclBrokerMode is aclBroker with auth.wildcard_subscriptions set to mode.
func aclBrokerMode(t *testing.T, mode string, mut func(*broker.Options)) (*broker.Server, string) {
	t.Helper()
	dir := t.TempDir()
	pw := dir + "/passwd"
	for _, u := range []string{"alice", "bob", "carol"} {
		if err := SetPassword(pw, u, u+"-pw"); err != nil {
			t.Fatal(err)
		}
	}
	acl := dir + "/acl"
	writeFile(t, acl, integrationACL)
	b, err := Build(&Config{PasswordFile: pw, ACLFile: acl, WildcardSubscriptions: mode}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := broker.DefaultOptions()
	opts.Authenticator, opts.Authorizer = b.Chain, b.Chain
	if mut != nil {
		mut(&opts)
	}
	return startBroker(t, opts)
}

// A wildcard subscription never receives a denied topic: live, retained,
// or through a $share group; publishing without permission gets 0x87.
// (wildcard_subscriptions: refuse; TestACLWildcardFilter covers filter.)
func TestACLDeliveryWithPaho(t *testing.T) {
	_, addr := aclBrokerMode(t, "refuse", nil)
	alice := dial5(t, addr, v5opts{id: "alice-1", user: "alice", pass: "alice-pw"}).must(t)
	alice.pub(t, "sensors/secret/key", "retained-secret", true)
	alice.pub(t, "sensors/temp", "retained-temp", true)

	bob := dial5(t, addr, v5opts{id: "bob-1", user: "bob", pass: "bob-pw"}).must(t)
	codes := bob.sub(t, "sensors/#", "$share/g/sensors/#", "#", "sensors/secret/#", "end/bob", "$SYS/#")
	want := []byte{1, 1, 0x87, 0x87, 1, 0x87}
	if string(codes) != string(want) {
		t.Fatalf("SUBACK %x, want %x", codes, want)
	}
	// Retained: only the readable one.
	bob.expect(t, alice, "end/bob", "sensors/temp")
	// Live: sensors/secret/key is neither delivered through sensors/# nor
	// through the shared group.
	alice.pub(t, "sensors/secret/key", "s", false)
	alice.pub(t, "sensors/hum", "h", false)
	bob.expect(t, alice, "end/bob", "sensors/hum", "sensors/hum")
	if rc := bob.pub(t, "sensors/hum", "forged", false); rc != byte(packet.NotAuthorized) {
		t.Errorf("publish without permission: %#x", rc)
	}
	// %c: a client's own tree, and no way out of it for an id with a /.
	dev := dial5(t, addr, v5opts{id: "dev", user: "bob", pass: "bob-pw"}).must(t)
	if rc := dev.pub(t, "clients/dev/x", "ok", false); rc != 0 && rc != byte(packet.NoMatchingSubscribers) {
		t.Errorf("own tree: %#x", rc)
	}
	sneaky := dial5(t, addr, v5opts{id: "dev/x", user: "bob", pass: "bob-pw"}).must(t)
	if rc := sneaky.pub(t, "clients/dev/x/y", "no", false); rc != byte(packet.NotAuthorized) {
		t.Errorf("id with a slash: %#x", rc)
	}
}

// 3.1.1: a refused publish is acknowledged and dropped; a refused
// subscription gets 0x80.
func TestACLv311Silent(t *testing.T) {
	_, addr := aclBrokerMode(t, "refuse", nil)
	alice := dial5(t, addr, v5opts{id: "alice-1", user: "alice", pass: "alice-pw"}).must(t)
	if err := alice.sub(t, "sensors/#"); err[0] != 1 {
		t.Fatal("alice subscribe")
	}
	o := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("bob-311").SetUsername("bob").SetPassword("bob-pw").
		SetProtocolVersion(4).SetAutoReconnect(false)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("3.1.1 connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	tok := c.Publish("sensors/forged", 1, false, "x")
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("3.1.1 publish: %v", tok.Error())
	}
	st := c.Subscribe("#", 1, nil)
	if !st.WaitTimeout(5 * time.Second) {
		t.Fatal("suback")
	}
	if r := st.(*mqtt.SubscribeToken).Result()["#"]; r != 0x80 {
		t.Errorf("3.1.1 refused subscription: %#x", r)
	}
	alice.expect(t, alice, "sensors/end")
	// Wrong password: return code 4.
	o2 := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("bob-bad").SetUsername("bob").SetPassword("nope").
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false)
	tk := mqtt.NewClient(o2).Connect()
	tk.WaitTimeout(5 * time.Second)
	if !errors.Is(tk.Error(), packets.ErrorRefusedBadUsernameOrPassword) {
		t.Errorf("3.1.1 wrong password: %v", tk.Error())
	}
}

func TestTakeoverSameUser(t *testing.T) {
	_, addr := aclBroker(t, func(o *broker.Options) { o.Sessions.TakeoverSameUser = true })
	dial5(t, addr, v5opts{id: "shared-id", user: "alice", pass: "alice-pw", clean: true}).must(t)
	if c := dial5(t, addr, v5opts{id: "shared-id", user: "bob", pass: "bob-pw"}); c.code() != byte(packet.NotAuthorized) {
		t.Errorf("another user's session: %v %#x", c.err, c.code())
	}
	c := dial5(t, addr, v5opts{id: "shared-id", user: "alice", pass: "alice-pw", clean: true}).must(t)
	if !c.ack.SessionPresent {
		t.Error("the same user resumes the session")
	}
}

func TestBans(t *testing.T) {
	srv, addr := aclBroker(t, func(o *broker.Options) {
		o.Bans = []broker.Ban{{Kind: broker.BanUsername, Value: "carol"}}
	})
	if c := dial5(t, addr, v5opts{id: "c1", user: "carol", pass: "carol-pw"}); c.code() != byte(packet.Banned) {
		t.Errorf("banned username: %#x", c.code())
	}
	bob := dial5(t, addr, v5opts{id: "b1", user: "bob", pass: "bob-pw"}).must(t)
	if err := srv.Ban(broker.Ban{Kind: broker.BanIP, Value: "127.0.0.0/8", Until: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-bob.disc:
		if d.ReasonCode != byte(packet.AdministrativeAction) {
			t.Errorf("kicked with %#x", d.ReasonCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a connected client matching a new ban stays")
	}
	if c := dial5(t, addr, v5opts{id: "a1", user: "alice", pass: "alice-pw"}); c.code() != byte(packet.Banned) {
		t.Errorf("banned IP: %#x", c.code())
	}
	if len(srv.Bans()) != 2 || !srv.Unban(broker.BanIP, "127.0.0.1/8") {
		t.Fatalf("bans: %+v", srv.Bans())
	}
	dial5(t, addr, v5opts{id: "a1", user: "alice", pass: "alice-pw"}).must(t)
	if err := srv.Ban(broker.Ban{Kind: broker.BanClientID, Value: "x", Until: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	dial5(t, addr, v5opts{id: "x", user: "alice", pass: "alice-pw"}).must(t) // expired
}

func TestConnectionLimits(t *testing.T) {
	_, addr := aclBroker(t, func(o *broker.Options) { o.Limits.MaxConnectionsPerListener = 2 })
	dial5(t, addr, v5opts{id: "l1", user: "bob", pass: "bob-pw"}).must(t)
	l2 := dial5(t, addr, v5opts{id: "l2", user: "bob", pass: "bob-pw"}).must(t)
	if c := dial5(t, addr, v5opts{id: "l3", user: "bob", pass: "bob-pw"}); c.code() != byte(packet.ServerBusy) {
		t.Errorf("third on the listener: %#x", c.code())
	}
	_ = l2.cl.Disconnect(&paho.Disconnect{})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := dial5(t, addr, v5opts{id: "l3", user: "bob", pass: "bob-pw"})
		if c.err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a slot freed by a disconnect is not reused: %#x", c.code())
		}
		time.Sleep(10 * time.Millisecond)
	}

	opts := broker.DefaultOptions()
	opts.Limits.ConnectRatePerIP = 2
	_, addr = startBroker(t, opts)
	refused := 0
	for i := range 6 {
		c := dial5(t, addr, v5opts{id: "r" + string(rune('a'+i))})
		if c.code() == byte(packet.ConnectionRateExceeded) {
			refused++
		}
	}
	if refused == 0 {
		t.Error("connection rate per IP not applied")
	}
}

func TestPublishRateLimit(t *testing.T) {
	for _, code := range []packet.ReasonCode{0, packet.QuotaExceeded} {
		_, addr := aclBroker(t, func(o *broker.Options) {
			o.Limits.PublishRate = 5
			o.Limits.PublishRateReason = code
		})
		c := dial5(t, addr, v5opts{id: "fast", user: "alice", pass: "alice-pw"}).must(t)
		// QoS 1, one at a time: nothing is in flight when the broker
		// disconnects, so its DISCONNECT is not lost to a TCP reset.
		// (The publish that crosses the limit gets no PUBACK: publish in
		// the background and wait for the DISCONNECT.)
		stop := make(chan struct{})
		defer close(stop)
		ctx := testCtx(t)
		go func() {
			for range 20 {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.cl.Publish(ctx, &paho.Publish{Topic: "x", QoS: 1, Payload: []byte("x")}); err != nil {
					return
				}
			}
		}()
		want := byte(packet.MessageRateTooHigh)
		if code != 0 {
			want = byte(code)
		}
		select {
		case d := <-c.disc:
			if d.ReasonCode != want {
				t.Errorf("DISCONNECT %#x, want %#x", d.ReasonCode, want)
			}
		case <-time.After(5 * time.Second):
			t.Error("no DISCONNECT past the publish rate")
		}
	}
}

// A shared group passes over a member that may not receive a topic: the
// message goes to another member instead of being lost.
func TestACLSharedGroupPassesOver(t *testing.T) {
	_, addr := aclBroker(t, nil)
	alice := dial5(t, addr, v5opts{id: "alice-s", user: "alice", pass: "alice-pw"}).must(t)
	bob := dial5(t, addr, v5opts{id: "bob-s", user: "bob", pass: "bob-pw"}).must(t)
	if c := alice.sub(t, "$share/g/sensors/#", "end/alice"); c[0] != 1 {
		t.Fatal("alice")
	}
	if c := bob.sub(t, "$share/g/sensors/#"); c[0] != 1 {
		t.Fatal("bob")
	}
	pubber := dial5(t, addr, v5opts{id: "alice-p", user: "alice", pass: "alice-pw"}).must(t)
	for range 6 {
		pubber.pub(t, "sensors/secret/k", "s", false)
	}
	alice.expect(t, pubber, "end/alice", "sensors/secret/k", "sensors/secret/k", "sensors/secret/k",
		"sensors/secret/k", "sensors/secret/k", "sensors/secret/k")
	select {
	case m := <-bob.msgs:
		t.Errorf("bob got %s", m.Topic)
	default:
	}
}

// The will is checked at CONNECT and again when it is published: rules
// that changed in between (a reloaded ACL file) apply.
func TestWillCheckedAtPublication(t *testing.T) {
	var denyWill atomic.Bool
	denied := make(chan struct{}, 1) // the check at publication refused the will
	ch := &Chain{Anonymous: true, DefaultAllow: true, Authorizers: []ACLChecker{ACLFunc(func(_, _ string, a broker.Access, tp string) Result {
		if tp == "wills/w1" && a == broker.AccessPublish && denyWill.Load() {
			denied <- struct{}{}
			return Deny
		}
		return NoOpinion
	})}}
	opts := broker.DefaultOptions()
	opts.Authenticator, opts.Authorizer = ch, ch
	_, addr := startBroker(t, opts)
	watcher := dial5(t, addr, v5opts{id: "watcher"}).must(t)
	watcher.sub(t, "wills/#", "end")
	for _, deny := range []bool{false, true} {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		cl := paho.NewClient(paho.ClientConfig{Conn: nc, OnClientError: func(error) {}})
		if _, err := cl.Connect(testCtx(t), &paho.Connect{ClientID: "w1", CleanStart: true, KeepAlive: 30,
			WillMessage: &paho.WillMessage{Topic: "wills/w1", Payload: []byte("gone"), QoS: 1}}); err != nil {
			t.Fatal(err)
		}
		denyWill.Store(deny)
		_ = nc.Close() // no DISCONNECT: the will fires
		if deny {
			select {
			case <-denied: // publishWill returns right after this answer
			case <-time.After(5 * time.Second):
				t.Fatal("the will was not checked at publication")
			}
			watcher.expect(t, watcher, "end")
		} else {
			select {
			case m := <-watcher.msgs:
				if m.Topic != "wills/w1" {
					t.Fatalf("got %s", m.Topic)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("allowed will not published")
			}
		}
	}
}

// wildcard_subscriptions: filter (the default, as Mosquitto): bob, who may
// read sensors/# but not sensors/secret/#, subscribes # and $share/g/# and
// gets both, and then every readable message but never a secret one:
// retained at subscribe, live, or through the shared group. A filter with
// nothing readable in it is still refused.
func TestACLWildcardFilter(t *testing.T) {
	_, addr := aclBroker(t, nil)
	alice := dial5(t, addr, v5opts{id: "alice-1", user: "alice", pass: "alice-pw"}).must(t)
	alice.pub(t, "sensors/secret/key", "retained-secret", true)
	alice.pub(t, "sensors/temp", "retained-temp", true)
	alice.pub(t, "other/x", "retained-other", true)

	bob := dial5(t, addr, v5opts{id: "bob-1", user: "bob", pass: "bob-pw"}).must(t)
	codes := bob.sub(t, "#", "$share/g/#", "+/+", "sensors/secret/#", "other/#", "$SYS/#")
	want := []byte{1, 1, 1, 0x87, 0x87, 0x87}
	if string(codes) != string(want) {
		t.Fatalf("SUBACK %x, want %x", codes, want)
	}
	for i := range 20 {
		alice.pub(t, fmt.Sprintf("sensors/secret/k%d", i), "s", i%2 == 0)
		alice.pub(t, fmt.Sprintf("sensors/h%d", i), "h", false)
		alice.pub(t, "other/y", "o", false)
	}
	alice.pub(t, "end/bob", "end", false)
	// The marker comes once for # and +/+ together (one copy for
	// overlapping subscriptions) and once through $share/g/#.
	seen := map[string]int{}
	for markers := 0; markers < 2; {
		select {
		case m := <-bob.msgs:
			if strings.HasPrefix(m.Topic, "sensors/secret") || strings.HasPrefix(m.Topic, "other/") {
				t.Fatalf("bob received %s (%q)", m.Topic, m.Payload)
			}
			if m.Topic == "end/bob" {
				markers++
			}
			seen[m.Topic]++
		case <-time.After(5 * time.Second):
			t.Fatalf("markers not received; got %v", seen)
		}
	}
	if seen["sensors/temp"] == 0 || seen["sensors/h19"] == 0 {
		t.Fatalf("readable messages missing: %v", seen)
	}
}
