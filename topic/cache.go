package topic

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"
)

// Match-cache tuning.
const (
	// maxCachedResult is the largest result (subscriptions plus groups)
	// the cache keeps. A big result costs about as much to copy out of
	// the cache as to collect from the trie, so caching it gains little
	// and every miss would copy it twice.
	maxCachedResult = 1024
	maxCacheShards  = 16
)

// matchCache maps topic names to match results. It is split into shards,
// each with its own lock, so that cache hits on different names do not
// contend. A shard holds only entries of one index generation: storing an
// entry of a newer generation first empties the shard, and a lookup with a
// generation other than the shard's misses. Every Subscribe and Unsubscribe
// therefore invalidates the whole cache at the cost of one atomic add.
type matchCache[K comparable] struct {
	seed     maphash.Seed // immutable
	shards   []cacheShard[K]
	perShard int // maximum entries per shard; immutable
}

type cacheShard[K comparable] struct {
	mu  sync.RWMutex
	gen uint64                   // guarded by mu: generation of every entry in m
	m   map[string]cacheEntry[K] // guarded by mu
	_   [64]byte                 // keep shards on separate cache lines
}

// cacheEntry is immutable once stored.
type cacheEntry[K comparable] struct {
	subs   []Sub[K]
	groups []SharedMatch[K]
}

func newMatchCache[K comparable](size int) *matchCache[K] {
	n := 1
	for n < maxCacheShards && n*64 < size {
		n *= 2
	}
	c := &matchCache[K]{
		seed:     maphash.MakeSeed(),
		shards:   make([]cacheShard[K], n),
		perShard: (size + n - 1) / n,
	}
	for i := range c.shards {
		c.shards[i].m = make(map[string]cacheEntry[K])
	}
	return c
}

func (c *matchCache[K]) shard(name string) *cacheShard[K] {
	h := maphash.String(c.seed, name)
	return &c.shards[h&uint64(len(c.shards)-1)]
}

// get appends the cached result for name at generation gen, if any.
func (c *matchCache[K]) get(name string, gen uint64, dst []Sub[K], groups []SharedMatch[K]) ([]Sub[K], []SharedMatch[K], bool) {
	sh := c.shard(name)
	sh.mu.RLock()
	if sh.gen != gen {
		sh.mu.RUnlock()
		return dst, groups, false
	}
	e, ok := sh.m[name]
	sh.mu.RUnlock()
	if !ok {
		return dst, groups, false
	}
	return append(dst, e.subs...), append(groups, e.groups...), true
}

// put stores copies of subs and groups as the result for name at
// generation gen. The caller holds the index's read lock, so gen is
// current.
func (c *matchCache[K]) put(name string, gen uint64, subs []Sub[K], groups []SharedMatch[K]) {
	if len(subs)+len(groups) > maxCachedResult {
		return
	}
	sh := c.shard(name)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.gen != gen {
		clear(sh.m)
		sh.gen = gen
	}
	if _, ok := sh.m[name]; ok {
		return // another reader stored it first
	}
	if len(sh.m) >= c.perShard {
		for k := range sh.m { // evict one entry, chosen by map order
			delete(sh.m, k)
			break
		}
	}
	sh.m[strings.Clone(name)] = cacheEntry[K]{subs: slices.Clone(subs), groups: slices.Clone(groups)}
}
