package broker

// Interoperability tests: real third-party MQTT clients against an
// in-process broker. paho.mqtt.golang speaks MQTT 3.1.1, paho.golang speaks
// MQTT 5.0. Every client is disconnected, and its goroutines have ended,
// before its test returns, so the package's goroutine-leak check holds.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// interopTimeout bounds every wait on a third-party client.
const interopTimeout = 5 * time.Second

// ---- paho.mqtt.golang (MQTT 3.1.1) -----------------------------------------

// pahoMsg is a message as a paho.mqtt.golang handler saw it.
type pahoMsg struct {
	topic    string
	payload  string
	qos      byte
	retained bool
	dup      bool
}

// pahoV3 is a connected paho.mqtt.golang client whose messages (from any
// subscription, and those the broker resends before any subscription is
// made) arrive on msgs.
type pahoV3 struct {
	t    testing.TB
	c    mqtt.Client
	msgs chan pahoMsg
	lost chan error // the connection-lost handler's error

	mu sync.Mutex
	nc *killableConn // the socket, for abrupt closes
}

// killableConn is a socket that a test can drop as if the network failed:
// kill closes it without DISCONNECT, and the client sees errKilled rather
// than the "use of closed network connection" that paho.mqtt.golang takes
// for its own orderly close (and so would not report as a lost connection).
type killableConn struct {
	net.Conn
	killed atomic.Bool
}

var errKilled = errors.New("connection killed by the test")

func (k *killableConn) kill() {
	k.killed.Store(true)
	_ = k.Conn.Close()
}

func (k *killableConn) Read(b []byte) (int, error) {
	n, err := k.Conn.Read(b)
	if err != nil && k.killed.Load() {
		err = errKilled
	}
	return n, err
}

func (k *killableConn) Write(b []byte) (int, error) {
	n, err := k.Conn.Write(b)
	if err != nil && k.killed.Load() {
		err = errKilled
	}
	return n, err
}

// pahoV3Connect connects a 3.1.1 client to addr. modify may change the
// options (clean session, will, ...) before connecting. The client is
// disconnected at cleanup unless the test did it.
func pahoV3Connect(t testing.TB, addr, id string, modify func(*mqtt.ClientOptions)) (*pahoV3, bool) {
	t.Helper()
	p := &pahoV3{t: t, msgs: make(chan pahoMsg, 256), lost: make(chan error, 1)}
	o := mqtt.NewClientOptions().
		AddBroker("tcp://" + addr).
		SetClientID(id).
		SetProtocolVersion(4).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(interopTimeout).
		SetWriteTimeout(interopTimeout).
		SetKeepAlive(30 * time.Second).
		SetCleanSession(true).
		SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
			nc, err := net.DialTimeout("tcp", u.Host, interopTimeout)
			if err != nil {
				return nil, err
			}
			kc := &killableConn{Conn: nc}
			p.mu.Lock()
			p.nc = kc
			p.mu.Unlock()
			return kc, nil
		}).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			p.msgs <- pahoMsg{m.Topic(), string(m.Payload()), m.Qos(), m.Retained(), m.Duplicate()}
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			select {
			case p.lost <- err:
			default:
			}
		})
	if modify != nil {
		modify(o)
	}
	p.c = mqtt.NewClient(o)
	tok := p.c.Connect()
	if !tok.WaitTimeout(interopTimeout) {
		t.Fatalf("%s: connect timed out", id)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: connect: %v", id, err)
	}
	t.Cleanup(p.disconnect)
	return p, tok.(*mqtt.ConnectToken).SessionPresent()
}

// disconnect sends DISCONNECT and waits for the client's goroutines to stop;
// a no-op when the client is not connected any more.
func (p *pahoV3) disconnect() {
	if p.c.IsConnectionOpen() {
		p.c.Disconnect(250)
	}
}

