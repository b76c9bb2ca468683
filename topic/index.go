package topic

import (
	"strings"
	"sync"
	"sync/atomic"
)

// Options are the subscription options kept with each subscription.
type Options struct {
	QoS               byte   // maximum QoS granted
	NoLocal           bool   // MQTT 5: do not deliver the subscriber's own messages
	RetainAsPublished bool   // MQTT 5: keep the RETAIN flag as published
	RetainHandling    byte   // MQTT 5: 0, 1 or 2
	ID                uint32 // MQTT 5 subscription identifier; 0 means none
	// Tag is the caller's, kept with the subscription and returned by
	// Match (the broker keeps a receive authorization decided at
	// subscribe time here).
	Tag uint8
}

// Sub is one subscription as returned by Index.Match: the subscriber's key
// (a client identifier, a session pointer, ...) and its options.
type Sub[K comparable] struct {
	Key  K
	Opts Options
}

// SharedMatch is a shared-subscription group whose filter matched a topic
// name. A message goes to one member only; Pick chooses one round-robin.
//
// Members is an immutable snapshot: the index never writes to it after
// handing it out, so the caller may read it after Match has returned and
// while other goroutines subscribe and unsubscribe.
type SharedMatch[K comparable] struct {
	Group   string   // share name
	Filter  string   // topic filter inside "$share/{Group}/"
	Members []Sub[K] // never empty

	next *atomic.Uint64 // the group's round-robin counter, shared by all snapshots
}

// Pick returns the next member of the group in round-robin order, or false
// if there are no members. The rotation is per group (one atomic counter
// per group, shared by every Match result for that group), so concurrent
// publishers spread their messages over the members between them.
func (m SharedMatch[K]) Pick() (Sub[K], bool) {
	return m.PickWhere(nil)
}

// PickWhere is Pick that skips members for which ok returns false (for
// example members whose client is offline). It tries each member at most
// once, starting at the group's next round-robin position. A nil ok accepts
// every member.
func (m SharedMatch[K]) PickWhere(ok func(Sub[K]) bool) (Sub[K], bool) {
	n := uint64(len(m.Members))
	if n == 0 {
		return Sub[K]{}, false
	}
	var start uint64
	if m.next != nil && n > 1 {
		start = m.next.Add(1) - 1
	}
	for i := uint64(0); i < n; i++ {
		s := m.Members[(start+i)%n]
		if ok == nil || ok(s) {
			return s, true
		}
	}
	return Sub[K]{}, false
}

// Index is a subscription index: a trie of filter levels under one
// sync.RWMutex, with a bounded cache of match results that every Subscribe
// and Unsubscribe invalidates by bumping a generation counter.
//
// An Index reports interest changes so that a cluster can forward only the
// filters someone subscribes to: Subscribe says when a filter (or a shared
// group and filter) gains its first subscriber, Unsubscribe when it loses
// its last one (DESIGN.md §13).
//
// All methods are safe for concurrent use. The zero value is an empty index
// without a match cache; NewIndex makes one with a cache.
//
// Lock order: mu, then a cache shard's lock (taken only by Match). Nothing
// outside this package is called while either is held.
type Index[K comparable] struct {
	mu    sync.RWMutex
	root  node[K] // guarded by mu
	count int     // guarded by mu: number of subscriptions, shared included

	// gen is bumped (under mu, write-locked) by every Subscribe and by
	// every Unsubscribe that removed something; read atomically by the
	// cache fast path.
	gen   atomic.Uint64
	cache *matchCache[K] // immutable after NewIndex; nil when disabled
}

// node is one level of a filter, or a run of literal levels. Wildcard
// levels hang off plus and hash; literal ones are in children, keyed by
// their first level. A literal child holds as many levels as a path without
// branches allows ("a/b/c" when nothing subscribes to or branches off "a"
// or "a/b"): a filter of many levels costs one node and its own bytes, not
// a node per level, so a SUBSCRIBE cannot make the index much larger than
// itself.
type node[K comparable] struct {
	parent   *node[K] // nil for the root
	level    string   // this node's levels ("+" / "#" for a wildcard)
	children map[string]*node[K]
	plus     *node[K]
	hash     *node[K]
	subs     subList[K]  // ordinary subscriptions with exactly this filter
	groups   []*group[K] // shared groups with exactly this filter
}

