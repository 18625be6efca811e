package shard_test

import (
	"context"
	"testing"
	"time"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/redisdb"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/deploy/localdeps"
	"github.com/ovengames/oven/proto/ovenv1"
)

// twoSlots returns two new players in different slots.
func twoSlots(t *testing.T, c *shardtest.Cluster, device string) (string, string) {
	t.Helper()
	a := guest(t, c, device+"-a")
	for i := 0; ; i++ {
		b := guest(t, c, device+"-b"+string(rune('0'+i)))
		if cluster.SlotOf(b) != cluster.SlotOf(a) {
			return a, b
		}
	}
}

// TestRedisFenceRefusesAStaleOwner: once a newer owner has raised a slot's Redis fence,
// every write this shard (at the old epoch) attempts for the slot's players is refused
// and changes nothing, and it answers unavailable; other slots play on.
func TestRedisFenceRefusesAStaleOwner(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{Shards: 1})
	a, b := twoSlots(t, c, "fenced")
	befriend(t, c, a, b)
	// The static map's epoch is 1: a newer owner of a's slot raised the fence to 2.
	if err := redisdb.New(c.Redis, c.RedisPrefix).RaiseFences(bg, []int{cluster.SlotOf(a)}, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := start(c, a); code(err) != oven.EUnavailable {
		t.Errorf("start by a stale owner: %v, want unavailable", err)
	}
	if _, err := c.Game.SendLife(bg, &ovenv1.FriendRequest{PlayerId: a, FriendId: b}); code(err) != oven.EUnavailable {
		t.Errorf("send-life by a stale owner: %v, want unavailable", err)
	}
	if n, err := c.Redis.Exists(bg, c.Keys.Lives(a), c.Keys.Cooldown(a, b), c.Keys.GiftPoints(a)).Result(); err != nil || n != 0 {
		t.Errorf("refused writes left %d keys (%v)", n, err)
	}
	if items := mailbox(t, c, b); len(items) != 0 {
		t.Errorf("a refused send delivered %v", items)
	}

	// b's slot is still this shard's: b plays and sends a life to a.
	if _, err := start(c, b); err != nil {
		t.Fatalf("start in a slot still owned: %v", err)
	}
	if _, err := c.Game.SendLife(bg, &ovenv1.FriendRequest{PlayerId: b, FriendId: a}); err != nil {
		t.Fatalf("send-life from a slot still owned: %v", err)
	}
	// Crediting a's life is a write in a's slot: refused.
	if _, err := c.Game.AcceptAllMail(bg, &ovenv1.PlayerRequest{PlayerId: a}); code(err) != oven.EUnavailable {
		t.Errorf("accept by a stale owner: %v, want unavailable", err)
	}
	if p := me(t, c, a); p.Lives.Count != 5 {
		t.Errorf("a's lives = %d after refused writes, want 5", p.Lives.Count)
	}
}

// TestGameOverRedisCluster plays start (with a boost), settle, send-life and accept on
// shards whose Redis is a real 3-master Redis Cluster.
func TestGameOverRedisCluster(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(bg, time.Minute)
	defer cancel()
	rc, err := localdeps.StartRedisCluster(ctx, localdeps.RedisClusterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	c := env.Start(t, shardtest.Options{DevClock: true, RedisURL: rc.URL()})
	a, b := twoSlots(t, c, "rediscluster")
	befriend(t, c, a, b)

	p, err := start(c, a, "magnet")
	if err != nil {
		t.Fatal(err)
	}
	advance(t, c, time.Minute)
	res, err := c.Game.SettlePlay(bg, &ovenv1.SettlePlayRequest{PlayerId: a, PlayId: p.PlayId, Score: 52_000,
		Coins: 300, Distance: 1200, DurationMs: 58_000})
	if err != nil {
		t.Fatal(err)
	}
	if res.WeeklyBest != 52_000 {
		t.Errorf("weekly best %d, want 52000", res.WeeklyBest)
	}
	sent, err := c.Game.SendLife(bg, &ovenv1.FriendRequest{PlayerId: a, FriendId: b})
	if err != nil {
		t.Fatal(err)
	}
	if sent.GiftPoints == 0 {
		t.Error("no gift points for the send")
	}
	if _, err := c.Game.SendLife(bg, &ovenv1.FriendRequest{PlayerId: a, FriendId: b}); code(err) != oven.EAlreadySent {
		t.Errorf("second send: %v, want already_sent", err)
	}
	r, err := c.Game.AcceptAllMail(bg, &ovenv1.PlayerRequest{PlayerId: b})
	if err != nil {
		t.Fatal(err)
	}
	if r.Accepted != 1 || r.Lives.Count != 6 {
		t.Errorf("accepted %d, lives %d; want 1 and 6", r.Accepted, r.Lives.Count)
	}
	pa := me(t, c, a)
	if pa.Lives.Count != 4 || pa.WeeklyBest != 52_000 || pa.GiftPoints != sent.GiftPoints {
		t.Errorf("a: lives %d weekly %d points %d", pa.Lives.Count, pa.WeeklyBest, pa.GiftPoints)
	}
	checkWallet(t, c, a)
}
