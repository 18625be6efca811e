package shard_test

import (
	"crypto/ecdsa"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovengames/oven/application/admins"
	"github.com/ovengames/oven/application/push"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/deploy/pushsink"
	"github.com/ovengames/oven/proto/ovenv1"
)

// pushCluster starts a dev-clock cluster whose shards send through a push sink.
func pushCluster(t *testing.T) (*shardtest.Cluster, *pushsink.Server) {
	t.Helper()
	p8, pub, err := pushsink.NewAPNsAuthKey()
	if err != nil {
		t.Fatal(err)
	}
	sink := pushsink.StartForTest(t, pushsink.Config{APNsKeys: map[string]*ecdsa.PublicKey{"KEY0000001": pub}, APNsTeamID: "TEAM000001"})
	sa, err := sink.NewServiceAccount("oven-test")
	if err != nil {
		t.Fatal(err)
	}
	cfg := push.Config{
		APNs: &push.APNsConfig{AuthKey: p8, KeyID: "KEY0000001", TeamID: "TEAM000001", Topic: "com.oven.test",
			Host: sink.APNsHost(), RootCAs: sink.CertPool()},
		FCM: &push.FCMConfig{ServiceAccountJSON: sa, Endpoint: sink.FCMEndpoint(), RootCAs: sink.CertPool()},
	}
	return env.Start(t, shardtest.Options{DevClock: true, Push: cfg}), sink
}

func register(t *testing.T, c *shardtest.Cluster, id, platform, token string) {
	t.Helper()
	if _, err := c.Game.RegisterPushToken(bg, &ovenv1.PushTokenRequest{PlayerId: id, Platform: platform, Token: token}); err != nil {
		t.Fatal(err)
	}
}

// delivered waits until the sink has n deliveries to token.
func delivered(t *testing.T, sink *pushsink.Server, token string, n int) []pushsink.Delivery {
	t.Helper()
	var got []pushsink.Delivery
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got = got[:0]
		for _, d := range sink.Deliveries() {
			if d.DeviceToken == token {
				got = append(got, d)
			}
		}
		if len(got) >= n || time.Now().After(deadline) {
			break
		}
	}
	if len(got) != n {
		t.Fatalf("the sink has %d deliveries to %.12s…, want %d", len(got), token, n)
	}
	return got
}

// statuses lists the player's deliveries as "kind/platform/status", newest first.
func statuses(t *testing.T, c *shardtest.Cluster, auth *ovenv1.AdminAuth, id string) []string {
	t.Helper()
	r, err := ovenv1.NewAdminClient(c.Router).PlayerPushes(bg, &ovenv1.AdminPlayerRequest{Auth: auth, PlayerId: id})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range r.Deliveries {
		out = append(out, d.Kind+"/"+d.Platform+"/"+d.Status)
	}
	return out
}

// waitStatuses waits until the player's deliveries read want (in any order: the rows
// of one push share their time).
func waitStatuses(t *testing.T, c *shardtest.Cluster, auth *ovenv1.AdminAuth, id string, want ...string) {
	t.Helper()
	var got []string
	slices.Sort(want)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got = statuses(t, c, auth, id)
		if slices.Sort(got); slices.Equal(got, want) {
			return
		}
	}
	t.Fatalf("deliveries %v, want %v", got, want)
}