func (p *pahoV3) wait(what string, tok mqtt.Token) {
	p.t.Helper()
	if !tok.WaitTimeout(interopTimeout) {
		p.t.Fatalf("%s timed out", what)
	}
	if err := tok.Error(); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// subscribe subscribes with messages going to p.msgs.
func (p *pahoV3) subscribe(filter string, qos byte) {
	p.t.Helper()
	tok := p.c.Subscribe(filter, qos, nil)
	p.wait("subscribe "+filter, tok)
	st := tok.(*mqtt.SubscribeToken)
	if got := st.Result()[filter]; got != qos {
		p.t.Fatalf("subscribe %s: granted %d, want %d", filter, got, qos)
	}
}

func (p *pahoV3) publish(topic string, qos byte, retained bool, payload string) {
	p.t.Helper()
	p.wait("publish "+topic, p.c.Publish(topic, qos, retained, payload))
}

// next returns the next message the client received.
func (p *pahoV3) next() pahoMsg {
	p.t.Helper()
	select {
	case m := <-p.msgs:
		return m
	case <-time.After(interopTimeout):
		p.t.Fatal("no message within", interopTimeout)
		return pahoMsg{}
	}
}

// waitOffline waits until the broker has detached the session of id from its
// connection, so that what is published next finds the client offline.
func waitOffline(t testing.TB, s *Server, id string) {
	t.Helper()
	waitFor(t, "session "+id+" offline", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		ss := s.sessions[id]
		if ss == nil {
			return false
		}
		ss.mu.Lock()
		defer ss.mu.Unlock()
		return ss.conn == nil
	})
}

// A 3.1.1 subscriber with a wildcard filter gets every message of QoS 0, 1
// and 2 with its payload, at min(published, granted) QoS, in order per
// topic and QoS, with RETAIN=0 and DUP=0.
// [MQTT-3.8.4-6] [MQTT-4.3.1-1] [MQTT-4.3.2-1] [MQTT-4.3.3-1] [MQTT-4.6.0-6] [MQTT-3.3.1-9]
func TestPahoV311PublishSubscribeQoS(t *testing.T) {
	_, addr := startServer(t, nil)
	for _, granted := range []byte{0, 1, 2} {
		t.Run(fmt.Sprintf("granted=%d", granted), func(t *testing.T) {
			subc, _ := pahoV3Connect(t, addr, "sub", nil)
			subc.subscribe("interop/+/data/#", granted)
			pubc, _ := pahoV3Connect(t, addr, "pub", nil)
			type sent struct {
				topic   string
				qos     byte
				payload string
			}
			var want []sent
			for i := range 30 {
				qos := byte(i % 3)
				topic := fmt.Sprintf("interop/%c/data", 'a'+i%2)
				if i%5 == 0 {
					topic += "/deeper"
				}
				payload := fmt.Sprintf("payload %d qos %d \x00\xff", i, qos)
				pubc.publish(topic, qos, false, payload)
				want = append(want, sent{topic, min(qos, granted), payload})
			}
			pubc.publish("interop/other", 2, false, "not matched")
			pubc.publish("interop/a/data", 2, false, "end")
			var got []sent
			for {
				m := subc.next()
				if m.payload == "end" {
					break
				}
				if m.retained || m.dup {
					t.Errorf("%q: retained=%v dup=%v, want both false", m.payload, m.retained, m.dup)
				}
				got = append(got, sent{m.topic, m.qos, m.payload})
			}
			// Everything came, and in publication order: one publisher's
			// messages stay ordered per topic and QoS, and Roost keeps a
			// single order per subscriber.
			if !slices.Equal(got, want) {
				t.Fatalf("received\n%v\nwant\n%v", got, want)
			}
		})
	}
}

