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

	mu    sync.Mutex
	cache map[string]cached // guarded by mu
}

type cached struct {
	r     Result
	until time.Time
}

const maxCache = 100_000

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
	return &HTTPAuth{cfg: cfg, log: log, cache: map[string]cached{}}
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
	body := map[string]any{"clientid": clientID, "username": username, "topic": topic, "access": accessNames[access]}
	key := fmt.Sprintf("a\x00%s\x00%s\x00%d\x00%s", clientID, username, access, topic)
	r, err := h.ask(h.cfg.ACLURL, key, body)
	if err != nil {
		h.log.Warn("HTTP authorization failed", "url", h.cfg.ACLURL, "err", err, "fail_open", h.cfg.FailOpen)
		if h.cfg.FailOpen {
			return Allow
		}
		return Deny
	}
	return r
}

func (h *HTTPAuth) ask(url, key string, body any) (Result, error) {
	now := time.Now()
	if h.cfg.CacheTTL > 0 {
		h.mu.Lock()
		c, ok := h.cache[key]
		h.mu.Unlock()
		if ok && now.Before(c.until) {
			return c.r, nil
		}
	}
	r, err := h.post(url, body)
	if err != nil {
		return NoOpinion, err
	}
	if h.cfg.CacheTTL > 0 {
		h.mu.Lock()
		if len(h.cache) >= maxCache {
			for k, c := range h.cache {
				if !now.Before(c.until) {
					delete(h.cache, k)
				}
			}
			if len(h.cache) >= maxCache {
				clear(h.cache)
			}
		}
		h.cache[key] = cached{r, now.Add(h.cfg.CacheTTL)}
		h.mu.Unlock()
	}
	return r, nil
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
