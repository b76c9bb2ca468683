package topic

import (
	"strings"
	"testing"
)

// FuzzFilter checks that validation and matching never panic and that, for
// a valid filter and a valid name, Match, Index.Match and Retained.Match
// all agree with the reference implementation.
func FuzzFilter(f *testing.F) {
	for _, tt := range matchTests {
		f.Add(tt.filter, tt.topic)
	}
	f.Fuzz(func(t *testing.T, filter, name string) {
		ferr := ValidFilter(filter)
		nerr := ValidName(name)
		got := Match(filter, name)
		Levels(filter)
		_ = CheckLimits(filter, 100, 5)
		group, inner, shared, serr := ParseShared(filter)
		if serr == nil && shared {
			if group == "" || strings.ContainsAny(group, "/+#") || ValidFilter(inner) != nil {
				t.Fatalf("ParseShared(%q) accepted group %q inner %q", filter, group, inner)
			}
		}
		if ferr != nil || nerr != nil {
			return
		}
		if want := refMatch(filter, name); got != want {
			t.Fatalf("Match(%q, %q) = %v, reference says %v", filter, name, got, want)
		}
		if serr != nil {
			return // Subscribe requires a filter that ParseShared accepts
		}
		x := NewIndex[int](4)
		x.Subscribe(1, filter, Options{})
		subs, groups := x.Match(name, nil, nil)
		if shared {
			if want := refMatch(inner, name); (len(groups) == 1) != want || len(subs) != 0 {
				t.Fatalf("Index shared %q vs %q: %v %v, want match %v", filter, name, subs, groups, want)
			}
		} else if (len(subs) == 1) != got || len(groups) != 0 {
			t.Fatalf("Index.Match(%q) with %q = %v, want match %v", name, filter, subs, got)
		}
		r := NewRetained[int]()
		r.Set(name, 1)
		n := 0
		r.Match(filter, func(string, int) bool { n++; return true })
		if (n == 1) != got || n > 1 {
			t.Fatalf("Retained.Match(%q) with %q retained: %d results, want match %v", filter, name, n, got)
		}
	})
}
