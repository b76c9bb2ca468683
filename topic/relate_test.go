package topic

import "testing"

// Subsumes and Overlaps agree with Match over every name built from a small
// alphabet of levels: Subsumes(f, s) holds exactly when every name s
// matches is matched by f, Overlaps(a, b) when some name matches both.
func TestSubsumesAndOverlapsAgreeWithMatch(t *testing.T) {
	levels := []string{"a", "b", "$x", ""}
	var names []string
	var build func(prefix string, depth int)
	build = func(prefix string, depth int) {
		for _, l := range levels {
			n := l
			if depth > 0 {
				n = prefix + "/" + l
			}
			names = append(names, n)
			if depth < 2 {
				build(n, depth+1)
			}
		}
	}
	build("", 0)
	var filters []string
	flevels := []string{"a", "b", "$x", "", "+", "#"}
	var fbuild func(prefix string, depth int)
	fbuild = func(prefix string, depth int) {
		for _, l := range flevels {
			f := l
			if depth > 0 {
				f = prefix + "/" + l
			}
			if ValidFilter(f) != nil {
				continue
			}
			filters = append(filters, f)
			if depth < 2 && l != "#" {
				fbuild(f, depth+1)
			}
		}
	}
	fbuild("", 0)
	for _, f := range filters {
		for _, s := range filters {
			sub, over := true, false
			for _, n := range names {
				ms, mf := Match(s, n), Match(f, n)
				if ms && !mf {
					sub = false
				}
				if ms && mf {
					over = true
				}
			}
			// Names are limited to three levels: a filter reaching deeper
			// cannot be judged by them.
			if depthOf(f) > 3 || depthOf(s) > 3 {
				continue
			}
			if got := Subsumes(f, s); got != sub && !(sub && !got && hasDeeper(s)) {
				t.Errorf("Subsumes(%q, %q) = %v, names say %v", f, s, got, sub)
			}
			if got := Overlaps(f, s); got != over {
				t.Errorf("Overlaps(%q, %q) = %v, names say %v", f, s, got, over)
			}
		}
	}
}

func depthOf(f string) int {
	n := 1
	for i := 0; i < len(f); i++ {
		if f[i] == '/' {
			n++
		}
	}
	return n
}

// hasDeeper: s ends in "#" and so matches names deeper than the test's
// alphabet builds; the sampled names may then miss a counterexample only in
// the direction Subsumes already answers false.
func hasDeeper(s string) bool { return len(s) > 0 && s[len(s)-1] == '#' }
