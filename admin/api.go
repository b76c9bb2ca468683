package admin

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/topic"
)

// route is one endpoint; routes lists them all, and the OpenAPI document is
// tested against it.
type route struct {
	method, path string // path in OpenAPI form: {name}
	handler      func(*Server, http.ResponseWriter, *http.Request)
}

var routes = []route{
	{"GET", "/api/v1/info", (*Server).getInfo},
	{"GET", "/api/v1/stats", (*Server).getStats},
	{"GET", "/api/v1/clients", (*Server).listClients},
	{"GET", "/api/v1/clients/{id}", (*Server).getClient},
	{"DELETE", "/api/v1/clients/{id}", (*Server).deleteClient},
	{"POST", "/api/v1/clients/{id}/kick", (*Server).kickClient},
	{"POST", "/api/v1/clients/{id}/subscriptions", (*Server).subscribeClient},
	{"DELETE", "/api/v1/clients/{id}/subscriptions", (*Server).unsubscribeClient},
	{"GET", "/api/v1/clients/{id}/trace", (*Server).getTrace},
	{"PUT", "/api/v1/clients/{id}/trace", (*Server).putTrace},
	{"GET", "/api/v1/traces", (*Server).listTraces},
	{"GET", "/api/v1/subscriptions", (*Server).listSubscriptions},
	{"GET", "/api/v1/retained", (*Server).listRetained},
	{"GET", "/api/v1/retained/message", (*Server).getRetained},
	{"DELETE", "/api/v1/retained/message", (*Server).deleteRetained},
	{"GET", "/api/v1/topics", (*Server).getTopics},
	{"POST", "/api/v1/publish", (*Server).publish},
	{"GET", "/api/v1/bans", (*Server).listBans},
	{"POST", "/api/v1/bans", (*Server).addBan},
	{"DELETE", "/api/v1/bans", (*Server).deleteBan},
	{"GET", "/api/v1/log", (*Server).getLog},
	{"PUT", "/api/v1/log", (*Server).putLog},
	{"GET", "/api/v1/openapi.json", (*Server).getOpenAPI},
}

func (s *Server) routes(mux *http.ServeMux) {
	for _, rt := range routes {
		h := rt.handler
		mux.HandleFunc(rt.method+" "+rt.path, func(w http.ResponseWriter, r *http.Request) { h(s, w, r) })
	}
	mux.Handle("GET /metrics", s.metricsHandler())
	mux.Handle("GET /mqtt", s.tapHandler())
	mux.HandleFunc("GET /login", s.getLogin)
	mux.HandleFunc("POST /login", s.postLogin)
	mux.HandleFunc("POST /logout", s.postLogout)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	ui := uiHandler()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		ui.ServeHTTP(w, r)
	})
}

// apiError is the body of every error response.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiError{Error: msg})
}

// readJSON decodes a small JSON body strictly.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		return false
	}
	return true
}

// Info is GET /api/v1/info.
type Info struct {
	Version       string   `json:"version"`
	WebSocketURLs []string `json:"websocket_urls"`
	// TapPath, when set, is where the admin listener itself forwards MQTT
	// over WebSocket to the broker: the tap's default URL.
	TapPath    string `json:"tap_path,omitempty"`
	Trace      bool   `json:"trace"`
	TopicRates bool   `json:"topic_rates"`
}

func (s *Server) getInfo(w http.ResponseWriter, r *http.Request) {
	urls := s.opts.WebSocketURLs
	if u := s.opts.Config.WebSocketURL; u != "" {
		urls = []string{u}
	}
	if urls == nil {
		urls = []string{}
	}
	tapPath := ""
	if s.tapTarget() != nil {
		tapPath = "/mqtt"
	}
	writeJSON(w, http.StatusOK, Info{Version: broker.Version, WebSocketURLs: urls, TapPath: tapPath,
		Trace: s.opts.Observer != nil, TopicRates: s.opts.Observer != nil})
}

