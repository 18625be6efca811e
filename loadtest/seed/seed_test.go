package seed_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/deploy/localdeps"
	"github.com/ovengames/oven/loadtest/seed"
	"github.com/ovengames/oven/migrations"
)

var pg *localdeps.Postgres

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	var err error
	pg, err = localdeps.StartPostgres(ctx, localdeps.PostgresOptions{Ephemeral: true})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "seed test:", err)
		os.Exit(1)
	}
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// database makes a migrated database of the test's own.
func database(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	if err := pg.CreateDatabase(ctx, name, ""); err != nil {
		t.Fatal(err)
	}
	url := pg.URL(name)
	if err := migrations.Up(ctx, url); err != nil {
		t.Fatal(err)
	}
	return url
}

var (
	apnsToken = regexp.MustCompile(`^[0-9a-f]{64}$`)
	fcmToken  = regexp.MustCompile(`^[A-Za-z0-9_-]{22}:APA91b[A-Za-z0-9_-]{123}$`)
)

// Seeded push tokens: one live token per seeded player, APNs and FCM in turn, each
// unique, valid for the API and shaped like its provider's; none without the option.
func TestSeedPushTokens(t *testing.T) {
	tests := []struct {
		name       string
		players    int
		pushTokens bool
	}{
		{name: "without the option no tokens", players: 50},
		{name: "one token per player", players: 1001, pushTokens: true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			url := database(t, fmt.Sprintf("seed_tokens_%d", i))
			res, err := seed.Run(ctx, seed.Options{DatabaseURL: url, Players: tc.players, PushTokens: tc.pushTokens})
			if err != nil {
				t.Fatal(err)
			}
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			rows, err := conn.Query(ctx, `SELECT player_id, platform, token FROM push_tokens
				WHERE removed_at IS NULL AND disabled_at IS NULL ORDER BY player_id`)
			if err != nil {
				t.Fatal(err)
			}
			type token struct {
				ID              int64
				Platform, Token string
			}
			got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[token])
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if tc.pushTokens {
				want = tc.players
			}
			if len(got) != want || res.PushTokens != want {
				t.Fatalf("%d live tokens (result says %d), want %d", len(got), res.PushTokens, want)
			}
			seen := map[string]bool{}
			platforms := map[string]int{}
			for i, tok := range got {
				if want := res.First + int64(i); tok.ID != want {
					t.Fatalf("token %d belongs to player %d, want %d (one per seeded player)", i, tok.ID, want)
				}
				if err := oven.CheckPushToken(tok.Platform, tok.Token); err != nil {
					t.Errorf("player %d: %s token %q: %v", tok.ID, tok.Platform, tok.Token, err)
				}
				if shape := map[string]*regexp.Regexp{oven.PushAPNs: apnsToken, oven.PushFCM: fcmToken}[tok.Platform]; !shape.MatchString(tok.Token) {
					t.Errorf("player %d: %s token %q is not shaped like one", tok.ID, tok.Platform, tok.Token)
				}
				if i > 0 && tok.Platform == got[i-1].Platform {
					t.Errorf("players %d and %d both have %s tokens, want APNs and FCM in turn", got[i-1].ID, tok.ID, tok.Platform)
				}
				if seen[tok.Token] {
					t.Errorf("token %q given twice", tok.Token)
				}
				seen[tok.Token] = true
				platforms[tok.Platform]++
			}
			t.Logf("platforms: %v", platforms)
		})
	}
}

// A player's token is the same on every run, so two seedings of one id agree.
func TestPushTokenIsStable(t *testing.T) {
	for _, id := range []int64{1, 2, 1_000_000, 1_999_999} {
		p1, t1 := seed.PushToken(id)
		p2, t2 := seed.PushToken(id)
		if p1 != p2 || t1 != t2 {
			t.Errorf("PushToken(%d) = %s %s, then %s %s", id, p1, t1, p2, t2)
		}
	}
}
