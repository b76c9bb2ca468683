package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
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
)

// env is a broker on 127.0.0.1:0 with an admin server in front of it.
type env struct {
	t      *testing.T
	srv    *broker.Server
	mqtt   string // the broker's address
	http   *httptest.Server
	obs    *Observer
	level  *slog.LevelVar
	logBuf *syncBuffer
	admin  *Server
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	return newEnvWith(t, cfg, nil)
}

// newEnvWith is newEnv with broker options changed by modify.
func newEnvWith(t *testing.T, cfg Config, modify func(*broker.Options)) *env {
	t.Helper()
	e := &env{t: t, obs: NewObserver(), level: new(slog.LevelVar), logBuf: &syncBuffer{}}
	logger := e.obs.Logger(e.logBuf, false, e.level)
	opts := broker.DefaultOptions()
	opts.Listen = nil
	opts.SysInterval = 0
	opts.Logger = logger
	opts.Hooks = e.obs.Hooks(opts.Hooks)
	if modify != nil {
		modify(&opts)
	}
	srv, err := broker.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	e.mqtt = ln.Addr().String()
	a, err := New(Options{Config: cfg, Broker: srv, Logger: logger, Observer: e.obs, LogLevel: e.level,
		WebSocketURLs: []string{"ws://127.0.0.1:1/mqtt"}})
	if err != nil {
		t.Fatal(err)
	}
	e.admin = a
	e.http = httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		e.http.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-served
	})
	return e
}

type syncBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func (b *syncBuffer) lock() {
	if b.mu == nil {
		b.mu = make(chan struct{}, 1)
	}
	b.mu <- struct{}{}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.lock()
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.lock()
	defer func() { <-b.mu }()
	return b.buf.String()
}

