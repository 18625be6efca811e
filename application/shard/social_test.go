package shard_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/proto/ovenv1"
)

func befriend(t *testing.T, c *shardtest.Cluster, a, b string) {
	t.Helper()
	if _, err := c.Game.AddFriend(bg, &ovenv1.FriendRequest{PlayerId: a, FriendId: b}); err != nil {
		t.Fatal(err)
	}
}

func friendIDs(t *testing.T, c *shardtest.Cluster, id string) []string {
	t.Helper()
	l, err := c.Game.ListFriends(bg, &ovenv1.PlayerRequest{PlayerId: id})
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, f := range l.Friends {
		out = append(out, f.PlayerId)
	}
	return out
}

func mailbox(t *testing.T, c *shardtest.Cluster, id string) []*ovenv1.MailItem {
	t.Helper()
	m, err := c.Game.ListMailbox(bg, &ovenv1.PlayerRequest{PlayerId: id})
	if err != nil {
		t.Fatal(err)
	}
	return m.Items
}

func advance(t *testing.T, c *shardtest.Cluster, d time.Duration) {
	t.Helper()
	if _, err := c.Game.AdvanceClock(bg, &ovenv1.AdvanceClockRequest{AdvanceMs: d.Milliseconds()}); err != nil {
		t.Fatal(err)
	}
}

func TestFriendsAreMutual(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{})
	a, b, x := guest(t, c, "friends-a-device"), guest(t, c, "friends-b-device"), guest(t, c, "friends-x-device")
	befriend(t, c, a, b)
	befriend(t, c, a, b) // again: a no-op
	if diff := cmp.Diff([]string{b}, friendIDs(t, c, a)); diff != "" {
		t.Errorf("a's friends (-want +got)\n%s", diff)
	}
	// b's list lives on b's owner: it must see the friendship at once.
	if diff := cmp.Diff([]string{a}, friendIDs(t, c, b)); diff != "" {
		t.Errorf("b's friends (-want +got)\n%s", diff)
	}
	if _, err := c.Game.RemoveFriend(bg, &ovenv1.FriendRequest{PlayerId: b, FriendId: a}); err != nil {
		t.Fatal(err)
	}
	if got := friendIDs(t, c, a); len(got) != 0 {
		t.Errorf("after removal a still has %v", got)
	}
	befriend(t, c, b, a)
	if diff := cmp.Diff([]string{b}, friendIDs(t, c, a)); diff != "" {
		t.Errorf("befriended again (-want +got)\n%s", diff)
	}
	for _, tt := range []struct {
		name, a, b, code string
	}{
		{"self", x, x, oven.EInvalid},
		{"unknown player", x, "987654", oven.ENotFound},
	} {
		if _, err := c.Game.AddFriend(bg, &ovenv1.FriendRequest{PlayerId: tt.a, FriendId: tt.b}); code(err) != tt.code {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.code)
		}
	}
}

func TestFriendLimit(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{FriendLimit: 3})
	hub := guest(t, c, "limit-hub-device")
	for i := range 3 {
		befriend(t, c, hub, guest(t, c, fmt.Sprintf("limit-spoke-%d", i)))
	}
	extra := guest(t, c, "limit-extra-device")
	if _, err := c.Game.AddFriend(bg, &ovenv1.FriendRequest{PlayerId: extra, FriendId: hub}); code(err) != oven.EConflict {
		t.Errorf("4th friend: %v, want conflict", err)
	}
}

