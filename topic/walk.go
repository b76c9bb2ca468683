package topic

import "strings"

// Walk calls fn for every subscription in the index with the filter it was
// subscribed with ("$share/{group}/{filter}" for a shared-group member)
// until fn returns false. It holds the index's read lock throughout, so fn
// must not call into the index. It is meant for diagnostics and consistency
// checks, not for routing.
func (x *Index[K]) Walk(fn func(key K, filter string, o Options) bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var levels []string
	x.root.walk(&levels, fn)
}

// walk visits n's subscriptions, then its children's; levels holds the
// filter levels from the root down to n.
func (n *node[K]) walk(levels *[]string, fn func(key K, filter string, o Options) bool) bool {
	if len(*levels) > 0 && (len(n.subs.items) > 0 || len(n.groups) > 0) {
		filter := strings.Join(*levels, "/")
		for _, s := range n.subs.items {
			if !fn(s.Key, filter, s.Opts) {
				return false
			}
		}
		for _, g := range n.groups {
			shared := SharePrefix + g.name + "/" + filter
			for _, s := range g.members {
				if !fn(s.Key, shared, s.Opts) {
					return false
				}
			}
		}
	}
	visit := func(c *node[K]) bool {
		*levels = append(*levels, c.level)
		ok := c.walk(levels, fn)
		*levels = (*levels)[:len(*levels)-1]
		return ok
	}
	for _, c := range n.children {
		if !visit(c) {
			return false
		}
	}
	for _, c := range []*node[K]{n.plus, n.hash} {
		if c != nil && !visit(c) {
			return false
		}
	}
	return true
}
