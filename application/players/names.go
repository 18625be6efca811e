package players

import (
	"sync"
	"time"
)

// nameCache keeps display names for leaderboards and friend lists, which show players
// of every shard: a friends board of 50 would otherwise read 50 rows per request. A
// rename on the player's owner updates that shard's entry at once; other shards show
// it within namesTTL.
type nameCache struct {
	mu sync.Mutex
	m  map[string]nameEntry
}

type nameEntry struct {
	name string
	at   time.Time
}

const (
	namesTTL = time.Minute
	namesMax = 200_000
)

// lookup splits ids into the names it has fresh and the ids to load.
func (c *nameCache) lookup(ids []string, out map[string]string) (missing []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for _, id := range ids {
		if e, ok := c.m[id]; ok && now.Sub(e.at) < namesTTL {
			out[id] = e.name
		} else {
			missing = append(missing, id)
		}
	}
	return missing
}

// put stores loaded (or just written) names.
func (c *nameCache) put(names map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m)+len(names) > namesMax {
		c.m = make(map[string]nameEntry, len(names)) // rare; names are cheap to reload
	}
	now := time.Now()
	for id, n := range names {
		c.m[id] = nameEntry{n, now}
	}
}

// forget drops the names match selects.
func (c *nameCache) forget(match func(id string) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.m {
		if match(id) {
			delete(c.m, id)
		}
	}
}
