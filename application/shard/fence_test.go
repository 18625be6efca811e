package shard_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/admins"
	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/economy"
	"github.com/ovengames/oven/application/fence"
	"github.com/ovengames/oven/application/fence/pgfence"
	"github.com/ovengames/oven/application/gamedata"
	mb "github.com/ovengames/oven/application/mailbox"
	"github.com/ovengames/oven/application/plays"
	"github.com/ovengames/oven/application/redisdb"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/proto/ovenv1"
)

// fencedWrites reads oven_fenced_writes_total{store} on the player's owner shard.
func fencedWrites(t *testing.T, c *shardtest.Cluster, playerID, store string) float64 {
	t.Helper()
	mfs, err := c.Metrics[c.Router.Owner(playerID).ID].Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "oven_fenced_writes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "store" && l.GetValue() == store {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// newOwner raises the player's slot in PostgreSQL past the shards' epoch (1), as a new
// owner does before it serves: the shard serving the player is now stale there.
func newOwner(t *testing.T, c *shardtest.Cluster, playerID string) {
	t.Helper()
	if err := (pgfence.Raiser{DB: c.DB}).RaiseFences(bg, []int{cluster.SlotOf(playerID)}, 2); err != nil {
		t.Fatal(err)
	}
}

// sqlState is what a refused write must leave as it was: the player's rows and counts.
func sqlState(t *testing.T, c *shardtest.Cluster, id string) []any {
	t.Helper()
	var name string
	var coins, exp, best, ledger, items, charges, records, claims, friends int64
	var banned bool
	err := c.DB.QueryRow(bg, `SELECT p.name, w.coins, p.exp, p.best_score, p.banned,
		(SELECT count(*) FROM coin_ledger WHERE player_id = p.player_id),
		(SELECT count(*) FROM inventory WHERE player_id = p.player_id),
		(SELECT count(*) FROM play_charges WHERE player_id = p.player_id),
		(SELECT count(*) FROM play_records WHERE player_id = p.player_id),
		(SELECT count(*) FROM mail_claims WHERE player_id = p.player_id),
		(SELECT count(*) FROM friendships WHERE player_id = p.player_id AND removed_at IS NULL)
		FROM players p JOIN wallets w USING (player_id) WHERE p.player_id = $1`, id).
		Scan(&name, &coins, &exp, &best, &banned, &ledger, &items, &charges, &records, &claims, &friends)
	if err != nil {
		t.Fatal(err)
	}
	return []any{"name", name, "coins", coins, "exp", exp, "best", best, "banned", banned, "ledger", ledger,
		"inventory", items, "charges", charges, "records", records, "claims", claims, "friends", friends}
}

// Every PostgreSQL write a call makes for a player is refused once a newer owner raised
// the player's slot: the call answers unavailable (the static map still names this
// shard), nothing is written, and the owner counts the refusal.
func TestStaleOwnerPostgresWritesAreRefusedAndCounted(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{DevClock: true})
	adm := ovenv1.NewAdminClient(c.Router)
	op := admLogin(t, c, "fence-op", admins.Operator)
	now := time.Now()
	coinMail := &ovenv1.MailItem{Id: oven.NewID(now), Kind: "coins", Amount: 70,
		SentAtMs: now.UnixMilli(), ExpiresAtMs: now.Add(time.Hour).UnixMilli()}

	type call struct {
		name  string
		setup func(id, friend string) // before the slot moves
		call  func(id, friend string) error
	}
	var playID string
	calls := []call{
		{"rename", nil, func(id, _ string) error {
			_, err := c.Game.UpdateMe(bg, &ovenv1.UpdateMeRequest{PlayerId: id, Name: "Stale"})
			return err
		}},
		{"buy", nil, func(id, _ string) error {
			_, err := c.Game.BuyItem(bg, &ovenv1.BuyItemRequest{PlayerId: id, ItemId: "flame-sprite"})
			return err
		}},
		{"start with boosts", nil, func(id, _ string) error {
			_, err := start(c, id, "magnet")
			return err
		}},
		{"settle", func(id, _ string) {
			p, err := start(c, id)
			if err != nil {
				t.Fatal(err)
			}
			playID = p.PlayId
			advance(t, c, time.Minute)
		}, func(id, _ string) error {
			_, err := c.Game.SettlePlay(bg, &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: playID,
				Score: 52_000, Coins: 300, Distance: 1200, DurationMs: 58_000})
			return err
		}},
		{"add friend", nil, func(id, friend string) error {
			_, err := c.Game.AddFriend(bg, &ovenv1.FriendRequest{PlayerId: id, FriendId: friend})
			return err
		}},
		{"remove friend", func(id, friend string) { befriend(t, c, id, friend) }, func(id, friend string) error {
			_, err := c.Game.RemoveFriend(bg, &ovenv1.FriendRequest{PlayerId: id, FriendId: friend})
			return err
		}},
		{"accept coins", func(id, _ string) {
			if _, err := c.Game.DeliverMail(bg, &ovenv1.DeliverMailRequest{PlayerId: id, Item: coinMail}); err != nil {
				t.Fatal(err)
			}
		}, func(id, _ string) error {
			_, err := c.Game.AcceptMail(bg, &ovenv1.AcceptMailRequest{PlayerId: id, MailId: coinMail.Id})
			return err
		}},
		{"ban", nil, func(id, _ string) error {
			_, err := adm.SetBanned(bg, &ovenv1.SetBannedRequest{Auth: op, PlayerId: id, Banned: true})
			return err
		}},
	}
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			id, friend := guest(t, c, "fence-pg-"+tc.name), guest(t, c, "fence-pg-friend-"+tc.name)
			grant(t, c, id, 5000)
			if tc.setup != nil {
				tc.setup(id, friend)
			}
			newOwner(t, c, id)
			before, counted := sqlState(t, c, id), fencedWrites(t, c, id, fence.StorePostgres)
			if err := tc.call(id, friend); code(err) != oven.EUnavailable {
				t.Fatalf("call by the stale owner: %v, want unavailable", err)
			}
			if diff := cmp.Diff(before, sqlState(t, c, id)); diff != "" {
				t.Errorf("a refused call wrote (-before +after)\n%s", diff)
			}
			if got := fencedWrites(t, c, id, fence.StorePostgres); got != counted+1 {
				t.Errorf("oven_fenced_writes_total{store=postgres} = %v, want %v", got, counted+1)
			}
			checkWallet(t, c, id)
		})
	}
}

