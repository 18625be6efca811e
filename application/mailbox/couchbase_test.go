package mailbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/fence"
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
	ctx := owner(1)
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

func owner(epoch uint64) context.Context {
	return fence.With(context.Background(), fence.Token{Slot: 42, Epoch: epoch})
}

// A mailbox write records the writer's epoch; an older writer is refused and changes
// nothing, including one that read the document before the newer owner wrote it.
func TestMailboxWritesAreFenced(t *testing.T) {
	s := &Service{Deps: Deps{Couchbase: openCouchbase(t), Clock: &oven.OffsetClock{}}}
	now := time.Now()
	item := func(id string) Item {
		return Item{ID: id, Kind: KindLife, Amount: 1, SentAt: 1, ExpiresAt: now.Add(time.Hour).UnixMilli()}
	}
	d, cas, err := s.load(owner(2), "8")
	if err != nil {
		t.Fatal(err)
	}
	d.Items = []Item{item("a")}
	if _, err := s.store(context.Background(), "8", d, cas, now); !errors.Is(err, fence.ErrNoToken) {
		t.Fatalf("write without a token: %v, want ErrNoToken", err)
	}
	if _, err := s.store(owner(2), "8", d, cas, now); err != nil {
		t.Fatal(err)
	}
	before, _, err := s.load(owner(2), "8")
	if err != nil || before.Epoch != 2 {
		t.Fatalf("the document records epoch %d (%v), want 2", before.Epoch, err)
	}
	refused := func(err error) bool {
		fe, ok := fence.Refused(err)
		return ok && *fe == fence.Error{Store: fence.StoreCouchbase, Slot: 42, Epoch: 1}
	}

	// A stale owner's read-modify-write: refused, before and inside the CAS write.
	if _, err := s.update(owner(1), "8", func(d *doc, _ time.Time) (bool, error) {
		d.Items = append(d.Items, item("stale"))
		return true, nil
	}); !refused(err) {
		t.Errorf("stale update: %v, want a couchbase fence refusal at epoch 1", err)
	}
	d, cas, _ = s.load(owner(1), "8")
	d.Items = nil
	if _, err := s.store(owner(1), "8", d, cas, now); !refused(err) {
		t.Errorf("stale store: %v, want a couchbase fence refusal at epoch 1", err)
	}

	// A stale owner that read before the new owner (epoch 3) wrote: its CAS write fails,
	// and the retry reads the new epoch and is refused.
	first := true
	if _, err := s.update(owner(2), "8", func(d *doc, _ time.Time) (bool, error) {
		if first {
			first = false
			if _, err := s.update(owner(3), "8", func(d *doc, _ time.Time) (bool, error) {
				d.Items = append(d.Items, item("new-owner"))
				return true, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		d.Items = append(d.Items, item("late"))
		return true, nil
	}); err == nil {
		t.Error("a write read before the new owner's write went through")
	} else if fe, ok := fence.Refused(err); !ok || fe.Epoch != 2 {
		t.Errorf("late write: %v, want a fence refusal at epoch 2", err)
	}
	after, _, err := s.load(owner(3), "8")
	if err != nil {
		t.Fatal(err)
	}
	want := &doc{Items: append(before.Items, item("new-owner")), Epoch: 3}
	if diff := cmp.Diff(want, after); diff != "" {
		t.Errorf("mailbox after the refused writes (-want +got)\n%s", diff)
	}
}
