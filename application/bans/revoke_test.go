package bans_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/bans"
	"github.com/ovengames/oven/application/bans/issuedat"
	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/fence"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/proto/ovenv1"
)

// caller is the context a shard's interceptor hands to Check for a call made with a
// token issued at iat (zero: a token that did not record it).
func caller(iat time.Time) context.Context {
	md, _ := metadata.FromOutgoingContext(issuedat.Send(context.Background(), iat))
	return metadata.NewIncomingContext(context.Background(), md)
}

// Revocations reach the other shards with the ban's notification (no reload here),
// survive an unban, load with the set, and come to players banned before they existed.
func TestRevocation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := env.Start(t, shardtest.Options{Shards: 1})
	var ids []string
	for _, d := range []string{"revoke-device-1", "revoke-device-2"} {
		r, err := c.Game.AuthGuest(ctx, &ovenv1.AuthGuestRequest{DeviceId: d})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.PlayerId)
	}
	owner := func(id string) context.Context {
		return fence.With(ctx, fence.Token{Slot: cluster.SlotOf(id), Epoch: 1})
	}
	quiet := slog.New(slog.DiscardHandler)
	a, err := bans.New(ctx, c.DB, time.Hour, quiet) // the owner
	if err != nil {
		t.Fatal(err)
	}
	b, err := bans.New(ctx, c.DB, time.Hour, quiet) // another shard: notifications only
	if err != nil {
		t.Fatal(err)
	}
	go a.Run(ctx)
	go b.Run(ctx)
	time.Sleep(100 * time.Millisecond) // both listening

	id := ids[0]
	old, legacy, internal := caller(time.Now().Add(-time.Minute)), caller(time.Time{}), context.Background()
	for name, cache := range map[string]*bans.Cache{"owner": a, "other": b} {
		if err := cache.Check(old, id); err != nil {
			t.Fatalf("%s: a player never banned: %v", name, err)
		}
	}
	// set bans or unbans and checks that tokens_valid_after is the instant of the change
	// (PostgreSQL and the test share this machine's clock) plus lead.
	set := func(banned bool, lead time.Duration) {
		t.Helper()
		from := time.Now()
		if _, err := a.Set(owner(id), id, banned, nil); err != nil {
			t.Fatal(err)
		}
		to := time.Now()
		var after time.Time
		if err := c.DB.QueryRow(ctx, `SELECT tokens_valid_after FROM players WHERE player_id = $1`, id).Scan(&after); err != nil {
			t.Fatal(err)
		}
		if after.Before(from.Add(lead)) || after.After(to.Add(lead)) {
			t.Errorf("banned=%v: tokens revoked until %v, want between %v and %v", banned, after, from.Add(lead), to.Add(lead))
		}
	}
	set(true, bans.RevokeGrace)
	set(false, 0)
	fresh := caller(time.Now())

	check := func(what string, cache *bans.Cache, ctx context.Context, id, want string) {
		t.Helper()
		if got := oven.ErrorCode(cache.Check(ctx, id)); got != want {
			t.Errorf("%s: %q, want %q", what, got, want)
		}
	}
	check("owner, old token", a, old, id, oven.EUnauthenticated)
	check("owner, token from before issue times", a, legacy, id, oven.EUnauthenticated)
	check("owner, fresh token", a, fresh, id, "")
	check("owner, shard-to-shard call", a, internal, id, "")
	eventually(t, "the revocation reaches the other shard", func() bool {
		return oven.ErrorCode(b.Check(old, id)) == oven.EUnauthenticated
	})
	check("other, fresh token", b, fresh, id, "")

	// The earlier payload form (a shard not yet upgraded, a manual pg_notify) sets the
	// flag and keeps the revocation.
	if _, err := c.DB.Exec(ctx, `SELECT pg_notify($1, $2)`, bans.Channel, id+":1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "an old-form ban", func() bool { return b.Banned(id) })
	if _, err := c.DB.Exec(ctx, `SELECT pg_notify($1, $2)`, bans.Channel, id+":0"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "an old-form unban", func() bool { return !b.Banned(id) })
	check("other, old token after old-form notifications", b, old, id, oven.EUnauthenticated)

	// A player banned before revocations existed (no tokens_valid_after) gets one at
	// the unban: its tokens, all older, stay refused.
	legacyBan := ids[1]
	if _, err := c.DB.Exec(ctx, `UPDATE players SET banned = true WHERE player_id = $1`, legacyBan); err != nil {
		t.Fatal(err)
	}
	fromStart, err := bans.New(ctx, c.DB, time.Hour, quiet) // loaded with the set
	if err != nil {
		t.Fatal(err)
	}
	check("loaded, banned before revocations", fromStart, old, legacyBan, oven.EBanned)
	check("loaded, revoked", fromStart, old, id, oven.EUnauthenticated)
	check("loaded, fresh", fromStart, fresh, id, "")
	if _, err := fromStart.Set(owner(legacyBan), legacyBan, false, nil); err != nil {
		t.Fatal(err)
	}
	check("unbanned, banned before revocations, old token", fromStart, old, legacyBan, oven.EUnauthenticated)
	check("unbanned, banned before revocations, new token", fromStart, caller(time.Now()), legacyBan, "")
}
