package gms_test

import (
	"bytes"
	"crypto/ecdsa"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ovengames/oven/application/admins"
	"github.com/ovengames/oven/application/push"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/deploy/pushsink"
	"github.com/ovengames/oven/presentation/auth"
	"github.com/ovengames/oven/presentation/gms"
	"github.com/ovengames/oven/presentation/httpapi"
	"github.com/ovengames/oven/proto/ovenv1"
)

// newPushStack is newStack (one shard) whose shard sends pushes through a push sink
// that speaks APNs and FCM as the real services do.
func newPushStack(t *testing.T) (*stack, *pushsink.Server) {
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
	c := env.Start(t, shardtest.Options{Shards: 1, Push: push.Config{
		APNs: &push.APNsConfig{AuthKey: p8, KeyID: "KEY0000001", TeamID: "TEAM000001", Topic: "com.oven.test",
			Host: sink.APNsHost(), RootCAs: sink.CertPool()},
		FCM: &push.FCMConfig{ServiceAccountJSON: sa, Endpoint: sink.FCMEndpoint(), RootCAs: sink.CertPool()},
	}})
	signer, err := auth.NewSigner(bytes.Repeat([]byte{9}, 32), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	api := httpapi.New(httpapi.Config{Game: c.Game, Ready: c.Router.Ready, Tokens: signer, Logger: quiet})
	console := gms.New(gms.Config{Admin: ovenv1.NewAdminClient(c.Router), Logger: quiet})
	srv := httptest.NewServer(gms.Mount(console, api))
	t.Cleanup(srv.Close)
	return &stack{t: t, c: c, srv: srv}, sink
}

// putPushToken registers a device token as the game client does.
func (s *stack) putPushToken(token, platform, device string) {
	s.t.Helper()
	req, _ := http.NewRequest("PUT", s.srv.URL+"/v1/me/push-token",
		strings.NewReader(fmt.Sprintf(`{"platform":%q,"token":%q}`, platform, device)))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		body, _ := io.ReadAll(resp.Body)
		s.t.Fatalf("PUT /v1/me/push-token: %d %s", resp.StatusCode, body)
	}
}

// eventually polls cond (which may call t.Fatal) until it holds, for up to within.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
	}
}

type capacityJSON struct {
	Presentation struct {
		Floor   int     `json:"floor"`
		Current *int    `json:"current"`
		Reason  string  `json:"reason"`
		Until   *string `json:"until"`
	} `json:"presentation"`
	Upcoming []struct {
		EventID string `json:"event_id"`
		At      string `json:"at"`
		Floor   int    `json:"floor"`
	} `json:"upcoming"`
}

type deliveryJSON struct {
	ID       int64   `json:"id"`
	Kind     string  `json:"kind"`
	Platform string  `json:"platform"`
	Status   string  `json:"status"`
	SentAt   *string `json:"sent_at"`
	Error    string  `json:"error"`
}

// utcMinute is how the calendar shows a time: "2006-01-02 15:04 UTC".
func utcMinute(t *testing.T, iso string) string {
	t.Helper()
	at, err := time.Parse(time.RFC3339, iso)
	if err != nil {
		t.Fatal(err)
	}
	return at.UTC().Format("2006-01-02 15:04") + " UTC"
}