func TestReciprocalAddsNeverDeadlock(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{})
	const pairs = 100
	ids := make([]string, 2*pairs)
	for i := range ids {
		ids[i] = guest(t, c, fmt.Sprintf("reciprocal-%04d", i))
	}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for p := range pairs {
		a, b := ids[2*p], ids[2*p+1]
		// Both directions at the same moment, plus a ring of cross-pair adds so that
		// transactions contend on shared rows in every order.
		next := ids[(2*p+2)%len(ids)]
		for _, req := range []*ovenv1.FriendRequest{{PlayerId: a, FriendId: b}, {PlayerId: b, FriendId: a}, {PlayerId: b, FriendId: next}, {PlayerId: next, FriendId: b}} {
			wg.Go(func() {
				// A deadlock would be refused by PostgreSQL's detector and a stall would run
				// into this deadline; a slow, loaded CI machine must not count as either.
				ctx, cancel := context.WithTimeout(bg, 30*time.Second)
				defer cancel()
				if _, err := c.Game.AddFriend(ctx, req); err != nil {
					failed.Add(1)
					t.Errorf("add %s→%s: %v", req.PlayerId, req.FriendId, err)
				}
			})
		}
	}
	wg.Wait()
	var rows int
	c.DB.QueryRow(bg, `SELECT count(*) FROM friendships WHERE removed_at IS NULL`).Scan(&rows)
	if rows != 4*pairs {
		t.Errorf("%d friendship rows, want %d", rows, 4*pairs)
	}
}

func TestSendLifeCooldownAndGiftPoints(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{DevClock: true})
	a, b, stranger := guest(t, c, "send-a-device"), guest(t, c, "send-b-device"), guest(t, c, "send-s-device")
	if _, err := c.Game.SendLife(bg, &ovenv1.FriendRequest{PlayerId: a, FriendId: stranger}); code(err) != oven.ENotFriend {
		t.Errorf("to a stranger: %v, want not_friend", err)
	}
	befriend(t, c, a, b)
	sent, err := c.Game.SendLife(bg, &ovenv1.FriendRequest{PlayerId: a, FriendId: b})
	if err != nil {
		t.Fatal(err)
	}
	if sent.GiftPoints != 10 {
		t.Errorf("gift points %d, want 10", sent.GiftPoints)
	}
	_, err = c.Game.SendLife(bg, &ovenv1.FriendRequest{PlayerId: a, FriendId: b})
	if code(err) != oven.EAlreadySent {
		t.Fatalf("second send: %v, want already_sent", err)
	}
	if ra := oven.RetryAfter(grpcerr.FromStatus(err)); ra < 3590*time.Second || ra > 3600*time.Second {
		t.Errorf("retry after %v, want about an hour", ra)
	}
	fl, _ := c.Game.ListFriends(bg, &ovenv1.PlayerRequest{PlayerId: a})
	if f := fl.Friends[0]; f.CanSendLife || f.NextSendAtMs != sent.NextSendAtMs {
		t.Errorf("friend state %+v, want cannot send until %d", f, sent.NextSendAtMs)
	}
	items := mailbox(t, c, b)
	if len(items) != 1 || items[0].Kind != "life" || items[0].Amount != 1 || items[0].FromPlayerId != a {
		t.Fatalf("b's mailbox: %v", items)
	}
	advance(t, c, time.Hour)
	again, err := c.Game.SendLife(bg, &ovenv1.FriendRequest{PlayerId: a, FriendId: b})
	if err != nil {
		t.Fatalf("after the cooldown: %v", err)
	}
	if again.GiftPoints != 20 || me(t, c, a).GiftPoints != 20 {
		t.Errorf("gift points %d, want 20", again.GiftPoints)
	}
	if n := len(mailbox(t, c, b)); n != 2 {
		t.Errorf("b has %d items, want 2", n)
	}
}

func TestTwentySendersOneReceiverThenParallelAcceptAll(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{})
	rcv := guest(t, c, "twenty-receiver")
	senders := make([]string, 20)
	for i := range senders {
		senders[i] = guest(t, c, fmt.Sprintf("twenty-sender-%02d", i))
		befriend(t, c, senders[i], rcv)
	}
	var wg sync.WaitGroup
	for _, s := range senders {
		wg.Go(func() {
			if _, err := c.Game.SendLife(bg, &ovenv1.FriendRequest{PlayerId: s, FriendId: rcv}); err != nil {
				t.Errorf("send from %s: %v", s, err)
			}
		})
	}
	wg.Wait()
	if n := len(mailbox(t, c, rcv)); n != 20 {
		t.Fatalf("mailbox has %d items, want 20", n)
	}
	var total atomic.Int64
	for range 10 {
		wg.Go(func() {
			r, err := c.Game.AcceptAllMail(bg, &ovenv1.PlayerRequest{PlayerId: rcv})
			if err != nil {
				t.Error(err)
				return
			}
			total.Add(r.Accepted)
		})
	}
	wg.Wait()
	if total.Load() != 20 {
		t.Errorf("accept-alls accepted %d in all, want 20", total.Load())
	}
	if l := me(t, c, rcv).Lives; l.Count != 25 {
		t.Errorf("lives = %d, want 5 + 20", l.Count)
	}
	if n := len(mailbox(t, c, rcv)); n != 0 {
		t.Errorf("%d items left", n)
	}
}

