// Package playerlock serialises one player's operations on the shard that owns the
// player. A fixed set of mutexes is striped by player id: no allocation per player, and
// unrelated players rarely share a stripe. It orders work inside one process only; the
// stores' own atomicity (Lua, CAS, SQL) is what keeps data right across processes.
package playerlock

import (
	"hash/fnv"
	"sync"
)

// Set is a striped set of per-player locks. The zero value is ready to use.
type Set struct {
	stripes [256]sync.Mutex
}

// Lock locks the player's stripe and returns the unlock function.
func (s *Set) Lock(playerID string) (unlock func()) {
	h := fnv.New32a()
	h.Write([]byte(playerID))
	m := &s.stripes[h.Sum32()%uint32(len(s.stripes))]
	m.Lock()
	return m.Unlock
}
