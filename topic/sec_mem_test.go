package topic

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// secHeapInUse returns the live heap after a full collection.
func secHeapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// secWorstFilters returns the filters of the worst SUBSCRIBE that fits in
// packetSize bytes under a limit of levels per filter: every filter as many
// empty levels as allowed, each distinct from its first level so that
// none shares a node with another.
func secWorstFilters(packetSize, levels int) (filters []string, wire int) {
	tail := strings.Repeat("/", levels-1) // empty levels: a byte each
	for i := 0; ; i++ {
		f := strconv.Itoa(i) + tail
		if wire+len(f)+3 > packetSize-16 {
			return filters, wire
		}
		filters = append(filters, f)
		wire += len(f) + 3
	}
}

func TestSecIndexMemoryPerLevel(t *testing.T) {
	filters, wire := secWorstFilters(1<<20, 200)
	x := NewIndex[int](1024)
	before := secHeapInUse()
	for i, f := range filters {
		x.Subscribe(1, f, Options{QoS: byte(i % 3)})
	}
	grown := secHeapInUse() - before
	runtime.KeepAlive(x)
	runtime.KeepAlive(filters)
	// The index keeps a copy of each filter and a node for it: about what
	// the SUBSCRIBE was. Before runs of levels it kept a node per level,
	// 366 bytes each: 190 MB for this 1 MiB SUBSCRIBE.
	if grown > uint64(2*wire) {
		t.Errorf("heap grew %d bytes for a %d-byte SUBSCRIBE", grown, wire)
	}
	t.Logf("%d filters of 200 levels, %d wire bytes: heap grew %d bytes (%.1f per wire byte, %.1f per level)",
		len(filters), wire, grown, float64(grown)/float64(wire), float64(grown)/float64(len(filters)*200))
}

// secCheckCompact fails if a node other than the root is empty, or holds
// nothing but one literal child (it should have been joined with it), or
// if a run of levels holds a wildcard.
func secCheckCompact[K comparable](t *testing.T, n *node[K], root bool) {
	t.Helper()
	if !root {
		if n.empty() {
			t.Fatalf("empty node %q left in the index", n.level)
		}
		literal := n.parent.plus != n && n.parent.hash != n
		if literal && len(n.children) == 1 && n.plus == nil && n.hash == nil && len(n.subs.items) == 0 && len(n.groups) == 0 {
			t.Fatalf("node %q holds only one child", n.level)
		}
		if literal && strings.Contains("/"+n.level+"/", "/+/") || literal && strings.Contains("/"+n.level+"/", "/#/") {
			t.Fatalf("run %q holds a wildcard", n.level)
		}
	}
	for k, c := range n.children {
		if c.parent != n || firstLevel(c.level) != k {
			t.Fatalf("child %q under key %q: bad link", c.level, k)
		}
		secCheckCompact(t, c, false)
	}
	for _, c := range []*node[K]{n.plus, n.hash} {
		if c != nil {
			secCheckCompact(t, c, false)
		}
	}
}

// Runs of literal levels split and join as filters come and go, and Match
// agrees with the reference matcher throughout.
func TestSecIndexRunsAgreeWithMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 1))
	levels := []string{"a", "b", "", "ab", "$s", "+", "#"}
	randFilter := func() string {
		n := 1 + rng.IntN(6)
		var parts []string
		for i := 0; i < n; i++ {
			l := levels[rng.IntN(len(levels))]
			if l == "#" && i != n-1 {
				l = "a"
			}
			parts = append(parts, l)
		}
		return strings.Join(parts, "/")
	}
	randName := func() string {
		n := 1 + rng.IntN(7)
		var parts []string
		for i := 0; i < n; i++ {
			parts = append(parts, levels[rng.IntN(5)])
		}
		return strings.Join(parts, "/")
	}
	x := NewIndex[int](0)
	live := map[[2]any]bool{}
	for step := 0; step < 20000; step++ {
		key, f := rng.IntN(4), randFilter()
		if ValidFilter(f) != nil {
			continue
		}
		if rng.IntN(3) == 0 {
			existed, _ := x.Unsubscribe(key, f)
			if existed != live[[2]any{key, f}] {
				t.Fatalf("step %d: Unsubscribe(%d, %q) existed %v", step, key, f, existed)
			}
			delete(live, [2]any{key, f})
		} else {
			x.Subscribe(key, f, Options{})
			live[[2]any{key, f}] = true
		}
		if step%50 == 0 {
			secCheckCompact(t, &x.root, true)
			name := randName()
			if ValidName(name) != nil {
				continue
			}
			got, _ := x.Match(name, nil, nil)
			want := 0
			for kf := range live {
				if Match(kf[1].(string), name) {
					want++
				}
			}
			if len(got) != want {
				t.Fatalf("step %d: Match(%q) found %d subscriptions, want %d", step, name, len(got), want)
			}
		}
	}
	for kf := range live {
		x.Unsubscribe(kf[0].(int), kf[1].(string))
	}
	if !x.root.empty() || x.Count() != 0 {
		t.Fatal("index not empty after every unsubscribe")
	}
}

