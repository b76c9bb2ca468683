package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roostmq/roost/broker"
)

// The HTTP answer cache is bounded and evicts one answer at a time, the
// least recently used, never all of them. (review M2)
func TestHTTPCacheBoundedPerEntry(t *testing.T) {
	old := maxCache
	maxCache = 3
	defer func() { maxCache = old }()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	defer srv.Close()
	h := NewHTTPAuth(HTTPConfig{ACLURL: srv.URL, CacheTTL: time.Hour}, nil)
	ask := func(topic string) {
		t.Helper()
		if r := h.CheckACL("c", "u", broker.AccessReceive, topic); r != Allow {
			t.Fatalf("%s: %v", topic, r)
		}
	}
	for _, tp := range []string{"a", "b", "c", "a", "d"} { // d evicts b, the least recent
		ask(tp)
	}
	eq := func(what string, got, want int) {
		t.Helper()
		if got != want {
			t.Fatalf("%s: %d, want %d", what, got, want)
		}
	}
	eq("requests", int(calls.Load()), 4)
	h.mu.Lock()
	eq("cached", h.cache.len(), 3)
	h.mu.Unlock()
	ask("a")
	ask("c")
	ask("d")
	eq("requests after hits", int(calls.Load()), 4)
	ask("b")
	eq("requests after the evicted one", int(calls.Load()), 5)
}

// TryCheckACL never waits for the service: it answers from the cache, or
// says it does not know and asks in the background, once however often it
// is called; the Chain passes that on as TryAuthorizeReceive. (review M2)
func TestHTTPTryCheckACLDoesNotBlock(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		<-release
		_, _ = w.Write([]byte(`{"result":"deny"}`))
	}))
	defer srv.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	h := NewHTTPAuth(HTTPConfig{ACLURL: srv.URL, CacheTTL: time.Hour, Timeout: 5 * time.Second}, nil)
	ch := &Chain{Authorizers: []ACLChecker{h}, DefaultAllow: true}
	if !ch.ReceiveMayBlock() {
		t.Fatal("a chain with an HTTP ACL says its receive checks never block")
	}
	if (&Chain{Authorizers: []ACLChecker{NewHTTPAuth(HTTPConfig{ConnectURL: srv.URL}, nil)}}).ReceiveMayBlock() {
		t.Fatal("a chain with an HTTP authenticator only says its receive checks may block")
	}
	start := time.Now()
	for i := 0; i < 100; i++ {
		if _, known := ch.TryAuthorizeReceive("c", "u", "t"); known {
			t.Fatal("known before the service answered")
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("100 non-blocking checks took %v", d)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, known := ch.TryAuthorizeReceive("c", "u", "t")
		if known {
			if ok {
				t.Fatal("the service's deny read as allow")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background answer never arrived")
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d requests for one question", n)
	}
	for {
		h.mu.Lock()
		bg := h.bg
		h.mu.Unlock()
		if bg == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d background questions still counted", bg)
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
}

// End to end: with an HTTP ACL service that is slow to answer receive
// checks, a publisher to a wildcard subscriber is acknowledged at once and
// the message arrives when the service answers; an exact subscription is
// checked at SUBSCRIBE only. (review M2)
func TestHTTPACLSlowServiceDoesNotBlockPublisher(t *testing.T) {
	release := make(chan struct{})
	var recvChecks atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var q map[string]any
		_ = json.NewDecoder(r.Body).Decode(&q)
		if q["access"] == "receive" {
			recvChecks.Add(1)
			<-release
		}
	}))
	defer srv.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	b, err := Build(&Config{HTTP: HTTPConfig{ACLURL: srv.URL, Timeout: 5 * time.Second, CacheTTL: time.Minute}, Anonymous: secPtrBool(true)}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := broker.DefaultOptions()
	opts.Authenticator, opts.Authorizer = b.Chain, b.Chain
	_, addr := startBroker(t, opts)
	sub := dial5(t, addr, v5opts{id: "slow-sub"}).must(t)
	sub.sub(t, "w/#")
	pub := dial5(t, addr, v5opts{id: "slow-pub"}).must(t)
	start := time.Now()
	if rc := pub.pub(t, "w/a", "x", false); rc >= 0x80 {
		t.Fatalf("PUBACK %#x", rc)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the publisher waited %v for the receive check", d)
	}
	close(release)
	select {
	case m := <-sub.msgs:
		if m.Topic != "w/a" {
			t.Fatalf("got %s", m.Topic)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the message never arrived after the service answered")
	}
	before := recvChecks.Load()
	exact := dial5(t, addr, v5opts{id: "exact-sub"}).must(t)
	exact.sub(t, "e/x")
	if recvChecks.Load() != before+1 {
		t.Fatalf("exact SUBSCRIBE: %d receive checks, want 1", recvChecks.Load()-before)
	}
	for i := 0; i < 5; i++ {
		pub.pub(t, "e/x", "y", false)
		select {
		case <-exact.msgs:
		case <-time.After(5 * time.Second):
			t.Fatal("exact subscription got nothing")
		}
	}
	if recvChecks.Load() != before+1 {
		t.Fatalf("deliveries to an exact subscription asked the service %d times", recvChecks.Load()-before-1)
	}
}

func secPtrBool(b bool) *bool { return &b }
