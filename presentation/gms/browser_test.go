package gms_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ovengames/oven/application/admins"
)

// findChromium returns the browser to drive: OVEN_CHROMIUM, else Debian's chromium.
func findChromium() (string, error) {
	if p := os.Getenv("OVEN_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no chromium on PATH")
}

// artifactDir is where screenshots go: $OVEN_TEST_ARTIFACTS, else testdata/artifacts
// (gitignored).
func artifactDir(t *testing.T) string {
	dir := os.Getenv("OVEN_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artifacts")
	}
	dir, err := filepath.Abs(dir)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// newBrowser starts a headless chromium with a fresh profile; it stops with the test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path, err := findChromium()
	if err != nil {
		t.Skipf("browser test skipped: %v; install it with `make deps` (deploy/deps.sh runs apt-get install chromium) or set OVEN_CHROMIUM", err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	// chromedp may report after the test ends; only log while it runs.
	var mu sync.Mutex
	done := false
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			t.Logf("chromedp: "+format, args...)
		}
	}
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithErrorf(logf))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		mu.Lock()
		done = true
		mu.Unlock()
	})
	return ctx
}

// step runs browser actions with a deadline (the first Run, which starts the browser,
// must not have one).
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	start := time.Now()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	t.Logf("%s: %v", what, time.Since(start).Round(time.Millisecond))
}

// waitFor polls a JavaScript expression until it is truthy.
func waitFor(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(10*time.Second))
}