func TestAcceptIsExactlyOnceAcrossACrash(t *testing.T) {
	t.Parallel()
	var armed atomic.Bool
	armed.Store(true)
	c := env.Start(t, shardtest.Options{AfterClaimMarked: func() error {
		if armed.Load() {
			return errors.New("injected crash")
		}
		return nil
	}})
	a, b := guest(t, c, "crash-accept-a"), guest(t, c, "crash-accept-b")
	befriend(t, c, a, b)
	if _, err := c.Game.SendLife(bg, &ovenv1.FriendRequest{PlayerId: a, FriendId: b}); err != nil {
		t.Fatal(err)
	}
	id := mailbox(t, c, b)[0].Id
	if _, err := c.Game.AcceptMail(bg, &ovenv1.AcceptMailRequest{PlayerId: b, MailId: id}); err == nil {
		t.Fatal("accept succeeded despite the injected crash")
	}
	armed.Store(false)
	// The item is being claimed: not listed, and the next operation finishes the claim.
	if items := mailbox(t, c, b); len(items) != 0 {
		t.Errorf("claimed item still listed: %v", items)
	}
	for range 3 { // retries of the same accept: the same 200, never a second life
		r, err := c.Game.AcceptMail(bg, &ovenv1.AcceptMailRequest{PlayerId: b, MailId: id})
		if err != nil {
			t.Fatalf("retried accept: %v", err)
		}
		if r.Lives.Count != 6 {
			t.Errorf("lives = %d, want 6", r.Lives.Count)
		}
	}
	if _, err := c.Game.AcceptMail(bg, &ovenv1.AcceptMailRequest{PlayerId: b, MailId: "unknown"}); code(err) != oven.ENotFound {
		t.Errorf("unknown id: %v, want not_found", err)
	}
}

func TestCrashAfterCreditCreditsOnce(t *testing.T) {
	t.Parallel()
	var armed atomic.Bool
	armed.Store(true)
	c := env.Start(t, shardtest.Options{AfterCredit: func() error {
		if armed.Swap(false) {
			return errors.New("injected crash")
		}
		return nil
	}})
	a, b := guest(t, c, "credit-crash-a"), guest(t, c, "credit-crash-b")
	befriend(t, c, a, b)
	if _, err := c.Game.SendLife(bg, &ovenv1.FriendRequest{PlayerId: a, FriendId: b}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	coins := &ovenv1.MailItem{Id: oven.NewID(now), Kind: "coins", Amount: 70, SentAtMs: now.UnixMilli(), ExpiresAtMs: now.Add(time.Hour).UnixMilli()}
	if _, err := c.Game.DeliverMail(bg, &ovenv1.DeliverMailRequest{PlayerId: b, Item: coins}); err != nil {
		t.Fatal(err)
	}
	// The life and coins are credited, then the process "dies" before the mailbox
	// forgets them: the next accept credits them again, which must change nothing.
	if _, err := c.Game.AcceptAllMail(bg, &ovenv1.PlayerRequest{PlayerId: b}); err == nil {
		t.Fatal("accept-all succeeded despite the injected crash")
	}
	r, err := c.Game.AcceptAllMail(bg, &ovenv1.PlayerRequest{PlayerId: b})
	if err != nil {
		t.Fatal(err)
	}
	if r.Lives.Count != 6 || r.Coins != 1070 {
		t.Errorf("lives %d coins %d, want 6 and 1070", r.Lives.Count, r.Coins)
	}
	checkWallet(t, c, b)
}

func TestMailExpires(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{DevClock: true})
	a, b := guest(t, c, "expiry-a-device"), guest(t, c, "expiry-b-device")
	befriend(t, c, a, b)
	if _, err := c.Game.SendLife(bg, &ovenv1.FriendRequest{PlayerId: a, FriendId: b}); err != nil {
		t.Fatal(err)
	}
	id := mailbox(t, c, b)[0].Id
	advance(t, c, 7*24*time.Hour+time.Second)
	if items := mailbox(t, c, b); len(items) != 0 {
		t.Errorf("expired mail is shown: %v", items)
	}
	if _, err := c.Game.AcceptMail(bg, &ovenv1.AcceptMailRequest{PlayerId: b, MailId: id}); code(err) != oven.ENotFound {
		t.Errorf("accept expired: %v, want not_found", err)
	}
	r, err := c.Game.AcceptAllMail(bg, &ovenv1.PlayerRequest{PlayerId: b})
	if err != nil || r.Accepted != 0 {
		t.Errorf("accept-all: %v, %v", r, err)
	}
}

