package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/client"
	"github.com/roostmq/roost/packet"
)

var versions = []packet.Version{packet.V311, packet.V5}

func TestPubSub(t *testing.T) {
	addr := startBroker(t, nil)
	for _, v := range versions {
		for qos := byte(0); qos <= 2; qos++ {
			t.Run(fmt.Sprintf("%v/qos%d", v, qos), func(t *testing.T) {
				msgs := newCollector()
				sub := dial(t, addr, &client.Options{Version: v, ClientID: "sub", CleanStart: true, OnMessage: msgs.handler})
				if sub.Version() != v {
					t.Errorf("version %v", sub.Version())
				}
				codes, err := sub.Subscribe(testCtx(t), client.Subscription{Filter: "a/#", QoS: qos})
				if err != nil || len(codes) != 1 || codes[0] != packet.ReasonCode(qos) {
					t.Fatalf("subscribe: %v %v", codes, err)
				}
				pub := dial(t, addr, &client.Options{Version: v, ClientID: "pub", CleanStart: true})
				for i := range 20 {
					err := pub.Publish(testCtx(t), &client.Message{Topic: "a/b", Payload: fmt.Appendf(nil, "m%d", i), QoS: qos})
					if err != nil {
						t.Fatal(err)
					}
				}
				for i := range 20 {
					m := msgs.next(t)
					if m.Topic != "a/b" || string(m.Payload) != fmt.Sprintf("m%d", i) || m.QoS != qos {
						t.Fatalf("message %d: %+v", i, m)
					}
				}
				if _, err := sub.Unsubscribe(testCtx(t), "a/#"); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestConnectAssignedID(t *testing.T) {
	addr := startBroker(t, nil)
	c := dial(t, addr, &client.Options{CleanStart: true, KeepAlive: 30 * time.Second})
	if c.ClientID() == "" {
		t.Error("no assigned client id")
	}
	if c.SessionPresent() {
		t.Error("session present on a clean start")
	}
	if err := c.Ping(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestConnectRefused(t *testing.T) {
	addr := startBroker(t, func(o *broker.Options) { o.Authenticator = denyAll{} })
	for _, v := range versions {
		_, err := client.Dial(testCtx(t), addr, &client.Options{Version: v, ClientID: "x"})
		var de *client.DisconnectError
		if !errors.As(err, &de) || !de.Connack {
			t.Fatalf("%v: err %v", v, err)
		}
		var rc packet.ReasonCode
		if !errors.As(err, &rc) || (rc != packet.NotAuthorized && rc != packet.BadUsernameOrPassword) {
			t.Errorf("%v: reason code %v", v, rc)
		}
	}
}

type denyAll struct{}

func (denyAll) Authenticate(*broker.ConnectInfo) error { return packet.NotAuthorized }

func TestProperties(t *testing.T) {
	addr := startBroker(t, nil)
	msgs := newCollector()
	sub := dial(t, addr, &client.Options{ClientID: "sub", CleanStart: true, OnMessage: msgs.handler})
	if _, err := sub.SubscribeWith(testCtx(t), 7, nil, client.Subscription{Filter: "p/+", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	pub := dial(t, addr, &client.Options{ClientID: "pub", CleanStart: true})
	props := client.Properties{
		PayloadFormat:   1,
		MessageExpiry:   time.Hour,
		ContentType:     "text/plain",
		ResponseTopic:   "reply/here",
		CorrelationData: []byte{1, 2, 3},
		UserProperties:  []client.UserProperty{{"k", "v1"}, {"k", "v2"}, {"x", ""}},
	}
	if err := pub.Publish(testCtx(t), &client.Message{Topic: "p/1", Payload: []byte("hi"), QoS: 1, Properties: props}); err != nil {
		t.Fatal(err)
	}
	m := msgs.next(t)
	got := m.Properties
	if got.MessageExpiry <= 0 || got.MessageExpiry > time.Hour {
		t.Errorf("message expiry %v", got.MessageExpiry)
	}
	got.MessageExpiry = props.MessageExpiry
	props.SubscriptionIDs = []uint32{7}
	if !reflect.DeepEqual(got, props) {
		t.Errorf("properties\n got %+v\nwant %+v", got, props)
	}
}

// A handler that blocks must not stop the reader: Ping still completes and
// later messages are still read (they queue for the dispatcher).
func TestHandlerNotOnReader(t *testing.T) {
	addr := startBroker(t, nil)
	release := make(chan struct{})
	got := make(chan string, 10)
	sub := dial(t, addr, &client.Options{ClientID: "sub", CleanStart: true, OnMessage: func(m *client.Message) {
		got <- string(m.Payload)
		<-release
	}})
	if _, err := sub.Subscribe(testCtx(t), client.Subscription{Filter: "t", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	pub := dial(t, addr, &client.Options{ClientID: "pub", CleanStart: true})
	for _, p := range []string{"1", "2", "3"} {
		if err := pub.Publish(testCtx(t), &client.Message{Topic: "t", Payload: []byte(p), QoS: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if s := <-got; s != "1" {
		t.Fatalf("first message %q", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := sub.Ping(ctx); err != nil {
		t.Fatalf("ping while the handler blocks: %v", err)
	}
	close(release)
	for _, want := range []string{"2", "3"} {
		select {
		case s := <-got:
			if s != want {
				t.Fatalf("got %q, want %q", s, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("timeout")
		}
	}
}

func TestRequestResponse(t *testing.T) {
	addr := startBroker(t, nil)
	var responder *client.Client
	responder = dial(t, addr, &client.Options{ClientID: "responder", CleanStart: true, OnMessage: func(m *client.Message) {
		reply := &client.Message{Topic: m.Properties.ResponseTopic, Payload: append([]byte("re: "), m.Payload...), QoS: 1,
			Properties: client.Properties{CorrelationData: m.Properties.CorrelationData}}
		// Publish from another goroutine: a handler must not wait for an
		// acknowledgement that only the reader can deliver.
		go func() { _ = responder.Publish(context.Background(), reply) }()
	}})
	if _, err := responder.Subscribe(testCtx(t), client.Subscription{Filter: "service/echo", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	msgs := newCollector()
	req := dial(t, addr, &client.Options{ClientID: "requester", CleanStart: true, OnMessage: msgs.handler})
	if _, err := req.Subscribe(testCtx(t), client.Subscription{Filter: "replies/requester", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	err := req.Publish(testCtx(t), &client.Message{Topic: "service/echo", Payload: []byte("ping"), QoS: 1,
		Properties: client.Properties{ResponseTopic: "replies/requester", CorrelationData: []byte("id-1")}})
	if err != nil {
		t.Fatal(err)
	}
	m := msgs.next(t)
	if string(m.Payload) != "re: ping" || !bytes.Equal(m.Properties.CorrelationData, []byte("id-1")) {
		t.Errorf("reply %q correlation %q", m.Payload, m.Properties.CorrelationData)
	}
}

// fakeServer accepts one connection and answers CONNECT with an accepting
// CONNACK, then runs script.
func fakeServer(t *testing.T, v packet.Version, connack *packet.Connack, script func(nc net.Conn, r *packet.Reader)) net.Conn {
	t.Helper()
	cc, sc := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer sc.Close()
		r := packet.NewReader(sc, 512, 0)
		first, body, err := r.Read()
		if err != nil || packet.Type(first>>4) != packet.CONNECT {
			t.Errorf("fake server: %v", err)
			return
		}
		_ = body
		if connack == nil {
			connack = &packet.Connack{}
		}
		if _, err := sc.Write(connack.Append(nil, v)); err != nil {
			return
		}
		script(sc, r)
	}()
	t.Cleanup(func() { cc.Close(); <-done })
	return cc
}

// Publish returns when ctx ends even though the server never acknowledges;
// the flow completes in the background later.
func TestPublishContextCancel(t *testing.T) {
	acked := make(chan struct{})
	gotPublish := make(chan uint16, 1)
	nc := fakeServer(t, packet.V5, nil, func(sc net.Conn, r *packet.Reader) {
		first, body, err := r.Read()
		if err != nil {
			return
		}
		p, err := packet.Decode(first, body, packet.V5)
		if err != nil {
			t.Error(err)
			return
		}
		gotPublish <- p.(*packet.Publish).PacketID
		<-acked
		_, _ = sc.Write((&packet.Puback{Ack: packet.Ack{PacketID: p.(*packet.Publish).PacketID}}).Append(nil, packet.V5))
		for {
			first, _, err := r.Read()
			if err != nil {
				return
			}
			if packet.Type(first>>4) == packet.PINGREQ {
				_, _ = sc.Write((&packet.Pingresp{}).Append(nil, packet.V5))
			}
		}
	})
	c, err := client.Connect(testCtx(t), nc, &client.Options{ClientID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Publish(ctx, &client.Message{Topic: "t", QoS: 1}) }()
	<-gotPublish
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish: %v", err)
	}
	close(acked)
	if err := c.Ping(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

// A failure reason code in PUBACK is returned as an error carrying it.
func TestPublishReasonCode(t *testing.T) {
	nc := fakeServer(t, packet.V5, nil, func(sc net.Conn, r *packet.Reader) {
		for {
			first, body, err := r.Read()
			if err != nil {
				return
			}
			p, _ := packet.Decode(first, body, packet.V5)
			if pub, ok := p.(*packet.Publish); ok {
				ack := &packet.Puback{Ack: packet.Ack{PacketID: pub.PacketID, ReasonCode: packet.NotAuthorized}}
				_, _ = sc.Write(ack.Append(nil, packet.V5))
			}
		}
	})
	c, err := client.Connect(testCtx(t), nc, &client.Options{ClientID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Publish(testCtx(t), &client.Message{Topic: "t", QoS: 1})
	if !errors.Is(err, packet.NotAuthorized) {
		t.Fatalf("Publish: %v", err)
	}
}

// The server's DISCONNECT surfaces in Done and Err.
func TestServerDisconnect(t *testing.T) {
	addr := startBroker(t, nil)
	var disc = make(chan error, 1)
	first := dial(t, addr, &client.Options{ClientID: "same", OnDisconnect: func(err error) { disc <- err }})
	dial(t, addr, &client.Options{ClientID: "same"}) // takes the session over
	select {
	case <-first.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed")
	}
	if !errors.Is(first.Err(), packet.SessionTakenOver) {
		t.Errorf("Err %v", first.Err())
	}
	if err := <-disc; !errors.Is(err, packet.SessionTakenOver) {
		t.Errorf("OnDisconnect %v", err)
	}
	if err := first.Publish(testCtx(t), &client.Message{Topic: "x"}); err == nil {
		t.Error("Publish on a closed client succeeded")
	}
}

// The connection closing without DISCONNECT (3.1.1 takeover) surfaces too.
func TestConnectionLost(t *testing.T) {
	connected := make(chan struct{})
	nc := fakeServer(t, packet.V311, nil, func(sc net.Conn, r *packet.Reader) { <-connected }) // then it closes
	c, err := client.Connect(testCtx(t), nc, &client.Options{ClientID: "x", Version: packet.V311})
	close(connected)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed")
	}
	if c.Err() == nil || errors.Is(c.Err(), client.ErrClosed) {
		t.Errorf("Err %v", c.Err())
	}
}

// Keepalive: a server that never answers PINGREQ ends the connection.
func TestKeepAliveTimeout(t *testing.T) {
	nc := fakeServer(t, packet.V5, &packet.Connack{}, func(sc net.Conn, r *packet.Reader) {
		for {
			if _, _, err := r.Read(); err != nil {
				return
			}
		}
	})
	c, err := client.Connect(testCtx(t), nc, &client.Options{ClientID: "x", KeepAlive: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed")
	}
	if !errors.Is(c.Err(), client.ErrKeepAliveTimeout) {
		t.Errorf("Err %v", c.Err())
	}
}

// Topic aliases from the server are resolved.
func TestInboundTopicAlias(t *testing.T) {
	pub := func(topic string, alias uint16, payload string) []byte {
		p := &packet.Publish{Topic: []byte(topic), Payload: []byte(payload)}
		p.Properties.TopicAlias = alias
		p.Properties.Set(packet.PropTopicAlias)
		return p.Append(nil, packet.V5)
	}
	nc := fakeServer(t, packet.V5, nil, func(sc net.Conn, r *packet.Reader) {
		_, _ = sc.Write(pub("long/topic/name", 1, "a"))
		_, _ = sc.Write(pub("", 1, "b"))
		for {
			if _, _, err := r.Read(); err != nil {
				return
			}
		}
	})
	msgs := newCollector()
	c, err := client.Connect(testCtx(t), nc, &client.Options{ClientID: "x", TopicAliasMaximum: 4, OnMessage: msgs.handler})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, want := range []string{"a", "b"} {
		m := msgs.next(t)
		if m.Topic != "long/topic/name" || string(m.Payload) != want {
			t.Errorf("got %q %q", m.Topic, m.Payload)
		}
	}
}

// The server's Receive Maximum bounds the QoS 1 messages in flight.
func TestReceiveMaximum(t *testing.T) {
	ca := &packet.Connack{}
	ca.Properties.ReceiveMaximum = 2
	ca.Properties.Set(packet.PropReceiveMaximum)
	ids := make(chan uint16, 10)
	release := make(chan struct{})
	nc := fakeServer(t, packet.V5, ca, func(sc net.Conn, r *packet.Reader) {
		var held []uint16
		for {
			first, body, err := r.Read()
			if err != nil {
				return
			}
			p, _ := packet.Decode(first, body, packet.V5)
			if pub, ok := p.(*packet.Publish); ok {
				ids <- pub.PacketID
				held = append(held, pub.PacketID)
				if len(held) == 2 {
					<-release
					for _, id := range held {
						_, _ = sc.Write((&packet.Puback{Ack: packet.Ack{PacketID: id}}).Append(nil, packet.V5))
					}
				}
			}
		}
	})
	c, err := client.Connect(testCtx(t), nc, &client.Options{ClientID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	errc := make(chan error, 3)
	for range 3 {
		go func() { errc <- c.Publish(testCtx(t), &client.Message{Topic: "t", QoS: 1}) }()
	}
	<-ids
	<-ids
	select {
	case <-ids:
		t.Fatal("a third PUBLISH was sent beyond Receive Maximum 2")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	<-ids
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

// Will: a client that closes without DISCONNECT has its will published.
func TestWill(t *testing.T) {
	addr := startBroker(t, nil)
	for _, v := range versions {
		msgs := newCollector()
		watcher := dial(t, addr, &client.Options{Version: v, ClientID: "watch" + v.String(), CleanStart: true, OnMessage: msgs.handler})
		if _, err := watcher.Subscribe(testCtx(t), client.Subscription{Filter: "will/" + v.String(), QoS: 1}); err != nil {
			t.Fatal(err)
		}
		c, err := client.Dial(testCtx(t), addr, &client.Options{Version: v, ClientID: "dying" + v.String(), CleanStart: true,
			Will: &client.Message{Topic: "will/" + v.String(), Payload: []byte("gone"), QoS: 1}})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if m := msgs.next(t); string(m.Payload) != "gone" {
			t.Errorf("%v: will %q", v, m.Payload)
		}
	}
}

// A persistent session keeps QoS 1 messages published while the client was
// away.
func TestPersistentSession(t *testing.T) {
	addr := startBroker(t, nil)
	for _, v := range versions {
		id := "persist" + v.String()
		// 3.1.1 keeps the session only with Clean Session 0 from the start.
		o := &client.Options{Version: v, ClientID: id, CleanStart: v == packet.V5, SessionExpiry: time.Hour}
		c := dial(t, addr, o)
		if _, err := c.Subscribe(testCtx(t), client.Subscription{Filter: "q/" + id, QoS: 1}); err != nil {
			t.Fatal(err)
		}
		if err := c.Disconnect(testCtx(t), 0); err != nil {
			t.Fatal(err)
		}
		if !errors.Is(c.Err(), client.ErrClosed) {
			t.Errorf("Err after Disconnect: %v", c.Err())
		}
		pub := dial(t, addr, &client.Options{Version: v, CleanStart: true, ClientID: "p" + id})
		if err := pub.Publish(testCtx(t), &client.Message{Topic: "q/" + id, Payload: []byte("kept"), QoS: 1}); err != nil {
			t.Fatal(err)
		}
		msgs := newCollector()
		o2 := *o
		o2.CleanStart, o2.OnMessage = false, msgs.handler
		c2 := dial(t, addr, &o2)
		if !c2.SessionPresent() {
			t.Errorf("%v: no session present", v)
		}
		if m := msgs.next(t); string(m.Payload) != "kept" {
			t.Errorf("%v: got %q", v, m.Payload)
		}
	}
}