// A retained message reaches a subscriber that arrives later, with RETAIN=1;
// the publisher's live copy to an existing subscription has RETAIN=0.
// [MQTT-3.3.1-6] [MQTT-3.3.1-8] [MQTT-3.3.1-9]
func TestPahoV311RetainedToLateSubscriber(t *testing.T) {
	_, addr := startServer(t, nil)
	early, _ := pahoV3Connect(t, addr, "early", nil)
	early.subscribe("retain/#", 1)
	pubc, _ := pahoV3Connect(t, addr, "pub", nil)
	pubc.publish("retain/x", 1, true, "old")
	pubc.publish("retain/x", 1, true, "kept")
	pubc.publish("retain/y", 0, true, "y kept")
	for _, want := range []string{"old", "kept", "y kept"} {
		if m := early.next(); m.payload != want || m.retained {
			t.Fatalf("live copy %+v, want %q with retained=false", m, want)
		}
	}

	late, _ := pahoV3Connect(t, addr, "late", nil)
	late.subscribe("retain/+", 2)
	got := map[string]pahoMsg{}
	for range 2 {
		m := late.next()
		got[m.topic] = m
	}
	if m := got["retain/x"]; m.payload != "kept" || !m.retained || m.qos != 1 {
		t.Errorf("retain/x: %+v, want payload kept, retained, QoS 1", m)
	}
	if m := got["retain/y"]; m.payload != "y kept" || !m.retained || m.qos != 0 {
		t.Errorf("retain/y: %+v, want payload y kept, retained, QoS 0", m)
	}
}

// A CleanSession=0 client that goes away gets, on its return, the QoS 1 and
// 2 messages published while it was offline, in order, and Session Present.
// [MQTT-3.1.2-4] [MQTT-3.1.2-5] [MQTT-3.2.2-2] [MQTT-3.2.2-3]
func TestPahoV311PersistentSessionQueuesWhileOffline(t *testing.T) {
	s, addr := startServer(t, nil)
	persistent := func(o *mqtt.ClientOptions) { o.SetCleanSession(false) }
	first, present := pahoV3Connect(t, addr, "durable", persistent)
	if present {
		t.Fatal("session present on the first connection")
	}
	first.subscribe("queue/#", 2)
	first.disconnect()
	waitOffline(t, s, "durable")

	pubc, _ := pahoV3Connect(t, addr, "pub", nil)
	var want []string
	for i := range 10 {
		qos := byte(1 + i%2)
		payload := fmt.Sprintf("offline %d qos %d", i, qos)
		pubc.publish(fmt.Sprintf("queue/%d", i%3), qos, false, payload)
		want = append(want, payload)
	}
	pubc.publish("queue/qos0", 0, false, "QoS 0 is not queued")
	// A QoS 0 publish returns once written; the PUBACK of a later QoS 1
	// publish proves the broker has handled it while the client is away.
	pubc.publish("unrelated/sync", 1, false, "sync")

	second, present := pahoV3Connect(t, addr, "durable", persistent)
	if !present {
		t.Fatal("session not present on reconnect")
	}
	var got []string
	for range want {
		m := second.next()
		if m.qos == 0 {
			t.Fatalf("got QoS 0 message %q; QoS 0 is not queued for an offline session", m.payload)
		}
		got = append(got, m.payload)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("queued messages %q, want %q", got, want)
	}
	// The session still holds the subscription: live messages flow too.
	pubc.publish("queue/live", 1, false, "live")
	if m := second.next(); m.payload != "live" {
		t.Fatalf("got %+v, want the live message", m)
	}
}