// editDraft changes the textarea the way typing would (an input event follows).
func editDraft(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`(() => {
		const t = document.getElementById("draft");
		const d = JSON.parse(t.value);
		` + js + `;
		t.value = JSON.stringify(d, null, 2);
		t.dispatchEvent(new Event("input", {bubbles: true}));
	})()`)
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// TestConsoleInABrowser drives the console as an operator would: sign in, see a bad
// value refused with its path, save a good one, look at the diff, publish, and find the
// new value served to game clients by /v1/gamedata; then gift a player and ban them
// from the console, and send every player a broadcast that a game client claims.
func TestConsoleInABrowser(t *testing.T) {
	ctx := newBrowser(t)
	s := newStack(t, 2)
	s.addAdmin("gm", admins.Operator)
	playerID, token := s.player("device-browser-test")
	_, claimer := s.player("device-browser-test-claimer")
	dir := artifactDir(t)

	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(s.srv.URL+"/gms/")); err != nil {
		t.Fatalf("open the console: %v", err)
	}
	t.Logf("browser started, console open: %v", time.Since(start).Round(time.Millisecond))
	step(t, ctx, "sign in",
		chromedp.WaitVisible(chromedp.CSS("#login-username")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), "gm"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#draft")),
		waitFor(`document.getElementById("draft").value.includes('"regen_seconds"')`),
		waitFor(`document.getElementById("published-version").textContent === "1"`),
	)

	step(t, ctx, "a bad value is refused with its path",
		editDraft(`d.lives.max = 0; d.cookies[1].price = -5`),
		chromedp.Click(chromedp.CSS("#save")),
		waitFor(`[...document.querySelectorAll("#problems li")].map(li => li.textContent).join("|") ===
			"cookies[1].price must be ≥ 0|lives.max must be > 0"`),
		waitFor(`document.getElementById("flash").textContent.includes("not saved")`),
	)
	screenshot(t, ctx, dir, "gms-1-validation.png")

	step(t, ctx, "a good value saves and shows in the diff",
		editDraft(`d.lives.max = 9; d.cookies[1].price = 2500`),
		waitFor(`document.getElementById("valid-state").textContent === "Valid."`),
		chromedp.Click(chromedp.CSS("#save")),
		waitFor(`document.getElementById("flash").textContent === "Draft saved."`),
		chromedp.Click(chromedp.CSS("#publish")),
		chromedp.WaitVisible(chromedp.CSS("#publish-confirm")),
		waitFor(`(() => { const t = document.getElementById("diff").textContent;
			return t.includes("lives.max") && t.includes("cookies[id=ninja].price") && t.includes("2500") })()`),
	)
	screenshot(t, ctx, dir, "gms-2-diff-before-publish.png")

	step(t, ctx, "publish",
		chromedp.Click(chromedp.CSS("#publish-confirm")),
		waitFor(`document.getElementById("flash").textContent === "Published version 2."`),
		waitFor(`document.getElementById("published-version").textContent === "2"`),
	)
	if got := s.servedLivesMax(token, 2); got != 9 {
		t.Fatalf("/v1/gamedata serves lives.max %d after publishing 9", got)
	}
	screenshot(t, ctx, dir, "gms-3-published.png")

	step(t, ctx, "gift a player",
		chromedp.Click(chromedp.CSS("#tab-players")),
		chromedp.SendKeys(chromedp.CSS("#player-id"), playerID),
		chromedp.Click(chromedp.CSS("#player-lookup")),
		chromedp.WaitVisible(chromedp.CSS("#gift-send")),
		waitFor(`document.getElementById("mailbox-empty") !== null`),
		chromedp.SetValue(chromedp.CSS("#gift-amount"), "300"),
		chromedp.SendKeys(chromedp.CSS("#gift-message"), "browser gift"),
		chromedp.Click(chromedp.CSS("#gift-send")),
		waitFor(`document.getElementById("flash").textContent === "Sent 300 coins to player `+playerID+`."`),
		waitFor(`[...document.querySelectorAll("#mailbox tbody tr")].map(r => r.children[1].textContent + "/" + r.children[3].textContent).join("|") ===
			"300 coins/browser gift"`),
	)
	if items := s.mailbox(token); len(items) != 1 || items[0].Amount != 300 || items[0].Message != "browser gift" {
		t.Errorf("/v1/mailbox after the console's gift: %+v", items)
	}

	step(t, ctx, "ban a player",
		chromedp.WaitVisible(chromedp.CSS("#ban")),
		chromedp.SendKeys(chromedp.CSS("#ban-reason"), "browser test"),
		chromedp.Click(chromedp.CSS("#ban")),
		waitFor(`document.getElementById("player-status").textContent === "banned"`),
	)
	if r := s.client("GET", "/v1/me", token); r.status != 403 || r.code() != "banned" {
		t.Errorf("banned player's /v1/me: %d %s", r.status, r.body)
	}

	step(t, ctx, "open the audit log", chromedp.Click(chromedp.CSS("#tab-audit")))
	const actions = `[...document.querySelectorAll("#audit tr")].map(r => r.children[2].textContent).join(",")`
	if err := chromedp.Do(ctx, waitFor(actions+` === "player.ban,player.gift,gamedata.publish,gamedata.draft.save,login,admin.create"`)); err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](actions))
		t.Fatalf("audit log shows %q (%v)", got, err)
	}
	screenshot(t, ctx, dir, "gms-4-audit.png")

	const row = `document.querySelector("#broadcasts tr[data-id]")`
	step(t, ctx, "send a broadcast",
		chromedp.Click(chromedp.CSS("#tab-broadcasts")),
		chromedp.WaitVisible(chromedp.CSS("#broadcast-send")),
		chromedp.SetValue(chromedp.CSS("#broadcast-amount"), "250"),
		chromedp.SendKeys(chromedp.CSS("#broadcast-message"), "browser broadcast"),
		chromedp.SetValue(chromedp.CSS("#broadcast-duration"), "2"),
		chromedp.SetValue(chromedp.CSS("#broadcast-unit"), "3600"),
		chromedp.Click(chromedp.CSS("#broadcast-send")),
		chromedp.WaitVisible(chromedp.CSS("#broadcast-confirm-send")),
		waitFor(`document.getElementById("broadcast-summary").textContent === "Send 250 coins to every player, for 2 hours?"`),
		chromedp.Click(chromedp.CSS("#broadcast-confirm-send")),
		waitFor(`document.getElementById("flash").textContent.startsWith("Broadcast ")`),
		waitFor(row+` && `+row+`.children[2].textContent === "250 coins" && `+row+`.children[3].textContent === "browser broadcast" &&
			`+row+`.querySelector(".claims").textContent === "0"`),
	)
	broadcastID, err := chromedp.Run(ctx, chromedp.Evaluate[string](row+`.dataset.id`))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.accept(claimer, s.mailboxHas(claimer, broadcastID).ID); got != 1250 {
		t.Errorf("coins after claiming the broadcast: %d, want 1250", got)
	}
	step(t, ctx, "the claim shows in the list",
		chromedp.Click(chromedp.CSS("#broadcasts-refresh")),
		waitFor(row+`.querySelector(".claims").textContent === "1"`),
	)
	screenshot(t, ctx, dir, "gms-5-broadcast.png")

	// The page never saw the session token: the cookie is HttpOnly.
	cookies, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	if err != nil || strings.Contains(cookies, "oven_gms") {
		t.Errorf("document.cookie = %q (%v)", cookies, err)
	}
}
