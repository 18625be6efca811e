package redisdb_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/redisdb"
	"github.com/ovengames/oven/deploy/localdeps"
)

// TestScriptsOnRedisCluster runs every script on a real 3-master Redis Cluster: a
// script whose keys spanned two hash slots would fail there with CROSSSLOT.
func TestScriptsOnRedisCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc, err := localdeps.StartRedisCluster(ctx, localdeps.RedisClusterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	c, err := redisdb.Open(rc.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, ok := c.(*redis.ClusterClient); !ok {
		t.Fatalf("Open(%s) gave a %T, want a cluster client", rc.URL(), c)
	}
	db := newDB(t, c)
	if err := db.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("every slot's fence", func(t *testing.T) {
		all := make([]int, cluster.Slots)
		for s := range all {
			all[s] = s
		}
		if err := db.RaiseFences(ctx, all, 3); err != nil {
			t.Fatal(err)
		}
		var masters atomic.Int32 // ForEachMaster runs fn on every master at once
		err := c.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			keys, _, err := n.Scan(ctx, 0, db.Prefix+"{s*}:fence", 10000).Result()
			if len(keys) > 0 {
				masters.Add(1)
			}
			return err
		})
		if err != nil || masters.Load() != 3 {
			t.Fatalf("fences on %d masters (%v), want all 3", masters.Load(), err)
		}
	})
	t.Run("unfenced scripts", func(t *testing.T) {
		got, err := db.Run(ctx, redisdb.LivesGet, []string{db.Lives(player), db.Infinite(player)}, now, 5, 720000).Int64Slice()
		if err != nil || got[1] != 5 {
			t.Errorf("lives get = %v, %v", got, err)
		}
		if n, err := db.Run(ctx, redisdb.GMSFailure, []string{db.GMSFailures("user", "alice")}, 60000).Int(); err != nil || n != 1 {
			t.Errorf("gms failure = %d, %v", n, err)
		}
		if got, err := db.Run(ctx, redisdb.RateLimit, []string{db.RateLimit("player", player)}, now, "50", 2).Int64Slice(); err != nil || got[0] != 1 {
			t.Errorf("rate limit = %v, %v", got, err)
		}
	})
	t.Run("fenced scripts", func(t *testing.T) { testFencedScripts(t, c) })
	t.Run("fenced scripts, grouped", func(t *testing.T) {
		g, stop, err := redisdb.OpenGrouped(rc.URL(), 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close(); stop() }) // after the parallel cases
		if _, ok := g.(*redis.ClusterClient); !ok {
			t.Fatalf("OpenGrouped(%s) gave a %T, want a cluster client", rc.URL(), g)
		}
		testFencedScripts(t, g)
	})
}
