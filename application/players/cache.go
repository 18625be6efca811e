package players

import (
	"hash/fnv"
	"slices"
	"sync"
	"time"
)

// cache keeps the profiles of the players this shard owns. Only a player's owner shard
// writes that player's rows, so every write can invalidate its entry; a generation per
// entry stops a read that raced a write from caching what the write replaced. Entries
// also age out (cacheTTL) as a safety net, and the whole cache must be dropped when slot
// ownership changes (static membership today: it never does while a shard runs).
type cache struct {
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

// get returns a copy of the cached player, or the generation a loader must present to
// store what it loads.
func (c *cache) get(id string) (*Player, uint64) {
	sh := c.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.m[id]
	if !ok {
		if len(sh.m) >= cacheEntriesPerShard {
			clear(sh.m) // rare; entries are cheap to reload
		}
		e = &cacheEntry{}
		sh.m[id] = e
	}
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

// invalidate forgets a player after a write to its rows.
func (c *cache) invalidate(id string) {
	sh := c.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.m[id]
	if !ok {
		e = &cacheEntry{}
		sh.m[id] = e
	}
	e.gen++
	e.p = nil
}

func clonePlayer(p *Player) *Player {
	q := *p
	q.Cookies, q.Pets = slices.Clone(p.Cookies), slices.Clone(p.Pets)
	return &q
}
