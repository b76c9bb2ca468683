package broker

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/roostmq/roost/packet"
	"github.com/roostmq/roost/store"
)

// BanKind says what a Ban matches.
type BanKind int

// Ban kinds.
const (
	BanClientID BanKind = iota // the client id, exactly
	BanUsername                // the username, exactly
	BanIP                      // the client's IP address: an address or a CIDR prefix
)

func (k BanKind) String() string {
	switch k {
	case BanClientID:
		return "client_id"
	case BanUsername:
		return "username"
	case BanIP:
		return "ip"
	}
	return fmt.Sprintf("BanKind(%d)", int(k))
}

// Ban refuses clients: CONNECT gets CONNACK 0x8A Banned (3.1.1: return code
// 5, not authorized). Adding a ban at run time also disconnects the
// matching clients that are connected (5.0: DISCONNECT 0x98 Administrative
// action).
type Ban struct {
	Kind  BanKind
	Value string    // client id, username, or IP / CIDR ("10.0.0.0/8")
	Until time.Time // zero: never expires
}

// banList is the server's bans; guarded by Server.banMu.
type banList struct {
	bans []Ban
	nets []netip.Prefix // parallel to bans; valid for BanIP only
	// saved are the bans added at run time (Server.Ban), which the store
	// keeps when it is a store.BanStore; Options.Bans come from the config
	// and are not saved.
	saved []Ban
	// saveMu orders the saves of saved: taken before banMu, held while
	// the store writes (without banMu, which CONNECT takes).
	saveMu sync.Mutex
}

// ErrBanNotStored is returned by Ban when the ban is in force but the store
// could not keep it: it ends with the process.
var ErrBanNotStored = errors.New("broker: the ban is in force, but the store could not save it")

