package broker

import (
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// Session lifecycle: claim, takeover, detach and expiry racing each other.

// slRounds is how often a racy case is tried; each round is bounded by the
// peer's timeouts.
const slRounds = 20

// A client that sends DISCONNECT (0x00), closes its socket and reconnects
// with the same client id at once never has its will published, whichever
// of the old connection's DISCONNECT and the new connection's takeover the
// broker handles first. [MQTT-3.1.2-10] [MQTT-3.14.4-3]
func TestSessLifeNoWillAfterDisconnectThenTakeover_MQTT_3_1_2_10(t *testing.T) {
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		s, addr, w := willSetup(t, nil)
		for i := range slRounds {
			id := fmt.Sprintf("quick-%d", i)
			c := withWill(&packet.Connect{ClientID: []byte(id), CleanStart: true}, "will/quick", "lost", 0, false)
			p, _ := connect(t, addr, v, c)
			p.send(&packet.Disconnect{})
			p.abort()
			q, _ := connect(t, addr, v, &packet.Connect{ClientID: []byte(id), CleanStart: true})
			waitConns(t, s, 2) // the old connection is done: its will would have been routed
			barrier(t, s, w, "will/marker")
			q.disconnect()
			waitConns(t, s, 1)
		}
	})
}

// The same with a will delay and a persistent session in 5.0: the takeover
// must not publish it either, nor leave it pending. [MQTT-3.1.2-10]
func TestSessLifeNoDelayedWillAfterDisconnectThenTakeover_v5(t *testing.T) {
	s, addr, w := willSetup(t, nil)
	for i := range slRounds {
		id := fmt.Sprintf("quickd-%d", i)
		c := withWill(persistent(id, packet.V5, 60), "will/quickd", "lost", 0, false)
		c.WillProperties = willDelay(30)
		p, _ := connect(t, addr, packet.V5, c)
		p.send(&packet.Disconnect{})
		p.abort()
		q, _ := connect(t, addr, packet.V5, &packet.Connect{ClientID: []byte(id), CleanStart: true})
		waitConns(t, s, 2)
		barrier(t, s, w, "will/marker")
		q.disconnect()
		waitConns(t, s, 1)
	}
}

// A session that ends with its connection (3.1.1 clean session 1, 5.0
// session expiry 0) is not resumed by a connection that takes it over with
// clean session 0: the takeover ends the old connection and so the session.
// [MQTT-3.1.2-6] (5.0 3.1.2.4, 3.1.2.11)
func TestSessLifeCleanSessionNotResumedByTakeover_MQTT_3_1_2_6(t *testing.T) {
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		s, addr := startServer(t, nil)
		a, _ := connect(t, addr, v, &packet.Connect{ClientID: []byte("cs"), CleanStart: v == packet.V311})
		a.subscribe(sub("cs/t", 1))
		b, ack := connect(t, addr, v, persistent("cs", v, 60))
		eq(t, "session present", ack.SessionPresent, false)
		a.expectClosed()
		if err := s.Publish("cs/t", []byte("x"), 1, false); err != nil {
			t.Fatal(err)
		}
		b.expectNothing(quiet) // A's subscription ended with A
		eq(t, "subscriptions", s.Stats().Subscriptions, 0)
		b.disconnect()
	})
}

// A second CONNACK to an MQTT 3.1 client resuming a session has a first
// byte of 0: 3.1 has no Session Present flag and reserves the byte.
func TestSessLifeConnackV31NoSessionPresent(t *testing.T) {
	_, addr := startServer(t, nil)
	for i := range 2 {
		p := dial(t, addr, packet.V311)
		p.sendRaw((&packet.Connect{Version: packet.V31, ClientID: []byte("old31")}).Append(nil, packet.V31))
		var b [4]byte
		_ = p.nc.SetReadDeadline(time.Now().Add(peerTimeout))
		if _, err := io.ReadFull(p.nc, b[:]); err != nil {
			t.Fatalf("CONNACK %d: %v", i, err)
		}
		if b != [4]byte{0x20, 2, 0, 0} {
			t.Fatalf("CONNACK %d: % x, want 20 02 00 00", i, b)
		}
		p.disconnect()
	}
}