// StatsJSON is GET /api/v1/stats.
type StatsJSON struct {
	Version          string            `json:"version"`
	UptimeSeconds    float64           `json:"uptime_seconds"`
	ClientsConnected int64             `json:"clients_connected"`
	ClientsTotal     uint64            `json:"clients_total"`
	Sessions         int               `json:"sessions"`
	SessionsOnline   int               `json:"sessions_online"`
	Hibernating      int               `json:"clients_hibernating"`
	Subscriptions    int               `json:"subscriptions"`
	Retained         int               `json:"retained"`
	MessagesIn       uint64            `json:"messages_in"`
	MessagesOut      uint64            `json:"messages_out"`
	MessagesInByQoS  [3]uint64         `json:"messages_in_by_qos"`
	MessagesOutByQoS [3]uint64         `json:"messages_out_by_qos"`
	BytesIn          uint64            `json:"bytes_in"`
	BytesOut         uint64            `json:"bytes_out"`
	Dropped          map[string]uint64 `json:"dropped"`
	AuthFailures     uint64            `json:"auth_failures"`
	Inflight         int               `json:"inflight"`
	Queued           int               `json:"queued"`
	QueuedBytes      int               `json:"queued_bytes"`
	PendingBytes     int               `json:"pending_bytes"`
	Listeners        []ListenerJSON    `json:"listeners"`
}

// ListenerJSON is one listener's totals.
type ListenerJSON struct {
	Listener         string    `json:"listener"`
	Connections      int64     `json:"connections"`
	ConnectionsTotal uint64    `json:"connections_total"`
	MessagesInByQoS  [3]uint64 `json:"messages_in_by_qos"`
	MessagesOutByQoS [3]uint64 `json:"messages_out_by_qos"`
	BytesIn          uint64    `json:"bytes_in"`
	BytesOut         uint64    `json:"bytes_out"`
}

func (s *Server) getStats(w http.ResponseWriter, r *http.Request) {
	m := s.opts.Broker.Metrics()
	out := StatsJSON{Version: m.Version, UptimeSeconds: m.Uptime.Seconds(), ClientsConnected: m.ClientsConnected,
		ClientsTotal: m.ClientsTotal, Sessions: m.Sessions, SessionsOnline: m.SessionsOnline, Hibernating: m.ClientsHibernating,
		Subscriptions: m.Subscriptions, Retained: m.Retained, MessagesIn: m.MessagesIn[0] + m.MessagesIn[1] + m.MessagesIn[2],
		MessagesOut: m.MessagesOut[0] + m.MessagesOut[1] + m.MessagesOut[2], MessagesInByQoS: m.MessagesIn,
		MessagesOutByQoS: m.MessagesOut, BytesIn: m.BytesIn, BytesOut: m.BytesOut, Dropped: m.Dropped,
		AuthFailures: m.AuthFailures, Inflight: m.Inflight, Queued: m.Queued, QueuedBytes: m.QueuedBytes,
		PendingBytes: m.PendingBytes, Listeners: []ListenerJSON{}}
	for _, l := range m.Listeners {
		out.Listeners = append(out.Listeners, ListenerJSON{Listener: l.Listener, Connections: l.Connections,
			ConnectionsTotal: l.Total, MessagesInByQoS: l.Counters.MessagesIn, MessagesOutByQoS: l.Counters.MessagesOut,
			BytesIn: l.Counters.BytesIn, BytesOut: l.Counters.BytesOut})
	}
	writeJSON(w, http.StatusOK, out)
}

// ClientJSON is one client in GET /api/v1/clients and /clients/{id}.
type ClientJSON struct {
	ClientID             string              `json:"client_id"`
	Username             string              `json:"username"`
	RemoteAddr           string              `json:"remote_addr"`
	Listener             string              `json:"listener"`
	ProtocolVersion      int                 `json:"protocol_version"`
	Connected            bool                `json:"connected"`
	KeepAlive            uint16              `json:"keep_alive"`
	SessionExpirySeconds int64               `json:"session_expiry_seconds"`
	DisconnectedAt       *time.Time          `json:"disconnected_at,omitempty"`
	Inflight             int                 `json:"inflight"`
	Queued               int                 `json:"queued"`
	QueuedBytes          int                 `json:"queued_bytes"`
	PendingBytes         int                 `json:"pending_bytes"`
	BufferedBytes        int                 `json:"buffered_bytes"`
	Subscriptions        int                 `json:"subscriptions"`
	MessagesInByQoS      [3]uint64           `json:"messages_in_by_qos"`
	MessagesOutByQoS     [3]uint64           `json:"messages_out_by_qos"`
	BytesIn              uint64              `json:"bytes_in"`
	BytesOut             uint64              `json:"bytes_out"`
	Dropped              map[string]uint64   `json:"dropped,omitempty"`
	Traced               bool                `json:"traced"`
	Subs                 []*SubscriptionJSON `json:"subscription_list,omitempty"`
}