// parseBanIP reads an address or a prefix.
func parseBanIP(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// CheckBan reports whether b is well formed.
func CheckBan(b Ban) error {
	switch b.Kind {
	case BanClientID, BanUsername:
		if b.Value == "" {
			return fmt.Errorf("ban %s: empty value", b.Kind)
		}
	case BanIP:
		if _, err := parseBanIP(b.Value); err != nil {
			return fmt.Errorf("ban ip %q: not an IP address or CIDR prefix", b.Value)
		}
	default:
		return fmt.Errorf("ban: unknown kind %d", int(b.Kind))
	}
	return nil
}

// Ban adds or replaces a ban (same kind and value) and disconnects the
// connected clients it matches. When the store is a store.BanStore the ban
// is saved and holds after a restart; if that fails it is in force anyway
// and Ban returns ErrBanNotStored.
func (s *Server) Ban(b Ban) error {
	if err := CheckBan(b); err != nil {
		return err
	}
	s.bans.saveMu.Lock()
	s.banMu.Lock()
	b = s.addBanLocked(b)
	s.bans.saved = setBan(s.bans.saved, b)
	saved := s.savedBansLocked()
	s.banMu.Unlock()
	err := s.saveBans(saved)
	s.bans.saveMu.Unlock()
	s.mu.Lock()
	var kick []*conn
	for c := range s.conns {
		if c.accepted.Load() && banMatches(b, c.clientID, c.username, c.nc.RemoteAddr()) {
			kick = append(kick, c)
		}
	}
	s.mu.Unlock()
	for _, c := range kick {
		c.kick(packet.AdministrativeAction)
	}
	return err
}

// addBanLocked adds or replaces b and returns it as kept (an IP value in
// its canonical form).
func (s *Server) addBanLocked(b Ban) Ban {
	p, _ := parseBanIP(b.Value)
	if b.Kind == BanIP {
		b.Value = p.String()
	}
	for i, o := range s.bans.bans {
		if o.Kind == b.Kind && o.Value == b.Value {
			s.bans.bans[i], s.bans.nets[i] = b, p
			return b
		}
	}
	s.bans.bans = append(s.bans.bans, b)
	s.bans.nets = append(s.bans.nets, p)
	return b
}

// setBan adds or replaces b in list.
func setBan(list []Ban, b Ban) []Ban {
	for i, o := range list {
		if o.Kind == b.Kind && o.Value == b.Value {
			list[i] = b
			return list
		}
	}
	return append(list, b)
}

// savedBansLocked returns the run-time bans to store, expired ones left
// out (and forgotten).
func (s *Server) savedBansLocked() []store.Ban {
	now := s.clock.Now()
	s.bans.saved = slices.DeleteFunc(s.bans.saved, func(b Ban) bool { return !b.Until.IsZero() && !now.Before(b.Until) })
	out := make([]store.Ban, len(s.bans.saved))
	for i, b := range s.bans.saved {
		out[i] = store.Ban{Kind: b.Kind.String(), Value: b.Value, Until: b.Until}
	}
	return out
}

// saveBans writes the run-time bans when the store keeps bans. The caller
// holds bans.saveMu.
func (s *Server) saveBans(list []store.Ban) error {
	bs, ok := s.store.(store.BanStore)
	if !ok {
		return nil
	}
	if err := bs.SaveBans(list); err != nil {
		s.log.Error("store: saving the bans", "err", err)
		return fmt.Errorf("%w: %v", ErrBanNotStored, err)
	}
	return nil
}

// loadBans adds the stored run-time bans (after Options.Bans, so that a
// stored ban replaces a configured one of the same kind and value);
// expired or unreadable ones are left out. Called by New, before any other
// goroutine.
func (s *Server) loadBans() error {
	bs, ok := s.store.(store.BanStore)
	if !ok {
		return nil
	}
	list, err := bs.LoadBans()
	if err != nil {
		return err
	}
	now := s.clock.Now()
	for _, sb := range list {
		b := Ban{Value: sb.Value, Until: sb.Until}
		switch sb.Kind {
		case BanClientID.String():
			b.Kind = BanClientID
		case BanUsername.String():
			b.Kind = BanUsername
		case BanIP.String():
			b.Kind = BanIP
		default:
			b.Kind = -1
		}
		if err := CheckBan(b); err != nil {
			s.log.Error("store: a stored ban is unreadable; left out", "kind", sb.Kind, "value", sb.Value, "err", err)
			continue
		}
		if !b.Until.IsZero() && !now.Before(b.Until) {
			continue
		}
		b = s.addBanLocked(b)
		s.bans.saved = setBan(s.bans.saved, b)
	}
	return nil
}

// Unban removes the ban of that kind and value and reports whether there
// was one; a stored one leaves the store too. A ban from Options.Bans comes
// back with the next start if the configuration still has it.
func (s *Server) Unban(kind BanKind, value string) bool {
	if kind == BanIP {
		if p, err := parseBanIP(value); err == nil {
			value = p.String()
		}
	}
	s.bans.saveMu.Lock()
	defer s.bans.saveMu.Unlock()
	s.banMu.Lock()
	found := false
	for i, o := range s.bans.bans {
		if o.Kind == kind && o.Value == value {
			s.bans.bans = slices.Delete(s.bans.bans, i, i+1)
			s.bans.nets = slices.Delete(s.bans.nets, i, i+1)
			found = true
			break
		}
	}
	n := len(s.bans.saved)
	s.bans.saved = slices.DeleteFunc(s.bans.saved, func(b Ban) bool { return b.Kind == kind && b.Value == value })
	var saved []store.Ban
	changed := len(s.bans.saved) != n
	if changed {
		saved = s.savedBansLocked()
	}
	s.banMu.Unlock()
	if changed {
		_ = s.saveBans(saved) // logged; the ban is lifted in memory
	}
	return found
}

// Bans returns the bans in force, expired ones left out.
func (s *Server) Bans() []Ban {
	now := s.clock.Now()
	s.banMu.Lock()
	defer s.banMu.Unlock()
	var out []Ban
	for _, b := range s.bans.bans {
		if b.Until.IsZero() || now.Before(b.Until) {
			out = append(out, b)
		}
	}
	return out
}

func banMatches(b Ban, clientID, username string, addr net.Addr) bool {
	switch b.Kind {
	case BanClientID:
		return clientID == b.Value
	case BanUsername:
		return username != "" && username == b.Value
	case BanIP:
		p, _ := parseBanIP(b.Value)
		ip, ok := addrIP(addr)
		return ok && p.Contains(ip)
	}
	return false
}

func addrIP(addr net.Addr) (netip.Addr, bool) {
	if addr == nil {
		return netip.Addr{}, false
	}
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

var errBanned = &packet.Error{Code: packet.Banned, Msg: "banned"}

// checkBanned refuses a banned client; expired bans are dropped.
func (s *Server) checkBanned(clientID, username string, addr net.Addr) error {
	now := s.clock.Now()
	s.banMu.Lock()
	defer s.banMu.Unlock()
	if len(s.bans.bans) == 0 {
		return nil
	}
	ip, hasIP := addrIP(addr)
	for i := 0; i < len(s.bans.bans); i++ {
		b := &s.bans.bans[i]
		if !b.Until.IsZero() && !now.Before(b.Until) {
			s.bans.bans = slices.Delete(s.bans.bans, i, i+1)
			s.bans.nets = slices.Delete(s.bans.nets, i, i+1)
			i--
			continue
		}
		switch b.Kind {
		case BanClientID:
			if clientID == b.Value {
				return errBanned
			}
		case BanUsername:
			if username != "" && username == b.Value {
				return errBanned
			}
		case BanIP:
			if hasIP && s.bans.nets[i].Contains(ip) {
				return errBanned
			}
		}
	}
	return nil
}
