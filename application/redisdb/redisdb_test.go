package redisdb_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/fence"
	"github.com/ovengames/oven/application/redisdb"
	"github.com/ovengames/oven/deploy/localdeps"
)

var (
	single  redis.UniversalClient
	grouped redis.UniversalClient // the same server, its commands grouped as a shard's are
	seq     atomic.Int64
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	r, err := localdeps.StartRedis(ctx, localdeps.RedisOptions{})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if single, err = redisdb.Open(r.URL()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var stopGroup func()
	grouped, stopGroup, err = redisdb.OpenGrouped(r.URL(), 2, groupMetrics)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	grouped.Close()
	stopGroup()
	single.Close()
	r.Stop()
	os.Exit(code)
}

func newDB(t *testing.T, c redis.UniversalClient) *redisdb.DB {
	t.Helper()
	return redisdb.New(c, fmt.Sprintf("rt%d:", seq.Add(1)))
}

const player = "42"

var (
	slot = cluster.SlotOf(player)
	now  = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC).UnixMilli()
)

func at(epoch uint64) context.Context {
	return fence.With(context.Background(), fence.Token{Slot: slot, Epoch: epoch})
}

// scriptCase is one run of a fenced script, with what must exist before it.
type scriptCase struct {
	script *redisdb.Script
	keys   func(db *redisdb.DB) []string
	args   []any
	setup  func(ctx context.Context, db *redisdb.DB) error
}

func livesArgs(delta int) []any { return []any{now, 5, 720000, delta} }

func startPlay(status string) func(ctx context.Context, db *redisdb.DB) error {
	return func(ctx context.Context, db *redisdb.DB) error {
		return db.Run(ctx, redisdb.PlayStart, []string{db.Lives(player), db.Play(player, "pl1"), db.Infinite(player), db.LivesFull(slot)},
			now, 5, 720000, status, 7, "c1", "", "b1", 100, 86400000, "pl1", "", 1, "").Err()
	}
}

func reserve(ctx context.Context, db *redisdb.DB) error {
	return db.Run(ctx, redisdb.SocialReserve, []string{db.Cooldown(player, "43")}, now, 3600000, "m1").Err()
}

// fencedCases runs every fenced script once with arguments its domain package would
// pass, after the state it works on.
var fencedCases = map[string]scriptCase{
	"lives take": {script: redisdb.LivesChange, keys: func(db *redisdb.DB) []string { return []string{db.Lives(player)} },
		args: livesArgs(-1)},
	"play start": {script: redisdb.PlayStart,
		keys: func(db *redisdb.DB) []string {
			return []string{db.Lives(player), db.Play(player, "pl2"), db.Infinite(player), db.LivesFull(slot)}
		},
		args: []any{now, 5, 720000, "pending", 7, "c1", "", "b1", 100, 86400000, "pl2", "", 1, player}},
	"push pop full": {script: redisdb.PushPopFull, keys: func(db *redisdb.DB) []string { return []string{db.LivesFull(slot)} },
		args: []any{player, now}, setup: func(ctx context.Context, db *redisdb.DB) error {
			return db.Client.ZAdd(ctx, db.LivesFull(slot), redis.Z{Score: float64(now), Member: player}).Err()
		}},
	"play resolve": {script: redisdb.PlayResolve, setup: startPlay("pending"),
		keys: func(db *redisdb.DB) []string { return []string{db.Lives(player), db.Play(player, "pl1")} },
		args: []any{"void", now, 5, 720000}},
	"play finish": {script: redisdb.PlayFinish, setup: startPlay("open"),
		keys: func(db *redisdb.DB) []string { return []string{db.Play(player, "pl1")} },
		args: []any{"bh", `{"coins":1}`, "ok"}},
	"play index": {script: redisdb.PlayIndex,
		keys: func(db *redisdb.DB) []string { return []string{db.Pending(slot)} },
		args: []any{"add", player + "/pl1", 123}},
	"social reserve": {script: redisdb.SocialReserve,
		keys: func(db *redisdb.DB) []string { return []string{db.Cooldown(player, "43")} },
		args: []any{now, 3600000, "m1"}},
	"social commit": {script: redisdb.SocialCommit, setup: reserve,
		keys: func(db *redisdb.DB) []string { return []string{db.Cooldown(player, "43"), db.GiftPoints(player)} },
		args: []any{"m1", 10}},
	"social release": {script: redisdb.SocialRelease, setup: reserve,
		keys: func(db *redisdb.DB) []string { return []string{db.Cooldown(player, "43")} },
		args: []any{"m1"}},
	"mail claim": {script: redisdb.MailClaim,
		keys: func(db *redisdb.DB) []string { return []string{db.Lives(player), db.Claimed(player)} },
		args: []any{now, 5, 720000, "m1", now + 3600000}},
	"mail infinite": {script: redisdb.MailInfinite,
		keys: func(db *redisdb.DB) []string { return []string{db.Infinite(player), db.Claimed(player)} },
		args: []any{now, "m1", now + 3600000, 7200000}},
	"mail mark": {script: redisdb.MailMark,
		keys: func(db *redisdb.DB) []string { return []string{db.Claimed(player)} },
		args: []any{now, "m1", now + 3600000}},
}