func (s *Server) clientJSON(ci broker.ClientInfo) ClientJSON {
	exp := int64(ci.SessionExpiry / time.Second)
	if ci.SessionExpiry < 0 {
		exp = -1
	}
	out := ClientJSON{ClientID: ci.ClientID, Username: ci.Username, RemoteAddr: ci.RemoteAddr, Listener: ci.Listener,
		ProtocolVersion: ci.Version, Connected: ci.Connected, KeepAlive: ci.KeepAlive, SessionExpirySeconds: exp,
		Inflight: ci.Inflight, Queued: ci.Queued, QueuedBytes: ci.QueuedBytes, PendingBytes: ci.PendingBytes,
		BufferedBytes: ci.BufferedBytes, Subscriptions: ci.Subscriptions, MessagesInByQoS: ci.Counters.MessagesIn,
		MessagesOutByQoS: ci.Counters.MessagesOut, BytesIn: ci.Counters.BytesIn, BytesOut: ci.Counters.BytesOut,
		Dropped: ci.Dropped, Traced: s.opts.Observer != nil && s.opts.Observer.IsTraced(ci.ClientID)}
	if !ci.Connected && !ci.LastSeen.IsZero() {
		t := ci.LastSeen
		out.DisconnectedAt = &t
	}
	for _, sub := range ci.Subs {
		out.Subs = append(out.Subs, subscriptionJSON(sub))
	}
	return out
}

// listClients: ?search= matches a substring of the client id or username,
// ?prefix= a client id prefix, ?connected=true|false filters; ?limit=
// bounds the result (default 1000).
func (s *Server) listClients(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	prefix := q.Get("prefix")
	limit, ok := intParam(w, q.Get("limit"), 1000)
	if !ok {
		return
	}
	var connected *bool
	if v := q.Get("connected"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "connected: want true or false")
			return
		}
		connected = &b
	}
	list := s.opts.Broker.Clients(q.Get("search"))
	out := struct {
		Total   int          `json:"total"`
		Clients []ClientJSON `json:"clients"`
	}{Clients: []ClientJSON{}}
	for _, ci := range list {
		if !strings.HasPrefix(ci.ClientID, prefix) || (connected != nil && ci.Connected != *connected) {
			continue
		}
		out.Total++
		if len(out.Clients) < limit {
			out.Clients = append(out.Clients, s.clientJSON(ci))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func intParam(w http.ResponseWriter, v string, def int) (int, bool) {
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		writeError(w, http.StatusBadRequest, "limit: want a number >= 0")
		return 0, false
	}
	return n, true
}

func (s *Server) getClient(w http.ResponseWriter, r *http.Request) {
	ci, ok := s.opts.Broker.Client(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "no session for client id "+strconv.Quote(r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, s.clientJSON(ci))
}

func (s *Server) kickClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.opts.Broker.Kick(id); err != nil {
		if errors.Is(err, broker.ErrNoSuchClient) {
			writeError(w, http.StatusNotFound, "client "+strconv.Quote(id)+" is not connected")
			return
		}
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.log.Info("admin: client kicked", "client", id, "by", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]any{"kicked": id})
}

// deleteClient deletes an offline session with its stored state: 409 while
// its client is connected, 404 for an unknown client id.
func (s *Server) deleteClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	switch err := s.opts.Broker.DeleteSession(id); {
	case err == nil:
	case errors.Is(err, broker.ErrNoSuchSession):
		writeError(w, http.StatusNotFound, "no session for client id "+strconv.Quote(id))
		return
	case errors.Is(err, broker.ErrSessionConnected):
		writeError(w, http.StatusConflict, "client "+strconv.Quote(id)+" is connected: kick it first")
		return
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.log.Info("admin: session deleted", "client", id, "by", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]any{"deleted": id})
}

