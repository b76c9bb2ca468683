package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/packet"
)

func TestHTTPAuth(t *testing.T) {
	var calls atomic.Int32
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var q map[string]any
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&q) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/connect":
			switch q["username"] {
			case "ok":
				if q["password"] != "pw" || q["clientid"] != "c1" {
					w.WriteHeader(http.StatusUnauthorized)
				}
			case "json-deny":
				_, _ = w.Write([]byte(`{"result":"deny"}`))
			case "ignore":
				_, _ = w.Write([]byte(`{"result":"ignore"}`))
			case "slow":
				<-block
			case "broken":
				w.WriteHeader(http.StatusInternalServerError)
			default:
				w.WriteHeader(http.StatusForbidden)
			}
		case "/acl":
			if q["topic"] == "public" && q["access"] == "subscribe" {
				_, _ = w.Write([]byte(`{"result":"allow"}`))
				return
			}
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	defer srv.Close()
	defer close(block)

	h := NewHTTPAuth(HTTPConfig{ConnectURL: srv.URL + "/connect", ACLURL: srv.URL + "/acl", Timeout: 200 * time.Millisecond}, nil)
	check := func(user, pw string, want Result, wantCode packet.ReasonCode) {
		t.Helper()
		got, err := h.CheckConnect(&broker.ConnectInfo{ClientID: "c1", Username: user, Password: []byte(pw)})
		if got != want || (wantCode != 0 && packet.CodeOf(err) != wantCode) {
			t.Errorf("%s/%s: %v %v, want %v %v", user, pw, got, err, want, wantCode)
		}
	}
	check("ok", "pw", Allow, 0)
	check("ok", "bad", Deny, packet.NotAuthorized)
	check("json-deny", "", Deny, 0)
	check("ignore", "", NoOpinion, 0)
	check("slow", "", Deny, packet.ServerUnavailable) // timeout, fail closed
	check("broken", "", Deny, packet.ServerUnavailable)
	n := calls.Load()
	check("ok", "pw", Allow, 0) // cached
	if calls.Load() != n {
		t.Error("answer not cached")
	}
	if h.CheckACL("c1", "ok", broker.AccessSubscribe, "public") != Allow || h.CheckACL("c1", "ok", broker.AccessPublish, "public") != Deny {
		t.Error("ACL answers")
	}

	open := NewHTTPAuth(HTTPConfig{ConnectURL: srv.URL + "/connect", Timeout: 100 * time.Millisecond, FailOpen: true, CacheTTL: -1}, nil)
	if r, _ := open.CheckConnect(&broker.ConnectInfo{Username: "slow"}); r != Allow {
		t.Errorf("fail open: %v", r)
	}
	if r, _ := open.CheckConnect(&broker.ConnectInfo{Username: "nobody"}); r != Deny {
		t.Errorf("fail open still denies a 403: %v", r)
	}
}

// Through a broker with mosquitto-like clients: paho 5.0.
func TestHTTPAuthWithPaho(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var q map[string]any
		_ = json.NewDecoder(r.Body).Decode(&q)
		if q["username"] != "web" || q["password"] != "token-1" {
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	defer srv.Close()
	b, err := Build(&Config{HTTP: HTTPConfig{ConnectURL: srv.URL}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := broker.DefaultOptions()
	opts.Authenticator, opts.Authorizer = b.Chain, b.Chain
	_, addr := startBroker(t, opts)
	dial5(t, addr, v5opts{id: "w1", user: "web", pass: "token-1"}).must(t)
	if c := dial5(t, addr, v5opts{id: "w2", user: "web", pass: "nope"}); c.code() != byte(packet.NotAuthorized) {
		t.Errorf("refused: %#x", c.code())
	}
}