// dump returns every key of the slot (the fence aside) with its serialized value.
func dump(t *testing.T, db *redisdb.DB) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	var mu sync.Mutex // a cluster's masters are scanned at once
	scan := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, db.Tag(slot)+"*", 100).Iterator()
		for iter.Next(ctx) {
			if k := iter.Val(); k != db.Fence(slot) {
				v, err := c.Dump(ctx, k).Result()
				if err != nil {
					return err
				}
				mu.Lock()
				out[k] = v
				mu.Unlock()
			}
		}
		return iter.Err()
	}
	var err error
	if cc, ok := db.Client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, scan)
	} else {
		err = scan(ctx, db.Client.(*redis.Client))
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fenceAt(t *testing.T, db *redisdb.DB) uint64 {
	t.Helper()
	v, err := db.Client.Get(context.Background(), db.Fence(slot)).Uint64()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	return v
}

func wantRefused(t *testing.T, err error, epoch uint64) {
	t.Helper()
	fe, ok := fence.Refused(err)
	if !ok {
		t.Fatalf("err = %v, want a fence refusal", err)
	}
	if diff := cmp.Diff(&fence.Error{Store: fence.StoreRedis, Slot: slot, Epoch: epoch}, fe); diff != "" {
		t.Fatalf("refusal (-want +got)\n%s", diff)
	}
}

func TestEveryFencedScriptHasACase(t *testing.T) {
	var covered []*redisdb.Script
	for _, c := range fencedCases {
		covered = append(covered, c.script)
	}
	for _, sc := range redisdb.All() {
		if sc.Fenced() && !slices.Contains(covered, sc) {
			t.Errorf("fenced script %s has no fence test case", sc.Name())
		}
	}
}

func TestFencedScripts(t *testing.T) {
	t.Run("alone", func(t *testing.T) { testFencedScripts(t, single) })
	t.Run("grouped", func(t *testing.T) { testFencedScripts(t, grouped) })
}

// testFencedScripts checks, for every fenced script on c: a stale epoch is refused
// with a *fence.Error and changes nothing; a newer one goes through and raises the
// fence; after RaiseFences the old epoch is refused; a fence lost with the data heals.
func testFencedScripts(t *testing.T, c redis.UniversalClient) {
	for name, sc := range fencedCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := newDB(t, c)
			if err := db.RaiseFences(ctx, []int{slot}, 5); err != nil {
				t.Fatal(err)
			}
			if sc.setup != nil {
				if err := sc.setup(at(5), db); err != nil {
					t.Fatal(err)
				}
			}
			before := dump(t, db)
			wantRefused(t, db.Run(at(4), sc.script, sc.keys(db), sc.args...).Err(), 4)
			if diff := cmp.Diff(before, dump(t, db)); diff != "" || fenceAt(t, db) != 5 {
				t.Fatalf("a refused write changed the store (fence %d) (-before +after)\n%s", fenceAt(t, db), diff)
			}

			if err := db.Run(at(7), sc.script, sc.keys(db), sc.args...).Err(); err != nil {
				t.Fatalf("newer epoch: %v", err)
			}
			if got := fenceAt(t, db); got != 7 {
				t.Fatalf("fence after a write at epoch 7 = %d", got)
			}

			if err := db.RaiseFences(ctx, []int{slot}, 9); err != nil {
				t.Fatal(err)
			}
			before = dump(t, db)
			wantRefused(t, db.Run(at(7), sc.script, sc.keys(db), sc.args...).Err(), 7)
			if diff := cmp.Diff(before, dump(t, db)); diff != "" {
				t.Fatalf("a write refused after the raise changed the store (-before +after)\n%s", diff)
			}

			// Redis lost the fence (a restart without persistence): the owner's next
			// write raises it again, and the stale owner stays refused.
			if err := db.Client.Del(ctx, db.Fence(slot)).Err(); err != nil {
				t.Fatal(err)
			}
			if err := db.Run(at(9), sc.script, sc.keys(db), sc.args...).Err(); err != nil {
				t.Fatalf("after losing the fence: %v", err)
			}
			if got := fenceAt(t, db); got != 9 {
				t.Fatalf("healed fence = %d, want 9", got)
			}
			wantRefused(t, db.Run(at(7), sc.script, sc.keys(db), sc.args...).Err(), 7)
		})
	}
}

