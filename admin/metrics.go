package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/roostmq/roost/broker"
)

// Collector is a Prometheus collector; the alias keeps callers from
// importing client_golang only to pass one.
type Collector = prometheus.Collector

// MetricNames lists every metric of the broker collector, in the order of
// metricDescs; docs/operations.md lists them with their help text.
var metricDescs = []struct {
	name, help string
	labels     []string
	counter    bool
}{
	{"roost_build_info", "Always 1; the version label is the broker's version.", []string{"version"}, false},
	{"roost_uptime_seconds", "Seconds since the broker started.", nil, false},
	{"roost_clients_hibernating", "Connected clients idle long enough to hold no goroutines (hibernate_after).", nil, false},
	// One gauge of open connections: by listener, beside the accepted total
	// of the same label (sum over listener for the broker's total).
	// Clients past CONNECT are roost_sessions_online.
	{"roost_connections", "Network connections open now (before and after CONNECT), by listener.", []string{"listener"}, false},
	{"roost_connections_total", "Network connections accepted, by listener.", []string{"listener"}, true},
	{"roost_sessions", "Sessions, connected or not.", nil, false},
	{"roost_sessions_online", "Sessions with a connected client.", nil, false},
	{"roost_subscriptions", "Client subscriptions in the topic index.", nil, false},
	{"roost_retained_messages", "Retained messages published by clients ($SYS topics not counted).", nil, false},
	{"roost_messages_received_total", "PUBLISH packets received from clients, by listener and QoS.", []string{"listener", "qos"}, true},
	{"roost_messages_sent_total", "PUBLISH packets queued to clients, by listener and QoS.", []string{"listener", "qos"}, true},
	{"roost_bytes_received_total", "Bytes of MQTT packets received, by listener.", []string{"listener"}, true},
	{"roost_bytes_sent_total", "Bytes written to clients, by listener.", []string{"listener"}, true},
	{"roost_messages_dropped_total", "Messages not delivered to a subscriber, by reason.", []string{"reason"}, true},
	{"roost_inflight_messages", "Outbound QoS 1/2 messages awaiting acknowledgement, over all sessions.", nil, false},
	{"roost_queued_messages", "QoS 1/2 messages waiting for an inflight window, over all sessions.", nil, false},
	{"roost_queued_bytes", "Payload bytes of the queued messages.", nil, false},
	{"roost_pending_bytes", "Encoded bytes waiting to be written to connected clients.", nil, false},
	{"roost_auth_failures_total", "CONNECTs refused by authentication, by listener.", []string{"listener"}, true},
	{"roost_panics_total", "Panics recovered: each closed one connection or ended one background task.", nil, true},
}

// brokerCollector reads the broker's counters at scrape time.
type brokerCollector struct {
	srv   *broker.Server
	descs map[string]*prometheus.Desc
}

func newBrokerCollector(srv *broker.Server) *brokerCollector {
	c := &brokerCollector{srv: srv, descs: map[string]*prometheus.Desc{}}
	for _, d := range metricDescs {
		c.descs[d.name] = prometheus.NewDesc(d.name, d.help, d.labels, nil)
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *brokerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *brokerCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.srv.Metrics()
	gauge := func(name string, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(c.descs[name], prometheus.GaugeValue, v, labels...)
	}
	counter := func(name string, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(c.descs[name], prometheus.CounterValue, v, labels...)
	}
	gauge("roost_build_info", 1, m.Version)
	gauge("roost_uptime_seconds", m.Uptime.Seconds())
	gauge("roost_clients_hibernating", float64(m.ClientsHibernating))
	gauge("roost_sessions", float64(m.Sessions))
	gauge("roost_sessions_online", float64(m.SessionsOnline))
	gauge("roost_subscriptions", float64(m.Subscriptions))
	gauge("roost_retained_messages", float64(m.Retained))
	for _, l := range m.Listeners {
		gauge("roost_connections", float64(l.Connections), l.Listener)
		counter("roost_connections_total", float64(l.Total), l.Listener)
		for q := range 3 {
			qs := strconv.Itoa(q)
			counter("roost_messages_received_total", float64(l.Counters.MessagesIn[q]), l.Listener, qs)
			counter("roost_messages_sent_total", float64(l.Counters.MessagesOut[q]), l.Listener, qs)
		}
		counter("roost_bytes_received_total", float64(l.Counters.BytesIn), l.Listener)
		counter("roost_bytes_sent_total", float64(l.Counters.BytesOut), l.Listener)
		counter("roost_auth_failures_total", float64(l.Counters.AuthFailures), l.Listener)
	}
	for reason, n := range m.Dropped {
		counter("roost_messages_dropped_total", float64(n), reason)
	}
	gauge("roost_inflight_messages", float64(m.Inflight))
	gauge("roost_queued_messages", float64(m.Queued))
	gauge("roost_queued_bytes", float64(m.QueuedBytes))
	gauge("roost_pending_bytes", float64(m.PendingBytes))
	counter("roost_panics_total", float64(m.Panics))
}

// metricsHandler serves the broker collector, extra collectors, and the Go
// runtime and process collectors, from a registry of this server's own.
func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newBrokerCollector(s.opts.Broker),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if r, ok := s.opts.Store.(SyncLatencyReporter); ok {
		reg.MustRegister(newSyncCollector(r))
	}
	for _, c := range s.opts.Collectors {
		reg.MustRegister(c)
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogErrorLog{s}})
}

type slogErrorLog struct{ s *Server }

func (l slogErrorLog) Println(v ...any) { l.s.log.Error("metrics", "err", v) }

// SyncLatencyReporter is implemented by a store that measures its syncs to
// disk (group commits). Options.Store, when it implements this, is exported
// on /metrics as the histogram roost_store_sync_seconds.
type SyncLatencyReporter interface {
	// SyncLatency returns how many syncs ran, their total duration, and
	// the cumulative count of syncs at or under each upper bound (seconds).
	SyncLatency() (count uint64, sum time.Duration, buckets map[float64]uint64)
}

type syncCollector struct {
	r    SyncLatencyReporter
	desc *prometheus.Desc
}

func newSyncCollector(r SyncLatencyReporter) *syncCollector {
	return &syncCollector{r: r, desc: prometheus.NewDesc("roost_store_sync_seconds",
		"Duration of the store's syncs to disk (group commits).", nil, nil)}
}

// Describe implements prometheus.Collector.
func (c *syncCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *syncCollector) Collect(ch chan<- prometheus.Metric) {
	n, sum, buckets := c.r.SyncLatency()
	ch <- prometheus.MustNewConstHistogram(c.desc, n, sum.Seconds(), buckets)
}
