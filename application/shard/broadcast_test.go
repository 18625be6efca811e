package shard_test

import (
	"testing"
	"time"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/admins"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/proto/ovenv1"
)

func TestBroadcastReachesEveryPlayerOnce(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{DevClock: true})
	adm := ovenv1.NewAdminClient(c.Router)
	op := admLogin(t, c, "broadcaster", admins.Operator)
	early := guest(t, c, "broadcast-early")
	coins, err := adm.CreateBroadcast(bg, &ovenv1.AdminBroadcastRequest{Auth: op, Kind: "coins", Amount: 100,
		Message: "Thanks for playing", DurationS: 3600})
	if err != nil {
		t.Fatal(err)
	}
	lifeGift, err := adm.CreateBroadcast(bg, &ovenv1.AdminBroadcastRequest{Auth: op, Kind: "life", Amount: 2,
		Message: "Lives on us", DurationS: 7200})
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
	list, err := adm.ListBroadcasts(bg, &ovenv1.AdminRequest{Auth: op})
	if err != nil {
		t.Fatal(err)
	}
	if list.Broadcasts[0].CreatedBy != "broadcaster" {
		t.Errorf("created by %q", list.Broadcasts[0].CreatedBy)
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
	adm := ovenv1.NewAdminClient(c.Router)
	op := admLogin(t, c, "bad-broadcaster", admins.Operator)
	viewer := admLogin(t, c, "just-looking", admins.Viewer)
	if _, err := adm.CreateBroadcast(bg, &ovenv1.AdminBroadcastRequest{Auth: viewer, Kind: "coins", Amount: 1, DurationS: 3600}); code(err) != oven.EForbidden {
		t.Errorf("viewer: %v, want forbidden", err)
	}
	for _, req := range []*ovenv1.AdminBroadcastRequest{
		{Kind: "gems", Amount: 1, DurationS: 3600},
		{Kind: "life", Amount: 11, DurationS: 3600},
		{Kind: "coins", Amount: 0, DurationS: 3600},
		{Kind: "coins", Amount: 5, DurationS: 10},
		{Kind: "coins", Amount: 5, DurationS: 31 * 86400},
		{Kind: "coins", Amount: 5, DurationS: 3600 + 1<<55}, // an hour once multiplied by 10^9 in 64 bits
		{Kind: "coins", Amount: 5, DurationS: -1},
	} {
		req.Auth = op
		if _, err := adm.CreateBroadcast(bg, req); code(err) != oven.EInvalid {
			t.Errorf("%v: %v, want invalid_argument", req, err)
		}
	}
	list, _ := adm.ListBroadcasts(bg, &ovenv1.AdminRequest{Auth: op})
	if len(list.Broadcasts) != 0 {
		t.Errorf("refused broadcasts were stored: %v", list.Broadcasts)
	}
}

func TestOperatorGiftsOnePlayer(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{})
	adm := ovenv1.NewAdminClient(c.Router)
	op := admLogin(t, c, "gifter", admins.Operator)
	editor := admLogin(t, c, "not-an-operator", admins.Publisher)
	id := guest(t, c, "gift-receiver")
	if _, err := adm.GiftPlayer(bg, &ovenv1.GiftPlayerRequest{Auth: editor, PlayerId: id, Kind: "coins", Amount: 5}); code(err) != oven.EForbidden {
		t.Errorf("publisher gifting: %v, want forbidden", err)
	}
	for _, bad := range []*ovenv1.GiftPlayerRequest{
		{Auth: op, PlayerId: id, Kind: "coins", Amount: 0},
		{Auth: op, PlayerId: id, Kind: "life", Amount: 50},
		{Auth: op, PlayerId: "999999", Kind: "coins", Amount: 5},
	} {
		if _, err := adm.GiftPlayer(bg, bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	g, err := adm.GiftPlayer(bg, &ovenv1.GiftPlayerRequest{Auth: op, PlayerId: id, Kind: "coins", Amount: 250, Message: "sorry"})
	if err != nil {
		t.Fatal(err)
	}
	view, err := adm.GetPlayer(bg, &ovenv1.AdminPlayerRequest{Auth: op, PlayerId: id})
	if err != nil {
		t.Fatal(err)
	}
	if len(view.Mailbox) != 1 || view.Mailbox[0].Id != g.MailId || view.Mailbox[0].Message != "sorry" {
		t.Fatalf("lookup mailbox: %v", view.Mailbox)
	}
	r, err := c.Game.AcceptMail(bg, &ovenv1.AcceptMailRequest{PlayerId: id, MailId: g.MailId})
	if err != nil || r.Coins != 1250 {
		t.Fatalf("accept: %+v, %v", r, err)
	}
	checkWallet(t, c, id)
	audit, err := adm.ListAudit(bg, &ovenv1.ListAuditRequest{Auth: op, Limit: 5})
	if err != nil || len(audit.Entries) == 0 || audit.Entries[0].Action != "player.gift" || audit.Entries[0].Target != id {
		t.Errorf("audit: %v, %v", audit, err)
	}
}