// do sends a request and decodes a JSON answer into out (when not nil); it
// returns the status code.
func (e *env) do(method, path string, body any, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.http.URL+path, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

func (e *env) client(id string, v packet.Version, onMessage func(*client.Message)) *client.Client {
	e.t.Helper()
	c, err := client.Dial(context.Background(), e.mqtt, &client.Options{ClientID: id, Version: v, CleanStart: true, OnMessage: onMessage})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		bad string
	}{
		{Config{}, ""},
		{Config{Address: "127.0.0.1:0"}, ""},
		{Config{Address: "localhost:8080"}, ""},
		{Config{Address: "[::1]:8080"}, ""},
		{Config{Address: ":8080"}, "not on loopback"},
		{Config{Address: "0.0.0.0:8080"}, "not on loopback"},
		{Config{Address: "10.0.0.1:8080"}, "not on loopback"},
		{Config{Address: ":8080", Token: "t"}, ""},
		{Config{Address: ":8080", Users: map[string]string{"ops": "pw"}}, ""},
		{Config{Address: ":8080", Users: map[string]string{"a:b": "pw"}}, "not a valid user name"},
		{Config{Address: "nope"}, "not host:port"},
	} {
		err := tc.cfg.Validate()
		if (err == nil) != (tc.bad == "") || (err != nil && !strings.Contains(err.Error(), tc.bad)) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.bad)
		}
	}
	if _, err := New(Options{Config: Config{Address: ":0"}, Broker: &broker.Server{}}); err == nil {
		t.Error("New accepted a public address without credentials")
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, Config{Address: "0.0.0.0:0", Token: "s3cret", Users: map[string]string{"ops": "pw"}})
	get := func(setup func(*http.Request)) int {
		req, _ := http.NewRequest("GET", e.http.URL+"/api/v1/stats", nil)
		setup(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for name, tc := range map[string]struct {
		setup func(*http.Request)
		want  int
	}{
		"none":         {func(*http.Request) {}, 401},
		"bearer":       {func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret") }, 200},
		"bad bearer":   {func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, 401},
		"user":         {func(r *http.Request) { r.SetBasicAuth("ops", "pw") }, 200},
		"bad password": {func(r *http.Request) { r.SetBasicAuth("ops", "nope") }, 401},
		"token as pw":  {func(r *http.Request) { r.SetBasicAuth("anyone", "s3cret") }, 200},
	} {
		if got := get(tc.setup); got != tc.want {
			t.Errorf("%s: status %d, want %d", name, got, tc.want)
		}
	}
	e.admin.SetCredentials("other", nil)
	if got := get(func(r *http.Request) { r.Header.Set("Authorization", "Bearer other") }); got != 200 {
		t.Errorf("after SetCredentials: %d", got)
	}
	if got := get(func(r *http.Request) { r.SetBasicAuth("ops", "pw") }); got != 401 {
		t.Errorf("removed user still accepted: %d", got)
	}
}

func TestEndpoints(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	got := make(chan *client.Message, 16)
	sub := e.client("sub/1", packet.V5, func(m *client.Message) { got <- m })
	if _, err := sub.Subscribe(ctx, client.Subscription{Filter: "sensors/#", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	pub := e.client("pub-1", packet.V311, nil)
	if err := pub.Publish(ctx, &client.Message{Topic: "sensors/temp", Payload: []byte(`{"c":21.5}`), QoS: 1, Retain: true}); err != nil {
		t.Fatal(err)
	}
	<-got

	var info Info
	if code := e.do("GET", "/api/v1/info", nil, &info); code != 200 || info.Version == "" || len(info.WebSocketURLs) != 1 {
		t.Fatalf("info: %d %+v", code, info)
	}

	var stats StatsJSON
	e.do("GET", "/api/v1/stats", nil, &stats)
	if stats.ClientsConnected != 2 || stats.Subscriptions != 1 || stats.Retained != 1 || stats.MessagesIn != 1 ||
		stats.MessagesInByQoS != [3]uint64{0, 1, 0} || len(stats.Listeners) != 1 {
		t.Fatalf("stats: %+v", stats)
	}

	var list struct {
		Total   int
		Clients []ClientJSON
	}
	e.do("GET", "/api/v1/clients", nil, &list)
	if list.Total != 2 || list.Clients[0].ClientID != "pub-1" || list.Clients[1].ProtocolVersion != 5 {
		t.Fatalf("clients: %+v", list)
	}
	e.do("GET", "/api/v1/clients?search=sub", nil, &list)
	if list.Total != 1 || list.Clients[0].ClientID != "sub/1" {
		t.Fatalf("search: %+v", list)
	}
	e.do("GET", "/api/v1/clients?prefix=pub&limit=0", nil, &list)
	if list.Total != 1 || len(list.Clients) != 0 {
		t.Fatalf("prefix, limit 0: %+v", list)
	}
	if code := e.do("GET", "/api/v1/clients?connected=maybe", nil, nil); code != 400 {
		t.Fatalf("bad connected: %d", code)
	}

	var cj ClientJSON
	if code := e.do("GET", "/api/v1/clients/"+url.PathEscape("sub/1"), nil, &cj); code != 200 ||
		len(cj.Subs) != 1 || cj.Subs[0].Filter != "sensors/#" || !cj.Connected || cj.MessagesOutByQoS[1] != 1 {
		t.Fatalf("client sub/1: %d %+v", code, cj)
	}
	if code := e.do("GET", "/api/v1/clients/nobody", nil, nil); code != 404 {
		t.Fatalf("unknown client: %d", code)
	}

	var subs struct{ Subscriptions []SubscriptionJSON }
	e.do("GET", "/api/v1/subscriptions?search=sensors", nil, &subs)
	if len(subs.Subscriptions) != 1 || subs.Subscriptions[0].ClientID != "sub/1" || subs.Subscriptions[0].QoS != 1 {
		t.Fatalf("subscriptions: %+v", subs)
	}

	var ret struct{ Retained []RetainedJSON }
	e.do("GET", "/api/v1/retained?filter=sensors/%2B", nil, &ret)
	if len(ret.Retained) != 1 || *ret.Retained[0].Payload != `{"c":21.5}` {
		t.Fatalf("retained: %+v", ret)
	}
	if code := e.do("GET", "/api/v1/retained?filter=a/%23/b", nil, nil); code != 400 {
		t.Fatalf("bad filter: %d", code)
	}
	var one RetainedJSON
	if code := e.do("GET", "/api/v1/retained/message?topic=sensors/temp", nil, &one); code != 200 || one.QoS != 1 {
		t.Fatalf("retained message: %d %+v", code, one)
	}

	// Publish through the API: the subscriber gets it.
	if code := e.do("POST", "/api/v1/publish", PublishJSON{Topic: "sensors/hum", Payload: "40", QoS: 1}, nil); code != 200 {
		t.Fatalf("publish: %d", code)
	}
	if m := <-got; m.Topic != "sensors/hum" || string(m.Payload) != "40" {
		t.Fatalf("received %s %q", m.Topic, m.Payload)
	}
	if code := e.do("POST", "/api/v1/publish", PublishJSON{Topic: "a/+", Payload: "x"}, nil); code != 400 {
		t.Fatalf("publish to a filter: %d", code)
	}
	if code := e.do("POST", "/api/v1/publish", map[string]any{"topic": "a", "nope": 1}, nil); code != 400 {
		t.Fatalf("unknown field: %d", code)
	}
	if code := e.do("POST", "/api/v1/publish", PublishJSON{Topic: "bin", PayloadBase64: "AAE=", Retain: true}, nil); code != 200 {
		t.Fatalf("publish base64: %d", code)
	}
	e.do("GET", "/api/v1/retained/message?topic=bin", nil, &one)
	if one.Payload == nil || one.PayloadBase64 != "AAE=" || one.Size != 2 {
		t.Fatalf("binary retained: %+v", one)
	}

	// Topics: retained values and subscriber counts; counts while polled.
	var topics struct {
		Topics []TopicJSON
	}
	e.do("GET", "/api/v1/topics", nil, &topics)
	if err := pub.Publish(ctx, &client.Message{Topic: "sensors/temp", Payload: []byte("22")}); err != nil {
		t.Fatal(err)
	}
	<-got
	waitFor(t, "topic counts", func() bool {
		e.do("GET", "/api/v1/topics", nil, &topics)
		for _, tp := range topics.Topics {
			if tp.Topic == "sensors/temp" {
				return tp.Messages == 1 && tp.Subscribers == 1 && tp.Retained != nil
			}
		}
		return false
	})

	// Trace one client: its events are logged at debug although the level
	// is info, other clients' are not.
	if code := e.do("PUT", "/api/v1/clients/pub-1/trace", TraceJSON{Enabled: true}, nil); code != 200 {
		t.Fatalf("trace: %d", code)
	}
	var tr TraceJSON
	e.do("GET", "/api/v1/clients/pub-1/trace", nil, &tr)
	var traces map[string][]string
	e.do("GET", "/api/v1/traces", nil, &traces)
	if !tr.Enabled || len(traces["traced"]) != 1 {
		t.Fatalf("trace state: %+v %v", tr, traces)
	}
	if err := pub.Publish(ctx, &client.Message{Topic: "sensors/traced", Payload: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	if err := sub.Publish(ctx, &client.Message{Topic: "sensors/untraced", Payload: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	<-got
	<-got
	waitFor(t, "trace log", func() bool { return strings.Contains(e.logBuf.String(), "topic=sensors/traced") })
	if strings.Contains(e.logBuf.String(), "sensors/untraced") {
		t.Fatalf("an untraced client was logged:\n%s", e.logBuf.String())
	}
	e.do("PUT", "/api/v1/clients/pub-1/trace", TraceJSON{Enabled: false}, nil)
	if e.obs.IsTraced("pub-1") {
		t.Fatal("still traced")
	}

	// Log level.
	var lv LogJSON
	if code := e.do("PUT", "/api/v1/log", LogJSON{Level: "debug"}, &lv); code != 200 || e.level.Level() != slog.LevelDebug {
		t.Fatalf("log level: %d %+v", code, lv)
	}
	e.do("GET", "/api/v1/log", nil, &lv)
	if lv.Level != "debug" {
		t.Fatalf("log level: %+v", lv)
	}
	if code := e.do("PUT", "/api/v1/log", LogJSON{Level: "loud"}, nil); code != 400 {
		t.Fatalf("bad level: %d", code)
	}

	// Delete the retained message.
	if code := e.do("DELETE", "/api/v1/retained/message?topic=sensors/temp", nil, nil); code != 200 {
		t.Fatalf("delete retained: %d", code)
	}
	if code := e.do("DELETE", "/api/v1/retained/message?topic=sensors/temp", nil, nil); code != 404 {
		t.Fatalf("delete retained twice: %d", code)
	}
	if code := e.do("GET", "/api/v1/retained/message?topic=sensors/temp", nil, nil); code != 404 {
		t.Fatalf("deleted retained still there: %d", code)
	}

	// Kick: the 5.0 client learns why.
	if code := e.do("POST", "/api/v1/clients/"+url.PathEscape("sub/1")+"/kick", nil, nil); code != 200 {
		t.Fatalf("kick: %d", code)
	}
	select {
	case <-sub.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("kicked client still connected")
	}
	if err := sub.Err(); err == nil || !strings.Contains(err.Error(), "administrative action") {
		t.Errorf("kicked client's error: %v", err)
	}
	if code := e.do("POST", "/api/v1/clients/nobody/kick", nil, nil); code != 404 {
		t.Fatalf("kick unknown: %d", code)
	}

	if code := e.do("GET", "/api/v1/nope", nil, nil); code != 404 {
		t.Fatalf("unknown endpoint: %d", code)
	}
}

// The OpenAPI document is valid JSON, names every route served and serves
// none it does not name.
func TestOpenAPI(t *testing.T) {
	e := newEnv(t, Config{})
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if code := e.do("GET", "/api/v1/openapi.json", nil, &doc); code != 200 || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi: %d %q", code, doc.OpenAPI)
	}
	want := map[string]bool{"GET /metrics": true}
	for _, rt := range routes {
		want[rt.method+" "+rt.path] = true
	}
	have := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			have[strings.ToUpper(m)+" "+p] = true
		}
	}
	for k := range want {
		if !have[k] {
			t.Errorf("served but not in openapi.json: %s", k)
		}
	}
	for k := range have {
		if !want[k] {
			t.Errorf("in openapi.json but not served: %s", k)
		}
	}
}

func TestDashboardServed(t *testing.T) {
	e := newEnv(t, Config{})
	resp, err := http.Get(e.http.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<title>Roost") {
		t.Fatalf("dashboard: %d\n%s", resp.StatusCode, body)
	}
}

// Serve and Shutdown over a real listener.
func TestListenServe(t *testing.T) {
	srv, err := broker.New(broker.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	a, err := New(Options{Config: Config{Address: "127.0.0.1:0"}, Broker: srv})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve() }()
	resp, err := http.Get("http://" + a.Addr().String() + "/api/v1/info")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("serve: %v", err)
	}
}

// refuseIntruder refuses the username "intruder".
type refuseIntruder struct{}

func (refuseIntruder) Authenticate(info *broker.ConnectInfo) error {
	if info.Username == "intruder" {
		return packet.BadUsernameOrPassword
	}
	return nil
}

// The metrics after a known workload: two clients on one listener, three
// publishes at QoS 0, 1 and 2 to a QoS 2 subscriber, one of them retained,
// and one CONNECT refused by the authenticator.
func TestMetricsAfterWorkload(t *testing.T) {
	e := newEnvWith(t, Config{}, func(o *broker.Options) { o.Authenticator = refuseIntruder{} })
	ctx := context.Background()
	got := make(chan *client.Message, 16)
	sub := e.client("m-sub", packet.V5, func(m *client.Message) { got <- m })
	if _, err := sub.Subscribe(ctx, client.Subscription{Filter: "w/#", QoS: 2}); err != nil {
		t.Fatal(err)
	}
	pub := e.client("m-pub", packet.V311, nil)
	for q := range byte(3) {
		if err := pub.Publish(ctx, &client.Message{Topic: "w/x", Payload: []byte("12345"), QoS: q, Retain: q == 1}); err != nil {
			t.Fatal(err)
		}
		<-got
	}
	if _, err := client.Dial(ctx, e.mqtt, &client.Options{ClientID: "x", Username: "intruder", CleanStart: true}); err == nil {
		t.Fatal("the intruder connected")
	}
	waitFor(t, "acks and the refused connection gone", func() bool {
		m := e.srv.Metrics()
		return m.Inflight == 0 && m.ClientsConnected == 2
	})
	resp, err := http.Get(e.http.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	ln := e.mqtt
	for _, want := range []string{
		`roost_clients_hibernating 0`,
		`roost_sessions 2`,
		`roost_sessions_online 2`,
		`roost_subscriptions 1`,
		`roost_retained_messages 1`,
		`roost_connections{listener="` + ln + `"} 2`,
		`roost_connections_total{listener="` + ln + `"} 3`,
		`roost_messages_received_total{listener="` + ln + `",qos="0"} 1`,
		`roost_messages_received_total{listener="` + ln + `",qos="1"} 1`,
		`roost_messages_received_total{listener="` + ln + `",qos="2"} 1`,
		`roost_messages_sent_total{listener="` + ln + `",qos="0"} 1`,
		`roost_messages_sent_total{listener="` + ln + `",qos="1"} 1`,
		`roost_messages_sent_total{listener="` + ln + `",qos="2"} 1`,
		`roost_messages_dropped_total{reason="queue_full"} 0`,
		`roost_inflight_messages 0`,
		`roost_queued_messages 0`,
		`roost_auth_failures_total{listener="` + ln + `"} 1`,
		`roost_panics_total 0`,
		`roost_build_info{version="` + broker.Version + `"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want+"\n") && !strings.Contains(text, want+" ") {
			t.Errorf("metrics: no %q", want)
		}
	}
	if !strings.Contains(text, `roost_bytes_received_total{listener="`+ln+`"}`) {
		t.Error("no bytes received")
	}
	if t.Failed() {
		t.Log(text)
	}
}

// testLogger writes the broker's and listeners' logs to the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(&testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func TestBans(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.client("mallory", packet.V5, nil)
	if code := e.do("POST", "/api/v1/bans", BanJSON{Kind: "client_id", Value: "mallory"}, nil); code != 200 {
		t.Fatalf("ban: %d", code)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("banned client still connected")
	}
	var list struct{ Bans []BanJSON }
	e.do("GET", "/api/v1/bans", nil, &list)
	if len(list.Bans) != 1 || list.Bans[0].Kind != "client_id" || list.Bans[0].Value != "mallory" {
		t.Fatalf("bans: %+v", list)
	}
	if _, err := client.Dial(context.Background(), e.mqtt, &client.Options{ClientID: "mallory", Version: packet.V5, CleanStart: true}); err == nil {
		t.Fatal("a banned client connected")
	}
	if code := e.do("POST", "/api/v1/bans", BanJSON{Kind: "ip", Value: "not-an-ip"}, nil); code != 400 {
		t.Fatalf("bad ban: %d", code)
	}
	if code := e.do("POST", "/api/v1/bans", BanJSON{Kind: "planet", Value: "x"}, nil); code != 400 {
		t.Fatalf("bad kind: %d", code)
	}
	if code := e.do("DELETE", "/api/v1/bans?kind=client_id&value=mallory", nil, nil); code != 200 {
		t.Fatalf("unban: %d", code)
	}
	if code := e.do("DELETE", "/api/v1/bans?kind=client_id&value=mallory", nil, nil); code != 404 {
		t.Fatalf("unban twice: %d", code)
	}
	e.client("mallory", packet.V5, nil)
}

type fakeSyncStore struct{}

func (fakeSyncStore) SyncLatency() (uint64, time.Duration, map[float64]uint64) {
	return 3, 6 * time.Millisecond, map[float64]uint64{0.001: 1, 0.005: 3}
}

func TestStoreSyncMetric(t *testing.T) {
	srv, err := broker.New(broker.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	a, err := New(Options{Broker: srv, Store: fakeSyncStore{}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`roost_store_sync_seconds_bucket{le="0.001"} 1`,
		`roost_store_sync_seconds_bucket{le="0.005"} 3`,
		`roost_store_sync_seconds_sum 0.006`,
		`roost_store_sync_seconds_count 3`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("no %q", want)
		}
	}
}
