package chaos

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ovengames/oven/loadtest/machine"
	"github.com/ovengames/oven/loadtest/stack"
)

// Stack is the dev stack this run booted, the only one a fault may touch.
type Stack interface {
	// Current reads its stack.json as it is now: the supervisor rewrites the pids when
	// it restarts a process, and scaling changes the shards.
	Current() (*stack.Info, error)
	// Pid is deploy/run's pid: every process signalled must descend from it.
	Pid() int
}

// ShardOrder sorts shard ids by their number ("s2" before "s10"), as the runner does.
func ShardOrder(a, b string) int {
	na, ea := strconv.Atoi(strings.TrimLeft(a, "abcdefghijklmnopqrstuvwxyz-_"))
	nb, eb := strconv.Atoi(strings.TrimLeft(b, "abcdefghijklmnopqrstuvwxyz-_"))
	if ea == nil && eb == nil && na != nb {
		return cmp.Compare(na, nb)
	}
	return cmp.Compare(a, b)
}

// pickShard returns the plan's shard, or the highest-numbered one.
func pickShard(info *stack.Info, want string) (string, error) {
	ids := slices.SortedFunc(maps.Keys(info.Shards), ShardOrder)
	if len(ids) == 0 {
		return "", errors.New("stack.json lists no shards")
	}
	if want == "" {
		return ids[len(ids)-1], nil
	}
	if _, ok := info.Shards[want]; !ok {
		return "", fmt.Errorf("no shard %q in stack.json (shards: %s)", want, strings.Join(ids, ", "))
	}
	return want, nil
}

// shardPid returns the pid of a shard of the stack, after checking that the process
// descends from deploy/run: a fault never reaches a process this run did not start.
func shardPid(st Stack, info *stack.Info, id string) (int, error) {
	pid := info.PIDs[id]
	if pid <= 1 || pid == os.Getpid() {
		return 0, fmt.Errorf("stack.json has no pid for shard %s (pids: %v)", id, info.PIDs)
	}
	if !machine.Descends(pid, st.Pid()) {
		return 0, fmt.Errorf("pid %d of shard %s is not a process of the stack this run booted (deploy/run pid %d)", pid, id, st.Pid())
	}
	return pid, nil
}

// signal sends sig to a shard of the stack and says so in an action.
func signal(st Stack, info *stack.Info, id string, sig syscall.Signal, name string) (int, error) {
	pid, err := shardPid(st, info, id)
	if err != nil {
		return 0, err
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return 0, fmt.Errorf("%s shard %s (pid %d): %w", name, id, pid, err)
	}
	return pid, nil
}

// waitRestart polls stack.json until the shard has a new pid, or d has passed.
func waitRestart(ctx context.Context, st Stack, id string, old int, d time.Duration) (int, bool) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if info, err := st.Current(); err == nil {
			if pid := info.PIDs[id]; pid != 0 && pid != old {
				return pid, true
			}
		}
		sleep(ctx, 200*time.Millisecond)
	}
	return 0, false
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// scaleTimeout bounds a scaling request: the runner answers once new shards serve or
// drained ones have exited.
const scaleTimeout = 2 * time.Minute

// scale asks the runner, over its control socket, for n shards and returns the shards
// it then runs.
func scale(ctx context.Context, socket string, n int) ([]string, error) {
	if socket == "" {
		return nil, errors.New(`stack.json names no "control" socket: this deploy/run cannot scale`)
	}
	client := &http.Client{Timeout: scaleTimeout, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "unix", socket)
		}}}
	defer client.CloseIdleConnections()
	body, _ := json.Marshal(map[string]int{"shards": n})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://deploy-run/scale", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("POST /scale: %w", err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST /scale {\"shards\": %d}: %s %s", n, res.Status, bytes.TrimSpace(raw))
	}
	var out struct {
		Shards []string `json:"shards"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("POST /scale: answer %q: %w", raw, err)
	}
	return out.Shards, nil
}
