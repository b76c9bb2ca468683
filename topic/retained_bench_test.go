package topic

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
)

// A million retained messages: site/<s>/dev/<d>/temp for 100 sites of
// 10,000 devices each, set in a fixed shuffled order, as a broker gets them
// from devices publishing side by side (or from a store's map): the trie's
// nodes then lie scattered in memory, which a walk pays for in cache
// misses; set in order, the 10,000-match walk is several times faster.
// Built once per test binary, because building takes seconds and several
// hundred megabytes.
const (
	millionSites   = 100
	millionDevices = 10_000
)

var (
	millionOnce sync.Once
	million     *Retained[int]
)

func millionRetained(tb testing.TB) *Retained[int] {
	tb.Helper()
	millionOnce.Do(func() {
		order := make([]int32, millionSites*millionDevices)
		for i := range order {
			order[i] = int32(i)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		million = NewRetained[int]()
		buf := make([]byte, 0, 64)
		for _, i := range order {
			s, d := int(i)/millionDevices, int(i)%millionDevices
			million.Set(string(deviceTopic(buf[:0], s, d)), int(i))
		}
	})
	if n := million.Len(); n != millionSites*millionDevices {
		tb.Fatalf("Len = %d, want %d", n, millionSites*millionDevices)
	}
	return million
}

// deviceTopic appends site/<s>/dev/<d>/temp to buf.
func deviceTopic(buf []byte, s, d int) []byte {
	buf = append(buf, "site/"...)
	buf = strconv.AppendInt(buf, int64(s), 10)
	buf = append(buf, "/dev/"...)
	buf = strconv.AppendInt(buf, int64(d), 10)
	return append(buf, "/temp"...)
}

// deviceTopics retains site/<s>/dev/<d>/temp for s in [from, to) and d in
// [0, devices), with the value s*devices+d.
func deviceTopics(from, to, devices int) *Retained[int] {
	r := NewRetained[int]()
	addDeviceTopics(r, from, to, devices)
	return r
}

func addDeviceTopics(r *Retained[int], from, to, devices int) {
	buf := make([]byte, 0, 64)
	for s := from; s < to; s++ {
		for d := range devices {
			r.Set(string(deviceTopic(buf[:0], s, d)), s*devices+d)
		}
	}
}

// millionFilters are the filters BenchmarkRetainedMillion measures, with
// the number of the million messages each matches.
var millionFilters = []struct {
	name    string
	filter  string
	matches int
}{
	{"matches=1", "site/42/dev/4242/temp", 1},
	{"matches=100", "site/+/dev/4242/temp", 100},
	{"matches=10000", "site/42/dev/+/temp", 10_000},
	{"matches=0/absent-site", "site/1000/dev/+/temp", 0},
	// No match, but '+' still reaches the 10,000 devices of site 42: the
	// cost follows the nodes a filter's wildcards reach.
	{"matches=0/wildcard-over-10000", "site/42/dev/+/humidity", 0},
}

// BenchmarkRetainedMillion measures Retained.Match over 1,000,000 retained
// messages with filters matching 1, 100, 10,000 and none of them. An op is
// one Match; ns/match divides by the number of matches. Each op checks the
// number of matches.
func BenchmarkRetainedMillion(b *testing.B) {
	r := millionRetained(b)
	for _, tc := range millionFilters {
		b.Run(tc.name, func(b *testing.B) {
			n := 0
			fn := func(string, int) bool { n++; return true }
			b.ReportAllocs()
			for b.Loop() {
				n = 0
				r.Match(tc.filter, fn)
				if n != tc.matches {
					b.Fatalf("Match(%q) called fn %d times, want %d", tc.filter, n, tc.matches)
				}
			}
			if tc.matches > 0 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(tc.matches), "ns/match")
			}
		})
	}
}

// TestRetainedMatchCostFollowsMatches proves, on the real Match walk, that
// the nodes a filter reaches depend on what it matches and not on how many
// messages are retained. The same filters run over 1,000 retained messages
// (10 sites of 100 devices) and over 101,000 (1,000 more sites, which every
// filter below passes over with an exact lookup): the matches and the
// nodes reached must be identical. And for every filter, the nodes reached
// stay within topic depth (5) times (matches + 1), also for "site/+/..."
// whose matches grow with the number of sites.
func TestRetainedMatchCostFollowsMatches(t *testing.T) {
	small := deviceTopics(0, 10, 100)
	large := deviceTopics(0, 10, 100)
	addDeviceTopics(large, 10, 1010, 100)
	if small.Len() != 1_000 || large.Len() != 101_000 {
		t.Fatalf("Len = %d and %d, want 1000 and 101000", small.Len(), large.Len())
	}
	const depth = 5 // levels of site/<s>/dev/<d>/temp
	count := func(r *Retained[int], filter string) (matches, visited int) {
		visited = r.walk(filter, func(string, int) bool { matches++; return true })
		return matches, visited
	}
	for _, tc := range []struct {
		filter  string
		matches int // in both indexes
	}{
		{"site/3/dev/42/temp", 1},
		{"site/3/dev/+/temp", 100},
		{"site/3/#", 100},
		{"site/3/dev/42/#", 1},
		{"site/3/+/42/+", 1},
		{"site/3/dev/42/humidity", 0},
		{"site/5000/#", 0},
		{"other/#", 0},
	} {
		ms, vs := count(small, tc.filter)
		ml, vl := count(large, tc.filter)
		if ms != tc.matches || ml != tc.matches {
			t.Errorf("%s: %d and %d matches, want %d", tc.filter, ms, ml, tc.matches)
		}
		if vs != vl {
			t.Errorf("%s: reached %d nodes among 1,000 messages but %d among 101,000", tc.filter, vs, vl)
		}
		if vl > depth*(ml+1) {
			t.Errorf("%s: reached %d nodes for %d matches, more than %d", tc.filter, vl, ml, depth*(ml+1))
		}
	}
	// A wildcard over the sites matches once per site: nodes follow matches.
	for _, r := range []*Retained[int]{small, large} {
		m, v := count(r, "site/+/dev/42/temp")
		if want := r.Len() / 100; m != want {
			t.Errorf("site/+/dev/42/temp: %d matches, want %d", m, want)
		}
		if v > depth*(m+1) {
			t.Errorf("site/+/dev/42/temp: reached %d nodes for %d matches, more than %d", v, m, depth*(m+1))
		}
	}
	// Match and walk are the same walk.
	n := 0
	small.Match("site/3/dev/+/temp", func(string, int) bool { n++; return true })
	if n != 100 {
		t.Errorf("Match: %d matches, want 100", n)
	}
}

// TestRetainedMatchAllocs: budget 0 allocations. A narrow Match (one
// exact topic, or '+' over the 100 devices of one site) walks the trie and
// calls fn, which does not allocate; the walk itself must not either, so a
// SUBSCRIBE's retained lookup costs no garbage beyond what the caller
// collects.
func TestRetainedMatchAllocs(t *testing.T) {
	r := deviceTopics(0, 10, 100)
	for _, tc := range []struct {
		filter  string
		matches int
	}{
		{"site/3/dev/42/temp", 1},
		{"site/3/dev/+/temp", 100},
		{"site/3/#", 100},
		{"site/5000/#", 0},
	} {
		n := 0
		fn := func(string, int) bool { n++; return true }
		allocs := testing.AllocsPerRun(100, func() {
			n = 0
			r.Match(tc.filter, fn)
		})
		if allocs != 0 || n != tc.matches {
			t.Errorf("Match(%q): %v allocs, %d matches; want 0, %d", tc.filter, allocs, n, tc.matches)
		}
	}
}