// A client whose connection drops without DISCONNECT has its will published;
// one that disconnects normally does not.
// [MQTT-3.1.2-8] [MQTT-3.1.2-10]
func TestPahoV311WillOnAbruptClose(t *testing.T) {
	s, addr := startServer(t, nil)
	watcher, _ := pahoV3Connect(t, addr, "watcher", nil)
	watcher.subscribe("wills/#", 1)

	// A normal DISCONNECT removes the will: the marker published after the
	// session is gone is the first thing the watcher sees.
	polite, _ := pahoV3Connect(t, addr, "polite", func(o *mqtt.ClientOptions) {
		o.SetWill("wills/polite", "must not appear", 1, false)
	})
	polite.disconnect()
	waitFor(t, "polite session gone", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.sessions["polite"] == nil
	})
	pubc, _ := pahoV3Connect(t, addr, "pub", nil)
	pubc.publish("wills/marker", 1, false, "marker")
	if m := watcher.next(); m.payload != "marker" {
		t.Fatalf("got %+v, want the marker (a will after a normal DISCONNECT?)", m)
	}

	rude, _ := pahoV3Connect(t, addr, "rude", func(o *mqtt.ClientOptions) {
		o.SetWill("wills/rude", "rude went away", 1, false)
	})
	rude.mu.Lock()
	nc := rude.nc
	rude.mu.Unlock()
	nc.kill() // no DISCONNECT: as if the network failed
	m := watcher.next()
	if m.topic != "wills/rude" || m.payload != "rude went away" || m.qos != 1 {
		t.Fatalf("will %+v, want rude's will at QoS 1", m)
	}
	// paho notices the lost connection too; wait for it so its goroutines
	// have stopped before the test ends.
	select {
	case <-rude.lost:
	case <-time.After(interopTimeout):
		t.Fatal("paho did not report the lost connection")
	}
}

// ---- paho.golang (MQTT 5.0) ------------------------------------------------

// pahoV5 is a connected paho.golang client; every PUBLISH it receives
// arrives on msgs.
type pahoV5 struct {
	t    testing.TB
	c    *paho.Client
	msgs chan *paho.Publish
	ack  *paho.Connack
}

// pahoV5Connect dials addr and connects with cp (ClientID set to id when
// empty). The client disconnects at cleanup and waits for its goroutines.
func pahoV5Connect(t testing.TB, addr string, cp *paho.Connect) *pahoV5 {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, interopTimeout)
	if err != nil {
		t.Fatal(err)
	}
	p := &pahoV5{t: t, msgs: make(chan *paho.Publish, 256)}
	p.c = paho.NewClient(paho.ClientConfig{
		Conn:          nc,
		PacketTimeout: interopTimeout,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(r paho.PublishReceived) (bool, error) {
				p.msgs <- r.Packet
				return true, nil
			},
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	defer cancel()
	ack, err := p.c.Connect(ctx, cp)
	if err != nil {
		_ = nc.Close()
		t.Fatalf("%s: connect: %v (connack %+v)", cp.ClientID, err, ack)
	}
	p.ack = ack
	t.Cleanup(func() {
		_ = p.c.Disconnect(&paho.Disconnect{ReasonCode: 0})
		select {
		case <-p.c.Done():
		case <-time.After(interopTimeout):
			t.Errorf("%s: paho.golang did not stop", cp.ClientID)
		}
	})
	return p
}

func (p *pahoV5) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), interopTimeout)
}

func (p *pahoV5) subscribe(s *paho.Subscribe) {
	p.t.Helper()
	ctx, cancel := p.ctx()
	defer cancel()
	ack, err := p.c.Subscribe(ctx, s)
	if err != nil {
		p.t.Fatalf("subscribe: %v", err)
	}
	for i, code := range ack.Reasons {
		if want := s.Subscriptions[i].QoS; code != want {
			p.t.Fatalf("SUBACK code %d for %s, want granted QoS %d", code, s.Subscriptions[i].Topic, want)
		}
	}
}

func (p *pahoV5) publish(pub *paho.Publish) *paho.PublishResponse {
	p.t.Helper()
	ctx, cancel := p.ctx()
	defer cancel()
	resp, err := p.c.Publish(ctx, pub)
	if err != nil {
		p.t.Fatalf("publish %s: %v", pub.Topic, err)
	}
	return resp
}

func (p *pahoV5) next() *paho.Publish {
	p.t.Helper()
	select {
	case m := <-p.msgs:
		return m
	case <-time.After(interopTimeout):
		p.t.Fatal("no message within", interopTimeout)
		return nil
	}
}

func ptr[T any](v T) *T { return &v }

