package bans_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/bans"
	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/fence"
	"github.com/ovengames/oven/application/fence/pgfence"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/proto/ovenv1"
)

var env *shardtest.Env

func TestMain(m *testing.M) { shardtest.Main(m, &env) }

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func isFenced(err error) bool {
	_, ok := fence.Refused(err)
	return ok
}

func TestCacheFollowsTheDatabase(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := env.Start(t, shardtest.Options{Shards: 1})
	var ids []string
	for _, d := range []string{"bans-device-1", "bans-device-2", "bans-device-3"} {
		r, err := c.Game.AuthGuest(ctx, &ovenv1.AuthGuestRequest{DeviceId: d})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.PlayerId)
	}
	if _, err := c.DB.Exec(ctx, `UPDATE players SET banned = true WHERE player_id = $1`, ids[0]); err != nil {
		t.Fatal(err)
	}

	// Loaded at start.
	a, err := bans.New(ctx, c.DB, 50*time.Millisecond, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if !a.Banned(ids[0]) || a.Banned(ids[1]) {
		t.Fatal("the banned set was not loaded")
	}
	b, err := bans.New(ctx, c.DB, time.Hour, slog.New(slog.DiscardHandler)) // another shard: notifications only
	if err != nil {
		t.Fatal(err)
	}
	go a.Run(ctx)
	go b.Run(ctx)
	time.Sleep(100 * time.Millisecond) // both listening

	// Set applies at once where it ran, and reaches the other shard by notification. It
	// runs on the player's owner, with its token (the static map's epoch is 1).
	owner := func(id string) context.Context {
		return fence.With(ctx, fence.Token{Slot: cluster.SlotOf(id), Epoch: 1})
	}
	records := 0
	changed, err := a.Set(owner(ids[1]), ids[1], true, func(context.Context, pgx.Tx, any, any) error { records++; return nil })
	if err != nil || !changed || records != 1 {
		t.Fatalf("set: %v %v %d", changed, err, records)
	}
	if oven.ErrorCode(a.Check(ctx, ids[1])) != oven.EBanned {
		t.Error("not banned right after Set")
	}
	eventually(t, "notification", func() bool { return b.Banned(ids[1]) })
	if changed, err := a.Set(owner(ids[1]), ids[1], true, nil); err != nil || changed {
		t.Errorf("banning again: %v %v", changed, err)
	}
	if _, err := a.Set(owner("77777"), "77777", true, nil); oven.ErrorCode(err) != oven.ENotFound {
		t.Errorf("missing player: %v", err)
	}
	// A stale owner's ban is refused and changes nothing.
	stale := fence.With(ctx, fence.Token{Slot: cluster.SlotOf(ids[0]), Epoch: 1})
	if err := (pgfence.Raiser{DB: c.DB}).RaiseFences(ctx, []int{cluster.SlotOf(ids[0])}, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Set(stale, ids[0], false, nil); !isFenced(err) {
		t.Errorf("unban by a stale owner: %v, want a fence refusal", err)
	}
	var banned bool
	if err := c.DB.QueryRow(ctx, `SELECT banned FROM players WHERE player_id = $1`, ids[0]).Scan(&banned); err != nil || !banned {
		t.Errorf("a refused unban changed the row: banned = %v (%v)", banned, err)
	}

	// A change behind Oven's back shows with the next reload.
	if _, err := c.DB.Exec(ctx, `UPDATE players SET banned = true WHERE player_id = $1`, ids[2]); err != nil {
		t.Fatal(err)
	}
	eventually(t, "periodic reload", func() bool { return a.Banned(ids[2]) })
	if b.Banned(ids[2]) {
		t.Error("a shard without reload or notification saw an unannounced change")
	}
}
