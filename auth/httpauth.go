package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/packet"
)

// HTTPConfig configures HTTPAuth.
type HTTPConfig struct {
	// ConnectURL receives a POST for each CONNECT; "" leaves CONNECT to
	// other members.
	ConnectURL string
	// ACLURL receives a POST for each access check; "" leaves access to
	// other members.
	ACLURL string
	// Timeout bounds each request (default 5s).
	Timeout time.Duration
	// CacheTTL is how long an answer is reused for the same question
	// (default 1m; negative: no cache). Failures are never cached.
	CacheTTL time.Duration
	// FailOpen allows what the service could not answer (timeout, error,
	// unexpected status). false (the default) refuses it: CONNECT with
	// Server Unavailable (0x88), an access with a denial.
	FailOpen bool
	// Client makes the requests; nil means a client with Timeout.
	Client *http.Client
}

// HTTPAuth asks an HTTP service. Each question is a POST of a JSON object:
//
//	CONNECT: {"clientid","username","password","remote_addr","listener","protocol"}
//	access:  {"clientid","username","topic","access"}  access: subscribe, publish or receive
//
// The answer is the status code and an optional JSON body
// {"result": "allow" | "deny" | "ignore"}: 2xx without a result allows,
// 401 and 403 deny, "ignore" lets the next member of the chain decide. Any
// other status, a timeout or a network error is a failure, decided by
// FailOpen.
type HTTPAuth struct {
	cfg HTTPConfig
	log *slog.Logger

	mu       sync.Mutex
	cache    answerCache        // guarded by mu
	inflight map[string]*flight // guarded by mu: questions being asked, by key
	bg       int                // guarded by mu: background questions running
}

// flight is a question being asked; done closes when r and err are set.
type flight struct {
	done chan struct{}
	r    Result
	err  error
}

// maxCache bounds the answers kept; maxBackground the questions
// TryCheckACL asks in the background at once.
var (
	maxCache      = 100_000
	maxBackground = 64
)

// NewHTTPAuth returns an HTTPAuth for cfg.
func NewHTTPAuth(cfg HTTPConfig, log *slog.Logger) *HTTPAuth {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = time.Minute
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &HTTPAuth{cfg: cfg, log: log, inflight: map[string]*flight{}}
}

var (
	_ ConnectChecker = (*HTTPAuth)(nil)
	_ ACLChecker     = (*HTTPAuth)(nil)
)

var accessNames = map[broker.Access]string{broker.AccessSubscribe: "subscribe", broker.AccessPublish: "publish", broker.AccessReceive: "receive"}

// CheckConnect implements ConnectChecker.
func (h *HTTPAuth) CheckConnect(info *broker.ConnectInfo) (Result, error) {
	if h.cfg.ConnectURL == "" || info.AuthMethod != "" {
		return NoOpinion, nil
	}
	remote := ""
	if info.RemoteAddr != nil {
		remote = info.RemoteAddr.String()
	}
	body := map[string]any{"clientid": info.ClientID, "username": info.Username, "password": string(info.Password),
		"remote_addr": remote, "listener": info.Listener, "protocol": int(info.Version)}
	pw := sha256.Sum256(info.Password)
	key := "c\x00" + info.ClientID + "\x00" + info.Username + "\x00" + hex.EncodeToString(pw[:]) + "\x00" + remote
	r, err := h.ask(h.cfg.ConnectURL, key, body)
	if err != nil {
		h.log.Warn("HTTP authentication failed", "url", h.cfg.ConnectURL, "err", err, "fail_open", h.cfg.FailOpen)
		if h.cfg.FailOpen {
			return Allow, nil
		}
		return Deny, &packet.Error{Code: packet.ServerUnavailable, Msg: "authentication service unavailable"}
	}
	if r == Deny {
		return Deny, &packet.Error{Code: packet.NotAuthorized, Msg: "refused by the authentication service"}
	}
	return r, nil
}

// CheckACL implements ACLChecker.
func (h *HTTPAuth) CheckACL(clientID, username string, access broker.Access, topic string) Result {
	if h.cfg.ACLURL == "" {
		return NoOpinion
	}
	body, key := h.aclQuestion(clientID, username, access, topic)
	return h.aclResult(h.ask(h.cfg.ACLURL, key, body))
}

func (h *HTTPAuth) aclQuestion(clientID, username string, access broker.Access, topic string) (map[string]any, string) {
	body := map[string]any{"clientid": clientID, "username": username, "topic": topic, "access": accessNames[access]}
	return body, fmt.Sprintf("a\x00%s\x00%s\x00%d\x00%s", clientID, username, access, topic)
}

func (h *HTTPAuth) aclResult(r Result, err error) Result {
	if err != nil {
		h.log.Warn("HTTP authorization failed", "url", h.cfg.ACLURL, "err", err, "fail_open", h.cfg.FailOpen)
		if h.cfg.FailOpen {
			return Allow
		}
		return Deny
	}
	return r
}

