package shard_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/admins"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/proto/ovenv1"
)

// gameNow moves the dev clock by 1 ms and returns the game's now.
func gameNow(t *testing.T, c *shardtest.Cluster) time.Time {
	t.Helper()
	r, err := c.Game.AdvanceClock(bg, &ovenv1.AdvanceClockRequest{AdvanceMs: 1})
	if err != nil {
		t.Fatal(err)
	}
	return time.UnixMilli(r.NowMs)
}

// advanceTo moves the dev clock forward to at (the game's now is then a few
// milliseconds past it) and returns the game's now.
func advanceTo(t *testing.T, c *shardtest.Cluster, at time.Time) time.Time {
	t.Helper()
	now := gameNow(t, c)
	if !at.After(now) {
		return now
	}
	r, err := c.Game.AdvanceClock(bg, &ovenv1.AdvanceClockRequest{AdvanceMs: at.Sub(now).Milliseconds() + 1})
	if err != nil {
		t.Fatal(err)
	}
	return time.UnixMilli(r.NowMs)
}

func createEvent(t *testing.T, c *shardtest.Cluster, auth *ovenv1.AdminAuth, e *ovenv1.LiveEvent) *ovenv1.LiveEvent {
	t.Helper()
	r, err := ovenv1.NewAdminClient(c.Router).CreateLiveEvent(bg, &ovenv1.LiveEventRequest{Auth: auth, Event: e})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Problems) > 0 {
		t.Fatalf("event %v: problems %v", e, r.Problems)
	}
	return r.Event
}

func livesOf(t *testing.T, c *shardtest.Cluster, id string) *ovenv1.Lives { return me(t, c, id).Lives }

// An infinite-lives event takes effect at its start and stops at its end, on the game
// clock: a play just before takes a life, one during takes none (and /me says until
// when), one after takes a life again. Nothing is written per player.
func TestInfiniteLivesEventRunsFromItsStartToItsEnd(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{DevClock: true})
	pub := admLogin(t, c, "events-publisher", admins.Publisher)
	id := guest(t, c, "events-infinite")
	now := gameNow(t, c)
	begin, end := now.Add(time.Hour).Truncate(time.Second), now.Add(2*time.Hour).Truncate(time.Second)
	ev := createEvent(t, c, pub, &ovenv1.LiveEvent{Kind: "infinite_lives", Title: "Weekend", StartsAtMs: begin.UnixMilli(), EndsAtMs: end.UnixMilli()})
	if ev.Status != "scheduled" || ev.CreatedBy != "events-publisher" {
		t.Fatalf("created %+v", ev)
	}

	// Every shard refreshes its calendar every second: wait until the player's owner has it.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		list, err := c.Game.ListEvents(bg, &ovenv1.ListEventsRequest{PlayerId: id})
		if err == nil && len(list.Events) == 1 && list.Events[0].Id == ev.Id && list.Events[0].Status == "scheduled" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the player's owner does not list the event 5 s after it was scheduled: %v (%v)", list, err)
		}
	}

	play := func(when string, wantTaken bool) {
		t.Helper()
		before := livesOf(t, c, id).Count
		if _, err := start(c, id); err != nil {
			t.Fatalf("%s: start: %v", when, err)
		}
		after := livesOf(t, c, id)
		if taken := before - after.Count; taken != map[bool]int64{true: 1, false: 0}[wantTaken] {
			t.Errorf("%s: the play took %d lives (%d → %d)", when, taken, before, after.Count)
		}
	}
	advanceTo(t, c, begin.Add(-3*time.Second))
	play("3 s before the start", true)
	if l := livesOf(t, c, id); l.InfiniteUntilMs != 0 {
		t.Errorf("before the start: infinite until %v", time.UnixMilli(l.InfiniteUntilMs))
	}
	if now := advanceTo(t, c, begin); now.Before(begin) || now.After(begin.Add(2*time.Second)) {
		t.Fatalf("clock at %v, want just past %v", now, begin)
	}
	play("at the start", false)
	play("during the event", false)
	if l := livesOf(t, c, id); l.InfiniteUntilMs != end.UnixMilli() {
		t.Errorf("during: infinite until %v, want %v", time.UnixMilli(l.InfiniteUntilMs), end)
	}
	list, err := c.Game.ListEvents(bg, &ovenv1.ListEventsRequest{PlayerId: id})
	if err != nil || len(list.Events) != 1 || list.Events[0].Id != ev.Id || list.Events[0].Status != "running" {
		t.Errorf("player's events %v (%v), want the running event", list, err)
	}
	advanceTo(t, c, end)
	play("at the end", true)
	if l := livesOf(t, c, id); l.InfiniteUntilMs != 0 {
		t.Errorf("after the end: infinite until %v", time.UnixMilli(l.InfiniteUntilMs))
	}
}

