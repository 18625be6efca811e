package mailbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven/deploy/couchbasedev"
)

// openCouchbase opens the cluster named by OVEN_COUCHBASE_URL (with OVEN_COUCHBASE_USER,
// _PASSWORD, _BUCKET) when set, so the adapter is checked against a real Couchbase
// Server; otherwise Oven's dev server.
func openCouchbase(t *testing.T) *Couchbase {
	t.Helper()
	cfg := Config{
		ConnString: os.Getenv("OVEN_COUCHBASE_URL"),
		Username:   os.Getenv("OVEN_COUCHBASE_USER"),
		Password:   os.Getenv("OVEN_COUCHBASE_PASSWORD"),
		Bucket:     os.Getenv("OVEN_COUCHBASE_BUCKET"),
		KeyPrefix:  fmt.Sprintf("oven-test-%d-%d:", os.Getpid(), time.Now().UnixNano()),
	}
	if cfg.ConnString == "" {
		srv, err := couchbasedev.Start(couchbasedev.Config{Bucket: "game", Username: "oven", Password: "pw"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		cfg.ConnString, cfg.Username, cfg.Password, cfg.Bucket = srv.ConnString(), "oven", "pw", "game"
	} else {
		t.Logf("against the real cluster at %s", cfg.ConnString)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cb, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cb.Close() })
	return cb
}

func TestMailboxDocumentCAS(t *testing.T) {
	s := &Service{Deps: Deps{Couchbase: openCouchbase(t)}}
	ctx := context.Background()
	if err := s.Couchbase.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	d, cas, err := s.load(ctx, "7")
	if err != nil || cas != 0 || len(d.Items) != 0 {
		t.Fatalf("missing mailbox: %+v cas %d err %v", d, cas, err)
	}
	d.Items = []Item{{ID: "a", Kind: KindLife, Amount: 1, SentAt: 1, ExpiresAt: now.Add(time.Hour).UnixMilli()}}
	cas1, err := s.store(ctx, "7", d, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.store(ctx, "7", d, 0, now); !errors.Is(err, errCASMismatch) {
		t.Errorf("second insert: %v, want a CAS conflict", err)
	}
	got, cas2, err := s.load(ctx, "7")
	if err != nil || cas2 != cas1 {
		t.Fatalf("load: cas %d (stored %d), %v", cas2, cas1, err)
	}
	if diff := cmp.Diff(d, got); diff != "" {
		t.Errorf("round trip (-want +got)\n%s", diff)
	}
	got.Items = append(got.Items, Item{ID: "b", Kind: KindCoins, Amount: 5, SentAt: 2, ExpiresAt: now.Add(time.Hour).UnixMilli()})
	if _, err := s.store(ctx, "7", got, cas2, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.store(ctx, "7", got, cas2, now); !errors.Is(err, errCASMismatch) {
		t.Errorf("stale CAS: %v, want a CAS conflict", err)
	}
}
