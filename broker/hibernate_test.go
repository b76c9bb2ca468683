package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// hibernateAfter is short so that tests see connections hibernate quickly.
const hibernateAfter = 40 * time.Millisecond

func startHibernating(t *testing.T) (*Server, string) {
	t.Helper()
	s, addr := startServer(t, func(o *Options) { o.HibernateAfter = hibernateAfter })
	if s.hib == nil {
		t.Skip("connections do not hibernate on this platform")
	}
	return s, addr
}

// waitHibernating waits until n connections have no reader goroutine and
// no writer goroutine.
func waitHibernating(t *testing.T, s *Server, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d hibernating connections", n), func() bool {
		return s.Stats().ClientsHibernating == n && writersRunning(s) == 0
	})
}

// writersRunning counts connections with a writer goroutine.
func writersRunning(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		c.out.mu.Lock()
		if c.out.running {
			n++
		}
		c.out.mu.Unlock()
	}
	return n
}

// waitTicks waits until the sweeper has run n more times.
func waitTicks(t *testing.T, s *Server, n uint32) {
	t.Helper()
	from := s.hib.tick.Load()
	waitFor(t, "sweeps", func() bool { return s.hib.tick.Load()-from >= n })
}

// An idle connection gives up both goroutines and wakes for what the client
// sends and for what is routed to it, in both directions, as often as it
// goes idle again.
func TestHibernateWakesBothWays(t *testing.T) {
	eachVersion(t, func(t *testing.T, v packet.Version) {
		s, addr := startHibernating(t)
		subscriber := clean(t, addr, v, "sleepy-sub")
		subscriber.subscribe(sub("hib/#", 1))
		pub := clean(t, addr, v, "sleepy-pub")
		for round := range 3 {
			waitHibernating(t, s, 2)
			// The publisher's reader wakes for its PUBLISH; the subscriber's
			// writer for the delivery; its reader for the PUBACK.
			payload := fmt.Sprintf("round %d", round)
			pub.publish("hib/t", payload, 1, false)
			got := subscriber.expectPub("hib/t", payload)
			subscriber.ack(got)
			waitHibernating(t, s, 2)
			subscriber.send(&packet.Pingreq{}) // [MQTT-3.12.4-1] answered after hibernation
			subscriber.expect(packet.PINGRESP)
		}
		if c := s.Stats().ClientsConnected; c != 2 {
			t.Fatalf("connected %d, want 2", c)
		}
	})
}

// A hibernating client that stops sending is still disconnected at one and
// a half times its keep alive, and its will is published.
// [MQTT-3.1.2-24] (5.0: [MQTT-3.1.2-22])
func TestHibernateKeepAlive(t *testing.T) {
	s, addr := startHibernating(t)
	watcher := clean(t, addr, packet.V311, "watcher")
	watcher.subscribe(sub("wills/#", 0))
	c := withWill(&packet.Connect{ClientID: []byte("silent"), CleanStart: true, KeepAlive: 1}, "wills/silent", "gone", 0, false)
	silent, _ := connect(t, addr, packet.V311, c)
	waitFor(t, "the silent client to hibernate", func() bool { return s.Stats().ClientsHibernating >= 1 })
	start := time.Now()
	watcher.expectPub("wills/silent", "gone")
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("keep-alive timeout took %v", d)
	}
	silent.closedWithin(peerTimeout)
}

// A client that closes its socket while hibernating is noticed at once: its
// will goes out and it no longer counts as connected.
func TestHibernatePeerClose(t *testing.T) {
	eachVersion(t, func(t *testing.T, v packet.Version) {
		s, addr := startHibernating(t)
		watcher := clean(t, addr, v, "watcher")
		watcher.subscribe(sub("wills/#", 0))
		p, _ := connect(t, addr, v, withWill(&packet.Connect{ClientID: []byte("leaver"), CleanStart: true}, "wills/leaver", "bye", 0, false))
		waitHibernating(t, s, 2)
		p.abort()
		watcher.expectPub("wills/leaver", "bye")
		waitConns(t, s, 1)
	})
}

