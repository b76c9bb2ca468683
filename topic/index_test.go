package topic

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

// keysOf returns the sorted keys of subs, for comparing results.
func keysOf(subs []Sub[string]) []string {
	out := make([]string, 0, len(subs))
	for _, s := range subs {
		out = append(out, s.Key)
	}
	sort.Strings(out)
	return out
}

func groupsOf(groups []SharedMatch[string]) []string {
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		out = append(out, g.Group+"|"+g.Filter+"|"+strings.Join(keysOf(g.Members), ","))
	}
	sort.Strings(out)
	return out
}

// TestIndexMatchTable runs the shared match table through the index, one
// subscription at a time, with and without the cache.
func TestIndexMatchTable(t *testing.T) {
	for _, cacheSize := range []int{0, 100} {
		for _, tt := range matchTests {
			t.Run(fmt.Sprintf("cache%d/%s", cacheSize, tt.name), func(t *testing.T) {
				x := NewIndex[string](cacheSize)
				x.Subscribe("c", tt.filter, Options{})
				x.Subscribe("s", "$share/g/"+tt.filter, Options{})
				for range 2 { // second round hits the cache
					subs, groups := x.Match(tt.topic, nil, nil)
					if got := len(subs) == 1; got != tt.want || len(subs) > 1 {
						t.Fatalf("Index.Match(%q) with %q = %v, want match %v", tt.topic, tt.filter, subs, tt.want)
					}
					if got := len(groups) == 1; got != tt.want || len(groups) > 1 {
						t.Fatalf("shared Index.Match(%q) with %q = %v, want match %v", tt.topic, tt.filter, groups, tt.want)
					}
				}
			})
		}
	}
}

func TestIndexOverlap(t *testing.T) {
	x := NewIndex[string](64)
	filters := map[string][]string{
		"a": {"sport/tennis/player1", "sport/#", "#"},
		"b": {"sport/+/player1", "+/tennis/#", "sport/tennis/+"},
		"c": {"sport/football", "$SYS/#"},
	}
	for key, fs := range filters {
		for _, f := range fs {
			if existed, _ := x.Subscribe(key, f, Options{QoS: 1}); existed {
				t.Fatalf("Subscribe(%s, %s) existed", key, f)
			}
		}
	}
	if got, want := x.Count(), 8; got != want {
		t.Fatalf("Count = %d, want %d", got, want)
	}
	subs, _ := x.Match("sport/tennis/player1", nil, nil)
	if got, want := keysOf(subs), []string{"a", "a", "a", "b", "b", "b"}; !slices.Equal(got, want) {
		t.Fatalf("Match = %v, want %v", got, want)
	}
	subs, _ = x.Match("$SYS/load", subs[:0], nil) // [MQTT-4.7.2-1]: not "#"
	if got, want := keysOf(subs), []string{"c"}; !slices.Equal(got, want) {
		t.Fatalf("Match($SYS) = %v, want %v", got, want)
	}
	subs, _ = x.Match("weather", subs[:0], nil)
	if got, want := keysOf(subs), []string{"a"}; !slices.Equal(got, want) {
		t.Fatalf("Match(weather) = %v, want %v", got, want)
	}
}

func TestIndexMatchAppends(t *testing.T) {
	x := NewIndex[string](0)
	x.Subscribe("a", "t", Options{})
	dst := []Sub[string]{{Key: "keep"}}
	dst, _ = x.Match("t", dst, nil)
	if got, want := keysOf(dst), []string{"a", "keep"}; !slices.Equal(got, want) {
		t.Fatalf("Match = %v, want %v", got, want)
	}
}

func TestIndexReplace(t *testing.T) {
	x := NewIndex[string](16)
	if existed, first := x.Subscribe("a", "t/+", Options{QoS: 0}); existed || !first {
		t.Fatalf("first Subscribe = %v, %v; want false, true", existed, first)
	}
	subs, _ := x.Match("t/1", nil, nil) // fill the cache
	if len(subs) != 1 || subs[0].Opts.QoS != 0 {
		t.Fatalf("Match = %v", subs)
	}
	o := Options{QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2, ID: 7}
	if existed, first := x.Subscribe("a", "t/+", o); !existed || first {
		t.Fatalf("replacing Subscribe = %v, %v; want true, false", existed, first)
	}
	if x.Count() != 1 {
		t.Fatalf("Count = %d after replace, want 1", x.Count())
	}
	subs, _ = x.Match("t/1", subs[:0], nil)
	if len(subs) != 1 || subs[0].Opts != o {
		t.Fatalf("Match after replace = %v, want options %+v", subs, o)
	}
}

