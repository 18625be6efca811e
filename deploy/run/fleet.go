package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ovengames/oven/application/cluster"
)

// Bounds of one scale step: a shard joins in a second or two (start, register, take its
// slots), a drain hands its slots over within the shard's own 15 s drain deadline, and the
// runner kills one that has not exited after drainGrace.
const (
	joinTimeout = time.Minute
	drainGrace  = 30 * time.Second
)

// membership is what the fleet needs to know about etcd: the current view.
type membership interface {
	View() (*cluster.View, <-chan struct{})
}

// fleet is the stack's application shards: it starts them under the supervisor, numbers
// them s1, s2, … (a new shard continues the sequence; a restarted one keeps its id), and
// scales them up and down while the stack runs.
type fleet struct {
	sup     *supervisor
	stack   *stackWriter
	bin     string            // the application binary
	env     map[string]string // the settings every shard shares
	members membership
	log     *slog.Logger

	scaling sync.Mutex // one scale at a time
	mu      sync.Mutex
	running []int // the numbers of the shards running, ascending
	metrics map[int]string
	next    int // the number of the next new shard
}

func newFleet(sup *supervisor, stack *stackWriter, bin string, env map[string]string, members membership, log *slog.Logger) *fleet {
	return &fleet{sup: sup, stack: stack, bin: bin, env: env, members: members, log: log, metrics: map[int]string{}, next: 1}
}

func shardID(n int) string { return "s" + strconv.Itoa(n) }

// add starts one new shard on fresh addresses and returns its id.
func (f *fleet) add() string {
	f.mu.Lock()
	n := f.next
	f.next++
	f.running = append(f.running, n)
	grpcAddr, metricsAddr := freeAddr(), freeAddr()
	f.metrics[n] = metricsAddr
	f.mu.Unlock()
	id := shardID(n)
	f.stack.setShard(id, grpcAddr, metricsAddr)
	f.sup.start(id, f.bin, []string{"serve"}, withEnv(f.env, map[string]string{
		"OVEN_SHARD_ID": id, "OVEN_GRPC_ADDR": grpcAddr, "OVEN_METRICS_ADDR": metricsAddr,
	}))
	return id
}

// ids returns the running shards' ids in order.
func (f *fleet) ids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.running))
	for i, n := range f.running {
		out[i] = shardID(n)
	}
	return out
}

// scale brings the fleet to n shards: new ones (s<next>, …) until they serve, or a drain
// of the highest-numbered ones (or of those named in drain) until they have exited. The
// supervisor does not restart a shard it drains on purpose.
func (f *fleet) scale(ctx context.Context, n int, drain []string) ([]string, error) {
	f.scaling.Lock()
	defer f.scaling.Unlock()
	cur := f.ids()
	switch {
	case n < 1:
		return cur, fmt.Errorf("at least one shard, not %d", n)
	case len(drain) > 0 && len(cur)-len(drain) != n:
		return cur, fmt.Errorf("draining %v from %d shards leaves %d, not %d", drain, len(cur), len(cur)-len(drain), n)
	}
	for _, id := range drain {
		if !slices.Contains(cur, id) {
			return cur, fmt.Errorf("no shard %q (running: %s)", id, strings.Join(cur, " "))
		}
	}
	if n > len(cur) {
		var added []string
		for range n - len(cur) {
			added = append(added, f.add())
		}
		f.log.Info("shards joining", "ids", added)
		return f.ids(), f.waitServing(ctx, added)
	}
	if len(drain) == 0 {
		drain = cur[n:]
	}
	f.log.Info("shards draining", "ids", drain)
	f.remove(drain)
	return f.ids(), nil
}

// remove drains the shards ids (SIGTERM: each hands its slots over, then exits) and
// forgets them once they have exited.
func (f *fleet) remove(ids []string) {
	f.sup.retire(drainGrace, ids...)
	f.mu.Lock()
	f.running = slices.DeleteFunc(f.running, func(n int) bool {
		gone := slices.Contains(ids, shardID(n))
		if gone {
			delete(f.metrics, n)
		}
		return gone
	})
	f.mu.Unlock()
	for _, id := range ids {
		f.stack.removeShard(id)
	}
}

// waitServing waits until every shard in ids answers /healthz and is active in the
// membership (it owns its share of the slots).
func (f *fleet) waitServing(ctx context.Context, ids []string) error {
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	hc := &http.Client{Timeout: time.Second}
	for _, id := range ids {
		n, _ := strconv.Atoi(strings.TrimPrefix(id, "s"))
		f.mu.Lock()
		url := "http://" + f.metrics[n] + "/healthz"
		f.mu.Unlock()
		for {
			v, changed := f.members.View()
			if r, ok := v.Records[id]; ok && r.State == cluster.StateActive && healthy(hc, url) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("shard %s not serving: %w", id, ctx.Err())
			case <-changed:
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

func healthy(hc *http.Client, url string) bool {
	r, err := hc.Get(url)
	if err != nil {
		return false
	}
	r.Body.Close()
	return r.StatusCode == http.StatusOK
}

// controlPath is where the runner listens for `run scale`.
func controlPath(state string) string { return filepath.Join(state, "run.sock") }
