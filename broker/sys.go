package broker

import (
	"strconv"
	"time"
)

// Stats is a snapshot of the broker's counters.
type Stats struct {
	Version          string
	Uptime           time.Duration
	ClientsConnected int64
	// ClientsHibernating counts connected clients that were idle long
	// enough to give up their goroutines (Options.HibernateAfter).
	ClientsHibernating int
	ClientsTotal       uint64
	Sessions           int
	Subscriptions      int
	// Retained counts the retained messages clients published: the
	// broker's own $SYS topics are not included.
	Retained     int
	MessagesIn   uint64
	MessagesOut  uint64
	BytesIn      uint64
	BytesOut     uint64
	Dropped      map[string]uint64
	AuthFailures uint64
	// Panics counts panics the broker recovered from: each closed one
	// connection or ended one background task, never the process.
	Panics uint64
}

// Stats returns the broker's current counters.
func (s *Server) Stats() Stats {
	st := Stats{Version: Version, Uptime: s.clock.Now().Sub(s.started), ClientsConnected: s.stats.connected.Load(),
		ClientsTotal: s.stats.connsTotal.Load(), Subscriptions: s.subs.Count(), Retained: s.retainedCount(),
		AuthFailures: s.stats.authFailures.Load(), Dropped: map[string]uint64{}, ClientsHibernating: s.hib.hibernating(),
		Panics: s.stats.panics.Load()}
	var all ConnCounters // ended connections (per listener) plus live ones
	s.mu.Lock()
	st.Sessions = len(s.sessions)
	for _, lt := range s.byListener {
		all.add(lt.counters)
	}
	for c := range s.conns {
		all.add(c.stats.snapshot())
	}
	s.mu.Unlock()
	for q := range 3 {
		st.MessagesIn += all.MessagesIn[q]
		st.MessagesOut += all.MessagesOut[q]
	}
	st.BytesIn, st.BytesOut = all.BytesIn, all.BytesOut
	for i := range s.stats.dropped {
		st.Dropped[DropReason(i).String()] = s.stats.dropped[i].Load()
	}
	return st
}

// sysLoop publishes $SYS topics every SysInterval until shutdown.
func (s *Server) sysLoop() {
	defer s.bgWG.Done()
	t := time.NewTicker(s.opts.SysInterval)
	defer t.Stop()
	s.publishSysContained()
	for {
		select {
		case <-t.C:
			s.publishSysContained()
		case <-s.done:
			return
		}
	}
}

// publishSysContained is one round of publishSys; a panic in it ends the
// round, not the loop.
func (s *Server) publishSysContained() {
	defer s.contain("$SYS publisher")
	s.fault("sys")
	s.publishSys()
}

// publishSys publishes the $SYS/broker/... topics as retained messages.
func (s *Server) publishSys() {
	st := s.Stats()
	u := strconv.FormatUint
	dropped := uint64(0)
	for _, n := range st.Dropped {
		dropped += n
	}
	for _, kv := range [...][2]string{
		{"version", "roost " + st.Version},
		{"uptime", strconv.FormatInt(int64(st.Uptime/time.Second), 10) + " seconds"},
		{"clients/connected", strconv.FormatInt(st.ClientsConnected, 10)},
		{"clients/total", u(st.ClientsTotal, 10)},
		{"sessions", strconv.Itoa(st.Sessions)},
		{"subscriptions/count", strconv.Itoa(st.Subscriptions)},
		{"retained messages/count", strconv.Itoa(st.Retained)},
		{"messages/received", u(st.MessagesIn, 10)},
		{"messages/sent", u(st.MessagesOut, 10)},
		{"messages/dropped", u(dropped, 10)},
		{"bytes/received", u(st.BytesIn, 10)},
		{"bytes/sent", u(st.BytesOut, 10)},
	} {
		s.publishLocal("$SYS/broker/"+kv[0], []byte(kv[1]), 0, true)
	}
}

// publishLocal routes a message that no client sent.
func (s *Server) publishLocal(name string, payload []byte, qos byte, retain bool) {
	s.route(nil, &message{topic: name, payload: payload, qos: qos, retain: retain, created: s.clock.Now()})
}
