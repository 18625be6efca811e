package gamedata_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/gamedata"
	"github.com/ovengames/oven/application/shard/shardtest"
)

var env *shardtest.Env

func TestMain(m *testing.M) { shardtest.Main(m, &env) }

var bg = context.Background()

// counter is an AuditFunc that counts what it records.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) record(context.Context, pgx.Tx, any, any) error {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return nil
}

func TestSaveDraftRecordsOnlyChanges(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{Shards: 1})
	st := gamedata.NewStore(c.DB)
	var rec counter
	doc := edit(t, func(m map[string]any) { obj(m, "lives")["max"] = 6 })
	for range 2 {
		d, ps, err := st.SaveDraft(bg, doc, "ed", rec.record)
		if err != nil || len(ps) > 0 || d.Doc.Lives.Max != 6 || d.Doc.Version != 0 {
			t.Fatalf("save: %v %v %+v", err, ps, d)
		}
	}
	if rec.n != 1 {
		t.Errorf("saving the same draft twice recorded %d changes, want 1", rec.n)
	}
	_, ps, err := st.SaveDraft(bg, []byte(`{"lives": 1}`), "ed", rec.record)
	if err != nil || len(ps) == 0 || rec.n != 1 {
		t.Errorf("bad draft: %v, %d problems, %d records", err, len(ps), rec.n)
	}
	d, err := st.Draft(bg)
	if err != nil || d.Doc.Lives.Max != 6 || d.UpdatedBy != "ed" {
		t.Errorf("stored draft: %v %+v", err, d)
	}
}

// Publishes racing each other get distinct, consecutive version numbers, and each one
// that succeeded left exactly one record.
func TestConcurrentPublishes(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{Shards: 1})
	st := gamedata.NewStore(c.DB)
	var rec counter
	var mu sync.Mutex
	var got []int64
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			doc := edit(t, func(m map[string]any) { obj(m, "lives")["max"] = 10 + i })
			if _, _, err := st.SaveDraft(bg, doc, "ed", func(context.Context, pgx.Tx, any, any) error { return nil }); err != nil {
				t.Error(err)
				return
			}
			v, err := st.Publish(bg, "ed", rec.record)
			if oven.ErrorCode(err) == oven.EConflict {
				return // another publish took this draft first
			}
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got = append(got, v)
			mu.Unlock()
		})
	}
	wg.Wait()
	vs, published, err := st.Versions(bg, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || rec.n != len(got) || published != int64(len(got)+1) || len(vs) != len(got)+1 {
		t.Fatalf("%d publishes (%v), %d records, published %d, %d versions", len(got), got, rec.n, published, len(vs))
	}
	for i, v := range vs {
		if want := int64(len(vs) - i); v.Version != want {
			t.Errorf("versions[%d] = %d, want %d", i, v.Version, want)
		}
		pv, err := st.Get(bg, v.Version)
		if err != nil || pv.Doc.Version != v.Version {
			t.Errorf("version %d: %v, document says %d", v.Version, err, pv.Doc.Version)
		}
	}
}

func TestRollbackKeepsNumbersGrowing(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{Shards: 1})
	st := gamedata.NewStore(c.DB)
	nop := func(context.Context, pgx.Tx, any, any) error { return nil }
	var maxes []int64
	for _, max := range []int{6, 7} {
		if _, _, err := st.SaveDraft(bg, edit(t, func(m map[string]any) { obj(m, "lives")["max"] = max }), "ed", nop); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Publish(bg, "ed", nop); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Rollback(bg, 3, "ed", nop); oven.ErrorCode(err) != oven.EConflict {
		t.Errorf("rollback to the published version: %v", err)
	}
	for _, to := range []int64{2, 1, 3} {
		v, err := st.Rollback(bg, to, "ed", nop)
		if err != nil {
			t.Fatal(err)
		}
		pv, _ := st.Published(bg)
		maxes = append(maxes, v, pv.Doc.Lives.Max)
	}
	if diff := cmp.Diff([]int64{4, 6, 5, 5, 6, 7}, maxes); diff != "" {
		t.Errorf("(version, lives.max) after each rollback (-want +got)\n%s", diff)
	}
	vs, _, _ := st.Versions(bg, 2)
	if len(vs) != 2 || vs[0].Version != 6 || vs[0].Source != 3 || vs[1].Source != 1 {
		t.Errorf("versions %+v", vs)
	}
}
