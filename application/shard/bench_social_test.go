package shard_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/leaderboard"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/proto/ovenv1"
)

func guests(b *testing.B, c *shardtest.Cluster, prefix string, n int) []string {
	ids := make([]string, n)
	parallel(n, 16, func(_, i int) error {
		r, err := c.Game.AuthGuest(bg, &ovenv1.AuthGuestRequest{DeviceId: fmt.Sprintf("%s-%06d", prefix, i)})
		if err == nil {
			ids[i] = r.PlayerId
		}
		return err
	}, b)
	return ids
}

// BenchmarkSendLife: 32 senders, each with up to 100 friends, send one life per pair
// (sender's owner → receiver's owner over gRPC, Couchbase CAS write, Redis cooldown).
//
//	go test -run '^$' -bench SendLife -benchtime 2000x ./application/shard/
func BenchmarkSendLife(b *testing.B) {
	c := env.Start(b, shardtest.Options{})
	const senders = 32
	perSender := min(max(b.N/senders+1, 1), 100)
	snd := guests(b, c, "bench-sender", senders)
	rcv := guests(b, c, "bench-receiver", perSender)
	parallel(senders*perSender, 16, func(_, i int) error {
		_, err := c.Game.AddFriend(bg, &ovenv1.FriendRequest{PlayerId: snd[i%senders], FriendId: rcv[i/senders]})
		return err
	}, b)
	if b.N > senders*perSender {
		b.Fatalf("at most %d sends", senders*perSender)
	}
	b.ResetTimer()
	start := time.Now()
	parallel(b.N, senders, func(w, i int) error {
		_, err := c.Game.SendLife(bg, &ovenv1.FriendRequest{PlayerId: snd[w], FriendId: rcv[i/senders]})
		return err
	}, b)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sends/s")
}

// BenchmarkAcceptAll200: accept-all of a full 200-item mailbox (100 lives, 100 coin
// gifts), 8 players at a time. ns/op is per accept-all.
//
//	go test -run '^$' -bench AcceptAll200 -benchtime 40x ./application/shard/
func BenchmarkAcceptAll200(b *testing.B) {
	c := env.Start(b, shardtest.Options{})
	ids := guests(b, c, "bench-acceptor", b.N)
	now := time.Now()
	parallel(b.N*200, 32, func(_, i int) error {
		kind := "life"
		if i%2 == 1 {
			kind = "coins"
		}
		_, err := c.Game.DeliverMail(bg, &ovenv1.DeliverMailRequest{PlayerId: ids[i/200], Item: &ovenv1.MailItem{
			Id: oven.NewID(now), Kind: kind, Amount: 1, SentAtMs: now.UnixMilli() + int64(i), ExpiresAtMs: now.Add(time.Hour).UnixMilli()}})
		return err
	}, b)
	b.ResetTimer()
	start := time.Now()
	parallel(b.N, 8, func(_, i int) error {
		r, err := c.Game.AcceptAllMail(bg, &ovenv1.PlayerRequest{PlayerId: ids[i]})
		if err == nil && r.Accepted != 200 {
			err = fmt.Errorf("accepted %d", r.Accepted)
		}
		return err
	}, b)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "accept-alls/s")
}

// BenchmarkFriendsLeaderboard200: the friends leaderboard of players with 200 friends
// who all scored this week, 32 concurrent callers.
//
//	go test -run '^$' -bench FriendsLeaderboard200 -benchtime 5000x ./application/shard/
func BenchmarkFriendsLeaderboard200(b *testing.B) {
	c := env.Start(b, shardtest.Options{})
	const callers = 32
	fr := guests(b, c, "bench-board-friend", 200)
	me := guests(b, c, "bench-board-me", callers)
	parallel(callers*200, 16, func(_, i int) error {
		_, err := c.Game.AddFriend(bg, &ovenv1.FriendRequest{PlayerId: me[i/200], FriendId: fr[i%200]})
		return err
	}, b)
	now := time.Now()
	for i, id := range append(fr, me...) {
		c.Redis.ZAdd(bg, c.Keys.Board(leaderboard.WeekOf(now).ID), redisZ(leaderboard.Encode(int64(1000+i), now), id))
	}
	b.ResetTimer()
	start := time.Now()
	parallel(b.N, callers, func(w, _ int) error {
		lb, err := c.Game.FriendsLeaderboard(bg, &ovenv1.PlayerRequest{PlayerId: me[w]})
		if err == nil && len(lb.Entries) != 201 {
			err = fmt.Errorf("%d entries", len(lb.Entries))
		}
		return err
	}, b)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "boards/s")
}