// A 5.0 CONNECT with properties is accepted, and the CONNACK tells the
// client what the server supports.
func TestPahoV5ConnectWithProperties(t *testing.T) {
	_, addr := startServer(t, nil)
	cp := &paho.Connect{
		ClientID:   "v5-props",
		CleanStart: true,
		KeepAlive:  30,
		Properties: &paho.ConnectProperties{
			SessionExpiryInterval: ptr[uint32](60),
			ReceiveMaximum:        ptr[uint16](10),
			TopicAliasMaximum:     ptr[uint16](5),
			MaximumPacketSize:     ptr[uint32](1 << 20),
			RequestProblemInfo:    true,
			User:                  paho.UserProperties{{Key: "app", Value: "interop"}},
		},
	}
	p := pahoV5Connect(t, addr, cp)
	if p.ack.ReasonCode != 0 || p.ack.SessionPresent {
		t.Fatalf("CONNACK %+v, want success without a session", p.ack)
	}
	pr := p.ack.Properties
	if pr == nil {
		t.Fatal("CONNACK without properties")
	}
	if pr.ReceiveMaximum == nil || *pr.ReceiveMaximum == 0 {
		t.Errorf("CONNACK Receive Maximum %v, want a positive value", pr.ReceiveMaximum)
	}
	if !pr.RetainAvailable || !pr.WildcardSubAvailable || !pr.SubIDAvailable || !pr.SharedSubAvailable {
		t.Errorf("CONNACK availability: retain %v wildcard %v subid %v shared %v, want all true",
			pr.RetainAvailable, pr.WildcardSubAvailable, pr.SubIDAvailable, pr.SharedSubAvailable)
	}
	// The session works: a message round-trips through it.
	p.subscribe(&paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "props/echo", QoS: 1}}})
	if resp := p.publish(&paho.Publish{Topic: "props/echo", QoS: 1, Payload: []byte("hi")}); resp.ReasonCode != 0 {
		t.Fatalf("PUBACK reason %#x", resp.ReasonCode)
	}
	if m := p.next(); string(m.Payload) != "hi" {
		t.Fatalf("got %q", m.Payload)
	}
}

// A subscription identifier given at SUBSCRIBE comes back on each PUBLISH
// that matches the subscription.
// [MQTT-3.3.4-3] [MQTT-3.3.4-4]
func TestPahoV5SubscriptionIdentifier(t *testing.T) {
	_, addr := startServer(t, nil)
	subc := pahoV5Connect(t, addr, &paho.Connect{ClientID: "sid-sub", CleanStart: true})
	subc.subscribe(&paho.Subscribe{
		Properties:    &paho.SubscribeProperties{SubscriptionIdentifier: ptr(4242)},
		Subscriptions: []paho.SubscribeOptions{{Topic: "sid/+/x", QoS: 2}},
	})
	subc.subscribe(&paho.Subscribe{
		Properties:    &paho.SubscribeProperties{SubscriptionIdentifier: ptr(7)},
		Subscriptions: []paho.SubscribeOptions{{Topic: "other/#", QoS: 1}},
	})
	pubc := pahoV5Connect(t, addr, &paho.Connect{ClientID: "sid-pub", CleanStart: true})
	for _, tc := range []struct {
		topic string
		qos   byte
		id    int
	}{{"sid/a/x", 0, 4242}, {"other/thing", 1, 7}, {"sid/b/x", 2, 4242}} {
		pubc.publish(&paho.Publish{Topic: tc.topic, QoS: tc.qos, Payload: []byte(tc.topic)})
		m := subc.next()
		if m.Topic != tc.topic {
			t.Fatalf("got %s, want %s", m.Topic, tc.topic)
		}
		if m.Properties == nil || m.Properties.SubscriptionIdentifier == nil || *m.Properties.SubscriptionIdentifier != tc.id {
			t.Fatalf("%s: subscription identifier %v, want %d", tc.topic, m.Properties, tc.id)
		}
	}
}