// Takeover, an administrative kick and server shutdown each end a
// hibernating connection as they end an awake one.
func TestHibernateServerClose(t *testing.T) {
	t.Run("takeover", func(t *testing.T) {
		s, addr := startHibernating(t)
		old := clean(t, addr, packet.V5, "twice")
		waitHibernating(t, s, 1)
		clean(t, addr, packet.V5, "twice")
		if code := old.closedWithin(peerTimeout); code != packet.SessionTakenOver { // [MQTT-3.1.4-3]
			t.Fatalf("DISCONNECT %v, want session taken over", code)
		}
	})
	t.Run("kick", func(t *testing.T) {
		s, addr := startHibernating(t)
		p := clean(t, addr, packet.V5, "kicked")
		waitHibernating(t, s, 1)
		if err := s.Kick("kicked"); err != nil {
			t.Fatal(err)
		}
		if code := p.closedWithin(peerTimeout); code != packet.AdministrativeAction {
			t.Fatalf("DISCONNECT %v, want administrative action", code)
		}
		waitConns(t, s, 0)
	})
	t.Run("shutdown", func(t *testing.T) {
		s, addr := startHibernating(t)
		p := clean(t, addr, packet.V5, "stopped")
		waitHibernating(t, s, 1)
		done := make(chan error, 1)
		go func() { done <- s.Shutdown(t.Context()) }()
		if code := p.closedWithin(peerTimeout); code != packet.ServerShuttingDown {
			t.Fatalf("DISCONNECT %v, want server shutting down", code)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// A connection holding part of a packet does not hibernate (the bytes live
// in its read buffer); the rest of the packet completes it.
func TestHibernatePartialPacket(t *testing.T) {
	s, addr := startHibernating(t)
	p := clean(t, addr, packet.V311, "halfway")
	waitHibernating(t, s, 1)
	pkt := (&packet.Publish{Topic: []byte("half/t"), QoS: 1, PacketID: 7, Payload: []byte("split")}).Append(nil, packet.V311)
	p.sendRaw(pkt[:5]) // wakes the reader, which buffers a partial packet
	waitFor(t, "the reader to wake", func() bool { return s.Stats().ClientsHibernating == 0 })
	waitTicks(t, s, s.hib.idle+2)
	if n := s.Stats().ClientsHibernating; n != 0 {
		t.Fatalf("%d hibernating with a partial packet buffered", n)
	}
	p.sendRaw(pkt[5:])
	if ack := p.expect(packet.PUBACK).(*packet.Puback); ack.PacketID != 7 {
		t.Fatalf("PUBACK %d", ack.PacketID)
	}
}

// Many connections hibernate and wake together: each gets the message
// routed to all of them, and answers.
func TestHibernateMany(t *testing.T) {
	s, addr := startHibernating(t)
	const n = 100
	peers := make([]*peer, n)
	for i := range peers {
		peers[i] = clean(t, addr, packet.V311, fmt.Sprintf("many-%d", i))
		peers[i].subscribe(sub("all/#", 1))
	}
	waitHibernating(t, s, n)
	if err := s.Publish("all/now", []byte("wake"), 1, false); err != nil {
		t.Fatal(err)
	}
	for _, p := range peers {
		p.ack(p.expectPub("all/now", "wake"))
	}
	waitHibernating(t, s, n)
	for _, p := range peers {
		p.publish("all/back", "ok", 0, false)
	}
	for _, p := range peers {
		for range n {
			p.ack(p.expectPub("all/back", "ok"))
		}
	}
}

// With HibernateAfter 0 connections keep their goroutines.
func TestHibernateOff(t *testing.T) {
	s, addr := startServer(t, func(o *Options) { o.HibernateAfter = 0 })
	if s.hib != nil {
		t.Fatal("hibernator running with HibernateAfter 0")
	}
	clean(t, addr, packet.V311, "awake")
	if n := s.Stats().ClientsHibernating; n != 0 {
		t.Fatalf("%d hibernating", n)
	}
	if writersRunning(s) != 1 {
		t.Fatal("no writer goroutine")
	}
}

// If the poller stops while the server runs, every hibernating connection
// is woken and connections stay awake from then on.
func TestHibernatePollerStops(t *testing.T) {
	s, addr := startHibernating(t)
	p := clean(t, addr, packet.V311, "orphan")
	p.subscribe(sub("orphan/#", 0))
	waitHibernating(t, s, 1)
	s.hib.poll.wake() // as if epoll_wait had failed
	waitFor(t, "the connection to wake", func() bool { return s.Stats().ClientsHibernating == 0 })
	waitTicks(t, s, s.hib.idle+2)
	if n := s.Stats().ClientsHibernating; n != 0 {
		t.Fatalf("%d hibernating without a poller", n)
	}
	p.publish("orphan/t", "still here", 0, false)
	p.expectPub("orphan/t", "still here")
}
