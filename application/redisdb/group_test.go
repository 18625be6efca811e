package redisdb_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/fence"
	"github.com/ovengames/oven/application/redisdb"
)

// groupMetrics receives the grouped client's metrics (TestMain).
var groupMetrics = prometheus.NewRegistry()

// Many players' pipelines at once share round trips, and each caller still gets its
// own replies: a stale owner's refused write fails alone and changes nothing, the
// others take their life.
func TestGroupedCallersGetTheirOwnReplies(t *testing.T) {
	ctx := context.Background()
	db := newDB(t, grouped)
	const n = 400
	ids := make([]string, n)
	slots := make([]int, n)
	for i := range ids {
		ids[i] = strconv.Itoa(1000 + i)
		slots[i] = cluster.SlotOf(ids[i])
	}
	if err := db.RaiseFences(ctx, slots, 5); err != nil {
		t.Fatal(err)
	}
	before := groupedUnits(t)
	stale := func(i int) bool { return i%7 == 3 }
	var wg sync.WaitGroup
	errs := make([]error, n)
	lives := make([]int64, n)
	for i, id := range ids {
		wg.Go(func() {
			epoch := uint64(5)
			if stale(i) {
				epoch = 4
			}
			pipe := db.Pipeline()
			get := pipe.Run(ctx, redisdb.LivesGet, []string{db.Lives(id), db.Infinite(id)}, now, 5, 720000)
			take := pipe.Run(fence.With(ctx, fence.Token{Slot: slots[i], Epoch: epoch}), redisdb.LivesChange,
				[]string{db.Lives(id)}, livesArgs(-1)...)
			_, errs[i] = pipe.Exec(ctx)
			if got, err := get.Int64Slice(); err != nil || got[1] != 5 {
				t.Errorf("player %s: get = %v, %v; want 5 lives", id, got, err)
			}
			if errs[i] == nil {
				lives[i] = take.Val().([]any)[1].(int64)
			}
		})
	}
	wg.Wait()
	for i, id := range ids {
		switch {
		case stale(i):
			if fe, ok := fence.Refused(errs[i]); !ok || fe.Slot != slots[i] {
				t.Errorf("player %s at a stale epoch: %v, want its own refusal", id, errs[i])
			}
			if v, err := db.Client.Exists(ctx, db.Lives(id)).Result(); err != nil || v != 0 {
				t.Errorf("player %s: a refused write left its lives key (%d, %v)", id, v, err)
			}
		case errs[i] != nil || lives[i] != 4:
			t.Errorf("player %s: %v, %d lives; want 4", id, errs[i], lives[i])
		}
	}
	after := groupedUnits(t)
	units, trips := after[0]-before[0], after[1]-before[1]
	if units < n || trips >= units {
		t.Errorf("%v units in %v round trips: no grouping", units, trips)
	}
	t.Logf("%v units in %v round trips", units, trips)
}

// groupedUnits returns the units grouped so far and the round trips they took.
func groupedUnits(t *testing.T) [2]float64 {
	t.Helper()
	mfs, err := groupMetrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "oven_redis_group_units" {
			h := mf.GetMetric()[0].GetHistogram()
			return [2]float64{h.GetSampleSum(), float64(h.GetSampleCount())}
		}
	}
	return [2]float64{}
}

// What must not share a pipeline still works on a grouped client: a MULTI/EXEC
// transaction and keyless commands run alone.
func TestGroupedClientRunsTransactionsAndKeylessCommandsAlone(t *testing.T) {
	ctx := context.Background()
	db := newDB(t, grouped)
	k := db.Prefix + "tx"
	cmds, err := grouped.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, k)
		p.Incr(ctx, k)
		return nil
	})
	if err != nil || len(cmds) != 2 || cmds[1].(*redis.IntCmd).Val() != 2 {
		t.Fatalf("transaction: %v, %v", cmds, err)
	}
	if err := grouped.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := db.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := grouped.Get(ctx, k).Int(); err != nil || v != 2 {
		t.Fatalf("get = %d, %v", v, err)
	}
}