func (n *node[K]) empty() bool {
	return len(n.children) == 0 && n.plus == nil && n.hash == nil &&
		len(n.subs.items) == 0 && len(n.groups) == 0
}

// firstLevel is the first level of s.
func firstLevel(s string) string {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i]
	}
	return s
}

// literalRun returns the levels of filter before its first wildcard level
// (all of it when it has none) and what follows them.
func literalRun(filter string) (run, rest string, last bool) {
	for i := 0; ; {
		j := strings.IndexByte(filter[i:], '/')
		level := filter[i:]
		if j >= 0 {
			level = filter[i : i+j]
		}
		if level == "+" || level == "#" {
			return filter[:i-1], filter[i:], false // i > 0: the first level is literal
		}
		if j < 0 {
			return filter, "", true
		}
		i += j + 1
	}
}

// commonLevels returns the length of the longest run of whole levels that
// seg and filter start with (their first levels are equal).
func commonLevels(seg, filter string) int {
	k := 0
	for {
		i := k
		for i < len(seg) && i < len(filter) && seg[i] == filter[i] && seg[i] != '/' {
			i++
		}
		segEnd := i == len(seg) || seg[i] == '/'
		fEnd := i == len(filter) || filter[i] == '/'
		if !segEnd || !fEnd {
			return k - 1 // k > 0: the first levels are equal
		}
		if i == len(seg) || i == len(filter) {
			return i
		}
		k = i + 1
	}
}

// group is one shared subscription: a share name with a filter.
type group[K comparable] struct {
	name, filter string
	// members is copy-on-write: elements below len are never written once
	// the slice has been stored here, because Match hands it out. Adding
	// may append in place (beyond every published len); replacing or
	// removing builds a new slice.
	members []Sub[K]
	next    atomic.Uint64 // round-robin position for Pick
}

// NewIndex returns an empty index whose match cache holds results for up
// to cacheSize topic names; cacheSize <= 0 disables the cache.
func NewIndex[K comparable](cacheSize int) *Index[K] {
	x := &Index[K]{}
	if cacheSize > 0 {
		x.cache = newMatchCache[K](cacheSize)
	}
	return x
}

// Count returns the number of subscriptions, each shared-group membership
// counting as one.
func (x *Index[K]) Count() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.count
}

// splitShared splits a "$share/{group}/{filter}" filter without validating
// it. Anything that is not a well-formed shared filter is a plain filter.
func splitShared(filter string) (group, inner string, shared bool) {
	if !strings.HasPrefix(filter, SharePrefix) {
		return "", filter, false
	}
	rest := filter[len(SharePrefix):]
	i := strings.IndexByte(rest, '/')
	if i <= 0 || i == len(rest)-1 {
		return "", filter, false
	}
	return rest[:i], rest[i+1:], true
}

// Subscribe adds a subscription for key, or replaces the options of the
// subscription key already has with exactly this filter. A filter of the
// form "$share/{group}/{filter}" joins that shared group. The filter must
// be valid (ParseShared returns nil); a malformed shared filter is indexed
// as an ordinary filter.
//
// existed is true when a subscription was replaced. firstInterest is true
// when the filter (for a shared filter: the group and filter) had no
// subscriber before this call.
func (x *Index[K]) Subscribe(key K, filter string, o Options) (existed, firstInterest bool) {
	gname, inner, shared := splitShared(filter)
	s := Sub[K]{Key: key, Opts: o}

	x.mu.Lock()
	defer x.mu.Unlock()
	x.gen.Add(1)
	n := x.nodeLocked(inner, true)
	if !shared {
		if i := n.subs.find(key); i >= 0 {
			n.subs.items[i].Opts = o
			return true, false
		}
		n.subs.add(s)
		x.count++
		return false, len(n.subs.items) == 1
	}

	g := n.group(gname)
	if g == nil {
		g = &group[K]{name: strings.Clone(gname), filter: strings.Clone(inner)}
		n.groups = append(n.groups, g)
	}
	for i := range g.members {
		if g.members[i].Key == key {
			m := make([]Sub[K], len(g.members))
			copy(m, g.members)
			m[i] = s
			g.members = m // copy-on-write: snapshots keep the old options
			return true, false
		}
	}
	g.members = append(g.members, s) // writes beyond every published len
	x.count++
	return false, len(g.members) == 1
}