// TestPushesInABrowser drives what the console shows of push and pre-warming, as a
// viewer: a campaign sends through the sink to a player's two devices (one the provider
// calls unregistered) while pre-warming holds the floor for it and plans a raise for a
// later event. The calendar's Capacity panel shows the floor, its reason and the plan
// (named by the event's title), the campaign's row its counts, and the player's page
// both deliveries.
func TestPushesInABrowser(t *testing.T) {
	ctx := newBrowser(t)
	s, sink := newPushStack(t)
	s.addAdmin("pub", admins.Publisher)
	s.addAdmin("watcher", admins.Viewer)
	playerID, token := s.player("device-pushes-browser-test")
	quietID, _ := s.player("device-pushes-browser-test-quiet")
	good, dead := pushsink.FakeAPNsToken(), pushsink.FakeFCMToken()
	if err := sink.SetUnregistered(pushsink.FCM, dead); err != nil {
		t.Fatal(err)
	}
	s.putPushToken(token, "apns", good)
	s.putPushToken(token, "fcm", dead)
	dir := artifactDir(t)

	pub := s.browser()
	pub.login("pub")
	create := func(body string) string {
		t.Helper()
		r := pub.do("POST", "/gms/api/events", body)
		var created struct{ ID string }
		r.json(t, &created)
		if r.status != 201 || created.ID == "" {
			t.Fatalf("schedule %s: %d %s", body, r.status, r.body)
		}
		return created.ID
	}
	now := time.Now().UTC().Truncate(time.Second)
	later := now.Add(3 * time.Hour)
	campaign := create(fmt.Sprintf(`{"kind":"push","title":"Flash hearts","starts_at":%q,"message":"Hearts are on sale",
		"audience":"all","expected_load":3}`, now.Format(time.RFC3339)))
	weekend := create(fmt.Sprintf(`{"kind":"infinite_lives","title":"Weekend <b>hearts</b>","starts_at":%q,"ends_at":%q,
		"expected_load":4}`, later.Format(time.RFC3339), later.Add(24*time.Hour).Format(time.RFC3339)))

	// The backend first: the campaign sends, and the next pre-warming tick (every 5 s)
	// holds the floor for it and plans the weekend's raise.
	var counts map[string]int
	eventually(t, 15*time.Second, "the campaign is sent", func() bool {
		pub.do("GET", "/gms/api/events/"+campaign+"/pushes", "").json(t, &counts)
		return counts["sent"] == 1 && counts["unregistered"] == 1 && counts["queued"] == 0
	})
	var capacity capacityJSON
	eventually(t, 15*time.Second, "pre-warming holds the floor for the campaign", func() bool {
		pub.do("GET", "/gms/api/capacity", "").json(t, &capacity)
		return strings.Contains(capacity.Presentation.Reason, campaign) && capacity.Presentation.Floor > 1 &&
			capacity.Presentation.Until != nil && len(capacity.Upcoming) == 1
	})
	if u := capacity.Upcoming[0]; u.EventID != weekend || u.Floor != 4 {
		t.Fatalf("planned raise %+v, want the weekend's to 4", u)
	}
	var deliveries struct{ Deliveries []deliveryJSON }
	eventually(t, 10*time.Second, "the player's deliveries are settled", func() bool {
		pub.do("GET", "/gms/api/players/"+playerID+"/pushes", "").json(t, &deliveries)
		return len(deliveries.Deliveries) == 2 && deliveries.Deliveries[0].Status != "queued" && deliveries.Deliveries[1].Status != "queued"
	})

	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(s.srv.URL+"/gms/")); err != nil {
		t.Fatalf("open the console: %v", err)
	}
	t.Logf("browser started, console open: %v", time.Since(start).Round(time.Millisecond))
	step(t, ctx, "sign in as a viewer", signIn("watcher")...)

	p := capacity.Presentation
	step(t, ctx, "the capacity panel shows the floor, its reason and the plan",
		chromedp.Click(chromedp.CSS("#tab-calendar")),
		waitFor(fmt.Sprintf(`document.getElementById("capacity-floor").textContent === "%d copies"`, p.Floor)),
		waitFor(fmt.Sprintf(`document.getElementById("capacity-reason").textContent === %q`, p.Reason)),
		waitFor(fmt.Sprintf(`document.getElementById("capacity-until").textContent === %q`, utcMinute(t, *p.Until))),
		waitFor(`document.getElementById("capacity-current").textContent === "not reported"`), // no scaler in tests
		waitFor(`document.getElementById("capacity").classList.contains("raised")`),
		waitFor(fmt.Sprintf(`[...document.querySelectorAll("#capacity-upcoming tr")].map(r => r.dataset.event + "/" +
			[...r.children].map(c => c.textContent).join("/")).join("|") === %q`,
			weekend+"/"+utcMinute(t, capacity.Upcoming[0].At)+"/4 copies/“Weekend <b>hearts</b>”")),
		// The title is text, never markup.
		waitFor(`document.querySelector("#capacity-upcoming b, #events b") === null`),
	)

	row := fmt.Sprintf(`document.querySelector('#events tr[data-id="%s"]')`, campaign)
	counts4 := `[...` + row + `.querySelectorAll(".deliveries .count")].map(c => c.textContent).join("|")`
	step(t, ctx, "the campaign's row counts its deliveries",
		waitFor(counts4+` === "0 queued|1 sent|0 failed|1 unregistered"`),
		waitFor(row+`.querySelector(".deliveries .count[data-status=sent]").className.includes("good")`),
		waitFor(fmt.Sprintf(`document.querySelector('#events tr[data-id="%s"] .deliveries').textContent === "–"`, weekend)),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#events tr[data-id="%s"] .deliveries button`, campaign))),
		waitFor(row+`.querySelector(".deliveries button").textContent === "↻" && !`+row+`.querySelector(".deliveries button").disabled`),
		waitFor(counts4+` === "0 queued|1 sent|0 failed|1 unregistered"`),
	)
	screenshot(t, ctx, dir, "gms-9-capacity.png")

	// The page shows what the API holds, in its order (newest first).
	var want []string
	for _, d := range deliveries.Deliveries {
		sent := "–"
		if d.SentAt != nil {
			sent = "set"
		}
		errText := d.Error
		if errText == "" {
			errText = "–"
		}
		want = append(want, fmt.Sprintf("%d/campaign/%s/%s/%s/%s", d.ID, d.Platform, d.Status, sent, errText))
	}
	if got := func() []string {
		var ps []string
		for _, d := range deliveries.Deliveries {
			ps = append(ps, d.Platform+"/"+d.Status)
		}
		slices.Sort(ps)
		return ps
	}(); !slices.Equal(got, []string{"apns/sent", "fcm/unregistered"}) {
		t.Fatalf("the player's deliveries: %v", deliveries.Deliveries)
	}
	const pushRows = `[...document.querySelectorAll("#pushes tbody tr")].map(r => r.dataset.id + "/" + r.children[0].textContent + "/" +
		r.children[1].textContent + "/" + r.children[2].textContent + "/" + (r.children[4].textContent === "–" ? "–" : "set") + "/" +
		r.children[5].textContent).join("|")`
	step(t, ctx, "the player's page lists the deliveries",
		chromedp.Click(chromedp.CSS("#tab-players")),
		setField("player-id", playerID),
		chromedp.Click(chromedp.CSS("#player-lookup")),
		chromedp.WaitVisible(chromedp.CSS("#pushes")),
		waitFor(`[...document.querySelectorAll("#pushes th")].map(h => h.textContent).join("|") === "Kind|Platform|Status|Created|Sent|Error"`),
		waitFor(fmt.Sprintf(pushRows+` === %q`, strings.Join(want, "|"))),
		waitFor(`[...document.querySelectorAll("#pushes tbody tr")].every(r => r.children[3].textContent !== "–")`),
	)
	screenshot(t, ctx, dir, "gms-10-player-pushes.png")

	step(t, ctx, "a player without tokens has none",
		setField("player-id", quietID),
		chromedp.Click(chromedp.CSS("#player-lookup")),
		waitFor(`document.getElementById("pushes-empty") !== null && document.getElementById("pushes-empty").textContent === "None kept."`),
	)
}
