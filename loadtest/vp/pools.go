package vp

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
)

// Device is a device that played before in this run: a returning player.
type Device struct {
	ID       string
	PlayerID string
	ETag     string // the game data version it has cached
	Named    bool
}

// Devices hands out new device ids and holds the devices whose sessions ended, for
// returning players to reuse: a device is never in two sessions at once. One Devices
// serves every phase of a target. It is safe for concurrent use.
type Devices struct {
	RunID string // makes device ids unique per run

	seq  atomic.Int64
	mu   sync.Mutex
	free []Device
}

// New returns a device never seen before.
func (d *Devices) New() Device {
	return Device{ID: fmt.Sprintf("lt-%s-%07d", d.RunID, d.seq.Add(1))}
}

// Put makes a device available again.
func (d *Devices) Put(dev Device) {
	d.mu.Lock()
	d.free = append(d.free, dev)
	d.mu.Unlock()
}

// Take returns a random free device.
func (d *Devices) Take(rng *rand.Rand) (Device, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.free) == 0 {
		return Device{}, false
	}
	i := rng.IntN(len(d.free))
	dev := d.free[i]
	d.free[i] = d.free[len(d.free)-1]
	d.free = d.free[:len(d.free)-1]
	return dev, true
}

// Players is the run's registry of player ids, from which social VPs pick friends.
// It is safe for concurrent use.
type Players struct {
	mu  sync.Mutex
	ids []string
}

// Add registers a player.
func (p *Players) Add(id string) {
	p.mu.Lock()
	p.ids = append(p.ids, id)
	p.mu.Unlock()
}

// Pick returns up to n distinct random players other than self.
func (p *Players) Pick(rng *rand.Rand, n int, self string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for tries := 0; len(out) < n && tries < 4*n && len(p.ids) > 0; tries++ {
		id := p.ids[rng.IntN(len(p.ids))]
		if id != self && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
