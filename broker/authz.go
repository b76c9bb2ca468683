package broker

import "github.com/roostmq/roost/topic"

var _ Authorizer = (*DenyList)(nil)

// isSysTopic reports whether name is in the broker's own $SYS tree.
func isSysTopic(name string) bool {
	return len(name) >= 4 && name[0] == '$' && name[1:4] == "SYS" && (len(name) == 4 || name[4] == '/')
}

// mayPublish decides whether a client may publish to name (a PUBLISH or a
// will). Without an Authorizer every topic is open but the $SYS tree, which
// is the broker's own; an Authorizer decides every topic itself (DenyList
// and the auth package's Chain refuse $SYS unless a rule allows it).
func (s *Server) mayPublish(clientID, username, name string) bool {
	if a := s.opts.Authorizer; a != nil {
		return a.Authorize(clientID, username, AccessPublish, name)
	}
	return !isSysTopic(name)
}

// Authorize implements Authorizer. Publishing into $SYS is refused.
func (d *DenyList) Authorize(_, _ string, access Access, name string) bool {
	switch access {
	case AccessPublish:
		if isSysTopic(name) {
			return false
		}
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
