package shard_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/proto/ovenv1"
)

// load plays the game for players until stop: profile reads, renames, play starts and
// settles, through the routing client. It records every answer that is not a game
// answer (an error a client would see) with its time, and every settle acknowledged.
type load struct {
	c       *shardtest.Cluster
	players []string

	mu       sync.Mutex
	errs     []loadErr
	settled  map[string]string // play id → player id, acknowledged
	calls    atomic.Int64
	stop     chan struct{}
	finished sync.WaitGroup
}

type loadErr struct {
	at     time.Time
	player string
	err    error
}

func startLoad(t *testing.T, c *shardtest.Cluster, n int) *load {
	t.Helper()
	l := &load{c: c, settled: map[string]string{}, stop: make(chan struct{})}
	for i := range n {
		l.players = append(l.players, guest(t, c, fmt.Sprintf("elastic-%s-%03d", t.Name(), i)))
	}
	for _, id := range l.players {
		l.finished.Go(func() { l.play(id) })
	}
	return l
}

func (l *load) play(id string) {
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(bg, 5*time.Second)
		var err error
		switch i % 4 {
		case 0:
			_, err = l.c.Game.GetMe(ctx, &ovenv1.PlayerRequest{PlayerId: id})
		case 1:
			_, err = l.c.Game.UpdateMe(ctx, &ovenv1.UpdateMeRequest{PlayerId: id, Name: fmt.Sprintf("p%d", i)})
		case 2, 3:
			var p *ovenv1.StartPlayResponse
			if p, err = l.c.Game.StartPlay(ctx, &ovenv1.StartPlayRequest{PlayerId: id, CookieId: "brave"}); err == nil {
				// Settled at once: rejected as too short, which still settles the play.
				_, err = l.c.Game.SettlePlay(ctx, &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: p.PlayId, Score: 10, DurationMs: 5000})
				if code(err) == oven.ERejected {
					err = nil
				}
				if err == nil {
					l.mu.Lock()
					l.settled[p.PlayId] = id
					l.mu.Unlock()
				}
			}
		}
		cancel()
		l.calls.Add(1)
		if err != nil && code(err) != oven.ENoLives {
			l.mu.Lock()
			l.errs = append(l.errs, loadErr{time.Now(), id, err})
			l.mu.Unlock()
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// end stops the load and returns the errors clients saw.
func (l *load) end() []loadErr {
	close(l.stop)
	l.finished.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.errs
}

// audit checks that every acknowledged settle is recorded and every wallet balances.
func (l *load) audit(t *testing.T) {
	t.Helper()
	for play, player := range l.settled {
		var n int
		if err := l.c.DB.QueryRow(bg, `SELECT count(*) FROM play_records WHERE play_id = $1 AND player_id = $2`, play, player).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("acknowledged settle of play %s has %d records", play, n)
		}
	}
	for _, id := range l.players {
		checkWallet(t, l.c, id)
		if p := me(t, l.c, id); p.Lives.Count < 0 {
			t.Errorf("player %s has %d lives", id, p.Lives.Count)
		}
	}
	t.Logf("%d calls, %d settles acknowledged and recorded", l.calls.Load(), len(l.settled))
}

func TestJoinAndDrainUnderLoadWithoutErrors(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{Etcd: true})
	l := startLoad(t, c, 24)
	time.Sleep(500 * time.Millisecond)

	s4 := c.AddShard(t)
	c.WaitServed(t, 4, 20*time.Second)
	time.Sleep(500 * time.Millisecond)
	c.Kill("s1") // SIGTERM: drains, then stops
	c.WaitServed(t, 3, 20*time.Second)
	time.Sleep(500 * time.Millisecond)

	errs := l.end()
	for _, e := range errs {
		t.Errorf("%s player %s: %v", e.at.Format("15:04:05.000"), e.player, e.err)
	}
	l.audit(t)
	if got := c.Router.Owner("1").ID; got == "s1" {
		t.Errorf("player 1 still routed to the drained shard")
	}
	t.Logf("joined %s and drained s1 with %d client-visible errors", s4, len(errs))
}

func TestFailoverAfterACrash(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{Etcd: true})
	l := startLoad(t, c, 24)
	time.Sleep(500 * time.Millisecond)

	crashed := time.Now()
	c.Crash("s2")
	c.WaitServed(t, 2, 15*time.Second)
	served := time.Since(crashed)
	time.Sleep(time.Second)

	errs := l.end()
	var last time.Time
	for _, e := range errs {
		last = e.at
		if e.at.After(crashed.Add(served)) {
			t.Errorf("error after the survivors took over: %s player %s: %v", e.at.Format("15:04:05.000"), e.player, e.err)
		}
	}
	l.audit(t)
	t.Logf("crash → served again in %v (lease 2 s); %d client-visible errors, the last %v after the crash",
		served.Round(time.Millisecond), len(errs), last.Sub(crashed).Round(time.Millisecond))
}