// Unsubscribe removes key's subscription with exactly this filter (which
// may be a shared filter). existed is false if there was none. lastInterest
// is true when the filter (for a shared filter: the group and filter) has
// no subscriber left.
func (x *Index[K]) Unsubscribe(key K, filter string) (existed, lastInterest bool) {
	gname, inner, shared := splitShared(filter)

	x.mu.Lock()
	defer x.mu.Unlock()
	n := x.nodeLocked(inner, false)
	if n == nil {
		return false, false
	}
	if !shared {
		i := n.subs.find(key)
		if i < 0 {
			return false, false
		}
		x.gen.Add(1)
		n.subs.remove(i)
		lastInterest = len(n.subs.items) == 0
	} else {
		g := n.group(gname)
		if g == nil || !g.remove(key) {
			return false, false
		}
		x.gen.Add(1)
		if len(g.members) == 0 {
			n.removeGroup(g)
			lastInterest = true
		}
	}
	x.count--
	x.pruneLocked(n)
	return true, lastInterest
}

// nodeLocked returns the node for filter, creating the path if create is
// set (splitting a run of literal levels where the filter leaves it);
// otherwise it returns nil when there is none. Caller holds mu.
func (x *Index[K]) nodeLocked(filter string, create bool) *node[K] {
	n := &x.root
	for {
		level, rest, last := nextLevel(filter)
		if level == "+" || level == "#" {
			c := n.plus
			if level == "#" {
				c = n.hash
			}
			if c == nil {
				if !create {
					return nil
				}
				c = &node[K]{parent: n, level: level}
				if level == "+" {
					n.plus = c
				} else {
					n.hash = c
				}
			}
			if last {
				return c
			}
			n, filter = c, rest
			continue
		}
		c := n.children[level]
		if c == nil {
			if !create {
				return nil
			}
			run, rest, last := literalRun(filter)
			c = &node[K]{parent: n, level: strings.Clone(run)}
			if n.children == nil {
				n.children = make(map[string]*node[K])
			}
			n.children[firstLevel(c.level)] = c
			if last {
				return c
			}
			n, filter = c, rest
			continue
		}
		k := len(level)
		if len(c.level) > k {
			k = commonLevels(c.level, filter)
		}
		if k < len(c.level) {
			if !create {
				return nil // the filter ends or leaves inside a run: not indexed
			}
			c = x.splitLocked(c, k)
		}
		if k == len(filter) {
			return c
		}
		n, filter = c, filter[k+1:]
	}
}

// splitLocked cuts the run of levels of c after its first k bytes (a level
// boundary) into a new node holding them, with c, keeping the rest, as its
// only child. It returns the new node. Caller holds mu.
func (x *Index[K]) splitLocked(c *node[K], k int) *node[K] {
	p := c.parent
	m := &node[K]{parent: p, level: c.level[:k]}
	c.level = c.level[k+1:]
	c.parent = m
	m.children = map[string]*node[K]{firstLevel(c.level): c}
	p.children[firstLevel(m.level)] = m
	return m
}

// pruneLocked unlinks n and its ancestors while they are empty, then joins
// the node it stops at with its only child when nothing else holds it
// there. Caller holds mu.
func (x *Index[K]) pruneLocked(n *node[K]) {
	for n != &x.root && n.empty() {
		p := n.parent
		switch n {
		case p.plus:
			p.plus = nil
		case p.hash:
			p.hash = nil
		default:
			delete(p.children, firstLevel(n.level))
			if len(p.children) == 0 {
				p.children = nil
			}
		}
		n.parent = nil
		n = p
	}
	p := n.parent
	if p == nil || n == p.plus || n == p.hash || len(n.children) != 1 || n.plus != nil || n.hash != nil ||
		len(n.subs.items) != 0 || len(n.groups) != 0 {
		return
	}
	for _, c := range n.children {
		c.level = n.level + "/" + c.level
		c.parent = p
		p.children[firstLevel(c.level)] = c
	}
	n.parent, n.children = nil, nil
}

func (n *node[K]) group(name string) *group[K] {
	for _, g := range n.groups {
		if g.name == name {
			return g
		}
	}
	return nil
}