func TestIndexUnsubscribe(t *testing.T) {
	x := NewIndex[string](16)
	x.Subscribe("a", "t/#", Options{})
	x.Subscribe("b", "t/#", Options{})
	x.Subscribe("a", "t/x", Options{})
	if existed, last := x.Unsubscribe("c", "t/#"); existed || last {
		t.Fatalf("Unsubscribe unknown key = %v, %v", existed, last)
	}
	if existed, last := x.Unsubscribe("a", "nope/#"); existed || last {
		t.Fatalf("Unsubscribe unknown filter = %v, %v", existed, last)
	}
	if existed, last := x.Unsubscribe("a", "t/#"); !existed || last {
		t.Fatalf("Unsubscribe a = %v, %v; want true, false", existed, last)
	}
	subs, _ := x.Match("t/x", nil, nil)
	if got, want := keysOf(subs), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Fatalf("Match = %v, want %v", got, want)
	}
	if existed, last := x.Unsubscribe("b", "t/#"); !existed || !last {
		t.Fatalf("Unsubscribe b = %v, %v; want true, true", existed, last)
	}
	if existed, last := x.Unsubscribe("a", "t/x"); !existed || !last {
		t.Fatalf("Unsubscribe a t/x = %v, %v; want true, true", existed, last)
	}
	if x.Count() != 0 {
		t.Fatalf("Count = %d, want 0", x.Count())
	}
	if !x.root.empty() {
		t.Fatalf("root not pruned: %+v", x.root)
	}
	if subs, _ = x.Match("t/x", subs[:0], nil); len(subs) != 0 {
		t.Fatalf("Match after unsubscribe = %v", subs)
	}
}

// TestIndexManySubscribers crosses listMapMin so the position map is used.
func TestIndexManySubscribers(t *testing.T) {
	x := NewIndex[int](0)
	const n = 100
	for i := range n {
		x.Subscribe(i, "a/b", Options{QoS: byte(i % 3)})
	}
	x.Subscribe(5, "a/b", Options{ID: 99})
	for i := 0; i < n; i += 2 {
		if existed, _ := x.Unsubscribe(i, "a/b"); !existed {
			t.Fatalf("Unsubscribe(%d) not found", i)
		}
	}
	subs, _ := x.Match("a/b", nil, nil)
	if len(subs) != n/2 {
		t.Fatalf("Match found %d, want %d", len(subs), n/2)
	}
	for _, s := range subs {
		if s.Key%2 == 0 {
			t.Fatalf("unsubscribed key %d matched", s.Key)
		}
		if s.Key == 5 && s.Opts.ID != 99 {
			t.Fatalf("replaced options lost: %+v", s)
		}
	}
}

func TestIndexInterest(t *testing.T) {
	x := NewIndex[string](0)
	steps := []struct {
		sub                      bool
		key, filter              string
		wantExisted, wantChanged bool
	}{
		{true, "a", "t", false, true},
		{true, "b", "t", false, false},
		{true, "a", "t", true, false},
		{true, "a", "$share/g/t", false, true}, // the group is its own interest
		{true, "b", "$share/g/t", false, false},
		{true, "a", "$share/h/t", false, true}, // another group, same filter
		{true, "a", "$share/g/u", false, true}, // same group, another filter
		{false, "a", "t", true, false},
		{false, "b", "t", true, true},
		{false, "b", "t", false, false},
		{false, "a", "$share/g/t", true, false},
		{false, "b", "$share/g/t", true, true},
		{false, "a", "$share/h/t", true, true},
		{false, "a", "$share/g/u", true, true},
	}
	for i, s := range steps {
		var existed, changed bool
		if s.sub {
			existed, changed = x.Subscribe(s.key, s.filter, Options{})
		} else {
			existed, changed = x.Unsubscribe(s.key, s.filter)
		}
		if existed != s.wantExisted || changed != s.wantChanged {
			t.Fatalf("step %d %+v: got %v, %v", i, s, existed, changed)
		}
	}
	if x.Count() != 0 || !x.root.empty() {
		t.Fatalf("index not empty: count %d", x.Count())
	}
}

