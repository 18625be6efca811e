package couchbasedev_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/couchbase/gocb/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven/deploy/couchbasedev"
)

const (
	testBucket = "game"
	testUser   = "oven"
	testPass   = "s3cret-pass"
)

// fakeClock is a manually advanced clock for expiry tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Now().Truncate(time.Second)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a running server with a connected SDK client.
type env struct {
	srv     *couchbasedev.Server
	clock   *fakeClock
	cluster *gocb.Cluster
	coll    *gocb.Collection
}

func startServer(t *testing.T, clock *fakeClock) *couchbasedev.Server {
	t.Helper()
	srv, err := couchbasedev.Start(couchbasedev.Config{
		Addr:     "127.0.0.1:0",
		MgmtAddr: "127.0.0.1:0",
		Bucket:   testBucket,
		Username: testUser,
		Password: testPass,
		Now:      clock.Now,
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv
}

func connect(t *testing.T, srv *couchbasedev.Server, pass string, kvTimeout time.Duration) *gocb.Cluster {
	t.Helper()
	cluster, err := gocb.Connect(srv.ConnString(), gocb.ClusterOptions{
		Authenticator:  gocb.PasswordAuthenticator{Username: testUser, Password: pass},
		TimeoutsConfig: gocb.TimeoutsConfig{KVTimeout: kvTimeout, ConnectTimeout: 5 * time.Second},
	})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = cluster.Close(nil) })
	return cluster
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clock := newFakeClock()
	srv := startServer(t, clock)
	cluster := connect(t, srv, testPass, 5*time.Second)
	bucket := cluster.Bucket(testBucket)
	if err := bucket.WaitUntilReady(5*time.Second, nil); err != nil {
		t.Fatalf("WaitUntilReady: %v", err)
	}
	return &env{srv: srv, clock: clock, cluster: cluster, coll: bucket.DefaultCollection()}
}

type player struct {
	Name  string `json:"name"`
	Level int    `json:"level"`
}

func getPlayer(t *testing.T, coll *gocb.Collection, key string) (player, gocb.Cas, error) {
	t.Helper()
	res, err := coll.Get(key, nil)
	if err != nil {
		return player{}, 0, err
	}
	var p player
	if err := res.Content(&p); err != nil {
		t.Fatalf("Content: %v", err)
	}
	return p, res.Cas(), nil
}