// A life received pushes life_received to each of the receiver's tokens through the real
// APNs and FCM protocols; a token the provider calls unregistered is disabled and never
// sent to again; a second life within 10 minutes pushes nothing, one after does.
func TestLifeReceivedPushCoalescesAndDisablesUnregisteredTokens(t *testing.T) {
	t.Parallel()
	c, sink := pushCluster(t)
	viewer := admLogin(t, c, "push-viewer", admins.Viewer)
	rcv := guest(t, c, "push-receiver")
	good, dead := pushsink.FakeAPNsToken(), pushsink.FakeFCMToken()
	if err := sink.SetUnregistered(pushsink.FCM, dead); err != nil {
		t.Fatal(err)
	}
	register(t, c, rcv, "apns", good)
	register(t, c, rcv, "fcm", dead)
	send := func(n int) {
		t.Helper()
		from := guest(t, c, fmt.Sprintf("push-sender-%d", n))
		befriend(t, c, from, rcv)
		if _, err := c.Game.SendLife(bg, &ovenv1.FriendRequest{PlayerId: from, FriendId: rcv}); err != nil {
			t.Fatal(err)
		}
	}

	send(1)
	d := delivered(t, sink, good, 1)[0]
	if d.Provider != pushsink.APNs || d.Status != 200 || d.Topic != "com.oven.test" {
		t.Errorf("APNs delivery %+v", d)
	}
	if d := delivered(t, sink, dead, 1)[0]; d.Reason != "UNREGISTERED" {
		t.Errorf("FCM delivery to the dead token: %+v", d)
	}
	waitStatuses(t, c, viewer, rcv, "life_received/apns/sent", "life_received/fcm/unregistered")
	var disabled int
	if err := c.DB.QueryRow(bg, `SELECT count(*) FROM push_tokens WHERE player_id = $1 AND disabled_at IS NOT NULL
		AND disabled_reason = 'unregistered' AND token = $2`, rcv, dead).Scan(&disabled); err != nil || disabled != 1 {
		t.Fatalf("the unregistered token is disabled: %d (%v)", disabled, err)
	}
	if n := me(t, c, rcv).PushTokens; n != 1 {
		t.Errorf("/me push_tokens = %d after the provider dropped one, want 1", n)
	}

	send(2) // within 10 minutes: coalesced
	time.Sleep(500 * time.Millisecond)
	if got := statuses(t, c, viewer, rcv); len(got) != 2 {
		t.Fatalf("a second life within 10 minutes queued pushes: %v", got)
	}
	advanceTo(t, c, gameNow(t, c).Add(push.CoalesceWindow))
	send(3)
	delivered(t, sink, good, 2)
	delivered(t, sink, dead, 1) // disabled: never again
	waitStatuses(t, c, viewer, rcv, "life_received/apns/sent", "life_received/apns/sent", "life_received/fcm/unregistered")
}

// A play that takes a life from a player with a token schedules lives_full at the
// instant the lives are full again, on the game clock: not a moment before.
func TestLivesFullPushAtTheRegenerationInstant(t *testing.T) {
	t.Parallel()
	c, sink := pushCluster(t)
	viewer := admLogin(t, c, "push-viewer", admins.Viewer)
	id := guest(t, c, "push-lives-full")
	token := pushsink.FakeAPNsToken()
	register(t, c, id, "apns", token)
	if _, err := start(c, id); err != nil {
		t.Fatal(err)
	}
	full := time.UnixMilli(me(t, c, id).Lives.NextLifeAtMs)
	if full.IsZero() || me(t, c, id).Lives.Count != me(t, c, id).Lives.Max-1 {
		t.Fatalf("lives after one play: %+v", me(t, c, id).Lives)
	}
	advanceTo(t, c, full.Add(-2*time.Second))
	time.Sleep(500 * time.Millisecond) // several sweeps
	if got := statuses(t, c, viewer, id); len(got) != 0 {
		t.Fatalf("pushed before the lives were full: %v", got)
	}
	advanceTo(t, c, full)
	waitStatuses(t, c, viewer, id, "lives_full/apns/sent")
	delivered(t, sink, token, 1)
}