func TestIndexShared(t *testing.T) {
	x := NewIndex[string](16)
	x.Subscribe("a", "$share/g/sport/#", Options{QoS: 1})
	x.Subscribe("b", "$share/g/sport/#", Options{QoS: 2})
	x.Subscribe("c", "$share/h/sport/+", Options{})
	x.Subscribe("d", "sport/tennis", Options{})
	subs, groups := x.Match("sport/tennis", nil, nil)
	if got, want := keysOf(subs), []string{"d"}; !slices.Equal(got, want) {
		t.Fatalf("ordinary subs = %v, want %v", got, want)
	}
	if got, want := groupsOf(groups), []string{"g|sport/#|a,b", "h|sport/+|c"}; !slices.Equal(got, want) {
		t.Fatalf("groups = %v, want %v", got, want)
	}
	if subs, groups = x.Match("$share/g/sport", subs[:0], groups[:0]); len(subs)+len(groups) != 0 {
		t.Fatalf("the share prefix is not a topic: %v %v", subs, groups)
	}

	// Snapshots stay valid while the group changes.
	_, groups = x.Match("sport", nil, nil)
	snap := groups[0].Members
	before := groupsOf(groups)
	x.Subscribe("e", "$share/g/sport/#", Options{})
	x.Subscribe("a", "$share/g/sport/#", Options{QoS: 0}) // replace
	x.Unsubscribe("b", "$share/g/sport/#")
	if after := groupsOf([]SharedMatch[string]{{Group: "g", Filter: "sport/#", Members: snap}}); !slices.Equal(after, before) || snap[0].Opts.QoS != 1 {
		t.Fatalf("snapshot changed: %v, was %v", after, before)
	}
	_, groups = x.Match("sport", nil, nil)
	if got, want := groupsOf(groups), []string{"g|sport/#|a,e"}; !slices.Equal(got, want) {
		t.Fatalf("groups after churn = %v, want %v", got, want)
	}
}

func TestSharedPick(t *testing.T) {
	x := NewIndex[string](16)
	for _, k := range []string{"a", "b", "c"} {
		x.Subscribe(k, "$share/g/t", Options{})
	}
	counts := map[string]int{}
	for range 30 {
		_, groups := x.Match("t", nil, nil) // fresh results share the counter
		s, ok := groups[0].Pick()
		if !ok {
			t.Fatal("Pick found no member")
		}
		counts[s.Key]++
	}
	if counts["a"] != 10 || counts["b"] != 10 || counts["c"] != 10 {
		t.Fatalf("round-robin counts = %v, want 10 each", counts)
	}
	_, groups := x.Match("t", nil, nil)
	for range 6 {
		s, ok := groups[0].PickWhere(func(s Sub[string]) bool { return s.Key == "b" })
		if !ok || s.Key != "b" {
			t.Fatalf("PickWhere = %v, %v; want b", s, ok)
		}
	}
	if _, ok := groups[0].PickWhere(func(Sub[string]) bool { return false }); ok {
		t.Fatal("PickWhere accepted nothing but returned ok")
	}
	if _, ok := (SharedMatch[string]{}).Pick(); ok {
		t.Fatal("Pick on an empty group returned ok")
	}
}

func TestIndexCacheInvalidation(t *testing.T) {
	x := NewIndex[string](4) // small: exercises eviction too
	x.Subscribe("a", "t/+", Options{})
	for i := range 10 {
		x.Match(fmt.Sprintf("t/%d", i), nil, nil)
	}
	subs, _ := x.Match("t/1", nil, nil)
	if len(subs) != 1 {
		t.Fatalf("Match = %v", subs)
	}
	x.Subscribe("b", "t/1", Options{})
	if subs, _ = x.Match("t/1", subs[:0], nil); len(subs) != 2 {
		t.Fatalf("after Subscribe: Match = %v, want 2", subs)
	}
	x.Unsubscribe("a", "t/+")
	if subs, _ = x.Match("t/1", subs[:0], nil); len(subs) != 1 || subs[0].Key != "b" {
		t.Fatalf("after Unsubscribe: Match = %v, want [b]", subs)
	}
	x.Subscribe("s", "$share/g/t/1", Options{})
	if _, groups := x.Match("t/1", nil, nil); len(groups) != 1 {
		t.Fatalf("after shared Subscribe: groups = %v", groups)
	}
	for i := range x.cache.shards {
		if n := len(x.cache.shards[i].m); n > x.cache.perShard {
			t.Fatalf("cache shard holds %d entries, limit %d", n, x.cache.perShard)
		}
	}
}

