package broker

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/roostmq/roost/packet"
)

// Admission limits: bans (bans.go), connections per listener, connection
// rate per IP address, and each client's publish rate.

// guards is the server's admission state.
type guards struct {
	banMu sync.Mutex
	bans  banList // guarded by banMu

	rateMu  sync.Mutex
	ipRates ipRateTable // guarded by rateMu

	lnMu    sync.Mutex
	lnConns map[string]int // guarded by lnMu: connected clients per listener
}

// connGuard is a connection's admission state.
type connGuard struct {
	lnCounted   bool       // reader only, then finish: counted in guards.lnConns
	rate        *[2]bucket // reader only: publish messages and bytes, when limited
	expiryTimer Timer      // set in accept, stopped by finish
	expiresAt   int64      // reader only: from ConnectInfo.Expiry, Unix nanoseconds; 0: none
}

// bucket is a token bucket holding at most one second's worth of tokens.
type bucket struct {
	tokens float64
	last   time.Time
}

// take removes n tokens, refilling at rate per second, and reports whether
// there were enough. A bucket starts full.
func (b *bucket) take(now time.Time, rate, n float64) bool {
	if b.last.IsZero() {
		b.tokens = rate
	} else if d := now.Sub(b.last).Seconds(); d > 0 {
		b.tokens = min(rate, b.tokens+d*rate)
	}
	b.last = now
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

var (
	errConnRate     = &packet.Error{Code: packet.ConnectionRateExceeded, Msg: "connection rate exceeded"}
	errListenerBusy = &packet.Error{Code: packet.ServerBusy, Msg: "too many connections on this listener"}
	errExpired      = &packet.Error{Code: packet.MaximumConnectTime, Msg: "credentials expired"}
)

// maxTrackedIPRate bounds the per-IP connection rate table (tests lower it).
var maxTrackedIPRate = 100_000

// ipRate is an address's connection-rate bucket in the table's
// least-recently-used list.
type ipRate struct {
	bucket
	ip         netip.Addr
	prev, next *ipRate
}

// ipRateTable holds a bucket per address that connected recently, at most
// maxTrackedIPRate of them: a new address beyond that takes the place of
// the one that connected least recently, in O(1). That one's bucket has
// usually refilled (a full bucket is no state); when not, an address
// unseen for longer than 100,000 others loses what it owed. (review L11)
type ipRateTable struct {
	m    map[netip.Addr]*ipRate
	head ipRate // sentinel: head.next is the most recent, head.prev the least
}

// get returns ip's bucket, making it the most recent, creating it (and
// evicting the least recent beyond limit) when missing.
func (t *ipRateTable) get(ip netip.Addr, limit int) *bucket {
	if t.m == nil {
		t.m = make(map[netip.Addr]*ipRate)
		t.head.prev, t.head.next = &t.head, &t.head
	}
	e := t.m[ip]
	switch {
	case e != nil:
		e.prev.next, e.next.prev = e.next, e.prev
	case len(t.m) >= limit && len(t.m) > 0:
		e = t.head.prev // reuse the least recent entry
		e.prev.next, e.next.prev = e.next, e.prev
		delete(t.m, e.ip)
		*e = ipRate{ip: ip}
		t.m[ip] = e
	default:
		e = &ipRate{ip: ip}
		t.m[ip] = e
	}
	e.prev, e.next = &t.head, t.head.next
	t.head.next.prev = e
	t.head.next = e
	return &e.bucket
}

// len reports how many addresses the table holds.
func (t *ipRateTable) len() int { return len(t.m) }

// allowConnect applies the per-IP connection rate.
func (s *Server) allowConnect(addr net.Addr) error {
	rate := s.limits().ConnectRatePerIP
	if rate <= 0 {
		return nil
	}
	ip, ok := addrIP(addr)
	if !ok {
		return nil
	}
	now := s.clock.Now()
	s.rateMu.Lock()
	defer s.rateMu.Unlock()
	if !s.ipRates.get(ip, maxTrackedIPRate).take(now, float64(rate), 1) {
		return errConnRate
	}
	return nil
}

// claimListener counts c on its listener, refusing it beyond the limit.
func (s *Server) claimListener(c *conn) error {
	n := s.limits().MaxConnectionsPerListener
	if n <= 0 {
		return nil
	}
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if s.lnConns == nil {
		s.lnConns = map[string]int{}
	}
	if s.lnConns[c.listener] >= n {
		return errListenerBusy
	}
	s.lnConns[c.listener]++
	c.lnCounted = true
	return nil
}

// releaseGuards undoes claimListener and stops the expiry timer; finish
// calls it once.
func (c *conn) releaseGuards() {
	if t := c.expiryTimer; t != nil {
		t.Stop()
	}
	if c.lnCounted {
		s := c.srv
		s.lnMu.Lock()
		s.lnConns[c.listener]--
		s.lnMu.Unlock()
	}
}

// checkPublishRate applies the client's publish rate limits.
func (c *conn) checkPublishRate(size int) error {
	lim := c.srv.limits()
	if lim.PublishRate <= 0 && lim.PublishBytesRate <= 0 {
		return nil
	}
	now := c.srv.clock.Now()
	if c.rate == nil {
		c.rate = new([2]bucket)
	}
	ok := lim.PublishRate <= 0 || c.rate[0].take(now, float64(lim.PublishRate), 1)
	if ok && lim.PublishBytesRate > 0 {
		// A message larger than a second's worth passes on a full bucket.
		ok = c.rate[1].take(now, float64(lim.PublishBytesRate), float64(min(size, lim.PublishBytesRate)))
	}
	if ok {
		return nil
	}
	code := lim.PublishRateReason
	if code == 0 {
		code = packet.MessageRateTooHigh
	}
	return &packet.Error{Code: code, Msg: "publish rate exceeded"}
}

// admit runs the admission checks of a CONNECT that do not need the
// authenticated identity.
func (c *conn) admit(clientID, username string) error {
	s := c.srv
	if err := s.checkBanned(clientID, username, c.nc.RemoteAddr()); err != nil {
		return err
	}
	if err := s.allowConnect(c.nc.RemoteAddr()); err != nil {
		return err
	}
	return s.claimListener(c)
}

// checkTakeover refuses a client id whose session belongs to another
// username, when takeover is for the same user only (takeoverSameUser).
// claim checks again, atomically with the takeover.
func (s *Server) checkTakeover(clientID, username string) error {
	if !s.takeoverSameUser() || clientID == "" {
		return nil
	}
	s.mu.Lock()
	ss := s.sessions[clientID]
	s.mu.Unlock()
	if ss == nil {
		return nil
	}
	if owner := ss.username(); owner != username {
		return errTakeoverUser
	}
	return nil
}

// startExpiry disconnects the client when its credentials expire.
func (c *conn) startExpiry(at int64) {
	if at == 0 {
		return
	}
	d := time.Unix(0, at).Sub(c.srv.clock.Now())
	c.expiryTimer = c.srv.clock.AfterFunc(max(d, 0), func() {
		c.srv.log.Info("credentials expired; disconnecting", "client", c.clientID)
		c.kick(errExpired.Code)
	})
}
