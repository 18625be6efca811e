package shard_test

import (
	"testing"
	"time"

	"github.com/ovengames/oven/application/janitor"
	"github.com/ovengames/oven/application/shard/shardtest"
)

func partitionExists(t *testing.T, c *shardtest.Cluster, name string) bool {
	t.Helper()
	var n int
	if err := c.DB.QueryRow(bg, `SELECT count(*) FROM pg_class WHERE relname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestJanitorDropsOldPartitionsAndKeepsWalletsWhole(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{Shards: 1})
	id := guest(t, c, "device-janitor")
	j := janitor.New(c.DB, janitor.Config{Tables: janitor.Defaults(30*24*time.Hour, 90*24*time.Hour)})

	now := time.Now()
	old := now.AddDate(0, 0, -100)
	if _, err := j.Pass(bg, old); err != nil {
		t.Fatal(err)
	}
	oldLedger := "coin_ledger_p" + old.UTC().Format("20060102")
	oldPlays := "play_records_p" + old.UTC().Format("20060102")
	if !partitionExists(t, c, oldLedger) || !partitionExists(t, c, oldPlays) {
		t.Fatal("the pass did not create the old day's partitions")
	}
	// 100 days ago the player earned 77 coins.
	if _, err := c.DB.Exec(bg, `INSERT INTO coin_ledger (player_id, created_at, amount, reason, ref) VALUES ($1, $2, 77, 'play', 'x')`, id, old); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DB.Exec(bg, `UPDATE wallets SET coins = coins + 77 WHERE player_id = $1`, id); err != nil {
		t.Fatal(err)
	}
	checkWallet(t, c, id)

	held, err := j.Pass(bg, now)
	if err != nil || !held {
		t.Fatalf("pass: held %v, %v", held, err)
	}
	if partitionExists(t, c, oldLedger) || partitionExists(t, c, oldPlays) {
		t.Error("partitions past retention are still there")
	}
	today := "coin_ledger_p" + now.UTC().Format("20060102")
	ahead := "play_records_p" + now.UTC().AddDate(0, 0, 3).Format("20060102")
	if !partitionExists(t, c, today) || !partitionExists(t, c, ahead) {
		t.Error("today's and future partitions are missing")
	}
	// The dropped ledger rows were folded into carried_coins: invariant 4 still holds.
	if coins := checkWallet(t, c, id); coins != 1077 {
		t.Errorf("coins = %d, want 1077", coins)
	}
}

func TestJanitorPassesDoNotCollide(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{Shards: 1})
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := janitor.New(c.DB, janitor.Config{Tables: janitor.Defaults(time.Hour*720, time.Hour*2160)}).Pass(bg, time.Now().AddDate(0, 0, 10))
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
