package topic

import "strings"

// Subsumes reports whether every topic name that filter sub matches is also
// matched by filter f (both valid, non-shared filters). A filter that
// begins with a wildcard matches no name beginning with '$', so it never
// subsumes a '$' filter.
func Subsumes(f, sub string) bool {
	if sub == "" || f == "" {
		return false
	}
	if sub[0] == '$' && (f[0] == '+' || f[0] == '#') {
		return false
	}
	for {
		fl, frest, fmore := cutLevel(f)
		sl, srest, smore := cutLevel(sub)
		if fl == "#" {
			return true
		}
		switch {
		case sl == "#":
			return false // f is not # here
		case sl == "+":
			if fl != "+" {
				return false
			}
		case fl != "+" && fl != sl:
			return false
		}
		if !smore {
			// sub ends; f must end too, or go on only with "#".
			return !fmore || frest == "#"
		}
		if !fmore {
			return false
		}
		f, sub = frest, srest
	}
}

// Overlaps reports whether some topic name matches both filters (valid,
// non-shared). Names beginning with '$' match only filters that begin with
// the same literal level.
func Overlaps(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if (a[0] == '$') != (b[0] == '$') {
		// A '$' name is matched only by filters whose first level is
		// literal; the other filter then begins with a wildcard or a level
		// without '$'.
		return false
	}
	for {
		la, ra, moreA := cutLevel(a)
		lb, rb, moreB := cutLevel(b)
		if la == "#" || lb == "#" {
			return true
		}
		if la != "+" && lb != "+" && la != lb {
			return false
		}
		if !moreA || !moreB {
			// One ends here: a name ending here matches it; the other must
			// end too, or go on only with "#" (which matches the parent).
			return moreA == moreB || (moreA && ra == "#") || (moreB && rb == "#")
		}
		a, b = ra, rb
	}
}

func cutLevel(s string) (level, rest string, more bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}