// A push campaign reaches its audience at its send time: lives_full sends only to the
// players whose lives are full; the GMS counts it, and pre-warming plans for it and then
// holds the floor while it sends.
func TestCampaignReachesItsAudienceAndAsksForCapacity(t *testing.T) {
	t.Parallel()
	c, sink := pushCluster(t)
	pub := admLogin(t, c, "push-publisher", admins.Publisher)
	adm := ovenv1.NewAdminClient(c.Router)
	tokens := map[string]string{}
	var ids []string
	for i := range 4 {
		id := guest(t, c, fmt.Sprintf("push-campaign-%d", i))
		ids = append(ids, id)
		if i < 3 {
			tokens[id] = pushsink.FakeFCMToken()
			register(t, c, id, "fcm", tokens[id])
		}
	}
	at := gameNow(t, c).Add(20 * time.Minute).Truncate(time.Second)
	ev := createEvent(t, c, pub, &ovenv1.LiveEvent{Kind: "push", Title: "Come back", StartsAtMs: at.UnixMilli(),
		Message: "Your lives are waiting", Audience: "lives_full", ExpectedLoad: 3})

	capacity := func() *ovenv1.Capacity {
		t.Helper()
		r, err := adm.GetCapacity(bg, &ovenv1.AdminRequest{Auth: pub})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	waitFor(t, func() bool {
		u := capacity().Upcoming
		return len(u) == 1 && u[0].EventId == ev.Id && u[0].AtMs == at.Add(-10*time.Minute).UnixMilli() && u[0].Floor == 8
	})
	advanceTo(t, c, at.Add(-10*time.Minute))
	if _, err := start(c, ids[0]); err != nil { // not full at the send time: outside the audience
		t.Fatal(err)
	}
	waitFor(t, func() bool { r := capacity(); return r.Floor == 8 && strings.Contains(r.Reason, ev.Id) })
	if counts, err := adm.EventPushes(bg, &ovenv1.LiveEventIdRequest{Auth: pub, Id: ev.Id}); err != nil || counts.Sent+counts.Queued != 0 {
		t.Fatalf("counts before the send time: %v (%v)", counts, err)
	}

	advanceTo(t, c, at)
	waitFor(t, func() bool {
		r, err := adm.EventPushes(bg, &ovenv1.LiveEventIdRequest{Auth: pub, Id: ev.Id})
		return err == nil && r.Sent == 2 && r.Queued == 0 && r.Failed == 0
	})
	for _, id := range ids[1:3] {
		if d := delivered(t, sink, tokens[id], 1)[0]; d.Project != "oven-test" {
			t.Errorf("campaign delivery %+v", d)
		}
	}
	delivered(t, sink, tokens[ids[0]], 0)
	if _, err := adm.EventPushes(bg, &ovenv1.LiveEventIdRequest{Auth: pub, Id: "no-such-event"}); code(err) != "not_found" {
		t.Errorf("counts of an unknown event: %v", err)
	}
}

// A GMS gift broadcast tells every player with a token at once: a push campaign is
// scheduled for now in the broadcast's own transaction, and counted like any other.
func TestGiftBroadcastPushesEveryone(t *testing.T) {
	t.Parallel()
	c, sink := pushCluster(t)
	op := admLogin(t, c, "push-broadcaster", admins.Operator)
	adm := ovenv1.NewAdminClient(c.Router)
	id := guest(t, c, "push-broadcast")
	token := pushsink.FakeAPNsToken()
	register(t, c, id, "apns", token)
	if _, err := adm.CreateBroadcast(bg, &ovenv1.AdminBroadcastRequest{Auth: op, Kind: "coins", Amount: 50,
		Message: "Coins on us", DurationS: 3600}); err != nil {
		t.Fatal(err)
	}
	delivered(t, sink, token, 1)
	list, err := adm.ListLiveEvents(bg, &ovenv1.AdminRequest{Auth: op})
	if err != nil || len(list.Events) != 1 || list.Events[0].Kind != "push" || list.Events[0].Message != "Coins on us" {
		t.Fatalf("the calendar after a broadcast: %v (%v)", list, err)
	}
	waitFor(t, func() bool {
		r, err := adm.EventPushes(bg, &ovenv1.LiveEventIdRequest{Auth: op, Id: list.Events[0].Id})
		return err == nil && r.Sent == 1
	})
	waitStatuses(t, c, op, id, "campaign/apns/sent")
}

// A provider that answers "too many requests" gets the push again after a backoff; every
// push arrives in the end.
func TestRateLimitedPushesAreRetried(t *testing.T) {
	t.Parallel()
	c, sink := pushCluster(t)
	pub := admLogin(t, c, "push-retry-publisher", admins.Publisher)
	if err := sink.SetRateLimit(pushsink.FCM, pushsink.RateLimit{Requests: 1, Window: time.Second}); err != nil {
		t.Fatal(err)
	}
	var tokens []string
	for i := range 3 {
		tokens = append(tokens, pushsink.FakeFCMToken())
		register(t, c, guest(t, c, fmt.Sprintf("push-retry-%d", i)), "fcm", tokens[i])
	}
	ev := createEvent(t, c, pub, &ovenv1.LiveEvent{Kind: "push", Title: "Now", StartsAtMs: gameNow(t, c).UnixMilli(), Message: "Hello"})
	adm := ovenv1.NewAdminClient(c.Router)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		r, err := adm.EventPushes(bg, &ovenv1.LiveEventIdRequest{Auth: pub, Id: ev.Id})
		if err == nil && r.Sent == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counts %v (%v): not all sent within 30 s", r, err)
		}
	}
	var attempts int
	if err := c.DB.QueryRow(bg, `SELECT sum(attempts) FROM push_outbox WHERE event_id = $1`, ev.Id).Scan(&attempts); err != nil || attempts <= 3 {
		t.Fatalf("attempts %d (%v): the rate limit should have refused some sends", attempts, err)
	}
	rejected := 0
	for _, d := range sink.Deliveries() {
		if d.Status == 429 {
			rejected++
		}
	}
	if rejected == 0 {
		t.Fatal("the sink refused nothing")
	}
}
