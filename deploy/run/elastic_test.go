package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/deploy/localdeps"
	ovenv1 "github.com/ovengames/oven/proto/ovenv1"
)

// TestStackElastic runs the dev stack on etcd membership (3 s leases) and changes it
// under load, as an operator would: a fourth shard joins and an original one drains
// (make scale), with no error any client sees; then one shard is frozen (SIGSTOP) past
// its lease while writes for its players are in flight, and thawed: it stops serving by
// itself and the stores refuse what it still tried to write.
func TestStackElastic(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the whole stack")
	}
	st := bootStack(t, "OVEN_LEASE_TTL=3s")
	g := &game{base: st.base, http: &http.Client{Timeout: 10 * time.Second}}

	t.Run("join and drain under load without errors", func(t *testing.T) {
		w, stopLoad := startWorkload(t, g, 6)
		time.Sleep(2 * time.Second)
		before := st.slotMoves(t)
		if got := st.scale(t, 4, nil); !slices.Equal(got, []string{"s1", "s2", "s3", "s4"}) {
			t.Fatalf("scale 4: %v", got)
		}
		waitFor(t, 10*time.Second, func() error { return st.owns(t, "s4") })
		time.Sleep(time.Second) // the handover settles
		joined := st.slotMoves(t)
		if got := st.scale(t, 3, []string{"s2"}); !slices.Equal(got, []string{"s1", "s3", "s4"}) {
			t.Fatalf("scale 3 draining s2: %v", got)
		}
		time.Sleep(3 * time.Second) // load on the three left
		stopLoad()
		drained := st.slotMoves(t)

		moved := sum(joined) - sum(before)
		t.Logf("slots moved when s4 joined 3 shards: %.0f (4096/4 = 1024); s4 took %.0f", moved, joined["s4"])
		var drainMoves float64
		for id, n := range drained {
			drainMoves += n - joined[id]
		}
		t.Logf("slots moved when s2 drained: %.0f (taken by s1, s3, s4)", drainMoves)
		if moved < 700 || moved > 1400 {
			t.Errorf("%.0f slots moved on a join to 4 shards, want about 1024", moved)
		}
		errs, calls := w.errors()
		t.Logf("client-visible errors during join and drain: %d of %d calls", len(errs), calls)
		if len(errs) > 0 {
			t.Errorf("clients saw errors:\n%s", strings.Join(errs, "\n"))
		}
		var f struct {
			Shards map[string]string `json:"shards"`
			PIDs   map[string]int    `json:"pids"`
		}
		st.readStackJSON(t, &f)
		if _, ok := f.Shards["s2"]; ok || f.PIDs["s2"] != 0 || f.Shards["s4"] == "" || f.PIDs["s4"] == 0 {
			t.Errorf("stack.json after the drain: shards %v pids %v", f.Shards, f.PIDs)
		}
		w.audit(t, st)
	})

	t.Run("a shard frozen past its lease is fenced", func(t *testing.T) {
		st.fencing(t, g, "s1")
	})
	st.interrupt()
}