// secCheckRetainedCompact fails if a node other than the root holds
// nothing, or nothing but one child, or is linked wrongly.
func secCheckRetainedCompact[V any](t *testing.T, n *rnode[V], root bool) {
	t.Helper()
	if !root && !n.has && len(n.children) < 2 {
		t.Fatalf("node %q holds %d children and no message", n.level, len(n.children))
	}
	for k, c := range n.children {
		if c.parent != n || firstLevel(c.level) != k {
			t.Fatalf("child %q under key %q: bad link", c.level, k)
		}
		secCheckRetainedCompact(t, c, false)
	}
}

// The retained index keeps runs of levels in one node too: Match agrees
// with the reference matcher while topics come and go, and a retained
// message's memory follows its topic's bytes, not its levels.
func TestSecRetainedRunsAgreeWithMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 2))
	levels := []string{"a", "b", "", "ab", "$s"}
	filterLevels := append(levels, "+", "#")
	join := func(from []string, n int, hashLast bool) string {
		var parts []string
		for i := 0; i < n; i++ {
			l := from[rng.IntN(len(from))]
			if l == "#" && (i != n-1 || !hashLast) {
				l = "+"
			}
			parts = append(parts, l)
		}
		return strings.Join(parts, "/")
	}
	r := NewRetained[int]()
	live := map[string]int{}
	for step := 0; step < 20000; step++ {
		name := join(levels, 1+rng.IntN(6), false)
		if ValidName(name) != nil {
			continue
		}
		if rng.IntN(3) == 0 {
			_, had := live[name]
			if r.Delete(name) != had {
				t.Fatalf("step %d: Delete(%q) != %v", step, name, had)
			}
			delete(live, name)
		} else {
			r.Set(name, step)
			live[name] = step
		}
		if step%50 != 0 {
			continue
		}
		secCheckRetainedCompact(t, &r.root, true)
		if r.Len() != len(live) {
			t.Fatalf("step %d: Len %d, want %d", step, r.Len(), len(live))
		}
		for name, v := range live {
			if got, ok := r.Get(name); !ok || got != v {
				t.Fatalf("step %d: Get(%q) = %v %v, want %v", step, name, got, ok, v)
			}
		}
		f := join(filterLevels, 1+rng.IntN(6), true)
		if ValidFilter(f) != nil {
			continue
		}
		got := map[string]bool{}
		r.Match(f, func(topic string, v int) bool {
			if got[topic] || live[topic] != v {
				t.Fatalf("step %d: Match(%q) gave %q %d twice or stale", step, f, topic, v)
			}
			got[topic] = true
			return true
		})
		for name := range live {
			if Match(f, name) != got[name] {
				t.Fatalf("step %d: Match(%q) and %q: index %v, reference %v", step, f, name, got[name], Match(f, name))
			}
		}
	}
	for name := range live {
		r.Delete(name)
	}
	if r.Len() != 0 || len(r.root.children) != 0 {
		t.Fatal("retained index not empty after every delete")
	}

	tail := strings.Repeat("/", 199) // 200 empty levels
	names := make([]string, 1000)
	wire := 0
	for i := range names {
		names[i] = strconv.Itoa(i) + tail
		wire += len(names[i])
	}
	before := secHeapInUse()
	for i, n := range names {
		r.Set(n, i)
	}
	grown := secHeapInUse() - before
	runtime.KeepAlive(r)
	runtime.KeepAlive(names)
	// A node per level made this 64 MB: 64 KB per message.
	if grown > uint64(4*wire) {
		t.Errorf("1000 retained topics of 200 levels (%d bytes of names): heap grew %d bytes", wire, grown)
	}
	t.Logf("1000 retained topics of 200 levels (%d bytes of names): heap grew %d bytes", wire, grown)
}
