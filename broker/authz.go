package broker

import "github.com/roostmq/roost/topic"

var _ Authorizer = (*DenyList)(nil)

// Authorize implements Authorizer.
func (d *DenyList) Authorize(_, _ string, access Access, name string) bool {
	switch access {
	case AccessPublish:
		for _, f := range d.Publish {
			if topic.Match(f, name) {
				return false
			}
		}
	case AccessSubscribe:
		for _, f := range d.Subscribe {
			if overlaps(f, name) {
				return false
			}
		}
	case AccessReceive:
		for _, f := range d.Subscribe {
			if topic.Match(f, name) {
				return false
			}
		}
	}
	return true
}

// overlaps reports whether some topic name could match both filters.
func overlaps(a, b string) bool {
	for {
		la, ra, moreA := cut(a)
		lb, rb, moreB := cut(b)
		if la == "#" || lb == "#" {
			return true
		}
		if la != "+" && lb != "+" && la != lb {
			return false
		}
		if !moreA || !moreB {
			return moreA == moreB || (moreA && ra == "#") || (moreB && rb == "#")
		}
		a, b = ra, rb
	}
}

func cut(s string) (level, rest string, more bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