// fencing freezes victim (SIGSTOP) for 8 s, over twice its 3 s lease, while four of its
// players have writes in flight straight to it over gRPC (renames and play starts, each
// with a 30 s deadline, so every one gets an answer) and two more rename themselves
// through the presentation. After SIGCONT the victim must stop serving by itself (its
// log says so), its stale writes must be refused by the stores (oven_fenced_writes_total,
// reported), and every player must end up exactly as its acknowledged writes left it:
// the last acknowledged name, lives = before − acknowledged starts.
func (s *runningStack) fencing(t *testing.T, g *game, victim string) {
	t.Helper()
	shards := s.shards(t)
	var addr string
	for _, m := range shards {
		if m.ID == victim {
			addr = m.Addr
		}
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	gc := ovenv1.NewGameClient(conn)
	owned := func(p player) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := gc.WhoOwns(ctx, &ovenv1.PlayerRequest{PlayerId: p.id})
		return err == nil
	}
	var direct, burst, relayed []player
	for len(direct)+len(burst)+len(relayed) < 9 {
		p, err := g.newPlayer()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case !owned(p):
		case len(direct) < 4:
			direct = append(direct, p)
		case len(burst) < 3:
			burst = append(burst, p)
		default:
			relayed = append(relayed, p)
		}
	}
	before := map[string]profile{}
	for _, p := range append(slices.Clone(direct), burst...) {
		before[p.id] = g.profile(t, p)
	}
	fencedBefore := metricSum(t, s.shardMetrics(t)[victim], "oven_fenced_writes_total")

	hammer := &stale{gc: gc, acked: map[string]string{}, starts: map[string]int64{}, burstNames: map[string][]string{}}
	w := &workload{g: g, names: map[string]*nameRecord{}, start: time.Now(), players: relayed}
	for _, p := range relayed {
		w.names[p.id] = &nameRecord{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i, p := range direct {
		wg.Go(func() { hammer.run(ctx, i, p) })
	}
	// Bursts: six callers per player, back to back, keep the shard busy, so that when the
	// freeze comes some calls are half done (past the ownership check, before a store)
	// and some wait in its socket; all finish after SIGCONT, with the epochs of before.
	for i, p := range burst {
		for j := range 6 {
			wg.Go(func() {
				for k := 0; ctx.Err() == nil; k++ {
					hammer.once(p, fmt.Sprintf("b%d-%d-%d", i, j, k), k%3 == 2)
					sleep(ctx, 2*time.Millisecond)
				}
			})
		}
	}
	for i, p := range relayed {
		wg.Go(func() {
			for k := 0; ctx.Err() == nil; k++ {
				w.rename(p, fmt.Sprintf("r%d-%d", i, k))
				sleep(ctx, 200*time.Millisecond)
			}
		})
	}
	time.Sleep(time.Second)
	pid := s.pids(t)[victim]
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		cancel()
		t.Fatal(err)
	}
	stopped := time.Now()
	time.Sleep(8 * time.Second)
	syscall.Kill(pid, syscall.SIGCONT)
	resumed := time.Since(stopped)
	time.Sleep(4 * time.Second) // the victim refuses, reads etcd, joins again and serves again
	cancel()
	wg.Wait()

	fenced := metricSum(t, s.shardMetrics(t)[victim], "oven_fenced_writes_total") - fencedBefore
	t.Logf("%s stopped for %.1f s (lease 3 s): %d writes straight to it acknowledged, %d refused (%v); writes refused by the store fences: %.0f",
		victim, resumed.Seconds(), hammer.ok, hammer.failed, hammer.codes, fenced)
	if !s.logged(`paused past its lease; stopped serving`, victim) {
		t.Errorf("%s did not log that it stopped serving after the pause", victim)
	}
	if fenced == 0 {
		// Not a failure: the shard's own ownership table refused every call first.
		t.Logf("no write reached a store fence: on waking, %s refused every late call itself (%d refused)", victim, hammer.failed)
	}
	for _, p := range append(slices.Clone(direct), burst...) {
		me, was := g.profile(t, p), before[p.id]
		names := []string{hammer.acked[p.id]} // the last acknowledged, of sequential renames
		if bn, ok := hammer.burstNames[p.id]; ok {
			names = bn // any acknowledged one: the burst's renames raced each other
		}
		if len(names) == 0 || names[0] == "" {
			names = []string{was.Name}
		}
		wantLives := was.Lives.Count - hammer.starts[p.id]
		if !slices.Contains(names, me.Name) || me.Lives.Count != wantLives || me.Coins != was.Coins {
			t.Errorf("player %s: name %q, lives %d, coins %d; acknowledged: name in %q, lives %d − %d starts = %d, coins %d",
				p.id, me.Name, me.Lives.Count, me.Coins, names, was.Lives.Count, hammer.starts[p.id], wantLives, was.Coins)
		}
	}
	errs, calls := w.errors()
	t.Logf("through the presentation meanwhile: %d renames, %d not acknowledged", calls, len(errs))
	w.audit(t, s)
}