// A lives_max event raises every player's maximum on every shard within seconds of its
// creation (no write per player), cancelling it restores the game data's, and each
// change is audited; only a publisher may schedule, and a bad event changes nothing.
func TestLivesMaxEventReachesEveryShardAndCancels(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{DevClock: true})
	pub := admLogin(t, c, "events-pub", admins.Publisher)
	viewer := admLogin(t, c, "events-viewer", admins.Viewer)
	adm := ovenv1.NewAdminClient(c.Router)
	var players []string
	owners := map[string]bool{}
	for i := 0; len(owners) < 3 && i < 64; i++ {
		id := guest(t, c, fmt.Sprintf("events-max-%02d", i))
		if o := c.Router.Owner(id).ID; !owners[o] {
			owners[o] = true
			players = append(players, id)
		}
	}
	base := livesOf(t, c, players[0]).Max
	now := gameNow(t, c)
	bad := &ovenv1.LiveEvent{Kind: "lives_max", Title: "", StartsAtMs: now.UnixMilli(), EndsAtMs: now.Add(-time.Hour).UnixMilli(), Value: 1000}
	r, err := adm.CreateLiveEvent(bg, &ovenv1.LiveEventRequest{Auth: pub, Event: bad})
	if err != nil || len(r.Problems) != 3 {
		t.Errorf("bad event: %v problems (%v), want title, ends_at and value", r.GetProblems(), err)
	}
	good := &ovenv1.LiveEvent{Kind: "lives_max", Title: "Big hearts", StartsAtMs: now.UnixMilli(), EndsAtMs: now.Add(time.Hour).UnixMilli(), Value: base + 4}
	if _, err := adm.CreateLiveEvent(bg, &ovenv1.LiveEventRequest{Auth: viewer, Event: good}); code(err) != oven.EForbidden {
		t.Errorf("a viewer scheduled an event: %v", err)
	}
	ev := createEvent(t, c, pub, good)
	waitMax := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for _, id := range players {
			for livesOf(t, c, id).Max != want {
				if time.Now().After(deadline) {
					t.Fatalf("player %s (shard %s): max %d, want %d within 5 s", id, c.Router.Owner(id).ID, livesOf(t, c, id).Max, want)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	waitMax(base + 4)
	patched, err := adm.UpdateLiveEvent(bg, &ovenv1.LiveEventPatch{Auth: pub, Id: ev.Id, Value: ptr(base + 2)})
	if err != nil || patched.Event.GetValue() != base+2 || patched.Event.GetTitle() != "Big hearts" {
		t.Fatalf("patch: %v (%v)", patched, err)
	}
	waitMax(base + 2)
	cancelled, err := adm.CancelLiveEvent(bg, &ovenv1.LiveEventIdRequest{Auth: pub, Id: ev.Id})
	if err != nil || cancelled.Event.GetStatus() != "cancelled" {
		t.Fatalf("cancel: %v (%v)", cancelled, err)
	}
	waitMax(base)
	if _, err := adm.UpdateLiveEvent(bg, &ovenv1.LiveEventPatch{Auth: pub, Id: ev.Id, Value: ptr(base + 1)}); code(err) != oven.EConflict {
		t.Errorf("patching a cancelled event: %v, want conflict", err)
	}
	var audited int
	if err := c.DB.QueryRow(bg, `SELECT count(*) FROM audit_log WHERE target = $1`, ev.Id).Scan(&audited); err != nil || audited != 3 {
		t.Errorf("%d audit rows (%v), want create, update and cancel", audited, err)
	}
	list, err := adm.ListLiveEvents(bg, &ovenv1.AdminRequest{Auth: viewer})
	if err != nil || len(list.Events) != 1 {
		t.Errorf("calendar %v (%v), want the one event", list, err)
	}
}

func ptr[T any](v T) *T { return &v }

// An operator's infinite-lives gift waits in the mailbox; accepting it starts the
// modifier for that player only, once however often the accept is repeated (also after
// a crash between the claim and the clear), and plays take no life until it ends.
func TestGiftedInfiniteLivesStartWhenAcceptedOnce(t *testing.T) {
	t.Parallel()
	crashOnce := make(chan struct{}, 1)
	crashOnce <- struct{}{}
	c := env.Start(t, shardtest.Options{DevClock: true, AfterCredit: func() error {
		select {
		case <-crashOnce:
			return errors.New("injected crash after the credit")
		default:
			return nil
		}
	}})
	adm := ovenv1.NewAdminClient(c.Router)
	op := admLogin(t, c, "events-gifter", admins.Operator)
	id, other := guest(t, c, "events-gift-receiver"), guest(t, c, "events-gift-other")
	for _, bad := range []*ovenv1.GiftPlayerRequest{
		{Auth: op, PlayerId: id, Kind: "infinite_lives", Amount: 1, DurationS: 59},
		{Auth: op, PlayerId: id, Kind: "infinite_lives", Amount: 2, DurationS: 3600},
		{Auth: op, PlayerId: id, Kind: "coins", Amount: 5, DurationS: 3600},
	} {
		if _, err := adm.GiftPlayer(bg, bad); code(err) != oven.EInvalid {
			t.Errorf("%v: %v, want invalid_argument", bad, err)
		}
	}
	g, err := adm.GiftPlayer(bg, &ovenv1.GiftPlayerRequest{Auth: op, PlayerId: id, Kind: "infinite_lives", Amount: 1, DurationS: 3600, Message: "enjoy"})
	if err != nil {
		t.Fatal(err)
	}
	box, err := c.Game.ListMailbox(bg, &ovenv1.PlayerRequest{PlayerId: id})
	if err != nil || len(box.Items) != 1 || box.Items[0].Kind != "infinite_lives" || box.Items[0].DurationS != 3600 || box.Items[0].Amount != 1 {
		t.Fatalf("mailbox %v (%v)", box, err)
	}
	if _, err := start(c, id); err != nil { // before accepting: a life is taken
		t.Fatal(err)
	}
	if _, err := c.Game.AcceptMail(bg, &ovenv1.AcceptMailRequest{PlayerId: id, MailId: g.MailId}); err == nil {
		t.Fatal("the injected crash did not happen")
	}
	now := gameNow(t, c)
	for range 2 { // the first finishes the crashed accept; the second finds it accepted
		if _, err := c.Game.AcceptMail(bg, &ovenv1.AcceptMailRequest{PlayerId: id, MailId: g.MailId}); err != nil {
			t.Fatal(err)
		}
	}
	l := livesOf(t, c, id)
	if until := time.UnixMilli(l.InfiniteUntilMs); until.Before(now.Add(59*time.Minute)) || until.After(now.Add(time.Hour)) {
		t.Fatalf("infinite until %v, want an hour after the accept (%v), counted once", until, now)
	}
	for range 3 {
		if _, err := start(c, id); err != nil {
			t.Fatal(err)
		}
	}
	if got := livesOf(t, c, id); got.Count != l.Count {
		t.Errorf("three plays under gifted infinite lives: %d → %d lives", l.Count, got.Count)
	}
	if o := livesOf(t, c, other); o.InfiniteUntilMs != 0 {
		t.Errorf("another player has infinite lives until %v", time.UnixMilli(o.InfiniteUntilMs))
	}
	advanceTo(t, c, time.UnixMilli(l.InfiniteUntilMs))
	before := livesOf(t, c, id)
	if _, err := start(c, id); err != nil {
		t.Fatal(err)
	}
	if after := livesOf(t, c, id); after.Count != before.Count-1 || after.InfiniteUntilMs != 0 {
		t.Errorf("after the gift ended: %d → %d lives, infinite until %d", before.Count, after.Count, after.InfiniteUntilMs)
	}
}

// Device tokens: up to five live per player, registering one again revives it without
// counting twice, removing one frees its place, and /v1/me counts them.
func TestPushTokensPerPlayer(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{})
	id := guest(t, c, "events-push-tokens")
	reg := func(platform, token string) (int64, error) {
		r, err := c.Game.RegisterPushToken(bg, &ovenv1.PushTokenRequest{PlayerId: id, Platform: platform, Token: token})
		return r.GetPushTokens(), err
	}
	for i := range 5 {
		if n, err := reg("apns", fmt.Sprintf("apns-token-%02d", i)); err != nil || n != int64(i+1) {
			t.Fatalf("token %d: %d tokens (%v)", i, n, err)
		}
	}
	if n, err := reg("apns", "apns-token-00"); err != nil || n != 5 {
		t.Errorf("registering a held token again: %d tokens (%v), want 5", n, err)
	}
	if _, err := reg("fcm", "fcm-token-six"); code(err) != oven.EConflict {
		t.Errorf("a sixth token: %v, want conflict", err)
	}
	if _, err := reg("hms", "token-of-another-kind"); code(err) != oven.EInvalid {
		t.Errorf("an unknown platform: %v, want invalid_argument", err)
	}
	r, err := c.Game.RemovePushToken(bg, &ovenv1.PushTokenRequest{PlayerId: id, Platform: "apns", Token: "apns-token-03"})
	if err != nil || r.PushTokens != 4 {
		t.Fatalf("remove: %v (%v)", r, err)
	}
	if n, err := reg("fcm", "fcm-token-six"); err != nil || n != 5 {
		t.Errorf("after a removal: %d tokens (%v), want 5", n, err)
	}
	if p := me(t, c, id); p.PushTokens != 5 {
		t.Errorf("/me counts %d tokens, want 5", p.PushTokens)
	}
	if _, err := c.Game.RegisterPushToken(bg, &ovenv1.PushTokenRequest{PlayerId: "999999", Platform: "fcm", Token: "fcm-token-nobody"}); code(err) != oven.ENotFound {
		t.Errorf("a token for nobody: %v, want not_found", err)
	}
}