func TestFencedWritesNeedTheirSlotsToken(t *testing.T) {
	ctx := context.Background()
	db := newDB(t, single)
	keys := []string{db.Lives(player)}
	if err := db.Run(ctx, redisdb.LivesChange, keys, livesArgs(-1)...).Err(); !errors.Is(err, fence.ErrNoToken) {
		t.Errorf("without a token: err = %v, want ErrNoToken", err)
	}
	other := fence.With(ctx, fence.Token{Slot: (slot + 1) % cluster.Slots, Epoch: 1})
	if err := db.Run(other, redisdb.LivesChange, keys, livesArgs(-1)...).Err(); err == nil {
		t.Error("a token of another slot was accepted")
	}
	for _, k := range []string{db.Prefix + "{s" + strconv.Itoa(slot) + "0}:lives:x", db.Prefix + "{s0" + strconv.Itoa(slot) + "}:lives:x",
		"x" + db.Lives(player), db.Prefix + "{s" + strconv.Itoa(slot) + "}"} {
		if err := db.Run(at(1), redisdb.LivesChange, []string{k}, livesArgs(-1)...).Err(); err == nil {
			t.Errorf("key %q was taken as in slot %d", k, slot)
		}
	}
	pipe := db.Pipeline()
	cmd := pipe.Run(ctx, redisdb.LivesChange, keys, livesArgs(-1)...)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(cmd.Err(), fence.ErrNoToken) {
		t.Errorf("queued without a token: err = %v, want ErrNoToken", cmd.Err())
	}
	if got := dump(t, db); len(got) != 0 {
		t.Errorf("refused writes left keys: %v", got)
	}
}

