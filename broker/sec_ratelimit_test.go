package broker

import (
	"net"
	"net/netip"
	"testing"
)

// The per-IP connection rate table never holds more than its cap, even
// when no bucket has refilled, and a new address evicts the least recently
// seen one (O(1)), so an address that keeps connecting stays limited.
// (review L11)
func TestSecIPRateTableBounded(t *testing.T) {
	old := maxTrackedIPRate
	maxTrackedIPRate = 1000
	defer func() { maxTrackedIPRate = old }()
	clk := newFakeClock()
	s, err := New(func() Options {
		o := DefaultOptions()
		o.Listen, o.SysInterval, o.Clock = nil, 0, clk
		o.Limits.ConnectRatePerIP = 1
		return o
	}())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Shutdown(t.Context()) }()
	addr := func(i int) net.Addr {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		return &net.TCPAddr{IP: a.AsSlice(), Port: 1}
	}
	hot := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1}
	if err := s.allowConnect(hot); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5*maxTrackedIPRate; i++ {
		if err := s.allowConnect(addr(i)); err != nil {
			t.Fatalf("address %d: %v", i, err)
		}
		if i%100 == 0 {
			// The hot address keeps connecting: it stays in the table and stays limited.
			if err := s.allowConnect(hot); err != errConnRate {
				t.Fatalf("hot address after %d others: %v, want the rate limit", i, err)
			}
		}
		s.rateMu.Lock()
		n := s.ipRates.len()
		s.rateMu.Unlock()
		if n > maxTrackedIPRate {
			t.Fatalf("table holds %d addresses, cap %d", n, maxTrackedIPRate)
		}
	}
	// The oldest addresses were evicted: address 0 starts with a full bucket.
	if err := s.allowConnect(addr(0)); err != nil {
		t.Fatalf("evicted address: %v", err)
	}
}
