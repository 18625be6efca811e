package gms_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ovengames/oven/application/admins"
)

// setField sets a form field the way a user's edit would (input and change events follow).
func setField(id, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const e = document.getElementById(%q);
		e.value = %q;
		e.dispatchEvent(new Event("input", {bubbles: true}));
		e.dispatchEvent(new Event("change", {bubbles: true}));
	})()`, id, value))
}

// fieldProblem is a JavaScript expression: the problem shown next to the event form's
// field (by its API name), "" when none shows.
func fieldProblem(field string) string {
	return fmt.Sprintf(`(() => { const p = document.getElementById("event-problem-%s"); return p.hidden ? "" : p.textContent })()`, field)
}

// signIn signs in through the login form and waits for the console.
func signIn(username string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(chromedp.CSS("#login-username")),
		setField("login-username", username),
		setField("login-password", password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
		waitFor(`document.getElementById("who-name").textContent === "` + username + `"`),
	}
}

// TestCalendarInABrowser drives the live-events calendar as a publisher would: an end
// before the start is refused next to the field by the page, an out-of-range value next
// to its field by the server; an infinite-lives event is scheduled (and reaches the game
// clients), its title edited and the event cancelled. A viewer then sees the calendar but
// no form and no buttons.
func TestCalendarInABrowser(t *testing.T) {
	ctx := newBrowser(t)
	s := newStack(t, 1)
	s.addAdmin("pub", admins.Publisher)
	s.addAdmin("watcher", admins.Viewer)
	_, token := s.player("device-calendar-browser-test")
	dir := artifactDir(t)

	now := time.Now().UTC().Truncate(time.Minute)
	// local is a datetime-local input's value: UTC wall time, to the minute.
	local := func(d time.Duration) string { return now.Add(d).Format("2006-01-02T15:04") }

	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(s.srv.URL+"/gms/")); err != nil {
		t.Fatalf("open the console: %v", err)
	}
	t.Logf("browser started, console open: %v", time.Since(start).Round(time.Millisecond))
	step(t, ctx, "sign in as a publisher", signIn("pub")...)
	step(t, ctx, "open the calendar",
		chromedp.Click(chromedp.CSS("#tab-calendar")),
		chromedp.WaitVisible(chromedp.CSS("#event-form")),
		waitFor(`document.querySelector("#events td.muted") !== null`),
	)

	step(t, ctx, "an end before the start is refused next to the field",
		setField("event-kind", "infinite_lives"),
		waitFor(`document.getElementById("event-value-field").hidden && document.getElementById("event-message-field").hidden`),
		setField("event-title", "Browser weekend"),
		setField("event-starts", local(time.Hour)),
		setField("event-ends", local(0)),
		chromedp.Click(chromedp.CSS("#event-submit")),
		waitFor(fieldProblem("ends_at")+` === "must be after starts_at"`),
		waitFor(`document.getElementById("event-ends").classList.contains("invalid")`),
		waitFor(`document.getElementById("event-confirm").hidden`),
	)

	const row = `document.querySelector("#events tr[data-id]")`
	const rowText = `((sel) => ` + row + `.querySelector(sel).textContent)`
	step(t, ctx, "schedule infinite lives",
		setField("event-starts", local(-time.Minute)),
		setField("event-ends", local(2*time.Hour)),
		waitFor(fieldProblem("ends_at")+` === ""`),
		chromedp.Click(chromedp.CSS("#event-submit")),
		chromedp.WaitVisible(chromedp.CSS("#event-confirm-send")),
		waitFor(`document.getElementById("event-summary").textContent === "Schedule infinite lives “Browser weekend” for every player, `+
			now.Add(-time.Minute).Format("2006-01-02 15:04")+` UTC → `+now.Add(2*time.Hour).Format("2006-01-02 15:04")+` UTC, expected load 1×?"`),
		chromedp.Click(chromedp.CSS("#event-confirm-send")),
		waitFor(`document.getElementById("flash").textContent === "Event “Browser weekend” scheduled."`),
		waitFor(row+` !== null && `+rowText+`(".title") === "Browser weekend" && `+rowText+`(".kind") === "Infinite lives" &&
			["running", "scheduled"].includes(`+rowText+`(".status"))`),
		waitFor(`document.getElementById("event-title").value === "" && document.getElementById("event-confirm").hidden`),
	)
	waitInfinite(t, s, token, true)

	step(t, ctx, "a value out of range is refused by the server next to the field",
		setField("event-kind", "lives_max"),
		waitFor(`!document.getElementById("event-value-field").hidden &&
			document.getElementById("event-value-label").textContent === "New max lives (1-100)"`),
		setField("event-title", "Zero hearts"),
		setField("event-starts", local(time.Hour)),
		setField("event-ends", local(3*time.Hour)),
		setField("event-value", "0"),
		chromedp.Click(chromedp.CSS("#event-submit")),
		chromedp.WaitVisible(chromedp.CSS("#event-confirm-send")),
		chromedp.Click(chromedp.CSS("#event-confirm-send")),
		waitFor(fieldProblem("value")+` === "must be the new maximum lives, 1-100"`),
		waitFor(`document.getElementById("flash").textContent.includes("not saved")`),
		waitFor(`document.getElementById("event-confirm").hidden && document.querySelectorAll("#events tr[data-id]").length === 1`),
	)
	screenshot(t, ctx, dir, "gms-6-calendar-problem.png")

	step(t, ctx, "edit the title",
		chromedp.Click(chromedp.CSS("#events tr[data-id] button.edit")),
		waitFor(`document.getElementById("event-form-title").textContent === "Edit “Browser weekend”"`),
		waitFor(`document.getElementById("event-kind").value === "infinite_lives" && document.getElementById("event-value-field").hidden &&
			document.getElementById("event-title").value === "Browser weekend" && `+fieldProblem("value")+` === ""`),
		setField("event-title", "Browser long weekend"),
		chromedp.Click(chromedp.CSS("#event-submit")),
		chromedp.WaitVisible(chromedp.CSS("#event-confirm-send")),
		waitFor(`document.getElementById("event-summary").textContent === "Change title of “Browser weekend”?"`),
		chromedp.Click(chromedp.CSS("#event-confirm-send")),
		waitFor(`document.getElementById("flash").textContent === "Event “Browser long weekend” updated."`),
		waitFor(rowText+`(".title") === "Browser long weekend"`),
		waitFor(`document.getElementById("event-form-title").textContent === "Schedule an event"`),
	)

	step(t, ctx, "cancel it",
		chromedp.Click(chromedp.CSS("#events tr[data-id] button.cancel")),
		chromedp.WaitVisible(chromedp.CSS("#events tr[data-id] button.cancel-confirm")),
		chromedp.Click(chromedp.CSS("#events tr[data-id] button.cancel-confirm")),
		waitFor(`document.getElementById("flash").textContent === "Event “Browser long weekend” cancelled."`),
		waitFor(rowText+`(".status") === "cancelled" && `+row+`.querySelector("button") === null`),
	)
	screenshot(t, ctx, dir, "gms-7-calendar.png")
	waitInfinite(t, s, token, false)

	// What the page did is what the server holds.
	pub := s.browser()
	pub.login("pub")
	type event struct {
		ID, Kind, Title, Status string
		CreatedBy               string `json:"created_by"`
		UpdatedBy               string `json:"updated_by"`
	}
	var list struct{ Events []event }
	pub.do("GET", "/gms/api/events", "").json(t, &list)
	if len(list.Events) != 1 || list.Events[0].Kind != "infinite_lives" || list.Events[0].Title != "Browser long weekend" ||
		list.Events[0].Status != "cancelled" || list.Events[0].CreatedBy != "pub" || list.Events[0].UpdatedBy != "pub" {
		t.Errorf("calendar after the browser's changes: %+v", list)
	}
	// One event the viewer could change if the page let them.
	body := fmt.Sprintf(`{"kind":"lives_regen","title":"Quick hearts","starts_at":%q,"ends_at":%q,"value":300}`,
		now.Add(time.Hour).Format(time.RFC3339), now.Add(5*time.Hour).Format(time.RFC3339))
	if r := pub.do("POST", "/gms/api/events", body); r.status != 201 {
		t.Fatalf("schedule through the API: %d %s", r.status, r.body)
	}

	step(t, ctx, "schedule a push to players with full lives",
		setField("event-kind", "push"),
		waitFor(`!document.getElementById("event-message-field").hidden && !document.getElementById("event-audience-field").hidden &&
			document.getElementById("event-value-field").hidden && document.getElementById("event-ends-label").textContent === "Ends (UTC, optional)"`),
		setField("event-title", "Hearts are back"),
		setField("event-starts", local(2*time.Hour)),
		setField("event-ends", ""),
		setField("event-message", "Your lives are full: come and play"),
		setField("event-audience", "lives_full"),
		setField("event-load", "2.5"),
		chromedp.Click(chromedp.CSS("#event-submit")),
		chromedp.WaitVisible(chromedp.CSS("#event-confirm-send")),
		waitFor(`document.getElementById("event-summary").textContent === "Schedule push message “Hearts are back” to players with full lives, `+
			now.Add(2*time.Hour).Format("2006-01-02 15:04")+` UTC, expected load 2.5×?"`),
		chromedp.Click(chromedp.CSS("#event-confirm-send")),
		waitFor(`document.getElementById("flash").textContent === "Event “Hearts are back” scheduled."`),
		waitFor(rowText+`(".title") === "Hearts are back" && `+row+`.children[5].textContent === "lives full Your lives are full: come and play" &&
			`+rowText+`(".deliveries") === "not sent yet" && `+row+`.children[7].textContent === "2.5×" &&
			`+rowText+`(".status") === "scheduled"`),
	)

	step(t, ctx, "sign out", chromedp.Click(chromedp.CSS("#logout")))
	step(t, ctx, "sign in as a viewer", signIn("watcher")...)
	step(t, ctx, "a viewer sees the calendar but no form and no buttons",
		chromedp.Click(chromedp.CSS("#tab-calendar")),
		waitFor(`[...document.querySelectorAll("#events tr[data-id]")].map(r => r.querySelector(".title").textContent + "/" +
			r.querySelector(".status").textContent + "/" + r.children[4].textContent).join("|") ===
			"Hearts are back/scheduled/–|Quick hearts/scheduled/1 life every 300 s|Browser long weekend/cancelled/–"`),
		waitFor(`document.getElementById("event-form").hidden && document.querySelector("#view-calendar button.edit, #view-calendar button.cancel") === null`),
	)
	screenshot(t, ctx, dir, "gms-8-calendar-viewer.png")
}

// waitInfinite waits until /v1/me shows infinite lives in force (or not).
func waitInfinite(t *testing.T, s *stack, token string, want bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var me struct {
			Lives struct {
				InfiniteUntil *string `json:"infinite_until"`
			}
		}
		s.client("GET", "/v1/me", token).json(t, &me)
		if (me.Lives.InfiniteUntil != nil) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/v1/me lives.infinite_until = %v 5 s later, want set: %v", me.Lives.InfiniteUntil, want)
		}
	}
}