// A pending play is decided only by its player's current owner: a stale owner's
// recovery cannot void it.
func TestStaleOwnerRecoveryDecidesNothing(t *testing.T) {
	t.Parallel()
	// The crash comes after a newer owner raised the slot, so the play is stale before
	// recovery could ever look at it (on a busy machine the start call alone can outlast
	// RecoverAfter, and a raise after it would race the legitimate owner's recovery).
	var raise func() error // set before the start call
	crash := func() error {
		if err := raise(); err != nil {
			return err
		}
		return errors.New("injected crash")
	}
	c := env.Start(t, shardtest.Options{PlayHooks: plays.Hooks{AfterLifeTaken: crash}})
	id := guest(t, c, "fence-recovery")
	raise = func() error { return pgfence.Raiser{DB: c.DB}.RaiseFences(bg, []int{cluster.SlotOf(id)}, 2) }
	if _, err := start(c, id, "magnet"); err == nil {
		t.Fatal("start succeeded despite the injected crash")
	}
	// Recovery looks every 100 ms at plays older than 300 ms: give it many passes.
	time.Sleep(1500 * time.Millisecond)
	var charges int
	if err := c.DB.QueryRow(bg, `SELECT count(*) FROM play_charges WHERE player_id = $1`, id).Scan(&charges); err != nil || charges != 0 {
		t.Errorf("%d arbiter rows (%v): a stale owner decided the play", charges, err)
	}
	if n, err := c.Redis.ZCard(bg, c.Keys.Pending(cluster.SlotOf(id))).Result(); err != nil || n != 1 {
		t.Errorf("%d pending plays (%v), want the one left for the new owner", n, err)
	}
}

// A mailbox a newer owner has written refuses the stale owner's writes: deliveries and
// accepts answer unavailable, the mailbox, lives and coins stay as they were, and the
// owner counts the refusals.
func TestStaleOwnerMailboxWritesAreRefusedAndCounted(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{})
	id := guest(t, c, "fence-mailbox")
	cb, err := mb.Open(bg, c.Couchbase)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cb.Close() })
	newer := mb.NewService(mb.Deps{Couchbase: cb, DB: c.DB, Redis: redisdb.New(c.Redis, c.RedisPrefix),
		Clock: &oven.OffsetClock{}, GameData: gamedata.Default, Metrics: economy.New(prometheus.NewRegistry())})
	newerCtx := fence.With(bg, fence.Token{Slot: cluster.SlotOf(id), Epoch: 2})
	now := time.Now()
	gift := func(kind string, amount int64) mb.Item {
		return mb.Item{ID: oven.NewID(now), Kind: kind, Amount: amount, SentAt: now.UnixMilli(), ExpiresAt: now.Add(time.Hour).UnixMilli()}
	}
	if _, err := newer.Deliver(newerCtx, id, gift(mb.KindCoins, 40), true); err != nil {
		t.Fatal(err)
	}
	before, err := newer.List(newerCtx, id)
	if err != nil {
		t.Fatal(err)
	}
	profile := me(t, c, id)

	late := gift(mb.KindLife, 1)
	deliver := &ovenv1.DeliverMailRequest{PlayerId: id, Item: &ovenv1.MailItem{Id: late.ID, Kind: late.Kind,
		Amount: late.Amount, SentAtMs: late.SentAt, ExpiresAtMs: late.ExpiresAt}}
	if _, err := c.Game.DeliverMail(bg, deliver); code(err) != oven.EUnavailable {
		t.Errorf("delivery by the stale owner: %v, want unavailable", err)
	}
	if _, err := c.Game.AcceptAllMail(bg, &ovenv1.PlayerRequest{PlayerId: id}); code(err) != oven.EUnavailable {
		t.Errorf("accept by the stale owner: %v, want unavailable", err)
	}
	after, err := newer.List(newerCtx, id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("the mailbox changed (-before +after)\n%s", diff)
	}
	if p := me(t, c, id); p.Coins != profile.Coins || p.Lives.Count != profile.Lives.Count {
		t.Errorf("coins %d→%d, lives %d→%d", profile.Coins, p.Coins, profile.Lives.Count, p.Lives.Count)
	}
	if got := fencedWrites(t, c, id, fence.StoreCouchbase); got != 2 {
		t.Errorf("oven_fenced_writes_total{store=couchbase} = %v, want 2", got)
	}
}
