package audit

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovengames/oven/application/redisdb"
	"github.com/ovengames/oven/deploy/localdeps"
)

// TestRedisChecksReadTheShardsKeys: the audit finds the keys the shards write (by
// redisdb's scheme) on one server and on every master of a Redis Cluster; a pattern
// that matched nothing would pass every check by checking nothing.
func TestRedisChecksReadTheShardsKeys(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := localdeps.StartRedis(ctx, localdeps.RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Stop() })
	rc, err := localdeps.StartRedisCluster(ctx, localdeps.RedisClusterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	for name, url := range map[string]string{"one server": r.URL(), "cluster": rc.URL()} {
		t.Run(name, func(t *testing.T) {
			rdb, err := openRedis(url)
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			const players = 60
			for i := range players {
				count := 3
				if i == 7 {
					count = -1
				}
				if err := rdb.HSet(ctx, redisKeys.Lives(strconv.Itoa(i)), "c", count, "t", 0).Err(); err != nil {
					t.Fatal(err)
				}
			}
			var c Check
			if err := checkLives(ctx, rdb, &c); err != nil {
				t.Fatal(err)
			}
			if c.Checked != players || c.Violations != 1 {
				t.Errorf("checked %d lives keys with %d violations, want %d and 1", c.Checked, c.Violations, players)
			}
			var cooldowns atomic.Int64
			if err := rdb.HSet(ctx, redisKeys.Cooldown("5", "7"), "s", "sent").Err(); err != nil {
				t.Fatal(err)
			}
			err = scanKeys(ctx, rdb, redisKeys.Pattern(redisdb.KindCooldown), func(keys []string) error {
				for _, k := range keys {
					if s, r, ok := parseCooldownKey(k); ok && s == "5" && r == "7" {
						cooldowns.Add(1)
					}
				}
				return nil
			})
			if err != nil || cooldowns.Load() != 1 {
				t.Errorf("found the 5→7 cooldown %d times (%v), want once", cooldowns.Load(), err)
			}
		})
	}
}