// slAnyLogin accepts every client under the username it gives.
type slAnyLogin struct{}

func (slAnyLogin) Authenticate(*ConnectInfo) error { return nil }

// slSecretACL lets only the user "victim" subscribe to and receive
// secret/...; everything else is open.
type slSecretACL struct{}

func (slSecretACL) Authorize(_, user string, a Access, name string) bool {
	if a == AccessPublish || user == "victim" {
		return true
	}
	return !strings.HasPrefix(name, "secret/") && name != "#"
}

// slVictimSession leaves an offline session of client id "vic", owned by
// user "victim", holding secret messages in every state: a retained one
// sent at its subscribe and in flight, live ones queued behind it, one
// queued while offline, and a public message last.
func slVictimSession(t *testing.T, s *Server, addr string, v packet.Version) {
	t.Helper()
	if err := s.Publish("secret/retained", []byte("r"), 1, true); err != nil {
		t.Fatal(err)
	}
	c := persistent("vic", v, 300)
	c.UsernameFlag, c.Username = true, []byte("victim")
	vic, _ := connect(t, addr, v, c)
	vic.subscribe(sub("secret/#", 1), sub("pub/#", 1))
	eqBytes(t, "first delivery", vic.pub().Topic, "secret/retained") // in flight, never acknowledged
	for _, name := range []string{"secret/a", "secret/b"} {
		if err := s.Publish(name, []byte("x"), 1, false); err != nil {
			t.Fatal(err)
		}
	}
	vic.abort()
	waitDetached(t, s, "vic")
	for _, name := range []string{"secret/c", "pub/ok"} {
		if err := s.Publish(name, []byte("x"), 1, false); err != nil {
			t.Fatal(err)
		}
	}
}

// Another user who takes over a session (takeover by any user allowed)
// receives none of its messages that user may not receive: inflight
// resends, queued messages and a retained message queued at subscribe are
// each authorized for the connection that receives them.
func TestSessLifeResumedDeliveriesAuthorized(t *testing.T) {
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		s, addr := startServer(t, func(o *Options) {
			o.Authenticator, o.Authorizer = slAnyLogin{}, slSecretACL{}
			o.Sessions.TakeoverAnyUser = true
			o.Limits.MaxInflight = 1
		})
		slVictimSession(t, s, addr, v)
		c := persistent("vic", v, 300)
		c.UsernameFlag, c.Username = true, []byte("thief")
		thief, ack := connect(t, addr, v, c)
		eq(t, "session present", ack.SessionPresent, true)
		got := thief.pub()
		eqBytes(t, "topic", got.Topic, "pub/ok")
		thief.ack(got)
		thief.expectNothing(quiet)
		if n := s.Stats().Dropped["not_authorized"]; n != 4 {
			t.Fatalf("dropped as not authorized: %d, want 4", n)
		}
		thief.disconnect()
	})
}

// With authentication on, a session can by default be taken over only by
// its own user: another user is refused (5.0 0x87, 3.1.1 return code 5)
// and the session stays as it was.
func TestSessLifeTakeoverSameUserByDefaultWithAuth(t *testing.T) {
	forVersions(t, bothVersions, func(t *testing.T, v packet.Version) {
		s, addr := startServer(t, func(o *Options) {
			o.Authenticator, o.Authorizer = slAnyLogin{}, slSecretACL{}
			o.Limits.MaxInflight = 1
		})
		slVictimSession(t, s, addr, v)
		c := persistent("vic", v, 300)
		c.UsernameFlag, c.Username = true, []byte("thief")
		want := packet.NotAuthorized
		if v != packet.V5 {
			want = 5
		}
		mustRefuse(t, addr, v, c, want)
		c = persistent("vic", v, 300)
		c.UsernameFlag, c.Username = true, []byte("victim")
		vic, ack := connect(t, addr, v, c)
		eq(t, "session present", ack.SessionPresent, true)
		eqBytes(t, "resent", vic.pub().Topic, "secret/retained")
		vic.disconnect()
	})
}