// QoS 1 and 2 publishes carry their user properties, response topic,
// correlation data, content type and payload format through to the
// subscriber unchanged, and the publisher's PUBACK/PUBCOMP report success.
// [MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.4.2-1] [MQTT-4.3.2-4] [MQTT-4.3.3-11]
func TestPahoV5PublishPropertiesPassThrough(t *testing.T) {
	_, addr := startServer(t, nil)
	subc := pahoV5Connect(t, addr, &paho.Connect{ClientID: "prop-sub", CleanStart: true})
	subc.subscribe(&paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "req/#", QoS: 2}}})
	pubc := pahoV5Connect(t, addr, &paho.Connect{ClientID: "prop-pub", CleanStart: true})
	for _, qos := range []byte{1, 2} {
		t.Run(fmt.Sprintf("qos=%d", qos), func(t *testing.T) {
			user := paho.UserProperties{
				{Key: "k1", Value: "v1"},
				{Key: "dup", Value: "first"},
				{Key: "dup", Value: "second"}, // repeated keys keep their order
				{Key: "ünï", Value: "cödé"},
			}
			pub := &paho.Publish{
				Topic:   fmt.Sprintf("req/qos%d", qos),
				QoS:     qos,
				Payload: []byte("request body"),
				Properties: &paho.PublishProperties{
					ResponseTopic:   "resp/prop-pub",
					CorrelationData: []byte{0, 1, 2, 0xfe, 0xff},
					ContentType:     "text/plain",
					PayloadFormat:   ptr[byte](1),
					User:            user,
				},
			}
			resp := pubc.publish(pub)
			if resp == nil || resp.ReasonCode != 0 {
				t.Fatalf("publish response %+v, want reason 0x00 Success", resp)
			}
			m := subc.next()
			if m.Topic != pub.Topic || m.QoS != qos || string(m.Payload) != "request body" {
				t.Fatalf("got %s QoS %d %q", m.Topic, m.QoS, m.Payload)
			}
			pr := m.Properties
			if pr == nil {
				t.Fatal("no properties")
			}
			if pr.ResponseTopic != "resp/prop-pub" {
				t.Errorf("response topic %q", pr.ResponseTopic)
			}
			if !bytes.Equal(pr.CorrelationData, pub.Properties.CorrelationData) {
				t.Errorf("correlation data %x", pr.CorrelationData)
			}
			if pr.ContentType != "text/plain" {
				t.Errorf("content type %q", pr.ContentType)
			}
			if pr.PayloadFormat == nil || *pr.PayloadFormat != 1 {
				t.Errorf("payload format %v", pr.PayloadFormat)
			}
			if !slices.Equal(pr.User, user) {
				t.Errorf("user properties %v, want %v", pr.User, user)
			}
		})
	}
}

// No Local: a client never gets back its own publication on a No Local
// subscription, while other subscribers do.
// [MQTT-3.8.3-3]
func TestPahoV5NoLocal(t *testing.T) {
	_, addr := startServer(t, nil)
	self := pahoV5Connect(t, addr, &paho.Connect{ClientID: "nl-self", CleanStart: true})
	self.subscribe(&paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "nl/t", QoS: 1, NoLocal: true}}})
	other := pahoV5Connect(t, addr, &paho.Connect{ClientID: "nl-other", CleanStart: true})
	other.subscribe(&paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "nl/t", QoS: 1}}})

	// Routing is done by the time the PUBACK comes back, so had "mine" been
	// sent to self it would be queued before "theirs".
	if resp := self.publish(&paho.Publish{Topic: "nl/t", QoS: 1, Payload: []byte("mine")}); resp.ReasonCode != 0 {
		t.Fatalf("PUBACK reason %#x, want 0 (other matches)", resp.ReasonCode)
	}
	if m := other.next(); string(m.Payload) != "mine" {
		t.Fatalf("other got %q, want mine", m.Payload)
	}
	other.publish(&paho.Publish{Topic: "nl/t", QoS: 1, Payload: []byte("theirs")})
	if m := self.next(); string(m.Payload) != "theirs" {
		t.Fatalf("self got %q first, want theirs: its own message came back despite No Local", m.Payload)
	}
	if m := other.next(); string(m.Payload) != "theirs" {
		t.Fatalf("other got %q, want theirs", m.Payload)
	}
}