func TestIndexMatchAllocs(t *testing.T) {
	x := NewIndex[string](128)
	x.Subscribe("a", "sport/tennis/+", Options{})
	x.Subscribe("b", "sport/#", Options{})
	x.Subscribe("c", "$share/g/sport/#", Options{})
	x.Subscribe("d", "+/football", Options{})
	dst := make([]Sub[string], 0, 8)
	groups := make([]SharedMatch[string], 0, 8)

	if n := testing.AllocsPerRun(100, func() {
		dst, groups = x.Match("weather/today", dst[:0], groups[:0])
	}); n != 0 || len(dst) != 0 {
		t.Fatalf("no match: %v allocs, %d results; want 0, 0", n, len(dst))
	}
	if n := testing.AllocsPerRun(100, func() {
		dst, groups = x.Match("sport/tennis/p1", dst[:0], groups[:0])
	}); n != 0 || len(dst) != 2 || len(groups) != 1 {
		t.Fatalf("cache hit: %v allocs, %d+%d results; want 0, 2+1", n, len(dst), len(groups))
	}

	// Without a cache, a trie walk into room in dst does not allocate either.
	y := NewIndex[string](0)
	y.Subscribe("a", "sport/tennis/+", Options{})
	y.Subscribe("b", "sport/#", Options{})
	if n := testing.AllocsPerRun(100, func() {
		dst, groups = y.Match("sport/tennis/p1", dst[:0], groups[:0])
	}); n != 0 || len(dst) != 2 {
		t.Fatalf("uncached: %v allocs, %d results; want 0, 2", n, len(dst))
	}
}

// TestIndexConcurrent churns subscriptions while other goroutines match,
// then checks the final state against a brute-force computation. Run it
// with -race.
func TestIndexConcurrent(t *testing.T) {
	x := NewIndex[int](64)
	filters := []string{"a/#", "a/+", "a/b", "+/b", "#", "$share/g/a/b", "$share/h/+/+", "a/+/c"}
	topics := []string{"a/b", "a", "x/b", "a/b/c", "$SYS/b"}
	const writers, readers, rounds = 4, 4, 500

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range rounds {
				f := filters[(i+w)%len(filters)]
				x.Subscribe(w, f, Options{QoS: byte(i % 3)})
				if i%3 != 0 {
					x.Unsubscribe(w, f)
				}
			}
		})
	}
	for r := range readers {
		wg.Go(func() {
			var dst []Sub[int]
			var groups []SharedMatch[int]
			for i := range rounds {
				dst, groups = x.Match(topics[(i+r)%len(topics)], dst[:0], groups[:0])
				for _, g := range groups {
					if _, ok := g.Pick(); !ok {
						t.Error("matched a shared group with no members")
						return
					}
				}
			}
		})
	}
	wg.Wait()

	// Replay the writers' net effect and compare.
	want := map[string]map[int]bool{}
	for w := range writers {
		for i := range rounds {
			f := filters[(i+w)%len(filters)]
			if want[f] == nil {
				want[f] = map[int]bool{}
			}
			want[f][w] = i%3 == 0 // the round's last operation decides
		}
	}
	total := 0
	for _, keys := range want {
		for _, in := range keys {
			if in {
				total++
			}
		}
	}
	if x.Count() != total {
		t.Fatalf("Count = %d, want %d", x.Count(), total)
	}
	for _, topic := range topics {
		subs, groups := x.Match(topic, nil, nil)
		n := len(subs)
		for _, g := range groups {
			n += len(g.Members)
		}
		expect := 0
		for f, keys := range want {
			_, inner, _ := splitShared(f)
			for _, in := range keys {
				if in && Match(inner, topic) {
					expect++
				}
			}
		}
		if n != expect {
			t.Fatalf("Match(%q) found %d subscriptions, want %d", topic, n, expect)
		}
	}
}
