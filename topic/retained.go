package topic

import (
	"strings"
	"sync"
)

// Retained indexes retained messages by topic name in a trie of topic
// levels, so that matching a filter visits only the branches the filter can
// reach: a wildcard subscription costs in proportion to what it matches,
// not to the number of retained messages. V is whatever the caller keeps
// per topic (a message, a store position, ...).
//
// All methods are safe for concurrent use. The zero value is an empty
// index; NewRetained is a convenience.
type Retained[V any] struct {
	mu    sync.RWMutex
	root  rnode[V] // guarded by mu
	count int      // guarded by mu
}

// rnode holds a run of levels ("a/b/c" when no other topic branches off
// "a" or "a/b" and none is retained there), keyed in its parent by its first
// level, so a topic of many levels costs one node, not one per level.
type rnode[V any] struct {
	parent   *rnode[V]
	level    string // this node's levels
	children map[string]*rnode[V]
	topic    string // full topic name, set while has is true
	value    V
	has      bool
}

// NewRetained returns an empty retained-message index.
func NewRetained[V any]() *Retained[V] {
	return &Retained[V]{}
}

// Len returns the number of retained messages.
func (r *Retained[V]) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.count
}

// Set stores v as the retained message of topic, replacing any previous
// one. topic must be a valid topic name (ValidName).
func (r *Retained[V]) Set(topic string, v V) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := &r.root
	owned := "" // one copy of topic, whose substrings key new nodes
	rest := topic
	for off := 0; ; {
		level, _, _ := nextLevel(rest)
		c := n.children[level]
		if c == nil {
			owned = strings.Clone(topic)
			c = &rnode[V]{parent: n, level: owned[off:]} // the rest in one node
			if n.children == nil {
				n.children = make(map[string]*rnode[V])
			}
			n.children[firstLevel(c.level)] = c
			n = c
			break
		}
		k := len(level)
		if len(c.level) > k {
			k = commonLevels(c.level, rest)
		}
		if k < len(c.level) {
			c = r.splitLocked(c, k)
		}
		n = c
		if k == len(rest) {
			break
		}
		off += k + 1
		rest = rest[k+1:]
	}
	if !n.has {
		if owned == "" {
			owned = strings.Clone(topic)
		}
		n.topic, n.has = owned, true
		r.count++
	}
	n.value = v
}

// splitLocked cuts the run of levels of c after its first k bytes (a level
// boundary) into a new node holding them, with c, keeping the rest, as its
// only child. It returns the new node. Caller holds mu.
func (r *Retained[V]) splitLocked(c *rnode[V], k int) *rnode[V] {
	p := c.parent
	m := &rnode[V]{parent: p, level: c.level[:k]}
	c.level = c.level[k+1:]
	c.parent = m
	m.children = map[string]*rnode[V]{firstLevel(c.level): c}
	p.children[firstLevel(m.level)] = m
	return m
}

// find returns the node of topic, or nil. Caller holds mu.
func (r *Retained[V]) findLocked(topic string) *rnode[V] {
	n := &r.root
	for {
		level, _, _ := nextLevel(topic)
		c := n.children[level]
		if c == nil {
			return nil
		}
		seg := c.level
		if len(topic) < len(seg) || topic[:len(seg)] != seg || (len(topic) > len(seg) && topic[len(seg)] != '/') {
			return nil
		}
		if len(topic) == len(seg) {
			return c
		}
		n, topic = c, topic[len(seg)+1:]
	}
}

// Get returns the retained message of topic, if any.
func (r *Retained[V]) Get(topic string) (v V, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if n := r.findLocked(topic); n != nil && n.has {
		return n.value, true
	}
	return v, false
}

// Delete removes the retained message of topic, if any, and reports
// whether there was one.
func (r *Retained[V]) Delete(topic string) bool {
	return r.DeleteIf(topic, nil)
}