func TestCRUD(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		run  func(t *testing.T, coll *gocb.Collection, key string) error
		want player // expected document afterwards (zero = must be absent)
		err  error  // expected error of run
	}{
		{
			name: "insert then get",
			run: func(t *testing.T, c *gocb.Collection, key string) error {
				_, err := c.Insert(key, player{"ann", 1}, nil)
				return err
			},
			want: player{"ann", 1},
		},
		{
			name: "insert existing",
			run: func(t *testing.T, c *gocb.Collection, key string) error {
				mustUpsert(t, c, key, player{"ann", 1})
				_, err := c.Insert(key, player{"bob", 2}, nil)
				return err
			},
			want: player{"ann", 1},
			err:  gocb.ErrDocumentExists,
		},
		{
			name: "upsert overwrites",
			run: func(t *testing.T, c *gocb.Collection, key string) error {
				mustUpsert(t, c, key, player{"ann", 1})
				_, err := c.Upsert(key, player{"ann", 5}, nil)
				return err
			},
			want: player{"ann", 5},
		},
		{
			name: "replace with matching cas",
			run: func(t *testing.T, c *gocb.Collection, key string) error {
				cas := mustUpsert(t, c, key, player{"ann", 1})
				res, err := c.Replace(key, player{"ann", 2}, &gocb.ReplaceOptions{Cas: cas})
				if err == nil && res.Cas() == cas {
					t.Errorf("replace kept the old CAS %d", cas)
				}
				return err
			},
			want: player{"ann", 2},
		},
		{
			name: "replace with stale cas",
			run: func(t *testing.T, c *gocb.Collection, key string) error {
				cas := mustUpsert(t, c, key, player{"ann", 1})
				mustUpsert(t, c, key, player{"ann", 2})
				_, err := c.Replace(key, player{"ann", 3}, &gocb.ReplaceOptions{Cas: cas})
				return err
			},
			want: player{"ann", 2},
			err:  gocb.ErrCasMismatch,
		},
		{
			name: "replace missing",
			run: func(t *testing.T, c *gocb.Collection, key string) error {
				_, err := c.Replace(key, player{"ann", 3}, nil)
				return err
			},
			err: gocb.ErrDocumentNotFound,
		},
		{
			name: "remove without cas",
			run: func(t *testing.T, c *gocb.Collection, key string) error {
				mustUpsert(t, c, key, player{"ann", 1})
				_, err := c.Remove(key, nil)
				return err
			},
		},
		{
			name: "remove with matching cas",
			run: func(t *testing.T, c *gocb.Collection, key string) error {
				cas := mustUpsert(t, c, key, player{"ann", 1})
				_, err := c.Remove(key, &gocb.RemoveOptions{Cas: cas})
				return err
			},
		},
		{
			name: "remove with stale cas",
			run: func(t *testing.T, c *gocb.Collection, key string) error {
				cas := mustUpsert(t, c, key, player{"ann", 1})
				mustUpsert(t, c, key, player{"ann", 7})
				_, err := c.Remove(key, &gocb.RemoveOptions{Cas: cas})
				return err
			},
			want: player{"ann", 7},
			err:  gocb.ErrCasMismatch,
		},
		{
			name: "remove missing",
			run: func(t *testing.T, c *gocb.Collection, key string) error {
				_, err := c.Remove(key, nil)
				return err
			},
			err: gocb.ErrDocumentNotFound,
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("crud-%d", i)
			err := tc.run(t, e.coll, key)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("got error %v, want %v", err, tc.err)
			}
			got, _, err := getPlayer(t, e.coll, key)
			if tc.want == (player{}) {
				if !errors.Is(err, gocb.ErrDocumentNotFound) {
					t.Fatalf("Get after: got %v, want ErrDocumentNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Get after: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("document mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func mustUpsert(t *testing.T, c *gocb.Collection, key string, v any) gocb.Cas {
	t.Helper()
	res, err := c.Upsert(key, v, nil)
	if err != nil {
		t.Fatalf("Upsert %s: %v", key, err)
	}
	if res.Cas() == 0 {
		t.Fatalf("Upsert %s returned CAS 0", key)
	}
	return res.Cas()
}

func TestGetMissingAndExists(t *testing.T) {
	e := newEnv(t)
	if _, err := e.coll.Get("nobody", nil); !errors.Is(err, gocb.ErrDocumentNotFound) {
		t.Fatalf("Get missing: got %v, want ErrDocumentNotFound", err)
	}
	mustUpsert(t, e.coll, "somebody", player{"x", 1})
	for key, want := range map[string]bool{"nobody": false, "somebody": true} {
		res, err := e.coll.Exists(key, nil)
		if err != nil {
			t.Fatalf("Exists %s: %v", key, err)
		}
		if res.Exists() != want {
			t.Errorf("Exists(%s) = %v, want %v", key, res.Exists(), want)
		}
	}
}

func TestTouchAndGetAndTouchChangeCAS(t *testing.T) {
	e := newEnv(t)
	cas0 := mustUpsert(t, e.coll, "touchy", player{"t", 1})

	touched, err := e.coll.Touch("touchy", time.Minute, nil)
	if err != nil {
		t.Fatalf("Touch: %v", err)
	}
	if touched.Cas() == cas0 || touched.Cas() == 0 {
		t.Fatalf("Touch CAS %d, want new non-zero (old %d)", touched.Cas(), cas0)
	}
	gat, err := e.coll.GetAndTouch("touchy", 2*time.Minute, nil)
	if err != nil {
		t.Fatalf("GetAndTouch: %v", err)
	}
	var p player
	if err := gat.Content(&p); err != nil {
		t.Fatalf("Content: %v", err)
	}
	if diff := cmp.Diff(player{"t", 1}, p); diff != "" {
		t.Errorf("GetAndTouch content (-want +got):\n%s", diff)
	}
	if gat.Cas() == touched.Cas() {
		t.Errorf("GetAndTouch kept CAS %d", gat.Cas())
	}
	if _, cas, _ := getPlayer(t, e.coll, "touchy"); cas != gat.Cas() {
		t.Errorf("Get CAS %d, want GetAndTouch CAS %d", cas, gat.Cas())
	}
	if _, err := e.coll.Touch("ghost", time.Minute, nil); !errors.Is(err, gocb.ErrDocumentNotFound) {
		t.Errorf("Touch missing: got %v, want ErrDocumentNotFound", err)
	}
}

func TestExpiry(t *testing.T) {
	e := newEnv(t)
	expiring := &gocb.UpsertOptions{Expiry: 10 * time.Second}
	tests := []struct {
		name    string
		setup   func(t *testing.T, key string)
		advance time.Duration
		present bool
	}{
		{"before deadline", func(t *testing.T, key string) { upsertOpts(t, e.coll, key, expiring) }, 9 * time.Second, true},
		{"at deadline", func(t *testing.T, key string) { upsertOpts(t, e.coll, key, expiring) }, 10 * time.Second, false},
		{"no expiry", func(t *testing.T, key string) { upsertOpts(t, e.coll, key, nil) }, 100 * 24 * time.Hour, true},
		{"replace with expiry 0 clears ttl", func(t *testing.T, key string) {
			upsertOpts(t, e.coll, key, expiring)
			if _, err := e.coll.Replace(key, player{"r", 2}, nil); err != nil {
				t.Fatalf("Replace: %v", err)
			}
		}, time.Hour, true},
		{"upsert with expiry 0 clears ttl", func(t *testing.T, key string) {
			upsertOpts(t, e.coll, key, expiring)
			upsertOpts(t, e.coll, key, nil)
		}, time.Hour, true},
		{"touch extends ttl", func(t *testing.T, key string) {
			upsertOpts(t, e.coll, key, expiring)
			if _, err := e.coll.Touch(key, time.Hour, nil); err != nil {
				t.Fatalf("Touch: %v", err)
			}
		}, 59 * time.Minute, true},
		{"preserve expiry keeps ttl", func(t *testing.T, key string) {
			upsertOpts(t, e.coll, key, expiring)
			upsertOpts(t, e.coll, key, &gocb.UpsertOptions{PreserveExpiry: true})
		}, 10 * time.Second, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("exp-%d", i)
			tc.setup(t, key)
			e.clock.Advance(tc.advance)
			_, err := e.coll.Get(key, nil)
			switch {
			case tc.present && err != nil:
				t.Fatalf("Get: %v, want document present", err)
			case !tc.present && !errors.Is(err, gocb.ErrDocumentNotFound):
				t.Fatalf("Get: %v, want ErrDocumentNotFound", err)
			}
		})
	}
}

func upsertOpts(t *testing.T, c *gocb.Collection, key string, opts *gocb.UpsertOptions) {
	t.Helper()
	if _, err := c.Upsert(key, player{"e", 1}, opts); err != nil {
		t.Fatalf("Upsert %s: %v", key, err)
	}
}

func TestGetWithExpiry(t *testing.T) {
	e := newEnv(t)
	upsertOpts(t, e.coll, "withexp", &gocb.UpsertOptions{Expiry: time.Hour})
	res, err := e.coll.Get("withexp", &gocb.GetOptions{WithExpiry: true})
	if err != nil {
		t.Fatalf("Get WithExpiry: %v", err)
	}
	want := e.clock.Now().Add(time.Hour)
	if got := res.ExpiryTime(); !got.Equal(want) {
		t.Errorf("ExpiryTime = %v, want %v", got, want)
	}
	var p player
	if err := res.Content(&p); err != nil || p != (player{"e", 1}) {
		t.Errorf("Content = %+v, %v", p, err)
	}
}

func TestSubdocLookupIn(t *testing.T) {
	e := newEnv(t)
	mustUpsert(t, e.coll, "sd", map[string]any{
		"name": "ann", "stats": map[string]any{"hp": 10, "mp": 3}, "items": []string{"sword", "shield"},
	})
	res, err := e.coll.LookupIn("sd", []gocb.LookupInSpec{
		gocb.GetSpec("name", nil),
		gocb.ExistsSpec("stats.hp", nil),
		gocb.ExistsSpec("stats.xp", nil),
		gocb.CountSpec("items", nil),
		gocb.GetSpec("items[-1]", nil),
		gocb.GetSpec("nope", nil),
	}, nil)
	if err != nil {
		t.Fatalf("LookupIn: %v", err)
	}
	var name, last string
	var count int
	if err := res.ContentAt(0, &name); err != nil {
		t.Fatalf("ContentAt(0): %v", err)
	}
	if err := res.ContentAt(3, &count); err != nil {
		t.Fatalf("ContentAt(3): %v", err)
	}
	if err := res.ContentAt(4, &last); err != nil {
		t.Fatalf("ContentAt(4): %v", err)
	}
	got := []any{name, res.Exists(1), res.Exists(2), count, last}
	if diff := cmp.Diff([]any{"ann", true, false, 2, "shield"}, got); diff != "" {
		t.Errorf("lookup results (-want +got):\n%s", diff)
	}
	var v any
	if err := res.ContentAt(5, &v); !errors.Is(err, gocb.ErrPathNotFound) {
		t.Errorf("ContentAt(5) error = %v, want ErrPathNotFound", err)
	}
	if _, err := e.coll.LookupIn("sd-missing", []gocb.LookupInSpec{gocb.GetSpec("a", nil)}, nil); !errors.Is(err, gocb.ErrDocumentNotFound) {
		t.Errorf("LookupIn missing doc: %v, want ErrDocumentNotFound", err)
	}
}

func TestSubdocMutateIn(t *testing.T) {
	e := newEnv(t)
	start := map[string]any{"name": "ann", "stats": map[string]any{"hp": 10}, "items": []string{"sword"}}
	tests := []struct {
		name  string
		specs []gocb.MutateInSpec
		opts  *gocb.MutateInOptions
		want  map[string]any
		err   error
	}{
		{
			name: "dict upsert and insert",
			specs: []gocb.MutateInSpec{
				gocb.UpsertSpec("name", "bob", nil),
				gocb.InsertSpec("stats.mp", 5, nil),
				gocb.UpsertSpec("guild.name", "owls", &gocb.UpsertSpecOptions{CreatePath: true}),
			},
			want: map[string]any{"name": "bob", "stats": map[string]any{"hp": 10.0, "mp": 5.0},
				"items": []any{"sword"}, "guild": map[string]any{"name": "owls"}},
		},
		{
			name: "arrays",
			specs: []gocb.MutateInSpec{
				gocb.ArrayAppendSpec("items", "bow", nil),
				gocb.ArrayPrependSpec("items", "axe", nil),
				gocb.ArrayInsertSpec("items[1]", "orb", nil),
				gocb.ArrayAddUniqueSpec("items", "sword", nil),
			},
			err: gocb.ErrPathExists,
		},
		{
			name: "arrays without duplicate",
			specs: []gocb.MutateInSpec{
				gocb.ArrayAppendSpec("items", "bow", nil),
				gocb.ArrayPrependSpec("items", "axe", nil),
				gocb.ArrayInsertSpec("items[1]", "orb", nil),
				gocb.ArrayAddUniqueSpec("items", "gem", nil),
				gocb.ArrayAppendSpec("items", []string{"x", "y"}, &gocb.ArrayAppendSpecOptions{HasMultiple: true}),
			},
			want: map[string]any{"name": "ann", "stats": map[string]any{"hp": 10.0},
				"items": []any{"axe", "orb", "sword", "bow", "gem", "x", "y"}},
		},
		{
			name: "replace remove counter",
			specs: []gocb.MutateInSpec{
				gocb.ReplaceSpec("name", "cat", nil),
				gocb.RemoveSpec("items", nil),
				gocb.IncrementSpec("stats.hp", 5, nil),
				gocb.DecrementSpec("stats.gold", 2, nil),
			},
			want: map[string]any{"name": "cat", "stats": map[string]any{"hp": 15.0, "gold": -2.0}},
		},
		{
			name:  "replace missing path",
			specs: []gocb.MutateInSpec{gocb.ReplaceSpec("nope", 1, nil)},
			err:   gocb.ErrPathNotFound,
		},
		{
			name:  "insert existing path",
			specs: []gocb.MutateInSpec{gocb.InsertSpec("name", "x", nil)},
			err:   gocb.ErrPathExists,
		},
		{
			name:  "upsert without create path",
			specs: []gocb.MutateInSpec{gocb.UpsertSpec("a.b", 1, nil)},
			err:   gocb.ErrPathNotFound,
		},
		{
			name:  "path mismatch",
			specs: []gocb.MutateInSpec{gocb.ArrayAppendSpec("name", 1, nil)},
			err:   gocb.ErrPathMismatch,
		},
		{
			name:  "stale cas",
			specs: []gocb.MutateInSpec{gocb.UpsertSpec("name", "x", nil)},
			opts:  &gocb.MutateInOptions{Cas: 1},
			err:   gocb.ErrDocumentExists, // gocb reports MutateIn CAS mismatch as DocumentExists (GOCBC-1019)
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("mut-%d", i)
			mustUpsert(t, e.coll, key, start)
			_, err := e.coll.MutateIn(key, tc.specs, tc.opts)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("MutateIn error = %v, want %v", err, tc.err)
			}
			want := tc.want
			if tc.err != nil {
				want = roundTrip(t, start) // a failed MutateIn changes nothing
			}
			res, err := e.coll.Get(key, nil)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			var got map[string]any
			if err := res.Content(&got); err != nil {
				t.Fatalf("Content: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("document (-want +got):\n%s", diff)
			}
		})
	}
}

func roundTrip(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	want := map[string]any{"name": v["name"], "stats": map[string]any{"hp": 10.0}}
	if items, ok := v["items"].([]string); ok {
		var out []any
		for _, s := range items {
			out = append(out, s)
		}
		want["items"] = out
	}
	return want
}

func TestSubdocStoreSemantics(t *testing.T) {
	e := newEnv(t)
	counterSpec := []gocb.MutateInSpec{gocb.IncrementSpec("logins", 1, nil)}
	if _, err := e.coll.MutateIn("sem", counterSpec, nil); !errors.Is(err, gocb.ErrDocumentNotFound) {
		t.Fatalf("replace semantics on missing doc: %v, want ErrDocumentNotFound", err)
	}
	res, err := e.coll.MutateIn("sem", counterSpec, &gocb.MutateInOptions{StoreSemantic: gocb.StoreSemanticsUpsert})
	if err != nil {
		t.Fatalf("upsert semantics: %v", err)
	}
	var n int
	if err := res.ContentAt(0, &n); err != nil || n != 1 {
		t.Fatalf("counter result = %d, %v; want 1", n, err)
	}
	if _, err := e.coll.MutateIn("sem", counterSpec, &gocb.MutateInOptions{StoreSemantic: gocb.StoreSemanticsInsert}); !errors.Is(err, gocb.ErrDocumentExists) {
		t.Fatalf("insert semantics on existing doc: %v, want ErrDocumentExists", err)
	}
	res, err = e.coll.MutateIn("sem", counterSpec, nil)
	if err != nil {
		t.Fatalf("second increment: %v", err)
	}
	if err := res.ContentAt(0, &n); err != nil || n != 2 {
		t.Fatalf("counter result = %d, %v; want 2", n, err)
	}
}

func TestConcurrentCASIncrements(t *testing.T) {
	e := newEnv(t)
	type counter struct {
		N int `json:"n"`
	}
	mustUpsert(t, e.coll, "counter", counter{})
	const workers = 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- casIncrement(e.coll, "counter")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	res, err := e.coll.Get("counter", nil)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	var got counter
	if err := res.Content(&got); err != nil {
		t.Fatalf("Content: %v", err)
	}
	if got.N != workers {
		t.Errorf("counter = %d, want %d", got.N, workers)
	}
}

// casIncrement performs an optimistic read-modify-write, retrying on CAS
// mismatch.
func casIncrement(c *gocb.Collection, key string) error {
	for {
		res, err := c.Get(key, nil)
		if err != nil {
			return err
		}
		var doc struct {
			N int `json:"n"`
		}
		if err := res.Content(&doc); err != nil {
			return err
		}
		doc.N++
		_, err = c.Replace(key, doc, &gocb.ReplaceOptions{Cas: res.Cas()})
		if errors.Is(err, gocb.ErrCasMismatch) {
			continue
		}
		return err
	}
}

func TestBinaryOps(t *testing.T) {
	e := newEnv(t)
	bin := e.coll.Binary()
	res, err := bin.Increment("ctr", &gocb.IncrementOptions{Initial: 10, Delta: 5})
	if err != nil || res.Content() != 10 {
		t.Fatalf("Increment create = %v, %v; want 10", res, err)
	}
	if res, err = bin.Increment("ctr", &gocb.IncrementOptions{Delta: 5}); err != nil || res.Content() != 15 {
		t.Fatalf("Increment = %v, %v; want 15", res, err)
	}
	if res, err = bin.Decrement("ctr", &gocb.DecrementOptions{Delta: 100}); err != nil || res.Content() != 0 {
		t.Fatalf("Decrement below zero = %v, %v; want 0", res, err)
	}
	if _, err := bin.Increment("ctr-missing", &gocb.IncrementOptions{Initial: -1}); !errors.Is(err, gocb.ErrDocumentNotFound) {
		t.Fatalf("Increment missing without initial: %v, want ErrDocumentNotFound", err)
	}
	if _, err := e.coll.Upsert("log", []byte("b"), &gocb.UpsertOptions{Transcoder: gocb.NewRawBinaryTranscoder()}); err != nil {
		t.Fatalf("Upsert raw: %v", err)
	}
	if _, err := bin.Append("log", []byte("c"), nil); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if _, err := bin.Prepend("log", []byte("a"), nil); err != nil {
		t.Fatalf("Prepend: %v", err)
	}
	got, err := e.coll.Get("log", &gocb.GetOptions{Transcoder: gocb.NewRawBinaryTranscoder()})
	if err != nil {
		t.Fatalf("Get raw: %v", err)
	}
	var b []byte
	if err := got.Content(&b); err != nil || string(b) != "abc" {
		t.Errorf("raw content = %q, %v; want abc", b, err)
	}
}

func TestGetAndLock(t *testing.T) {
	e := newEnv(t)
	mustUpsert(t, e.coll, "locked", player{"l", 1})
	locked, err := e.coll.GetAndLock("locked", 10*time.Second, nil)
	if err != nil {
		t.Fatalf("GetAndLock: %v", err)
	}
	short := &gocb.UpsertOptions{Timeout: 300 * time.Millisecond}
	if _, err := e.coll.Upsert("locked", player{"x", 2}, short); err == nil {
		t.Fatal("Upsert on locked document succeeded")
	}
	if _, cas, err := getPlayer(t, e.coll, "locked"); err != nil || cas == locked.Cas() {
		t.Fatalf("Get on locked doc: cas %d err %v; want hidden CAS", cas, err)
	}
	if err := e.coll.Unlock("locked", locked.Cas()+1, nil); !errors.Is(err, gocb.ErrCasMismatch) {
		t.Fatalf("Unlock with wrong CAS: %v, want ErrCasMismatch", err)
	}
	if err := e.coll.Unlock("locked", locked.Cas(), nil); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	mustUpsert(t, e.coll, "locked", player{"x", 2})
	// A lock also expires on its own.
	if _, err := e.coll.GetAndLock("locked", 5*time.Second, nil); err != nil {
		t.Fatalf("GetAndLock: %v", err)
	}
	e.clock.Advance(5 * time.Second)
	mustUpsert(t, e.coll, "locked", player{"y", 3})
}

func TestDurableWrites(t *testing.T) {
	e := newEnv(t)
	_, err := e.coll.Upsert("durable", player{"d", 1}, &gocb.UpsertOptions{DurabilityLevel: gocb.DurabilityLevelMajority})
	if err != nil {
		t.Fatalf("durable Upsert: %v", err)
	}
	_, err = e.coll.MutateIn("durable", []gocb.MutateInSpec{gocb.UpsertSpec("level", 2, nil)},
		&gocb.MutateInOptions{DurabilityLevel: gocb.DurabilityLevelPersistToMajority})
	if err != nil {
		t.Fatalf("durable MutateIn: %v", err)
	}
	if got, _, err := getPlayer(t, e.coll, "durable"); err != nil || got != (player{"d", 2}) {
		t.Fatalf("Get = %+v, %v", got, err)
	}
}

func TestCollections(t *testing.T) {
	e := newEnv(t)
	bucket := e.cluster.Bucket(testBucket)
	named := bucket.Scope("_default").Collection("_default")
	mustUpsert(t, named, "coll-doc", player{"c", 1})
	if _, _, err := getPlayer(t, e.coll, "coll-doc"); err != nil {
		t.Fatalf("Get via DefaultCollection: %v", err)
	}
	missing := bucket.Scope("_default").Collection("nope")
	_, err := missing.Get("coll-doc", &gocb.GetOptions{Timeout: 500 * time.Millisecond})
	t.Logf("unknown collection: %v", err)
	if !errors.Is(err, gocb.ErrCollectionNotFound) && !errors.Is(err, gocb.ErrTimeout) {
		t.Fatalf("Get on unknown collection: %v, want collection-not-found or timeout", err)
	}
}

func TestBadPassword(t *testing.T) {
	srv := startServer(t, newFakeClock())
	cluster := connect(t, srv, "wrong", 300*time.Millisecond)
	bucket := cluster.Bucket(testBucket)
	if err := bucket.WaitUntilReady(500*time.Millisecond, nil); err == nil {
		t.Fatal("WaitUntilReady succeeded with a bad password")
	}
	_, err := bucket.DefaultCollection().Get("x", nil)
	t.Logf("bad password: %v", err)
	if !errors.Is(err, gocb.ErrTimeout) && !errors.Is(err, gocb.ErrAuthenticationFailure) {
		t.Fatalf("Get with bad password: %v, want timeout or authentication failure", err)
	}
}

func TestClusterWaitUntilReady(t *testing.T) {
	srv := startServer(t, newFakeClock())
	cluster := connect(t, srv, testPass, 2*time.Second)
	if err := cluster.WaitUntilReady(5*time.Second, nil); err != nil {
		t.Fatalf("cluster.WaitUntilReady: %v", err)
	}
	bucket := cluster.Bucket(testBucket)
	if err := bucket.WaitUntilReady(5*time.Second, nil); err != nil {
		t.Fatalf("bucket.WaitUntilReady: %v", err)
	}
	if _, err := bucket.Ping(nil); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func TestReconnect(t *testing.T) {
	e := newEnv(t)
	mustUpsert(t, e.coll, "survivor", player{"s", 1})
	e.srv.DropConnections()
	got, _, err := getPlayer(t, e.coll, "survivor")
	if err != nil {
		t.Fatalf("Get after reconnect: %v", err)
	}
	if got != (player{"s", 1}) {
		t.Errorf("Get after reconnect = %+v", got)
	}
	mustUpsert(t, e.coll, "survivor", player{"s", 2})
}

func TestCloseIsIdempotent(t *testing.T) {
	srv, err := couchbasedev.Start(couchbasedev.Config{Bucket: testBucket, Username: testUser, Password: testPass})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
