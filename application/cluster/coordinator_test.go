package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovengames/oven/application/fence"

	"github.com/ovengames/oven/deploy/localdeps"
)

var testEtcd *localdeps.Etcd

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "oven-etcd-")
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	testEtcd, err = localdeps.StartEtcd(ctx, dir, 0, 0)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	testEtcd.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fences is an in-memory store fence: it records each slot's epoch and fails the test
// if a raise ever lowers one or two shards serve a slot at one epoch.
type fences struct {
	mu    sync.Mutex
	epoch map[int]uint64
	t     *testing.T
}

func (f *fences) RaiseFences(_ context.Context, slots []int, epoch uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range slots {
		if f.epoch[s] >= epoch {
			f.t.Errorf("slot %d raised to %d but already at %d", s, epoch, f.epoch[s])
		}
		f.epoch[s] = epoch
	}
	return nil
}

type testShard struct {
	id    string
	table *Table
	co    *Coordinator
	cli   *clientv3.Client
}

func newClient(t *testing.T) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{testEtcd.Endpoint()}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func startShard(t *testing.T, prefix, id string, f *fences) *testShard {
	t.Helper()
	sh := &testShard{id: id, table: NewTable(), cli: newClient(t)}
	co, err := StartCoordinator(context.Background(), CoordinatorConfig{
		Client: sh.cli, Prefix: prefix, Self: Member{ID: id, Addr: id + ":1"}, Table: sh.table,
		Raisers: []fence.Raiser{f}, LeaseTTL: 2 * time.Second, ReleaseWait: time.Second,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	sh.co = co
	return sh
}

// served counts, per slot, the shards serving it; it fails on a slot served twice.
func served(t *testing.T, shards []*testShard) (count map[string]int, unserved int) {
	t.Helper()
	count = map[string]int{}
	for s := range Slots {
		n := 0
		for _, sh := range shards {
			if sh.table.state[s].Load() == slotServing {
				n++
				count[sh.id]++
			}
		}
		if n > 1 {
			t.Fatalf("slot %d served by %d shards", s, n)
		}
		if n == 0 {
			unserved++
		}
	}
	return count, unserved
}

// settle waits until every slot is served exactly once, by the shard the current map
// names, checking safety all along.
func settle(t *testing.T, shards []*testShard, within time.Duration) map[string]int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		count, unserved := served(t, shards)
		if unserved == 0 && converged(shards) {
			return count
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d slots unserved after %v (%v)", unserved, within, count)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func converged(shards []*testShard) bool {
	m := shards[0].co.Watcher().Current()
	if len(m.Members()) != len(shards) {
		return false
	}
	for _, sh := range shards {
		for s := range Slots {
			if (m.OwnerOfSlot(s).ID == sh.id) != (sh.table.state[s].Load() == slotServing) {
				return false
			}
		}
	}
	return true
}

func TestMembershipJoinDrainAndCrash(t *testing.T) {
	prefix := fmt.Sprintf("/test-%s-%d", t.Name(), time.Now().UnixNano())
	f := &fences{epoch: map[int]uint64{}, t: t}
	shards := []*testShard{startShard(t, prefix, "s1", f), startShard(t, prefix, "s2", f), startShard(t, prefix, "s3", f)}
	before := settle(t, shards, 10*time.Second)
	t.Logf("3 shards: %v", before)

	// A fourth shard joins: only its share moves, and only to it.
	owner := func() map[int]string {
		m := map[int]string{}
		for _, sh := range shards {
			for _, s := range sh.table.Serving() {
				m[s] = sh.id
			}
		}
		return m
	}
	was := owner()
	shards = append(shards, startShard(t, prefix, "s4", f))
	after := settle(t, shards, 10*time.Second)
	moved := 0
	for s, id := range owner() {
		if id != was[s] {
			moved++
			if id != "s4" {
				t.Errorf("slot %d moved from %s to %s", s, was[s], id)
			}
		}
	}
	t.Logf("4 shards: %v; %d slots moved", after, moved)
	if moved < Slots/5 || moved > Slots/3 {
		t.Errorf("moved %d slots, want about %d", moved, Slots/4)
	}

	// s2 drains: its slots are taken by the others before Drain returns.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := shards[1].co.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	shards[1].co.Stop()
	shards = append(shards[:1], shards[2:]...)
	settle(t, shards, 5*time.Second)

	// s3 crashes (no revoke): its lease runs out and the others take over.
	crashed := shards[1]
	crashed.co.stop()
	crashed.co.wg.Wait()
	crashed.cli.Close()
	start := time.Now()
	survivors := []*testShard{shards[0], shards[2]}
	// The dead shard's table still says "serving": leave it out of the safety check, as
	// the stores' fences (raised past its epoch) stand in for it.
	settle(t, survivors, 10*time.Second)
	t.Logf("failover after a crash took %v (lease 2 s)", time.Since(start).Round(time.Millisecond))
	for _, sh := range survivors {
		sh.co.Stop()
	}
}