// TryCheckACL answers like CheckACL without blocking: known is false when
// the answer is neither cached nor fails at once; the question is then
// asked in the background (at most maxBackground at a time) and its answer
// cached for the next call.
func (h *HTTPAuth) TryCheckACL(clientID, username string, access broker.Access, topic string) (r Result, known bool) {
	if h.cfg.ACLURL == "" {
		return NoOpinion, true
	}
	body, key := h.aclQuestion(clientID, username, access, topic)
	h.mu.Lock()
	defer h.mu.Unlock()
	if r, ok := h.cache.get(key, time.Now()); ok {
		return r, true
	}
	if h.inflight[key] == nil && h.bg < maxBackground && h.cfg.CacheTTL > 0 {
		h.bg++
		go func() {
			defer func() {
				h.mu.Lock()
				h.bg--
				h.mu.Unlock()
			}()
			h.aclResult(h.ask(h.cfg.ACLURL, key, body))
		}()
	}
	return NoOpinion, false
}

// MayBlock reports whether CheckACL may ask the service.
func (h *HTTPAuth) MayBlock() bool { return h.cfg.ACLURL != "" }

// ask returns the cached answer to key, or posts body to url, once for all
// who ask the same question at the same time, and caches the answer.
func (h *HTTPAuth) ask(url, key string, body any) (Result, error) {
	h.mu.Lock()
	if h.cfg.CacheTTL > 0 {
		if r, ok := h.cache.get(key, time.Now()); ok {
			h.mu.Unlock()
			return r, nil
		}
	}
	if f := h.inflight[key]; f != nil {
		h.mu.Unlock()
		<-f.done
		return f.r, f.err
	}
	f := &flight{done: make(chan struct{})}
	h.inflight[key] = f
	h.mu.Unlock()

	f.r, f.err = h.post(url, body)
	h.mu.Lock()
	delete(h.inflight, key)
	if f.err == nil && h.cfg.CacheTTL > 0 {
		h.cache.put(key, f.r, time.Now().Add(h.cfg.CacheTTL), maxCache)
	}
	h.mu.Unlock()
	close(f.done)
	return f.r, f.err
}

func (h *HTTPAuth) post(url string, body any) (Result, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return NoOpinion, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return NoOpinion, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.cfg.Client.Do(req)
	if err != nil {
		return NoOpinion, err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return NoOpinion, err
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return Deny, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return NoOpinion, fmt.Errorf("status %s", resp.Status)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return Allow, nil
	}
	var ans struct {
		Result string `json:"result"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return NoOpinion, fmt.Errorf("answer is not JSON: %w", err)
	}
	switch ans.Result {
	case "allow", "":
		return Allow, nil
	case "deny":
		return Deny, nil
	case "ignore":
		return NoOpinion, nil
	}
	return NoOpinion, errors.New("answer: unknown result " + ans.Result)
}

// answerCache holds answers, each until it expires, at most a given number:
// a new answer past that takes the place of the least recently used one,
// and an expired one is removed when it is looked up; never all at once.
type answerCache struct {
	m    map[string]*answer
	head answer // sentinel: head.next is the most recent, head.prev the least
}

type answer struct {
	key        string
	r          Result
	until      time.Time
	prev, next *answer
}

func (c *answerCache) unlink(a *answer) { a.prev.next, a.next.prev = a.next, a.prev }

func (c *answerCache) front(a *answer) {
	a.prev, a.next = &c.head, c.head.next
	c.head.next.prev = a
	c.head.next = a
}

// get returns the answer to key if it has not expired at now.
func (c *answerCache) get(key string, now time.Time) (Result, bool) {
	a := c.m[key]
	if a == nil {
		return NoOpinion, false
	}
	c.unlink(a)
	if !now.Before(a.until) {
		delete(c.m, key)
		return NoOpinion, false
	}
	c.front(a)
	return a.r, true
}

// put stores the answer to key until until, evicting the least recently
// used answer when the cache holds limit of them.
func (c *answerCache) put(key string, r Result, until time.Time, limit int) {
	if c.m == nil {
		c.m = make(map[string]*answer)
		c.head.prev, c.head.next = &c.head, &c.head
	}
	a := c.m[key]
	switch {
	case a != nil:
		c.unlink(a)
	case len(c.m) >= limit && len(c.m) > 0:
		a = c.head.prev
		c.unlink(a)
		delete(c.m, a.key)
		a.key = key
		c.m[key] = a
	default:
		a = &answer{key: key}
		c.m[key] = a
	}
	a.r, a.until = r, until
	c.front(a)
}

// len reports how many answers the cache holds.
func (c *answerCache) len() int { return len(c.m) }
