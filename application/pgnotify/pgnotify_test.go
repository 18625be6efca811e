package pgnotify_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ovengames/oven/application/pgnotify"
	"github.com/ovengames/oven/deploy/localdeps"
)

var pg *localdeps.Postgres

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	var err error
	pg, err = localdeps.StartPostgres(ctx, localdeps.PostgresOptions{Ephemeral: true})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgnotify test:", err)
		os.Exit(1)
	}
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// A listener whose connection is killed reconnects, says so (Connected: the moment to
// catch up on what was missed), and hears later notifications again.
func TestListenSurvivesALostConnection(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := pgxpool.New(ctx, pg.URL(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg, err := pgx.ParseConfig(pg.URL(""))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "pgnotify-test"
	connected := make(chan struct{}, 4)
	got := make(chan string, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		pgnotify.Listen(ctx, cfg, []string{"test_channel"}, pgnotify.Handler{
			Notify:    func(ch, payload string) { got <- ch + ":" + payload },
			Connected: func(context.Context) { connected <- struct{}{} },
		}, nil)
	}()
	notify := func(payload string) {
		t.Helper()
		if _, err := db.Exec(ctx, `SELECT pg_notify('test_channel', $1)`, payload); err != nil {
			t.Fatal(err)
		}
		select {
		case s := <-got:
			if s != "test_channel:"+payload {
				t.Fatalf("got %q", s)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("notification %q not heard", payload)
		}
	}
	wait := func(what string) {
		t.Helper()
		select {
		case <-connected:
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s", what)
		}
	}
	wait("first connection")
	notify("one")
	if _, err := db.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgnotify-test'`); err != nil {
		t.Fatal(err)
	}
	wait("reconnection")
	notify("two")
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Listen did not stop with its context")
	}
}
