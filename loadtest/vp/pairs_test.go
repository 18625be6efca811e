package vp_test

import (
	"sync"
	"testing"

	"github.com/ovengames/oven/loadtest/vp"
)

// friendships returns the graph Friendship builds, as unordered pairs.
func friendships(t *testing.T, n, friends int) map[[2]int]bool {
	t.Helper()
	out := map[[2]int]bool{}
	for k := range n * friends / 2 {
		a, b := vp.Friendship(n, k)
		key := [2]int{min(a, b), max(a, b)}
		if a == b || out[key] {
			t.Fatalf("n=%d friends=%d: friendship %d (%d, %d) is a self-loop or a repeat", n, friends, k, a, b)
		}
		out[key] = true
	}
	return out
}

func TestPairsNeverRepeatAndAreFriends(t *testing.T) {
	tests := []struct {
		name       string
		n, friends int
	}{
		{"smallest graph", 3, 2},
		{"just more players than friends", 51, 50},
		{"default shape", 300, 50},
		{"odd player count", 1001, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			graph := friendships(t, tc.n, tc.friends)
			degree := map[int]int{}
			for p := range graph {
				degree[p[0]]++
				degree[p[1]]++
			}
			for i := range tc.n {
				if degree[i] != tc.friends {
					t.Fatalf("player %d has %d friends, want %d", i, degree[i], tc.friends)
				}
			}
			p, err := vp.NewPairs(tc.n, tc.friends)
			if err != nil {
				t.Fatal(err)
			}
			if p.Total() != tc.n*tc.friends {
				t.Fatalf("Total = %d, want %d", p.Total(), tc.n*tc.friends)
			}
			seen := map[[2]int]bool{}
			received := make([]int, tc.n)
			for k := 0; ; k++ {
				from, to, ok := p.Next()
				if !ok {
					if k != p.Total() {
						t.Fatalf("ran out after %d pairs, want %d", k, p.Total())
					}
					break
				}
				if seen[[2]int{from, to}] {
					t.Fatalf("pair %d→%d handed out twice", from, to)
				}
				seen[[2]int{from, to}] = true
				if !graph[[2]int{min(from, to), max(from, to)}] {
					t.Fatalf("pair %d→%d is not a friendship", from, to)
				}
				received[to]++
				if (k+1)%tc.n == 0 { // a whole round: one life in every mailbox
					for i, r := range received {
						if r != (k+1)/tc.n {
							t.Fatalf("after round %d player %d received %d", (k+1)/tc.n, i, r)
						}
					}
				}
			}
			if p.Left() != 0 {
				t.Errorf("Left = %d after the last pair", p.Left())
			}
		})
	}
}

func TestPairsAlignRound(t *testing.T) {
	p, err := vp.NewPairs(10, 4)
	if err != nil {
		t.Fatal(err)
	}
	p.AlignRound() // at a round's start already: nothing skipped
	if p.Left() != 40 {
		t.Fatalf("Left = %d, want 40", p.Left())
	}
	for range 3 {
		p.Next()
	}
	p.AlignRound()
	if p.Left() != 30 {
		t.Fatalf("Left = %d after aligning, want 30", p.Left())
	}
	received := map[int]bool{}
	for range 10 {
		_, to, _ := p.Next()
		received[to] = true
	}
	if len(received) != 10 {
		t.Errorf("an aligned round reached %d receivers, want 10", len(received))
	}
}

func TestPairsConcurrentNext(t *testing.T) {
	p, err := vp.NewPairs(200, 20)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[[2]int]bool{}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				from, to, ok := p.Next()
				if !ok {
					return
				}
				mu.Lock()
				if seen[[2]int{from, to}] {
					t.Errorf("pair %d→%d handed out twice", from, to)
				}
				seen[[2]int{from, to}] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != p.Total() {
		t.Errorf("%d pairs handed out, want %d", len(seen), p.Total())
	}
}

func TestNewPairsRefusesImpossibleGraphs(t *testing.T) {
	tests := []struct {
		name       string
		n, friends int
	}{
		{"odd friends", 100, 3},
		{"no friends", 100, 0},
		{"as many friends as players", 50, 50},
		{"more friends than players", 10, 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := vp.NewPairs(tc.n, tc.friends); err == nil {
				t.Errorf("NewPairs(%d, %d) = nil error", tc.n, tc.friends)
			}
		})
	}
}