// SubscribeJSON is the body of POST /api/v1/clients/{id}/subscriptions.
type SubscribeJSON struct {
	Filter            string `json:"filter"`
	QoS               byte   `json:"qos"`
	NoLocal           bool   `json:"no_local"`
	RetainAsPublished bool   `json:"retain_as_published"`
	RetainHandling    byte   `json:"retain_handling"`
	ID                uint32 `json:"subscription_id"`
}

// subscribeClient subscribes a session, connected or not, on its client's
// behalf; saved like the client's own SUBSCRIBE.
func (s *Server) subscribeClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var b SubscribeJSON
	if !readJSON(w, r, &b) {
		return
	}
	err := s.opts.Broker.SubscribeFor(id, broker.SubscriptionInfo{Filter: b.Filter, QoS: b.QoS, NoLocal: b.NoLocal,
		RetainAsPublished: b.RetainAsPublished, RetainHandling: b.RetainHandling, ID: b.ID})
	if !s.sessionError(w, id, err) {
		return
	}
	s.log.Info("admin: subscribed on behalf", "client", id, "filter", b.Filter, "qos", b.QoS, "by", r.RemoteAddr)
	writeJSON(w, http.StatusOK, subscriptionJSON(broker.SubscriptionInfo{ClientID: id, Filter: b.Filter, QoS: b.QoS,
		NoLocal: b.NoLocal, RetainAsPublished: b.RetainAsPublished, RetainHandling: b.RetainHandling, ID: b.ID}))
}

// unsubscribeClient: ?filter=, the subscription's filter exactly.
func (s *Server) unsubscribeClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	filter := r.URL.Query().Get("filter")
	if filter == "" {
		writeError(w, http.StatusBadRequest, "filter: missing")
		return
	}
	if !s.sessionError(w, id, s.opts.Broker.UnsubscribeFor(id, filter)) {
		return
	}
	s.log.Info("admin: unsubscribed on behalf", "client", id, "filter", filter, "by", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]string{"client_id": id, "unsubscribed": filter})
}

// sessionError answers err of a change to a session; it reports whether err
// was nil.
func (s *Server) sessionError(w http.ResponseWriter, id string, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, broker.ErrNoSuchSession):
		writeError(w, http.StatusNotFound, "no session for client id "+strconv.Quote(id))
	case errors.Is(err, broker.ErrNoSuchSubscription):
		writeError(w, http.StatusNotFound, "client "+strconv.Quote(id)+" has no such subscription")
	case errors.Is(err, broker.ErrBadSubscription):
		writeError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "broker: "))
	case errors.Is(err, broker.ErrServerClosed):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
	return false
}

// TraceJSON is the body of GET and PUT /api/v1/clients/{id}/trace.
type TraceJSON struct {
	ClientID string `json:"client_id,omitempty"`
	Enabled  bool   `json:"enabled"`
}

func (s *Server) getTrace(w http.ResponseWriter, r *http.Request) {
	if s.opts.Observer == nil {
		writeError(w, http.StatusNotImplemented, "tracing is not available")
		return
	}
	id := r.PathValue("id")
	writeJSON(w, http.StatusOK, TraceJSON{ClientID: id, Enabled: s.opts.Observer.IsTraced(id)})
}

func (s *Server) putTrace(w http.ResponseWriter, r *http.Request) {
	if s.opts.Observer == nil {
		writeError(w, http.StatusNotImplemented, "tracing is not available")
		return
	}
	var body TraceJSON
	if !readJSON(w, r, &body) {
		return
	}
	id := r.PathValue("id")
	s.opts.Observer.SetTrace(id, body.Enabled)
	s.log.Info("admin: client trace", "client", id, "enabled", body.Enabled)
	writeJSON(w, http.StatusOK, TraceJSON{ClientID: id, Enabled: body.Enabled})
}

func (s *Server) listTraces(w http.ResponseWriter, r *http.Request) {
	ids := []string{}
	if s.opts.Observer != nil {
		ids = s.opts.Observer.Traced()
	}
	writeJSON(w, http.StatusOK, map[string][]string{"traced": ids})
}

