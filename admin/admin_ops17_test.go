package admin

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/client"
	"github.com/roostmq/roost/packet"
	"github.com/roostmq/roost/store"
)

// The clients list names the bytes held for a client for what they are:
// buffered_bytes, pending + queued + inflight payloads (it was memory_bytes,
// which read as the process's memory).
func TestOps17BufferedBytes(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	sub, err := client.Dial(ctx, e.mqtt, &client.Options{ClientID: "buf-sub", Version: packet.V5, CleanStart: true,
		SessionExpiry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Subscribe(ctx, client.Subscription{Filter: "buf/#", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	_ = sub.Close()
	waitFor(t, "buf-sub offline", func() bool {
		ci, ok := e.srv.Client("buf-sub")
		return ok && !ci.Connected
	})
	pub := e.client("buf-pub", packet.V5, nil)
	if err := pub.Publish(ctx, &client.Message{Topic: "buf/x", Payload: []byte("1234567"), QoS: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the message queued", func() bool {
		ci, _ := e.srv.Client("buf-sub")
		return ci.Queued == 1
	})
	var list struct {
		Clients []map[string]any `json:"clients"`
	}
	if code := e.do("GET", "/api/v1/clients?prefix=buf-sub", nil, &list); code != 200 || len(list.Clients) != 1 {
		t.Fatalf("clients: %d %v", code, list)
	}
	c := list.Clients[0]
	if _, ok := c["memory_bytes"]; ok {
		t.Error("memory_bytes is still in the clients list")
	}
	if got, ok := c["buffered_bytes"].(float64); !ok || got != 7 {
		t.Errorf("buffered_bytes = %v, want 7 (the queued payload)", c["buffered_bytes"])
	}
}

func ops17Metrics(t *testing.T, e *env) string {
	t.Helper()
	resp, err := http.Get(e.http.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// roost_retained_messages and the API's retained count leave out the
// broker's own $SYS topics; and there is one gauge of open connections
// (roost_connections by listener), not a second unlabelled one.
func TestOps17RetainedCountAndConnectionGauge(t *testing.T) {
	e := newEnvWith(t, Config{}, func(o *broker.Options) { o.SysInterval = time.Hour })
	waitFor(t, "$SYS topics retained", func() bool { return len(e.srv.RetainedMessages("$SYS/#")) > 0 })
	pub := e.client("ret-pub", packet.V311, nil)
	if err := pub.Publish(context.Background(), &client.Message{Topic: "ret/a", Payload: []byte("x"), QoS: 1, Retain: true}); err != nil {
		t.Fatal(err)
	}
	var st StatsJSON
	if code := e.do("GET", "/api/v1/stats", nil, &st); code != 200 {
		t.Fatal(code)
	}
	if st.Retained != 1 {
		t.Errorf("stats retained = %d, want 1 ($SYS not counted)", st.Retained)
	}
	text := ops17Metrics(t, e)
	if !strings.Contains(text, "\nroost_retained_messages 1\n") {
		t.Errorf("want roost_retained_messages 1 in\n%s", text)
	}
	if strings.Contains(text, "roost_clients_connected") {
		t.Error("roost_clients_connected duplicates roost_connections")
	}
	if !strings.Contains(text, `roost_connections{listener="`+e.mqtt+`"} 1`) {
		t.Errorf("no roost_connections for %s", e.mqtt)
	}
}

// ops17Disk opens a disk store in a test directory.
func ops17Disk(t *testing.T, dir string) *store.Disk {
	t.Helper()
	d, err := store.OpenDisk(dir, store.DiskOptions{Sync: store.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// DELETE /api/v1/clients/{id} ends an offline session with its durable
// state; a connected one is 409, an unknown one 404.
func TestOps17DeleteSession(t *testing.T) {
	st := ops17Disk(t, t.TempDir())
	e := newEnvWith(t, Config{}, func(o *broker.Options) { o.Store = st })
	ctx := context.Background()
	sub, err := client.Dial(ctx, e.mqtt, &client.Options{ClientID: "del-sub", Version: packet.V5, CleanStart: true,
		SessionExpiry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Subscribe(ctx, client.Subscription{Filter: "del/#", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	if code := e.do("DELETE", "/api/v1/clients/del-sub", nil, nil); code != http.StatusConflict {
		t.Errorf("delete while connected: %d, want 409", code)
	}
	_ = sub.Close()
	waitFor(t, "del-sub offline", func() bool {
		ci, ok := e.srv.Client("del-sub")
		return ok && !ci.Connected
	})
	pub := e.client("del-pub", packet.V5, nil)
	if err := pub.Publish(ctx, &client.Message{Topic: "del/x", Payload: []byte("queued"), QoS: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the message stored for del-sub", func() bool {
		recs, err := st.LoadMessages("del-sub", 0, 0)
		return err == nil && len(recs) == 1
	})
	if code := e.do("DELETE", "/api/v1/clients/del-sub", nil, nil); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	if code := e.do("GET", "/api/v1/clients/del-sub", nil, nil); code != 404 {
		t.Errorf("after delete: GET %d, want 404", code)
	}
	if code := e.do("DELETE", "/api/v1/clients/del-sub", nil, nil); code != 404 {
		t.Errorf("second delete: %d, want 404", code)
	}
	if code := e.do("DELETE", "/api/v1/clients/nobody", nil, nil); code != 404 {
		t.Errorf("unknown: %d, want 404", code)
	}
	sessions, err := st.LoadSessions()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sessions {
		if s.ClientID == "del-sub" {
			t.Error("the store still has the session")
		}
	}
	if recs, err := st.LoadMessages("del-sub", 0, 0); err != nil || len(recs) != 0 {
		t.Errorf("the store still has %d messages (%v)", len(recs), err)
	}
	// Nothing is delivered to it any more: the subscription is gone.
	if subs := e.srv.Subscriptions("del-sub"); len(subs) != 0 {
		t.Errorf("subscriptions left: %v", subs)
	}
}

func ops17StoredFilters(t *testing.T, st store.Store, id string) []string {
	t.Helper()
	sessions, err := st.LoadSessions()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range sessions {
		if s.ClientID == id {
			for _, sub := range s.Subscriptions {
				out = append(out, sub.Filter)
			}
		}
	}
	return out
}

// POST and DELETE /api/v1/clients/{id}/subscriptions change a session's
// subscriptions as its own SUBSCRIBE and UNSUBSCRIBE would: live in the
// index, saved in the store.
func TestOps17SubscribeOnBehalf(t *testing.T) {
	st := ops17Disk(t, t.TempDir())
	e := newEnvWith(t, Config{}, func(o *broker.Options) { o.Store = st })
	ctx := context.Background()
	got := make(chan *client.Message, 4)
	live, err := client.Dial(ctx, e.mqtt, &client.Options{ClientID: "sob-live", Version: packet.V5, CleanStart: true,
		SessionExpiry: time.Hour, OnMessage: func(m *client.Message) { got <- m }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = live.Close() })
	_ = e.client("sob-311", packet.V311, nil)
	pub := e.client("sob-pub", packet.V5, nil)
	if err := pub.Publish(ctx, &client.Message{Topic: "sob/kept", Payload: []byte("r"), QoS: 1, Retain: true}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		id   string
		body any
		want int
	}{
		{"sob-live", map[string]any{"filter": "sob/#/x", "qos": 1}, 400},
		{"sob-live", map[string]any{"filter": "", "qos": 1}, 400},
		{"sob-live", map[string]any{"filter": "sob/+", "qos": 3}, 400},
		{"sob-live", map[string]any{"filter": "$share/g/sob/+", "no_local": true}, 400},
		{"sob-311", map[string]any{"filter": "sob/+", "subscription_id": 7}, 400},
		{"sob-live", map[string]any{"filter": "sob/+", "bogus": 1}, 400},
		{"nobody", map[string]any{"filter": "sob/+"}, 404},
	} {
		if code := e.do("POST", "/api/v1/clients/"+tc.id+"/subscriptions", tc.body, nil); code != tc.want {
			t.Errorf("%s %v: %d, want %d", tc.id, tc.body, code, tc.want)
		}
	}

	var sj SubscriptionJSON
	if code := e.do("POST", "/api/v1/clients/sob-live/subscriptions",
		map[string]any{"filter": "sob/+", "qos": 1, "subscription_id": 9}, &sj); code != 200 {
		t.Fatalf("subscribe: %d", code)
	}
	if sj.Filter != "sob/+" || sj.QoS != 1 || sj.ClientID != "sob-live" {
		t.Errorf("answer %+v", sj)
	}
	// Retain handling 0: the retained message comes first.
	select {
	case m := <-got:
		if m.Topic != "sob/kept" || !m.Retain {
			t.Errorf("first message %s retain=%v, want the retained sob/kept", m.Topic, m.Retain)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no retained message after subscribing on behalf")
	}
	if err := pub.Publish(ctx, &client.Message{Topic: "sob/a", Payload: []byte("live"), QoS: 1}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m.Topic != "sob/a" || m.QoS != 1 {
			t.Errorf("got %s QoS %d", m.Topic, m.QoS)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the subscription made through the API delivers nothing")
	}
	if f := ops17StoredFilters(t, st, "sob-live"); len(f) != 1 || f[0] != "sob/+" {
		t.Errorf("stored filters %v, want [sob/+]", f)
	}

	if code := e.do("DELETE", "/api/v1/clients/sob-live/subscriptions?filter="+url.QueryEscape("sob/+"), nil, nil); code != 200 {
		t.Fatalf("unsubscribe: %d", code)
	}
	if f := ops17StoredFilters(t, st, "sob-live"); len(f) != 0 {
		t.Errorf("stored filters after unsubscribe %v", f)
	}
	if code := e.do("DELETE", "/api/v1/clients/sob-live/subscriptions?filter="+url.QueryEscape("sob/+"), nil, nil); code != 404 {
		t.Errorf("second unsubscribe: %d, want 404", code)
	}
	if code := e.do("DELETE", "/api/v1/clients/sob-live/subscriptions", nil, nil); code != 400 {
		t.Errorf("unsubscribe without filter: %d, want 400", code)
	}
	if subs := e.srv.Subscriptions("sob-live"); len(subs) != 0 {
		t.Errorf("index still has %v", subs)
	}
}

// POST /api/v1/publish refuses $SYS topics: they are the broker's own.
func TestOps17PublishRefusesSys(t *testing.T) {
	e := newEnv(t, Config{})
	for _, name := range []string{"$SYS", "$SYS/broker/uptime", "$SYS/x/y"} {
		var er apiError
		if code := e.do("POST", "/api/v1/publish", PublishJSON{Topic: name, Payload: "forged", Retain: true}, &er); code != 400 ||
			!strings.Contains(er.Error, "$SYS") {
			t.Errorf("publish to %s: %d %q, want 400", name, code, er.Error)
		}
	}
	if _, ok := e.srv.RetainedMessage("$SYS/broker/uptime"); ok {
		t.Error("a forged $SYS message was retained")
	}
	if code := e.do("POST", "/api/v1/publish", PublishJSON{Topic: "SYS/ok", Payload: "fine"}, nil); code != 200 {
		t.Errorf("publish to SYS/ok: %d", code)
	}
}

// ops17Restartable is a broker on a disk store with an admin handler,
// stopped by stop (which closes the store).
type ops17Restartable struct {
	srv  *broker.Server
	mqtt string
	http *httptest.Server
	done chan error
}

func ops17StartOnDisk(t *testing.T, dir string) *ops17Restartable {
	t.Helper()
	opts := broker.DefaultOptions()
	opts.Listen = nil
	opts.SysInterval = 0
	opts.Store = ops17Disk(t, dir)
	srv, err := broker.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &ops17Restartable{srv: srv, mqtt: ln.Addr().String(), done: make(chan error, 1)}
	go func() { r.done <- srv.Serve(ln) }()
	a, err := New(Options{Broker: srv})
	if err != nil {
		t.Fatal(err)
	}
	r.http = httptest.NewServer(a.Handler())
	return r
}

func (r *ops17Restartable) stop() {
	r.http.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = r.srv.Shutdown(ctx)
	<-r.done
}

func (r *ops17Restartable) do(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	e := &env{t: t, http: r.http}
	return e.do(method, path, body, out)
}

// Bans added through the API are kept by the store: after a restart on
// the same disk store they are listed and enforced; one removed through
// the API stays removed.
func TestOps17BansSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	b1 := ops17StartOnDisk(t, dir)
	for _, bj := range []BanJSON{{Kind: "client_id", Value: "evil"}, {Kind: "ip", Value: "10.1.2.0/24"},
		{Kind: "username", Value: "temp"}} {
		if code := b1.do(t, "POST", "/api/v1/bans", bj, nil); code != 200 {
			t.Fatalf("ban %v: %d", bj, code)
		}
	}
	if code := b1.do(t, "DELETE", "/api/v1/bans?kind=username&value=temp", nil, nil); code != 200 {
		t.Fatalf("unban: %d", code)
	}
	b1.stop()

	b2 := ops17StartOnDisk(t, dir)
	defer b2.stop()
	var list struct {
		Bans []BanJSON `json:"bans"`
	}
	if code := b2.do(t, "GET", "/api/v1/bans", nil, &list); code != 200 {
		t.Fatal(code)
	}
	got := map[string]bool{}
	for _, b := range list.Bans {
		got[b.Kind+"="+b.Value] = true
	}
	if !got["client_id=evil"] || !got["ip=10.1.2.0/24"] || got["username=temp"] || len(got) != 2 {
		t.Errorf("bans after restart: %v, want client_id=evil and ip=10.1.2.0/24", list.Bans)
	}
	c, err := client.Dial(context.Background(), b2.mqtt, &client.Options{ClientID: "evil", Version: packet.V5, CleanStart: true})
	if err == nil {
		_ = c.Close()
		t.Error("the banned client id connected after a restart")
	}
}
