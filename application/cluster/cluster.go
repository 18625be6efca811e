// Package cluster decides which application shard owns which player.
//
// A player id hashes to one of Slots fixed slots; each slot's owner is chosen by
// rendezvous (highest-random-weight) hashing over the live members, so adding or removing
// a shard moves only that shard's share of slots. A Map is immutable; a Source hands out
// the current one (a static list today, etcd membership later).
package cluster

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
)

// Slots is the fixed number of slots player ids hash into. It never changes: slot
// numbers are part of the routing contract between tiers.
const Slots = 4096

// Member is one application shard.
type Member struct {
	ID   string // stable shard id, e.g. "s1"
	Addr string // gRPC address, host:port
}

// Source hands out the current slot map.
type Source interface {
	Current() *Map
}

// Map is an immutable assignment of every slot to one member.
type Map struct {
	members []Member
	owner   [Slots]uint16 // index into members
	epoch   uint64
}

// SlotOf returns the slot of a player id (FNV-1a, stable across processes and versions).
func SlotOf(playerID string) int {
	h := fnv.New32a()
	h.Write([]byte(playerID))
	return int(h.Sum32() % Slots)
}

// NewMap assigns every slot over members (which must be non-empty with unique ids).
// epoch only grows between successive maps of one cluster.
func NewMap(members []Member, epoch uint64) (*Map, error) {
	if len(members) == 0 {
		return nil, fmt.Errorf("cluster: no members")
	}
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	for i := 1; i < len(ms); i++ {
		if ms[i].ID == ms[i-1].ID {
			return nil, fmt.Errorf("cluster: duplicate member id %q", ms[i].ID)
		}
	}
	m := &Map{members: ms, epoch: epoch}
	seeds := make([]uint64, len(ms))
	for i, mem := range ms {
		h := fnv.New64a()
		h.Write([]byte(mem.ID))
		seeds[i] = h.Sum64()
	}
	for slot := range Slots {
		best, bestScore := 0, uint64(0)
		for i, seed := range seeds {
			if s := mix(seed ^ uint64(slot)*0x9e3779b97f4a7c15); s > bestScore || i == 0 {
				best, bestScore = i, s
			}
		}
		m.owner[slot] = uint16(best)
	}
	return m, nil
}

// mix is SplitMix64's finalizer: a cheap, well-distributed 64-bit hash.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// emptyMap is the map of a cluster with no active member: every slot's owner is the
// zero Member (ID ""), which callers answer as unavailable.
func emptyMap(epoch uint64) *Map { return &Map{epoch: epoch} }

// Owner returns the member that owns playerID (the zero Member when there is none).
func (m *Map) Owner(playerID string) Member { return m.OwnerOfSlot(SlotOf(playerID)) }

// OwnerOfSlot returns the member that owns slot (the zero Member when there is none).
func (m *Map) OwnerOfSlot(slot int) Member {
	if len(m.members) == 0 {
		return Member{}
	}
	return m.members[m.owner[slot]]
}

// Members returns the members sorted by id.
func (m *Map) Members() []Member { return slices.Clone(m.members) }

// Member returns the member with the given id.
func (m *Map) Member(id string) (Member, bool) {
	for _, mem := range m.members {
		if mem.ID == id {
			return mem, true
		}
	}
	return Member{}, false
}

// Epoch returns the map's epoch.
func (m *Map) Epoch() uint64 { return m.epoch }

// Static is a Source with a fixed member list (tests, dev, and deployments without etcd).
type Static struct{ m *Map }

// NewStatic returns a Source that always serves the map of members.
func NewStatic(members []Member) (*Static, error) {
	m, err := NewMap(members, 1)
	if err != nil {
		return nil, err
	}
	return &Static{m: m}, nil
}

// Current returns the fixed map.
func (s *Static) Current() *Map { return s.m }

// ParseMembers parses "s1=127.0.0.1:7101,s2=127.0.0.1:7102" (the OVEN_SHARDS format).
func ParseMembers(s string) ([]Member, error) {
	var ms []Member
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, addr, ok := strings.Cut(part, "=")
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("cluster: member %q is not id=host:port", part)
		}
		ms = append(ms, Member{ID: id, Addr: addr})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("cluster: empty member list")
	}
	return ms, nil
}

// FormatMembers renders members in the OVEN_SHARDS format.
func FormatMembers(ms []Member) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.ID + "=" + m.Addr
	}
	return strings.Join(parts, ",")
}