// profile is what the fencing test reads of GET /v1/me.
type profile struct {
	Name  string
	Coins int64
	Lives struct{ Count int64 }
}

func (g *game) profile(t *testing.T, p player) profile {
	t.Helper()
	var me profile
	if err := g.call("GET", "/v1/me", p.token, "", 200, &me); err != nil {
		t.Fatal(err)
	}
	return me
}

// stale sends writes straight to one shard over gRPC and records what it acknowledged.
type stale struct {
	gc ovenv1.GameClient

	mu         sync.Mutex
	ok         int
	failed     int
	codes      []string
	acked      map[string]string   // player id → last name acknowledged
	burstNames map[string][]string // player id → names acknowledged in a burst
	starts     map[string]int64    // player id → plays acknowledged started
}

// once sends one rename (or play start) and records the answer.
func (h *stale) once(p player, name string, start bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	if start {
		_, err = h.gc.StartPlay(ctx, &ovenv1.StartPlayRequest{PlayerId: p.id, CookieId: "brave"})
	} else {
		_, err = h.gc.UpdateMe(ctx, &ovenv1.UpdateMeRequest{PlayerId: p.id, Name: name})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.record(err)
	switch {
	case err == nil && start:
		h.starts[p.id]++
	case err == nil:
		h.burstNames[p.id] = append(h.burstNames[p.id], name)
	}
}

// record counts an answer; h.mu is held.
func (h *stale) record(err error) {
	if err == nil {
		h.ok++
		return
	}
	h.failed++
	if c := status.Code(err).String(); !slices.Contains(h.codes, c) {
		h.codes = append(h.codes, c)
	}
}

func (h *stale) run(ctx context.Context, i int, p player) {
	for k := 0; ctx.Err() == nil; k++ {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var err error
		name := fmt.Sprintf("d%d-%d", i, k)
		if k%4 == 3 {
			_, err = h.gc.StartPlay(cctx, &ovenv1.StartPlayRequest{PlayerId: p.id, CookieId: "brave"})
		} else {
			_, err = h.gc.UpdateMe(cctx, &ovenv1.UpdateMeRequest{PlayerId: p.id, Name: name})
		}
		cancel()
		h.mu.Lock()
		h.record(err)
		switch {
		case err == nil && k%4 == 3:
			h.starts[p.id]++
		case err == nil:
			h.acked[p.id] = name
		}
		h.mu.Unlock()
		sleep(ctx, 20*time.Millisecond)
	}
}

// TestStackSurvivesEtcdOutage runs the stack on an etcd the test embeds itself
// (OVEN_ETCD_ENDPOINTS) and stops that etcd for 10 s under load: the shards keep serving
// the slots they own, nothing moves, no client sees an error, and membership works again
// once etcd is back (a shard can join).
func TestStackSurvivesEtcdOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the whole stack")
	}
	ctx := context.Background()
	etcd, err := localdeps.StartEtcd(ctx, t.TempDir(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(etcd.Close) // after the stack's own cleanup: its shards drain through etcd
	st := bootStack(t, "OVEN_LEASE_TTL=3s", "OVEN_ETCD_ENDPOINTS="+etcd.Endpoint())
	g := &game{base: st.base, http: &http.Client{Timeout: 10 * time.Second}}

	w, stopLoad := startWorkload(t, g, 6)
	time.Sleep(2 * time.Second)
	before := st.slotMoves(t)
	errsBefore, _ := w.errors()
	down := time.Now()
	if err := etcd.Restart(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("etcd down for %.1f s", time.Since(down).Seconds())
	time.Sleep(5 * time.Second) // leases renewed, watches resumed
	stopLoad()
	after := st.slotMoves(t)
	errs, calls := w.errors()
	errs = errs[len(errsBefore):]
	t.Logf("during the etcd outage: %d client errors in %d calls; slot moves %.0f → %.0f", len(errs), calls, sum(before), sum(after))
	if len(errs) > 0 {
		t.Errorf("clients saw errors while etcd was down:\n%s", strings.Join(errs, "\n"))
	}
	if sum(after) != sum(before) {
		t.Errorf("slots moved while etcd was down: %v → %v", before, after)
	}

	cli, err := cluster.DialEtcd(etcd.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	waitFor(t, 15*time.Second, func() error { return activeMembers(cli, 3) })
	if got := st.scale(t, 4, nil); len(got) != 4 {
		t.Fatalf("scale 4 after the outage: %v", got)
	}
	if err := activeMembers(cli, 4); err != nil {
		t.Error(err)
	}
	w.audit(t, st)
	st.interrupt()
}

// activeMembers checks that etcd lists n active shards.
func activeMembers(cli *clientv3.Client, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, "/oven/members/", clientv3.WithPrefix())
	if err != nil {
		return err
	}
	var active []string
	for _, kv := range resp.Kvs {
		var r cluster.Record
		if json.Unmarshal(kv.Value, &r) == nil && r.State == cluster.StateActive {
			active = append(active, strings.TrimPrefix(string(kv.Key), "/oven/members/"))
		}
	}
	if len(active) != n {
		return fmt.Errorf("active in etcd: %v, want %d", active, n)
	}
	return nil
}

// logged reports whether the runner's output has a line of shard id containing what.
func (s *runningStack) logged(what, id string) bool {
	for line := range strings.Lines(s.out.String()) {
		if strings.Contains(line, what) && strings.Contains(line, `"shard":"`+id+`"`) {
			return true
		}
	}
	return false
}

// shardMetrics reads stack.json's shard_metrics.
func (s *runningStack) shardMetrics(t *testing.T) map[string]string {
	t.Helper()
	var f struct {
		ShardMetrics map[string]string `json:"shard_metrics"`
	}
	s.readStackJSON(t, &f)
	return f.ShardMetrics
}

// slotMoves returns each shard's oven_slot_moves_total (slots it took over).
func (s *runningStack) slotMoves(t *testing.T) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for id, addr := range s.shardMetrics(t) {
		out[id] = metricSum(t, addr, "oven_slot_moves_total")
	}
	return out
}

// owns is nil once shard id serves slots.
func (s *runningStack) owns(t *testing.T, id string) error {
	n, err := scrapeSum(s.shardMetrics(t)[id], "oven_shard_slots_owned")
	if err == nil && n == 0 {
		err = fmt.Errorf("%s owns no slot yet", id)
	}
	return err
}

func sum(m map[string]float64) float64 {
	var n float64
	for _, v := range m {
		n += v
	}
	return n
}

// scale asks the runner, on its control socket, for n shards (draining those named, if
// any) and returns the shards it runs afterwards.
func (s *runningStack) scale(t *testing.T, n int, drain []string) []string {
	t.Helper()
	var f struct {
		Control string `json:"control"`
	}
	s.readStackJSON(t, &f)
	if f.Control == "" {
		t.Fatal("stack.json names no control socket")
	}
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", f.Control)
		},
	}}
	body, _ := json.Marshal(map[string]any{"shards": n, "drain": drain})
	began := time.Now()
	r, err := hc.Post("http://run/scale", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Shards []string `json:"shards"`
		Error  string   `json:"error"`
	}
	if r.StatusCode != 200 || decodeJSON(r, &out) != nil {
		t.Fatalf("POST /scale %s: %d %s", body, r.StatusCode, readAll(r))
	}
	r.Body.Close()
	t.Logf("POST /scale %s: %v in %.1f s", body, out.Shards, time.Since(began).Seconds())
	return out.Shards
}