// limits.max_keep_alive applies to 3.1 and 3.1.1 clients too: they cannot
// be told a Server Keep Alive, so a keep alive of 0 or above the limit is
// refused with return code 2 (identifier rejected); within it, accepted.
func TestSessLifeMaxKeepAliveV3Refused(t *testing.T) {
	_, addr := startServer(t, func(o *Options) { o.Limits.MaxKeepAlive = 10 })
	for _, v := range []packet.Version{packet.V31, packet.V311} {
		for _, ka := range []uint16{0, 11, 60} {
			mustRefuse(t, addr, packet.V311, &packet.Connect{Version: v, ClientID: []byte("ka"), CleanStart: true, KeepAlive: ka}, 2)
		}
		for _, ka := range []uint16{1, 10} {
			p, ack := tryConnect(t, addr, packet.V311, &packet.Connect{Version: v, ClientID: []byte("ka"), CleanStart: true, KeepAlive: ka})
			if ack == nil || ack.ReasonCode != 0 {
				t.Fatalf("v%v keep alive %d: refused (%v)", v, ka, ack)
			}
			p.disconnect()
		}
	}
	// 5.0 is told the limit instead.
	p, ack := connect(t, addr, packet.V5, &packet.Connect{ClientID: []byte("ka5"), CleanStart: true, KeepAlive: 60})
	eq(t, "Server Keep Alive", ack.Properties.ServerKeepAlive, uint16(10))
	p.disconnect()
}

// The same race with the old connection hibernating (no reader goroutine)
// when its DISCONNECT arrives and the new connection takes over.
// [MQTT-3.1.2-10] [MQTT-3.14.4-3]
func TestSessLifeNoWillAfterDisconnectThenTakeoverHibernating(t *testing.T) {
	s, addr := startHibernating(t)
	w, _ := connect(t, addr, packet.V5, &packet.Connect{ClientID: []byte("watcher"), CleanStart: true})
	w.subscribe(sub("will/#", 2))
	for i := range slRounds {
		id := fmt.Sprintf("quickh-%d", i)
		c := withWill(&packet.Connect{ClientID: []byte(id), CleanStart: true}, "will/quickh", "lost", 0, false)
		p, _ := connect(t, addr, packet.V311, c)
		waitHibernating(t, s, 2) // the watcher and p
		p.send(&packet.Disconnect{})
		p.abort()
		q, _ := connect(t, addr, packet.V311, &packet.Connect{ClientID: []byte(id), CleanStart: true})
		waitConns(t, s, 2)
		barrier(t, s, w, "will/marker")
		q.disconnect()
		waitConns(t, s, 1)
	}
}

// slSlowACL is slSecretACL as an authorizer whose answers may need a
// network call: it knows its answers for "victim" at once, none for anyone
// else, and counts the calls that would block.
type slSlowACL struct {
	slSecretACL
	blocking *atomic.Int32
}

func (a slSlowACL) Authorize(id, user string, acc Access, name string) bool {
	if acc == AccessReceive {
		a.blocking.Add(1)
	}
	return a.slSecretACL.Authorize(id, user, acc, name)
}

func (a slSlowACL) TryAuthorizeReceive(_, user, name string) (allowed, known bool) {
	if user != "victim" {
		return false, false
	}
	return a.slSecretACL.Authorize("", user, AccessReceive, name), true
}

func (slSlowACL) ReceiveMayBlock() bool { return true }

// With an authorizer that may block, resuming a session makes no blocking
// call under the session's lock: another user gets only what the answers
// at hand allow (here none), never the rest.
func TestSessLifeResumedDeliveriesBlockingAuthorizer(t *testing.T) {
	var blocking atomic.Int32
	s, addr := startServer(t, func(o *Options) {
		acl := slSlowACL{blocking: &blocking}
		o.Authenticator, o.Authorizer = slAnyLogin{}, acl
		o.Sessions.TakeoverAnyUser = true
		o.Limits.MaxInflight = 1
	})
	slVictimSession(t, s, addr, packet.V5)
	before := blocking.Load()
	c := persistent("vic", packet.V5, 300)
	c.UsernameFlag, c.Username = true, []byte("thief")
	thief, ack := connect(t, addr, packet.V5, c)
	eq(t, "session present", ack.SessionPresent, true)
	thief.expectNothing(quiet)
	eq(t, "blocking receive checks at resume", blocking.Load()-before, int32(0))
	thief.disconnect()
}