func (n *node[K]) removeGroup(g *group[K]) {
	for i, h := range n.groups {
		if h == g {
			last := len(n.groups) - 1
			n.groups[i] = n.groups[last]
			n.groups[last] = nil
			n.groups = n.groups[:last]
			if last == 0 {
				n.groups = nil
			}
			return
		}
	}
}

// remove deletes key from the group's members, copying the slice so that
// published snapshots stay unchanged. It reports whether key was a member.
func (g *group[K]) remove(key K) bool {
	for i := range g.members {
		if g.members[i].Key == key {
			if len(g.members) == 1 {
				g.members = nil
				return true
			}
			m := make([]Sub[K], 0, len(g.members)-1)
			m = append(m, g.members[:i]...)
			m = append(m, g.members[i+1:]...)
			g.members = m
			return true
		}
	}
	return false
}

// Match appends to dst every ordinary subscription whose filter matches the
// topic name, and to groups every shared group whose filter matches it, and
// returns the extended slices. A key subscribed with several matching
// filters appears once per filter; merging them (for example taking the
// highest QoS and every subscription identifier) is the caller's job.
//
// Match does not allocate when nothing matches, nor on a cache hit when dst
// and groups have room for the result.
func (x *Index[K]) Match(name string, dst []Sub[K], groups []SharedMatch[K]) ([]Sub[K], []SharedMatch[K]) {
	c := x.cache
	if c != nil {
		if d, g, ok := c.get(name, x.gen.Load(), dst, groups); ok {
			return d, g
		}
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	d0, g0 := len(dst), len(groups)
	dst, groups = x.matchLocked(&x.root, name, true, dst, groups)
	if c != nil && (len(dst) > d0 || len(groups) > g0) {
		// gen cannot change while mu is read-locked, so the entry is
		// stored under the generation it was computed at.
		c.put(name, x.gen.Load(), dst[d0:], groups[g0:])
	}
	return dst, groups
}

// matchLocked matches the levels of name against the children of n; first
// is set at the root. Caller holds mu (read or write).
func (x *Index[K]) matchLocked(n *node[K], name string, first bool, dst []Sub[K], groups []SharedMatch[K]) ([]Sub[K], []SharedMatch[K]) {
	level, rest, last := nextLevel(name)
	// [MQTT-4.7.2-1] a first-level wildcard does not match a '$' name.
	if !first || len(name) == 0 || name[0] != '$' {
		if h := n.hash; h != nil {
			dst, groups = h.collect(dst, groups)
		}
		if p := n.plus; p != nil {
			dst, groups = x.descendLocked(p, rest, last, dst, groups)
		}
	}
	if c := n.children[level]; c != nil {
		if seg := c.level; len(seg) == len(level) {
			dst, groups = x.descendLocked(c, rest, last, dst, groups)
		} else if len(name) >= len(seg) && name[:len(seg)] == seg {
			// A run of literal levels: the name must hold all of them.
			if len(name) == len(seg) {
				dst, groups = x.descendLocked(c, "", true, dst, groups)
			} else if name[len(seg)] == '/' {
				dst, groups = x.descendLocked(c, name[len(seg)+1:], false, dst, groups)
			}
		}
	}
	return dst, groups
}

func (x *Index[K]) descendLocked(c *node[K], rest string, last bool, dst []Sub[K], groups []SharedMatch[K]) ([]Sub[K], []SharedMatch[K]) {
	if !last {
		return x.matchLocked(c, rest, false, dst, groups)
	}
	dst, groups = c.collect(dst, groups)
	if h := c.hash; h != nil {
		// [MQTT-4.7.1-2] "a/#" matches "a": '#' includes the parent level.
		dst, groups = h.collect(dst, groups)
	}
	return dst, groups
}

// collect appends the subscriptions and groups held at n.
func (n *node[K]) collect(dst []Sub[K], groups []SharedMatch[K]) ([]Sub[K], []SharedMatch[K]) {
	dst = append(dst, n.subs.items...)
	for _, g := range n.groups {
		// Full slice expression: a caller's append must not write into
		// the spare capacity that a later Subscribe appends into.
		m := g.members[:len(g.members):len(g.members)]
		groups = append(groups, SharedMatch[K]{Group: g.name, Filter: g.filter, Members: m, next: &g.next})
	}
	return dst, groups
}
