package players

import (
	"hash/fnv"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// cache keeps the profiles of the players this shard owns. Only a player's owner shard
// writes that player's rows, so every write can invalidate or update its entry. A
// generation per entry stops a read that raced a write from caching what the write
// replaced, and stops a write-through update that raced another write from applying
// out of order. Generations come from one counter, so a token never matches an entry
// made after it (even after the map was cleared). Entries also age out (cacheTTL) as a
// safety net, and the players of a slot are forgotten the moment the slot leaves the
// shard (forget): its next owner may write them.
type cache struct {
	seq    atomic.Uint64
	shards [64]cacheShard
}

type cacheShard struct {
	mu sync.Mutex
	m  map[string]*cacheEntry
}

type cacheEntry struct {
	p   *Player // nil: not loaded
	at  time.Time
	gen uint64
}

const (
	cacheTTL             = 30 * time.Second
	cacheEntriesPerShard = 20_000
)

func newCache() *cache {
	c := &cache{}
	for i := range c.shards {
		c.shards[i].m = map[string]*cacheEntry{}
	}
	return c
}

func (c *cache) shard(id string) *cacheShard {
	h := fnv.New32a()
	h.Write([]byte(id))
	return &c.shards[h.Sum32()%uint32(len(c.shards))]
}

// entry returns id's entry, making one if there is none. The caller holds sh.mu.
func (c *cache) entry(sh *cacheShard, id string) *cacheEntry {
	e, ok := sh.m[id]
	if !ok {
		if len(sh.m) >= cacheEntriesPerShard {
			clear(sh.m) // rare; entries are cheap to reload
		}
		e = &cacheEntry{gen: c.seq.Add(1)}
		sh.m[id] = e
	}
	return e
}

// get returns a copy of the cached player, or the generation a loader must present to
// store what it loads.
func (c *cache) get(id string) (*Player, uint64) {
	sh := c.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := c.entry(sh, id)
	if e.p != nil && time.Since(e.at) < cacheTTL {
		return clonePlayer(e.p), 0
	}
	return nil, e.gen
}

// put stores a loaded player unless a write invalidated it since the load began.
func (c *cache) put(id string, p *Player, gen uint64) {
	sh := c.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.m[id]; ok && e.gen == gen {
		e.p, e.at = clonePlayer(p), time.Now()
	}
}

// generation returns the token a writer takes before its write, for update.
func (c *cache) generation(id string) uint64 {
	sh := c.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return c.entry(sh, id).gen
}

// invalidate forgets a player after a write to its rows.
func (c *cache) invalidate(id string) {
	sh := c.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := c.entry(sh, id)
	e.gen = c.seq.Add(1)
	e.p = nil
}

// forget invalidates every cached player match selects (the players of slots that left).
func (c *cache) forget(match func(id string) bool) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for id, e := range sh.m {
			if match(id) {
				e.gen, e.p = c.seq.Add(1), nil
			}
		}
		sh.mu.Unlock()
	}
}

// update applies a committed write to the cached player when nothing else touched the
// entry since the writer took gen (from generation) and the entry is fresh; otherwise
// it invalidates. Either way a load that began before the write cannot store.
func (c *cache) update(id string, gen uint64, f func(*Player)) {
	sh := c.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := c.entry(sh, id)
	if e.gen == gen && e.p != nil && time.Since(e.at) < cacheTTL {
		f(e.p)
	} else {
		e.p = nil
	}
	e.gen = c.seq.Add(1)
}

func clonePlayer(p *Player) *Player {
	q := *p
	q.Cookies, q.Pets = slices.Clone(p.Cookies), slices.Clone(p.Pets)
	return &q
}