// SubscriptionJSON is one subscription.
type SubscriptionJSON struct {
	ClientID          string `json:"client_id"`
	Filter            string `json:"filter"`
	QoS               byte   `json:"qos"`
	NoLocal           bool   `json:"no_local"`
	RetainAsPublished bool   `json:"retain_as_published"`
	RetainHandling    byte   `json:"retain_handling"`
	ID                uint32 `json:"subscription_id,omitempty"`
}

func subscriptionJSON(s broker.SubscriptionInfo) *SubscriptionJSON {
	return &SubscriptionJSON{ClientID: s.ClientID, Filter: s.Filter, QoS: s.QoS, NoLocal: s.NoLocal,
		RetainAsPublished: s.RetainAsPublished, RetainHandling: s.RetainHandling, ID: s.ID}
}

func (s *Server) listSubscriptions(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Subscriptions []*SubscriptionJSON `json:"subscriptions"`
	}{Subscriptions: []*SubscriptionJSON{}}
	for _, sub := range s.opts.Broker.Subscriptions(r.URL.Query().Get("search")) {
		out.Subscriptions = append(out.Subscriptions, subscriptionJSON(sub))
	}
	writeJSON(w, http.StatusOK, out)
}

// RetainedJSON is one retained message. Payload is the payload as text when
// it is valid UTF-8, and PayloadBase64 always carries it exactly.
type RetainedJSON struct {
	Topic         string     `json:"topic"`
	QoS           byte       `json:"qos"`
	Payload       *string    `json:"payload,omitempty"`
	PayloadBase64 string     `json:"payload_base64"`
	Size          int        `json:"size"`
	Created       time.Time  `json:"created"`
	Expiry        *time.Time `json:"expiry,omitempty"`
}

func retainedJSON(m broker.RetainedInfo) RetainedJSON {
	out := RetainedJSON{Topic: m.Topic, QoS: m.QoS, PayloadBase64: base64.StdEncoding.EncodeToString(m.Payload),
		Size: len(m.Payload), Created: m.Created}
	if utf8.Valid(m.Payload) {
		p := string(m.Payload)
		out.Payload = &p
	}
	if !m.Expiry.IsZero() {
		e := m.Expiry
		out.Expiry = &e
	}
	return out
}

// listRetained: ?filter= a topic filter (default: every topic, $SYS
// included).
func (s *Server) listRetained(w http.ResponseWriter, r *http.Request) {
	filter := r.URL.Query().Get("filter")
	if filter != "" {
		if err := topic.ValidFilter(filter); err != nil {
			writeError(w, http.StatusBadRequest, "filter: "+err.Error())
			return
		}
	}
	out := struct {
		Retained []RetainedJSON `json:"retained"`
	}{Retained: []RetainedJSON{}}
	for _, m := range s.opts.Broker.RetainedMessages(filter) {
		out.Retained = append(out.Retained, retainedJSON(m))
	}
	writeJSON(w, http.StatusOK, out)
}

// topicParam reads ?topic=, a topic name.
func topicParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.URL.Query().Get("topic")
	if err := topic.ValidName(name); err != nil {
		writeError(w, http.StatusBadRequest, "topic: "+err.Error())
		return "", false
	}
	return name, true
}

func (s *Server) getRetained(w http.ResponseWriter, r *http.Request) {
	name, ok := topicParam(w, r)
	if !ok {
		return
	}
	m, ok := s.opts.Broker.RetainedMessage(name)
	if !ok {
		writeError(w, http.StatusNotFound, "no retained message on "+strconv.Quote(name))
		return
	}
	writeJSON(w, http.StatusOK, retainedJSON(m))
}

func (s *Server) deleteRetained(w http.ResponseWriter, r *http.Request) {
	name, ok := topicParam(w, r)
	if !ok {
		return
	}
	found, err := s.opts.Broker.DeleteRetained(name)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, "no retained message on "+strconv.Quote(name))
		return
	}
	s.log.Info("admin: retained message deleted", "topic", name, "by", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]string{"deleted": name})
}

// PublishJSON is the body of POST /api/v1/publish: payload as text, or
// payload_base64 for bytes. $SYS topics are refused: the broker publishes
// them.
type PublishJSON struct {
	Topic         string `json:"topic"`
	Payload       string `json:"payload"`
	PayloadBase64 string `json:"payload_base64"`
	QoS           byte   `json:"qos"`
	Retain        bool   `json:"retain"`
}

