package admin

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/packet"
)

// Observer is the run-time side of the admin surface that needs the broker's
// hooks and the log pipeline:
//
//   - a per-client trace switch: a traced client's events (connect,
//     publish, subscribe, drop, disconnect) are logged at debug level, and
//     the broker's own debug records carrying its "client" attribute pass
//     whatever the log level;
//   - per-topic message counts, kept only while the dashboard's topic page
//     asks for them (and for watchTTL after its last request).
//
// Both cost one atomic load per hook call while off.
type Observer struct {
	log *slog.Logger // where trace records go; set by Logger

	tracing atomic.Int32 // number of traced clients
	traceMu sync.RWMutex
	traced  map[string]bool // guarded by traceMu

	watching atomic.Bool
	topicMu  sync.Mutex
	topics   map[string]*topicCount // guarded by topicMu
	since    time.Time              // guarded by topicMu: when counting started
	stopper  *time.Timer            // guarded by topicMu
}

// topicCount is what the Observer saw of one topic.
type topicCount struct {
	Messages uint64
	Bytes    uint64
}

// maxTopics bounds the per-topic counts; new topics beyond it are not
// counted.
const maxTopics = 10000

// watchTTL is how long topic counting stays on after the last request.
const watchTTL = 2 * time.Minute

// NewObserver returns an Observer with nothing traced.
func NewObserver() *Observer {
	return &Observer{log: slog.New(slog.DiscardHandler), traced: map[string]bool{}, topics: map[string]*topicCount{}}
}

// Logger returns a logger writing to w (JSON when json, else text) at the
// level of level, and at debug level for traced clients. Trace records of
// the Observer go to it too.
func (o *Observer) Logger(w io.Writer, json bool, level slog.Leveler) *slog.Logger {
	ho := &slog.HandlerOptions{Level: slog.LevelDebug}
	var h slog.Handler
	if json {
		h = slog.NewJSONHandler(w, ho)
	} else {
		h = slog.NewTextHandler(w, ho)
	}
	l := slog.New(&traceHandler{o: o, next: h, level: level})
	o.log = l
	return l
}

// SetTrace turns tracing of a client id on or off.
func (o *Observer) SetTrace(clientID string, on bool) {
	o.traceMu.Lock()
	defer o.traceMu.Unlock()
	if on && !o.traced[clientID] {
		o.traced[clientID] = true
		o.tracing.Add(1)
	} else if !on && o.traced[clientID] {
		delete(o.traced, clientID)
		o.tracing.Add(-1)
	}
}

// Traced lists the traced client ids, sorted.
func (o *Observer) Traced() []string {
	o.traceMu.RLock()
	defer o.traceMu.RUnlock()
	out := make([]string, 0, len(o.traced))
	for id := range o.traced {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// IsTraced reports whether a client id is traced.
func (o *Observer) IsTraced(clientID string) bool {
	if o.tracing.Load() == 0 {
		return false
	}
	o.traceMu.RLock()
	defer o.traceMu.RUnlock()
	return o.traced[clientID]
}

// Hooks returns hooks that call next's and then observe.
func (o *Observer) Hooks(next broker.Hooks) broker.Hooks {
	h := next
	h.OnConnect = func(id string, v packet.Version, remote net.Addr) {
		if next.OnConnect != nil {
			next.OnConnect(id, v, remote)
		}
		if o.IsTraced(id) {
			o.log.Debug("trace: connected", "client", id, "version", int(v), "remote", remote.String())
		}
	}
	h.OnDisconnect = func(id string, err error) {
		if next.OnDisconnect != nil {
			next.OnDisconnect(id, err)
		}
		if o.IsTraced(id) {
			o.log.Debug("trace: disconnected", "client", id, "err", err)
		}
	}
	h.OnPublish = func(id, topic string, qos byte, size int) {
		if next.OnPublish != nil {
			next.OnPublish(id, topic, qos, size)
		}
		if o.watching.Load() {
			o.count(topic, size)
		}
		if o.IsTraced(id) {
			o.log.Debug("trace: publish", "client", id, "topic", topic, "qos", qos, "size", size)
		}
	}
	h.OnSubscribe = func(id, filter string, qos byte) {
		if next.OnSubscribe != nil {
			next.OnSubscribe(id, filter, qos)
		}
		if o.IsTraced(id) {
			o.log.Debug("trace: subscribe", "client", id, "filter", filter, "qos", qos)
		}
	}
	h.OnDropped = func(id, topic string, reason broker.DropReason) {
		if next.OnDropped != nil {
			next.OnDropped(id, topic, reason)
		}
		if o.IsTraced(id) {
			o.log.Debug("trace: dropped", "client", id, "topic", topic, "reason", reason.String())
		}
	}
	return h
}

func (o *Observer) count(topic string, size int) {
	o.topicMu.Lock()
	tc := o.topics[topic]
	if tc == nil && len(o.topics) < maxTopics {
		tc = &topicCount{}
		o.topics[topic] = tc
	}
	if tc != nil {
		tc.Messages++
		tc.Bytes += uint64(size)
	}
	o.topicMu.Unlock()
}

// TopicCounts turns per-topic counting on (for watchTTL from now) and
// returns the counts so far and when counting started.
func (o *Observer) TopicCounts() (map[string]topicCount, time.Time) {
	o.topicMu.Lock()
	defer o.topicMu.Unlock()
	if !o.watching.Load() {
		o.since = time.Now()
		clear(o.topics)
		o.watching.Store(true)
		o.stopper = time.AfterFunc(watchTTL, o.stopWatching)
	} else {
		o.stopper.Reset(watchTTL)
	}
	out := make(map[string]topicCount, len(o.topics))
	for t, c := range o.topics {
		out[t] = *c
	}
	return out, o.since
}

func (o *Observer) stopWatching() {
	o.topicMu.Lock()
	defer o.topicMu.Unlock()
	o.watching.Store(false)
	clear(o.topics)
}

// traceHandler passes records at or above level, and lower ones whose
// "client" attribute names a traced client.
type traceHandler struct {
	o      *Observer
	next   slog.Handler
	level  slog.Leveler
	client string // a "client" attribute added by WithAttrs
}

func (h *traceHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level.Level() || h.o.tracing.Load() > 0
}

func (h *traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < h.level.Level() {
		id := h.client
		if id == "" {
			r.Attrs(func(a slog.Attr) bool {
				if a.Key == "client" {
					id = a.Value.String()
					return false
				}
				return true
			})
		}
		if id == "" || !h.o.IsTraced(id) {
			return nil
		}
	}
	return h.next.Handle(ctx, r)
}

func (h *traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	for _, a := range attrs {
		if a.Key == "client" {
			c.client = a.Value.String()
		}
	}
	c.next = h.next.WithAttrs(attrs)
	return &c
}

func (h *traceHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	return &c
}
