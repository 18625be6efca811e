package chaos_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovengames/oven/loadtest/chaos"
	"github.com/ovengames/oven/loadtest/stack"
	"github.com/ovengames/oven/loadtest/stats"
	"github.com/ovengames/oven/loadtest/vp"
)

// fakeStack stands for a booted dev stack: its "shards" are sleep processes this test
// starts, its metrics and API are httptest servers.
type fakeStack struct {
	mu   sync.Mutex
	info stack.Info
	root int
}

func (f *fakeStack) Current() (*stack.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.info
	i.PIDs = map[string]int{}
	for k, v := range f.info.PIDs {
		i.PIDs[k] = v
	}
	return &i, nil
}

func (f *fakeStack) Pid() int { return f.root }

func (f *fakeStack) setPid(id string, pid int) {
	f.mu.Lock()
	f.info.PIDs[id] = pid
	f.mu.Unlock()
}

// sleeper starts a process that waits to be signalled, and reaps it at the end.
func sleeper(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "120")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	return cmd
}

// procState returns the state letter of /proc/<pid>/stat ("" once the process is gone).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return f[0]
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// metricsServer serves before on the first scrape and after on the later ones.
func metricsServer(t *testing.T, before, after string) string {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			fmt.Fprint(w, before)
		} else {
			fmt.Fprint(w, after)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// apiServer answers GET /v1/me with 503 for the first fails probes, then 200.
func apiServer(t *testing.T, fails int64) (string, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/me" || r.Header.Get("Authorization") != "Bearer tok-a" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if n.Add(1) <= fails {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":{"code":"unavailable","message":"no owner"}}`)
			return
		}
		fmt.Fprint(w, `{"player_id":"a"}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

// answer hands the run a VP's answer, as the vp client's tap would.
func answer(r *chaos.Run, player string, status int, code string) {
	res := &vp.Response{Status: status, Code: code, Done: time.Now(), Outcome: stats.OK}
	if status >= 400 || status == 0 {
		res.Outcome = stats.Error
	}
	r.Answered(&vp.Call{Player: player, Device: "dev-" + player, Token: "tok-" + player}, res)
}

func TestKillShard(t *testing.T) {
	victim := sleeper(t)
	st := &fakeStack{root: os.Getpid(), info: stack.Info{
		Shards: map[string]string{"s1": "x", "s2": "y"},
		ShardMetrics: map[string]string{
			"s1": metricsServer(t, `oven_slot_moves_total{reason="join"} 2048`, `oven_shard_slots_owned 4096`+"\n"+`oven_slot_moves_total{reason="join"} 2048`+"\n"+`oven_slot_moves_total{reason="failover"} 2048`),
			"s2": metricsServer(t, `oven_slot_moves_total{reason="join"} 2048`, `oven_slot_moves_total{reason="join"} 1024`),
		},
		PIDs: map[string]int{"s2": victim.Process.Pid}}}
	url, probes := apiServer(t, 3)
	r := chaos.New(chaos.Plan{Kind: chaos.KillShard, Watch: 8 * time.Second, Settle: 10 * time.Millisecond}, st, url, t.Logf)
	ctx := context.Background()
	r.Arm(ctx, time.Now())
	waitFor(t, "the SIGKILL", func() bool { s := procState(victim.Process.Pid); return s == "" || s == "Z" })
	time.Sleep(5 * time.Millisecond) // answers after the fault began
	answer(r, "a", 503, "unavailable")
	answer(r, "b", 0, "conn_reset")
	answer(r, "c", 200, "")
	answer(r, "b", 200, "")   // b is served again by its own next request
	replacement := sleeper(t) // the supervisor restarts the shard
	st.setPid("s2", replacement.Process.Pid)

	rep := r.Finish(ctx)
	for _, l := range rep.Lines() {
		t.Log(l)
	}
	if !rep.Injected() || rep.Error != "" || rep.Shard != "s2" {
		t.Fatalf("report: injected %v, error %q, shard %q", rep.Injected(), rep.Error, rep.Shard)
	}
	wantActions := []string{fmt.Sprintf("SIGKILL s2 (pid %d)", victim.Process.Pid), fmt.Sprintf("deploy/run restarted s2 as pid %d", replacement.Process.Pid)}
	if len(rep.Actions) != 2 || rep.Actions[0].What != wantActions[0] || rep.Actions[1].What != wantActions[1] {
		t.Errorf("actions = %+v, want %q", rep.Actions, wantActions)
	}
	w := rep.Window
	if w.Errors != 2 || w.Affected != 2 || w.Served != 2 || len(w.Codes) != 2 {
		t.Errorf("window = %+v, want 2 errors, 2 affected, both served again", w)
	}
	// a was probed until served: three 503s, then a 200.
	if probes.Load() != 4 || w.Probes != 4 || w.ProbeErrors != 3 {
		t.Errorf("%d probes reached the server, window counted %d (%d failed); want 4 (3)", probes.Load(), w.Probes, w.ProbeErrors)
	}
	if w.ServedAllS < 1.4 { // three failed probes 0.5 s apart come first
		t.Errorf("served all again after %.2f s, want ≥ 1.4 s", w.ServedAllS)
	}
	if rep.Delta.Moves["failover"] != 2048 || len(rep.Delta.Restarted) != 1 {
		t.Errorf("delta = %+v, want 2048 failover moves and s2 restarted", rep.Delta)
	}
	if rep.Static || rep.After["s1"].Owned != 4096 {
		t.Errorf("static %v, s1 owns %v after: the survivor follows membership", rep.Static, rep.After["s1"].Owned)
	}
	if f := rep.Failover(); f == nil || !f.Injected || f.Affected != 2 || f.Served != 2 || f.Stopped {
		t.Errorf("failover evidence = %+v", f)
	}
}

func TestStopShardAlwaysContinues(t *testing.T) {
	victim := sleeper(t)
	st := &fakeStack{root: os.Getpid(), info: stack.Info{
		Shards: map[string]string{"s1": "x", "s2": "y"},
		ShardMetrics: map[string]string{
			"s2": metricsServer(t, `oven_fenced_writes_total{store="redis"} 1`, `oven_fenced_writes_total{store="redis"} 4`+"\n"+`oven_fenced_writes_total{store="postgres"} 2`),
		},
		PIDs: map[string]int{"s1": 1, "s2": victim.Process.Pid}}}
	url, _ := apiServer(t, 0)
	r := chaos.New(chaos.Plan{Kind: chaos.StopShard, Shard: "s2", Hold: 300 * time.Millisecond, Settle: 10 * time.Millisecond}, st, url, t.Logf)
	r.Arm(context.Background(), time.Now())
	waitFor(t, "the SIGSTOP", func() bool { return procState(victim.Process.Pid) == "T" })
	rep := r.Finish(context.Background())
	if s := procState(victim.Process.Pid); s == "T" || s == "" {
		t.Fatalf("after Finish the shard's state is %q, want running", s)
	}
	if len(rep.Actions) != 2 || !strings.HasPrefix(rep.Actions[0].What, "SIGSTOP s2") || !strings.HasPrefix(rep.Actions[1].What, "SIGCONT s2") {
		t.Errorf("actions = %+v", rep.Actions)
	}
	if rep.Actions[1].AtS < 0.3 {
		t.Errorf("SIGCONT after %.2f s, want ≥ the 0.3 s hold", rep.Actions[1].AtS)
	}
	if rep.StoppedFenced == nil || *rep.StoppedFenced != 5 {
		t.Errorf("stopped shard's fenced writes = %v, want 5 (3 redis + 2 postgres)", rep.StoppedFenced)
	}
	if !rep.Static {
		t.Error("no shard exports membership metrics, yet the report is not marked static")
	}
	if f := rep.Failover(); f == nil || !f.Stopped || f.StoppedFenced == nil || !f.Static {
		t.Errorf("failover evidence = %+v", f)
	}

	// Cancelled mid-hold (Ctrl-C), the shard is continued at once.
	ctx, cancel := context.WithCancel(context.Background())
	r = chaos.New(chaos.Plan{Kind: chaos.StopShard, Shard: "s2", Hold: time.Hour}, st, url, t.Logf)
	r.Arm(ctx, time.Now())
	waitFor(t, "the second SIGSTOP", func() bool { return procState(victim.Process.Pid) == "T" })
	cancel()
	r.Finish(ctx)
	if s := procState(victim.Process.Pid); s == "T" || s == "" {
		t.Fatalf("after a cancelled hold the shard's state is %q, want running", s)
	}
}

func TestNeverSignalsAProcessOutsideTheStack(t *testing.T) {
	runner, outsider := sleeper(t), sleeper(t)
	st := &fakeStack{root: runner.Process.Pid, info: stack.Info{Shards: map[string]string{"s1": "x"},
		PIDs: map[string]int{"s1": outsider.Process.Pid}}}
	for _, kind := range []string{chaos.KillShard, chaos.StopShard} {
		r := chaos.New(chaos.Plan{Kind: kind, Hold: time.Millisecond, Settle: 10 * time.Millisecond}, st, "http://127.0.0.1:1", nil)
		r.Arm(context.Background(), time.Now())
		rep := r.Finish(context.Background())
		if !strings.Contains(rep.Error, "not a process of the stack") || len(rep.Actions) != 0 {
			t.Errorf("%s: error %q, actions %+v; want a refusal", kind, rep.Error, rep.Actions)
		}
		if s := procState(outsider.Process.Pid); s != "S" && s != "R" {
			t.Errorf("%s: the outsider's state is %q", kind, s)
		}
		if f := rep.Failover(); f == nil || f.Problem == "" {
			t.Errorf("%s: failover evidence %+v should carry the problem", kind, f)
		}
	}
}

func TestScaleThroughTheControlSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "chaos")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "control.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	shards := []string{"s1", "s2", "s10"}
	st := &fakeStack{root: os.Getpid(), info: stack.Info{Control: sock, PIDs: map[string]int{}}}
	setShards := func() {
		st.mu.Lock()
		st.info.Shards = map[string]string{}
		for _, id := range shards {
			st.info.Shards[id] = "addr of " + id
		}
		st.mu.Unlock()
	}
	setShards()
	// The runner adds shards numbered after the highest, and drains the highest.
	var asked atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Shards int }
		if r.Method != http.MethodPost || r.URL.Path != "/scale" || json.NewDecoder(r.Body).Decode(&body) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		asked.Store(int64(body.Shards))
		for len(shards) < body.Shards {
			var n int
			fmt.Sscanf(shards[len(shards)-1], "s%d", &n)
			shards = append(shards, fmt.Sprintf("s%d", n+1))
		}
		shards = shards[:body.Shards]
		setShards()
		json.NewEncoder(w).Encode(map[string]any{"shards": shards})
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	tests := []struct {
		kind      string
		wantN     int64
		wantShard string
	}{
		{chaos.AddShard, 4, "s11"},
		{chaos.DrainShard, 3, "s11"},
		{chaos.DrainShard, 2, "s10"},
	}
	for _, tc := range tests {
		r := chaos.New(chaos.Plan{Kind: tc.kind, Settle: 10 * time.Millisecond}, st, "http://127.0.0.1:1", t.Logf)
		r.Arm(context.Background(), time.Now())
		time.Sleep(20 * time.Millisecond)
		answer(r, "a", 200, "")
		rep := r.Finish(context.Background())
		if asked.Load() != tc.wantN || rep.Error != "" || rep.Shard != tc.wantShard {
			t.Errorf("%s: asked for %d shards, error %q, shard %q; want %d, %q", tc.kind, asked.Load(), rep.Error, rep.Shard, tc.wantN, tc.wantShard)
		}
		if rep.Window.Errors != 0 || rep.Failover() != nil {
			t.Errorf("%s: window %+v, failover %+v", tc.kind, rep.Window, rep.Failover())
		}
	}

	st.mu.Lock()
	st.info.Control = ""
	st.mu.Unlock()
	r := chaos.New(chaos.Plan{Kind: chaos.AddShard, Settle: 10 * time.Millisecond}, st, "http://127.0.0.1:1", nil)
	r.Arm(context.Background(), time.Now())
	if rep := r.Finish(context.Background()); !strings.Contains(rep.Error, "control") {
		t.Errorf("without a control socket: error %q", rep.Error)
	}
}

func TestFaultNotDueBeforeThePhaseEnds(t *testing.T) {
	st := &fakeStack{root: os.Getpid(), info: stack.Info{Shards: map[string]string{"s1": "x"}}}
	r := chaos.New(chaos.Plan{Kind: chaos.KillShard, At: time.Hour}, st, "http://127.0.0.1:1", nil)
	r.Arm(context.Background(), time.Now())
	rep := r.Finish(context.Background())
	if rep.Injected() || rep.Error == "" {
		t.Errorf("report %+v: want not injected, with the reason", rep)
	}
	if got := rep.Lines(); len(got) != 1 || !strings.Contains(got[0], "not injected") {
		t.Errorf("lines = %q", got)
	}
}