func TestRaiseFencesNeverLowers(t *testing.T) {
	ctx := context.Background()
	db := newDB(t, single)
	slots := []int{slot, 1, 4095}
	for _, e := range []uint64{3, 8, 5} {
		if err := db.RaiseFences(ctx, slots, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range slots {
		if v, err := db.Client.Get(ctx, db.Fence(s)).Result(); err != nil || v != "8" {
			t.Errorf("slot %d fence = %q, %v; want 8", s, v, err)
		}
	}
}

// TestPipeReloadsForgottenScripts: after SCRIPT FLUSH a pipelined script is sent again
// in full, and its fence refusal still arrives as a *fence.Error.
func TestPipeReloadsForgottenScripts(t *testing.T) {
	ctx := context.Background()
	db := newDB(t, single)
	if err := db.RaiseFences(ctx, []int{slot}, 5); err != nil {
		t.Fatal(err)
	}
	if err := db.Client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	pipe := db.Pipeline()
	get := pipe.Run(ctx, redisdb.LivesGet, []string{db.Lives(player), db.Infinite(player)}, now, 5, 720000)
	take := pipe.Run(at(5), redisdb.LivesChange, []string{db.Lives(player)}, livesArgs(-1)...)
	stale := pipe.Run(at(4), redisdb.LivesChange, []string{db.Lives(player)}, livesArgs(-1)...)
	if _, err := pipe.Exec(ctx); err == nil {
		t.Fatal("Exec hid the refused write's error")
	}
	if got, err := get.Int64Slice(); err != nil || got[1] != 5 {
		t.Errorf("get = %v, %v; want 5 lives", got, err)
	}
	if got, err := take.Int64Slice(); err != nil || got[1] != 4 {
		t.Errorf("take = %v, %v; want 4 lives", got, err)
	}
	wantRefused(t, stale.Err(), 4)
}

func TestKeysShareTheSlotsTag(t *testing.T) {
	k := redisdb.Keys{Prefix: "p:"}
	tag := "p:{s" + strconv.Itoa(slot) + "}:"
	for _, key := range []string{k.Fence(slot), k.Pending(slot), k.Lives(player), k.GiftPoints(player),
		k.Cooldown(player, "43"), k.Claimed(player), k.Play(player, "pl1")} {
		if len(key) < len(tag) || key[:len(tag)] != tag {
			t.Errorf("%s is not under %s", key, tag)
		}
	}
	tests := []struct {
		key          string
		kind         redisdb.Kind
		player, more string
		ok           bool
	}{
		{k.Lives(player), redisdb.KindLives, player, "", true},
		{k.Cooldown(player, "43"), redisdb.KindCooldown, player, "43", true},
		{k.Play(player, "pl:1"), redisdb.KindPlay, player, "pl:1", true},
		{k.Fence(slot), "", "", "", false},
		{"other{s1}:lives:42", "", "", "", false},
	}
	for _, tt := range tests {
		kind, p, more, ok := k.Parse(tt.key)
		if kind != tt.kind || p != tt.player || more != tt.more || ok != tt.ok {
			t.Errorf("Parse(%q) = %q %q %q %v", tt.key, kind, p, more, ok)
		}
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		name, url string
		addrs     []string
		cluster   bool
		db        int
		bad       bool
	}{
		{name: "one server", url: "redis://127.0.0.1:7000/2", addrs: []string{"127.0.0.1:7000"}, db: 2},
		{name: "unix socket", url: "unix:///tmp/r.sock?db=0", addrs: []string{"/tmp/r.sock"}},
		{name: "cluster", url: "redis://u:pw@h:7000,h:7001,h:7002?cluster=true",
			addrs: []string{"h:7000", "h:7001", "h:7002"}, cluster: true},
		{name: "cluster from one seed", url: "redis://h:7000/?cluster=true", addrs: []string{"h:7000"}, cluster: true},
		{name: "several hosts need the marker", url: "redis://h:7000,h:7001", bad: true},
		{name: "a cluster has only database 0", url: "redis://h:7000/3?cluster=true", bad: true},
		{name: "unknown option", url: "redis://h:7000?colour=blue", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := redisdb.ParseURL(tt.url)
			if tt.bad {
				if err == nil {
					t.Fatalf("ParseURL(%q) accepted", tt.url)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.addrs, o.Addrs); diff != "" || o.IsClusterMode != tt.cluster || o.DB != tt.db {
				t.Errorf("addrs (-want +got) %s cluster %v db %d", diff, o.IsClusterMode, o.DB)
			}
		})
	}
}

// TestPipeDoesNotRerunAfterAFailure: a forgotten script queued after a failed command
// is not run again out of the pipeline's order.
func TestPipeDoesNotRerunAfterAFailure(t *testing.T) {
	ctx := context.Background()
	db := newDB(t, single)
	if err := db.Client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	pipe := db.Pipeline()
	pipe.HSet(ctx, db.Prefix+"h", "f", "v")
	pipe.Incr(ctx, db.Prefix+"h") // WRONGTYPE
	take := pipe.Run(at(5), redisdb.LivesChange, []string{db.Lives(player)}, livesArgs(-1)...)
	if _, err := pipe.Exec(ctx); err == nil {
		t.Fatal("Exec hid the failure")
	}
	if !redis.HasErrorPrefix(take.Err(), "NOSCRIPT") {
		t.Errorf("take after a failure: err = %v, want NOSCRIPT left as it was", take.Err())
	}
	if got := dump(t, db); len(got) != 0 {
		t.Errorf("the script ran anyway: %v", got)
	}
}

// A play started under infinite lives takes no life, and voiding it gives none back; a
// play that took one gives it back.
func TestPlayStartedUnderInfiniteLivesRefundsNothing(t *testing.T) {
	db := newDB(t, single)
	ctx := at(1)
	if err := db.RaiseFences(context.Background(), []int{slot}, 1); err != nil {
		t.Fatal(err)
	}
	run := func(s *redisdb.Script, keys []string, args ...any) []int64 {
		t.Helper()
		res, err := db.Run(ctx, s, keys, args...).Int64Slice()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	lv := db.Lives(player)
	run(redisdb.LivesChange, []string{lv}, livesArgs(-2)...) // 3 of 5 left
	for _, tc := range []struct {
		play       string
		take, want int64 // lives after the start and after the void
	}{{"inf", 0, 3}, {"paid", 1, 3}} {
		keys := []string{lv, db.Play(player, tc.play), db.Infinite(player), db.LivesFull(slot)}
		res := run(redisdb.PlayStart, keys, now, 5, 720000, "pending", 7, "c1", "", "b1", 100, 86400000, tc.play, "", tc.take, "")
		if res[0] != 1 || res[1] != 3-tc.take {
			t.Errorf("%s: start answered %v, want ok with %d lives", tc.play, res, 3-tc.take)
		}
		if res := run(redisdb.PlayResolve, keys, "void", now, 5, 720000); res[0] != 1 || res[1] != tc.want {
			t.Errorf("%s: void answered %v, want %d lives", tc.play, res, tc.want)
		}
	}
}

// Gifted infinite lives start once per mail id and add up; while they run a start takes
// no life and LivesGet says until when.
func TestGiftedInfiniteLives(t *testing.T) {
	db := newDB(t, single)
	ctx := at(1)
	if err := db.RaiseFences(context.Background(), []int{slot}, 1); err != nil {
		t.Fatal(err)
	}
	gift := func(ids ...string) []any {
		t.Helper()
		args := []any{now}
		for _, id := range ids {
			args = append(args, id, now+3600000, 600000) // 10 minutes each
		}
		res, err := db.Run(ctx, redisdb.MailInfinite, []string{db.Infinite(player), db.Claimed(player)}, args...).Slice()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := gift("g1", "g2"); res[0].(int64) != now+1200000 || len(res) != 3 {
		t.Errorf("two gifts: %v, want 20 minutes from now and both ids", res)
	}
	if res := gift("g1"); res[0].(int64) != now+1200000 || len(res) != 1 {
		t.Errorf("the same gift again: %v, want nothing added", res)
	}
	keys := []string{db.Lives(player), db.Play(player, "p1"), db.Infinite(player), db.LivesFull(slot)}
	res, err := db.Run(ctx, redisdb.PlayStart, keys, now, 5, 720000, "open", 7, "c1", "", "", 0, 86400000, "p1", "", 1, "").Int64Slice()
	if err != nil || res[0] != 1 || res[1] != 5 || res[3] != now+1200000 {
		t.Errorf("start under gifted infinite lives: %v (%v), want 5 lives kept", res, err)
	}
	get, err := db.Run(ctx, redisdb.LivesGet, []string{db.Lives(player), db.Infinite(player)}, now+1200000, 5, 720000).Int64Slice()
	if err != nil || get[3] != 0 {
		t.Errorf("at the gift's end: %v (%v), want no infinite lives", get, err)
	}
}

// A start that takes a life from a player with device tokens puts the player in the
// slot's lives-full index at the instant the lives are full again; a newer start moves
// that instant, and popping with a stale score leaves the newer one.
func TestPlayStartIndexesWhenLivesAreFull(t *testing.T) {
	db := newDB(t, single)
	ctx := at(1)
	if err := db.RaiseFences(context.Background(), []int{slot}, 1); err != nil {
		t.Fatal(err)
	}
	start := func(play, notify string) {
		t.Helper()
		keys := []string{db.Lives(player), db.Play(player, play), db.Infinite(player), db.LivesFull(slot)}
		if err := db.Run(ctx, redisdb.PlayStart, keys, now, 5, 720000, "open", 7, "c1", "", "", 0, 86400000, play, "", 1, notify).Err(); err != nil {
			t.Fatal(err)
		}
	}
	score := func() float64 {
		t.Helper()
		v, err := db.Client.ZScore(context.Background(), db.LivesFull(slot), player).Result()
		if errors.Is(err, redis.Nil) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	start("p0", "")
	if got := score(); got != 0 {
		t.Fatalf("a player without tokens was indexed at %v", got)
	}
	start("p1", player) // 3 of 5 left, the anchor at now: full after two regenerations
	if got := score(); got != float64(now+2*720000) {
		t.Fatalf("indexed at %v, want %v", got, now+2*720000)
	}
	start("p2", player)
	if n, err := db.Run(ctx, redisdb.PushPopFull, []string{db.LivesFull(slot)}, player, now+2*720000).Int64(); err != nil || n != 0 {
		t.Fatalf("a pop with the stale score removed %d (%v)", n, err)
	}
	if n, err := db.Run(ctx, redisdb.PushPopFull, []string{db.LivesFull(slot)}, player, now+3*720000).Int64(); err != nil || n != 1 {
		t.Fatalf("a pop with the current score removed %d (%v), want 1", n, err)
	}
}
