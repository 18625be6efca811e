package admins_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/ovengames/oven/application/admins"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/proto/ovenv1"
)

var env *shardtest.Env

func TestMain(m *testing.M) { shardtest.Main(m, &env) }

func TestCommandAndBootstrap(t *testing.T) {
	ctx := context.Background()
	c := env.Start(t, shardtest.Options{Shards: 1})
	adm := ovenv1.NewAdminClient(c.Router)
	login := func(user, pw string) (*ovenv1.AdminSession, error) {
		return adm.Login(ctx, &ovenv1.LoginRequest{Username: user, Password: pw, ClientIp: "10.9.9.9"})
	}
	var out bytes.Buffer
	run := func(password, stdin string, args ...string) error {
		out.Reset()
		return admins.Command(ctx, args, admins.CommandEnv{DatabaseURL: c.DatabaseURL, Password: password,
			Stdin: strings.NewReader(stdin), Stdout: &out, Cost: bcrypt.MinCost})
	}

	if err := run("", "from-stdin-pw\n", "add", "-username", "Alice", "-role", "editor"); err != nil {
		t.Fatal(err)
	}
	if out.String() != "created admin alice (editor)\n" {
		t.Errorf("output %q", out.String())
	}
	if s, err := login("alice", "from-stdin-pw"); err != nil || s.Role != "editor" {
		t.Fatalf("login: %v %v", s, err)
	}
	if err := run("from-env-password", "", "add", "-username", "alice", "-role", "publisher"); err != nil || out.String() != "updated admin alice (publisher)\n" {
		t.Fatalf("update: %v %q", err, out.String())
	}
	if s, err := login("alice", "from-env-password"); err != nil || s.Role != "publisher" {
		t.Fatalf("login after update: %v %v", s, err)
	}
	for _, bad := range [][]string{
		{"remove", "-username", "x"},
		{"add", "-username", "x", "-role", "root"},
		{"add", "-username", "bad name", "-role", "viewer"},
	} {
		if err := run("long-enough-pw", "", bad...); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	if err := run("short", "", "add", "-username", "bob"); err == nil {
		t.Error("a short password was accepted")
	}
	if err := run("", "", "add", "-username", "bob"); err == nil {
		t.Error("no password was accepted")
	}

	// The bootstrap admin: a chosen password, or a generated one returned once.
	if gen, err := admins.Bootstrap(ctx, c.DB, "chosen-password", bcrypt.MinCost); err != nil || gen != "" {
		t.Fatalf("bootstrap: %q %v", gen, err)
	}
	if s, err := login("admin", "chosen-password"); err != nil || s.Role != "operator" {
		t.Fatalf("bootstrap login: %v %v", s, err)
	}
	gen, err := admins.Bootstrap(ctx, c.DB, "", bcrypt.MinCost)
	if err != nil || len(gen) < 20 {
		t.Fatalf("generated bootstrap password %q: %v", gen, err)
	}
	if _, err := login("admin", gen); err != nil {
		t.Fatalf("login with the generated password: %v", err)
	}
	var rows int
	if err := c.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action IN ('admin.create', 'admin.update')`).Scan(&rows); err != nil || rows != 4 {
		t.Errorf("%d admin audit rows (%v), want 4", rows, err)
	}
}
