package shard_test

import (
	"testing"
	"time"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/proto/ovenv1"
)

func TestBroadcastReachesEveryPlayerOnce(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{DevClock: true})
	early := guest(t, c, "broadcast-early")
	coins, err := c.Game.CreateBroadcast(bg, &ovenv1.CreateBroadcastRequest{Kind: "coins", Amount: 100,
		Message: "Thanks for playing", DurationS: 3600, CreatedBy: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	lifeGift, err := c.Game.CreateBroadcast(bg, &ovenv1.CreateBroadcastRequest{Kind: "life", Amount: 2,
		Message: "Lives on us", DurationS: 7200, CreatedBy: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	late := guest(t, c, "broadcast-late") // joins during the window
	// Every shard learns of a broadcast made on another within its refresh interval.
	for _, id := range []string{early, late} {
		waitFor(t, func() bool { return len(mailbox(t, c, id)) == 2 })
	}
	items := mailbox(t, c, late)
	if items[0].Id != lifeGift.Id || items[1].Id != coins.Id || items[1].Message != "Thanks for playing" {
		t.Errorf("mailbox: %v", items)
	}
	r, err := c.Game.AcceptAllMail(bg, &ovenv1.PlayerRequest{PlayerId: early})
	if err != nil || r.Accepted != 2 || r.Coins != 1100 || r.Lives.Count != 7 {
		t.Fatalf("accept-all: %+v, %v", r, err)
	}
	if r, err := c.Game.AcceptAllMail(bg, &ovenv1.PlayerRequest{PlayerId: early}); err != nil || r.Accepted != 0 {
		t.Fatalf("second accept-all: %+v, %v", r, err)
	}
	if r, err := c.Game.AcceptMail(bg, &ovenv1.AcceptMailRequest{PlayerId: early, MailId: coins.Id}); err != nil || r.Coins != 1100 {
		t.Fatalf("accept again by id: %+v, %v", r, err)
	}
	if n := len(mailbox(t, c, early)); n != 0 {
		t.Errorf("claimed broadcasts still listed: %d", n)
	}
	if _, err := c.Game.AcceptMail(bg, &ovenv1.AcceptMailRequest{PlayerId: late, MailId: coins.Id}); err != nil {
		t.Fatal(err)
	}
	checkWallet(t, c, early)
	checkWallet(t, c, late)
	list, err := c.Game.ListBroadcasts(bg, &ovenv1.ListBroadcastsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]int64{}
	for _, b := range list.Broadcasts {
		claims[b.Id] = b.Claims
	}
	if claims[coins.Id] != 2 || claims[lifeGift.Id] != 1 {
		t.Errorf("claim counts %v, want coins 2 and lives 1", claims)
	}
	// After its window a broadcast is gone for those who did not claim it.
	advance(t, c, 2*time.Hour)
	if n := len(mailbox(t, c, late)); n != 0 {
		t.Errorf("ended broadcast still listed: %d", n)
	}
	newcomer := guest(t, c, "broadcast-after")
	if n := len(mailbox(t, c, newcomer)); n != 0 {
		t.Errorf("a player who joined after the window sees %d items", n)
	}
}

func TestBroadcastRefusesBadInput(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{Shards: 1})
	for _, req := range []*ovenv1.CreateBroadcastRequest{
		{Kind: "gems", Amount: 1, DurationS: 3600, CreatedBy: "ops"},
		{Kind: "life", Amount: 11, DurationS: 3600, CreatedBy: "ops"},
		{Kind: "coins", Amount: 0, DurationS: 3600, CreatedBy: "ops"},
		{Kind: "coins", Amount: 5, DurationS: 10, CreatedBy: "ops"},
		{Kind: "coins", Amount: 5, DurationS: 31 * 86400, CreatedBy: "ops"},
	} {
		if _, err := c.Game.CreateBroadcast(bg, req); code(err) != oven.EInvalid {
			t.Errorf("%v: %v, want invalid_argument", req, err)
		}
	}
	list, _ := c.Game.ListBroadcasts(bg, &ovenv1.ListBroadcastsRequest{})
	if len(list.Broadcasts) != 0 {
		t.Errorf("refused broadcasts were stored: %v", list.Broadcasts)
	}
}