func TestMailboxFullKeepsTheCooldown(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{})
	a, b := guest(t, c, "full-a-device"), guest(t, c, "full-b-device")
	befriend(t, c, a, b)
	now := time.Now()
	for i := range 200 {
		_, err := c.Game.DeliverMail(bg, &ovenv1.DeliverMailRequest{PlayerId: b, EnforceCapacity: true, Item: &ovenv1.MailItem{
			Id: oven.NewID(now), Kind: "coins", Amount: 1, SentAtMs: now.UnixMilli() + int64(i), ExpiresAtMs: now.Add(time.Hour).UnixMilli()}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Game.SendLife(bg, &ovenv1.FriendRequest{PlayerId: a, FriendId: b}); code(err) != oven.EMailboxFull {
		t.Fatalf("send to a full mailbox: %v, want mailbox_full", err)
	}
	fl, _ := c.Game.ListFriends(bg, &ovenv1.PlayerRequest{PlayerId: a})
	if !fl.Friends[0].CanSendLife {
		t.Error("the failed send consumed the cooldown")
	}
	if me(t, c, a).GiftPoints != 0 {
		t.Error("a failed send earned gift points")
	}
	r, err := c.Game.AcceptAllMail(bg, &ovenv1.PlayerRequest{PlayerId: b})
	if err != nil || r.Accepted != 200 || r.Coins != 1200 {
		t.Fatalf("accept-all: %+v, %v; want 200 accepted and 1200 coins", r, err)
	}
	checkWallet(t, c, b)
	if _, err := c.Game.SendLife(bg, &ovenv1.FriendRequest{PlayerId: a, FriendId: b}); err != nil {
		t.Errorf("send after emptying: %v", err)
	}
}

func TestDeliveryIsIdempotent(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{})
	b := guest(t, c, "idem-b-device")
	now := time.Now()
	item := &ovenv1.MailItem{Id: oven.NewID(now), Kind: "coins", Amount: 50, Message: "sorry for the downtime",
		SentAtMs: now.UnixMilli(), ExpiresAtMs: now.Add(time.Hour).UnixMilli()}
	for i := range 3 {
		r, err := c.Game.DeliverMail(bg, &ovenv1.DeliverMailRequest{PlayerId: b, Item: item})
		if err != nil || r.Delivered != (i == 0) {
			t.Fatalf("delivery %d: %v, %v", i, r, err)
		}
	}
	if _, err := c.Game.AcceptMail(bg, &ovenv1.AcceptMailRequest{PlayerId: b, MailId: item.Id}); err != nil {
		t.Fatal(err)
	}
	// Redelivered after it was accepted (a sender's retry): still only once.
	if r, err := c.Game.DeliverMail(bg, &ovenv1.DeliverMailRequest{PlayerId: b, Item: item}); err != nil || r.Delivered {
		t.Fatalf("redelivery after accept: %v, %v", r, err)
	}
	if coins := checkWallet(t, c, b); coins != 1050 {
		t.Errorf("coins = %d, want 1050", coins)
	}
}

func TestLeaderboardsAndWeekRollover(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{DevClock: true})
	ids := make([]string, 4)
	for i := range ids {
		ids[i] = guest(t, c, fmt.Sprintf("board-device-%d", i))
	}
	me0 := ids[0]
	befriend(t, c, me0, ids[1])
	befriend(t, c, me0, ids[2])
	// ids[3] is not a friend. Scores: 1 and 3 tie at 30000 (1 first), 2 has 20000.
	// Rejected and lower scores never lower a best.
	playAndSettle(t, c, ids[1], 30_000)
	playAndSettle(t, c, ids[3], 30_000)
	playAndSettle(t, c, ids[2], 20_000)
	playAndSettle(t, c, ids[1], 10_000)
	type row struct {
		Rank  int64
		ID    string
		Score int64
	}
	rows := func(lb *ovenv1.Leaderboard) []row {
		out := []row{}
		for _, e := range lb.Entries {
			out = append(out, row{e.Rank, e.PlayerId, e.Score})
		}
		return out
	}
	fr, err := c.Game.FriendsLeaderboard(bg, &ovenv1.PlayerRequest{PlayerId: me0})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]row{{1, ids[1], 30_000}, {2, ids[2], 20_000}}, rows(fr)); diff != "" {
		t.Errorf("friends board (-want +got)\n%s", diff)
	}
	if fr.Entries[0].Name != "Guest"+ids[1] {
		t.Errorf("name %q", fr.Entries[0].Name)
	}
	top, err := c.Game.GlobalLeaderboard(bg, &ovenv1.GlobalLeaderboardRequest{PlayerId: me0, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]row{{1, ids[1], 30_000}, {2, ids[3], 30_000}}, rows(top)); diff != "" {
		t.Errorf("global top 2: ties go to who reached it first (-want +got)\n%s", diff)
	}
	around, err := c.Game.AroundMe(bg, &ovenv1.PlayerRequest{PlayerId: ids[2]})
	if err != nil {
		t.Fatal(err)
	}
	if around.Rank != 3 || around.Score != 20_000 || len(around.Entries) != 3 {
		t.Errorf("around me: rank %d score %d entries %d", around.Rank, around.Score, len(around.Entries))
	}
	// Next Monday 00:00 in Seoul starts an empty week.
	advance(t, c, time.Duration(fr.ResetsAtMs-time.Now().UnixMilli())*time.Millisecond+time.Minute)
	fr2, err := c.Game.FriendsLeaderboard(bg, &ovenv1.PlayerRequest{PlayerId: me0})
	if err != nil {
		t.Fatal(err)
	}
	if fr2.Week == fr.Week || len(fr2.Entries) != 0 {
		t.Errorf("after rollover: week %s (was %s), %d entries", fr2.Week, fr.Week, len(fr2.Entries))
	}
	if p := me(t, c, ids[1]); p.WeeklyBest != 0 || p.BestScore != 30_000 {
		t.Errorf("after rollover: weekly %d, all-time %d", p.WeeklyBest, p.BestScore)
	}
	ttl, _ := c.Redis.TTL(bg, c.Keys.Board(fr.Week)).Result()
	if ttl <= 0 {
		t.Errorf("old week's key has no expiry (ttl %v)", ttl)
	}
}

// playAndSettle plays one honest play scoring score.
func playAndSettle(t *testing.T, c *shardtest.Cluster, id string, score int64) {
	t.Helper()
	grantLife(t, c, id)
	p, err := start(c, id)
	if err != nil {
		t.Fatal(err)
	}
	advance(t, c, 30*time.Second)
	if _, err := c.Game.SettlePlay(bg, &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: p.PlayId, Score: score, DurationMs: 25_000}); err != nil {
		t.Fatal(err)
	}
}