func (s *Server) publish(w http.ResponseWriter, r *http.Request) {
	var p PublishJSON
	if !readJSON(w, r, &p) {
		return
	}
	payload := []byte(p.Payload)
	if p.PayloadBase64 != "" {
		if p.Payload != "" {
			writeError(w, http.StatusBadRequest, "give payload or payload_base64, not both")
			return
		}
		b, err := base64.StdEncoding.DecodeString(p.PayloadBase64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "payload_base64: "+err.Error())
			return
		}
		payload = b
	}
	if p.Topic == "$SYS" || strings.HasPrefix(p.Topic, "$SYS/") {
		writeError(w, http.StatusBadRequest, "topic: $SYS topics are the broker's own")
		return
	}
	if err := s.opts.Broker.Publish(p.Topic, payload, p.QoS, p.Retain); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"published": p.Topic, "size": len(payload)})
}

// TopicJSON is one topic of GET /api/v1/topics.
type TopicJSON struct {
	Topic       string        `json:"topic"`
	Retained    *RetainedJSON `json:"retained,omitempty"`
	Messages    uint64        `json:"messages"`
	Bytes       uint64        `json:"bytes"`
	Subscribers int           `json:"subscribers"`
}

// getTopics returns the topics known from retained messages and, while the
// Observer counts them, from publishes since counting_since; each with the
// number of subscriptions that match it. The dashboard computes rates from
// the differences between two polls.
func (s *Server) getTopics(w http.ResponseWriter, r *http.Request) {
	byName := map[string]*TopicJSON{}
	for _, m := range s.opts.Broker.RetainedMessages("") {
		rj := retainedJSON(m)
		byName[m.Topic] = &TopicJSON{Topic: m.Topic, Retained: &rj}
	}
	out := struct {
		CountingSince *time.Time  `json:"counting_since,omitempty"`
		Now           time.Time   `json:"now"`
		Topics        []TopicJSON `json:"topics"`
	}{Now: time.Now(), Topics: []TopicJSON{}}
	if o := s.opts.Observer; o != nil {
		counts, since := o.TopicCounts()
		out.CountingSince = &since
		for name, c := range counts {
			t := byName[name]
			if t == nil {
				t = &TopicJSON{Topic: name}
				byName[name] = t
			}
			t.Messages, t.Bytes = c.Messages, c.Bytes
		}
	}
	subs := s.opts.Broker.Subscriptions("")
	for name, t := range byName {
		for _, sub := range subs {
			f := sub.Filter
			if _, inner, shared, err := topic.ParseShared(f); err == nil && shared {
				f = inner
			}
			if topic.Match(f, name) {
				t.Subscribers++
			}
		}
		out.Topics = append(out.Topics, *t)
	}
	sort.Slice(out.Topics, func(i, j int) bool { return out.Topics[i].Topic < out.Topics[j].Topic })
	writeJSON(w, http.StatusOK, out)
}

// LogJSON is the body of GET and PUT /api/v1/log.
type LogJSON struct {
	Level string `json:"level"`
}

func (s *Server) getLog(w http.ResponseWriter, r *http.Request) {
	if s.opts.LogLevel == nil {
		writeError(w, http.StatusNotImplemented, "the log level is not adjustable")
		return
	}
	writeJSON(w, http.StatusOK, LogJSON{Level: strings.ToLower(s.opts.LogLevel.Level().String())})
}

func (s *Server) putLog(w http.ResponseWriter, r *http.Request) {
	if s.opts.LogLevel == nil {
		writeError(w, http.StatusNotImplemented, "the log level is not adjustable")
		return
	}
	var body LogJSON
	if !readJSON(w, r, &body) {
		return
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(body.Level)); err != nil {
		writeError(w, http.StatusBadRequest, "level: want debug, info, warn or error")
		return
	}
	s.opts.LogLevel.Set(l)
	s.log.Info("admin: log level changed", "level", l.String(), "by", r.RemoteAddr)
	writeJSON(w, http.StatusOK, LogJSON{Level: strings.ToLower(l.String())})
}