// DeleteIf removes the retained message of topic if it is still the one
// the caller decided to remove: when match (called with the index locked,
// so it must not call back into r) returns true for the message held now.
// A nil match removes any. It reports whether a message was removed. It is
// a compare-and-delete: a message found expired by Match and replaced
// before the delete is kept.
func (r *Retained[V]) DeleteIf(topic string, match func(V) bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.findLocked(topic)
	if n == nil || !n.has || (match != nil && !match(n.value)) {
		return false
	}
	var zero V
	n.value, n.topic, n.has = zero, "", false
	r.count--
	for n != &r.root && !n.has && len(n.children) == 0 {
		p := n.parent
		delete(p.children, firstLevel(n.level))
		if len(p.children) == 0 {
			p.children = nil
		}
		n.parent = nil
		n = p
	}
	// A node left holding nothing but one child joins it.
	if p := n.parent; p != nil && !n.has && len(n.children) == 1 {
		for _, c := range n.children {
			c.level = n.level + "/" + c.level
			c.parent = p
			p.children[firstLevel(c.level)] = c
		}
		n.parent, n.children = nil, nil
	}
	return true
}

// Match calls fn for each retained message whose topic matches filter, in
// no particular order, until fn returns false. filter must be a valid
// topic filter (ValidFilter; not a "$share/" filter: strip the share
// prefix first). Topics starting with '$' are not matched by a filter
// starting with a wildcard [MQTT-4.7.2-1].
//
// fn runs with the index read-locked: it must not call Set or Delete on
// the same Retained (that would deadlock), and should be quick.
func (r *Retained[V]) Match(filter string, fn func(topic string, v V) bool) {
	r.walk(filter, fn)
}

// walk is Match, returning the number of trie nodes it reached: the cost
// of the match, which tests compare with the number of matches
// (retained_bench_test.go).
func (r *Retained[V]) walk(filter string, fn func(string, V) bool) (visited int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	w := walker[V]{fn: fn}
	w.match(&r.root, filter, true)
	return w.visited
}

// walker carries one match through the trie.
type walker[V any] struct {
	fn      func(string, V) bool
	visited int // nodes reached below the root: every node the walk touches counts
}

// match visits the children of n that match the levels of filter and
// reports whether to continue.
func (w *walker[V]) match(n *rnode[V], filter string, first bool) bool {
	level, _, _ := nextLevel(filter)
	switch level {
	case "#":
		// '#' matches n itself (the parent level, [MQTT-4.7.1-2]) and
		// everything below it.
		if n.has && !w.fn(n.topic, n.value) {
			return false
		}
		for _, c := range n.children {
			if first && strings.HasPrefix(c.level, "$") {
				continue // [MQTT-4.7.2-1]
			}
			if !w.all(c) {
				return false
			}
		}
		return true
	case "+":
		for _, c := range n.children {
			if first && strings.HasPrefix(c.level, "$") {
				continue // [MQTT-4.7.2-1]
			}
			if !w.visit(c, filter) {
				return false
			}
		}
		return true
	default:
		if c := n.children[level]; c != nil {
			return w.visit(c, filter)
		}
		return true
	}
}

// visit matches the run of levels of child c against filter, whose first
// level matches c's first level (equal, or '+').
func (w *walker[V]) visit(c *rnode[V], filter string) bool {
	w.visited++
	seg, f := c.level, filter
	for {
		sl, srest, slast := nextLevel(seg)
		fl, frest, flast := nextLevel(f)
		if fl == "#" {
			// Inside the run: everything at or below c is below the level
			// '#' stands for. [MQTT-4.7.1-2]
			return w.allBelow(c)
		}
		if fl != "+" && fl != sl {
			return true
		}
		switch {
		case slast && flast:
			if c.has {
				return w.fn(c.topic, c.value)
			}
			return true
		case slast:
			return w.match(c, frest, false)
		case flast:
			return true // the filter ends inside the run, where nothing is retained
		}
		seg, f = srest, frest
	}
}

// allBelow calls fn for every message at or below c, which visit counted.
func (w *walker[V]) allBelow(c *rnode[V]) bool {
	if c.has && !w.fn(c.topic, c.value) {
		return false
	}
	for _, d := range c.children {
		if !w.all(d) {
			return false
		}
	}
	return true
}

// all calls fn for every message at or below n.
func (w *walker[V]) all(n *rnode[V]) bool {
	w.visited++
	if n.has && !w.fn(n.topic, n.value) {
		return false
	}
	for _, c := range n.children {
		if !w.all(c) {
			return false
		}
	}
	return true
}
