package localdeps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// RedisClusterOptions configures [StartRedisCluster].
type RedisClusterOptions struct {
	// Masters is the number of master nodes (default 3, the fewest
	// redis-cli --cluster create accepts). There are no replicas.
	Masters int
	// Log receives every node's output; nil discards it (the last lines are
	// still included in startup errors).
	Log io.Writer
}

// RedisCluster is an ephemeral Redis Cluster started by [StartRedisCluster]:
// Debian's redis-server nodes on random ports in a temporary directory, every
// hash slot assigned.
type RedisCluster struct {
	nodes     []*Redis
	root      string
	closeOnce sync.Once
	closeErr  error
}

// StartRedisCluster starts opt.Masters cluster-enabled redis-server nodes,
// joins them with redis-cli --cluster create and waits until every node
// reports cluster_state:ok (bounded by ctx, or two minutes if ctx has no
// deadline). Call Close to stop it.
func StartRedisCluster(ctx context.Context, opt RedisClusterOptions) (*RedisCluster, error) {
	ctx, cancel := withDefaultTimeout(ctx, defaultStartTimeout)
	defer cancel()
	if opt.Masters == 0 {
		opt.Masters = 3
	}
	if opt.Masters < 3 {
		return nil, fmt.Errorf("localdeps: a Redis Cluster needs at least 3 masters, not %d", opt.Masters)
	}
	cli, err := findRedisCLI(ctx)
	if err != nil {
		return nil, err
	}
	root, err := makeTempRoot("oven-redistmp-cluster-") // swept like a lone server's when left behind
	if err != nil {
		return nil, err
	}
	c := &RedisCluster{root: root}
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, opt.Masters)
	for i := range opt.Masters {
		wg.Go(func() {
			r, err := StartRedis(ctx, RedisOptions{Dir: filepath.Join(root, fmt.Sprintf("node%d", i)), Cluster: true, Log: opt.Log})
			errs[i] = err
			if err == nil {
				mu.Lock()
				c.nodes = append(c.nodes, r)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	cmd := exec.CommandContext(ctx, cli, args...)
	cmd.Env = childEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("localdeps: redis-cli --cluster create: %v\n%s", err, lastLines(out, 20))
	}
	if err := c.waitOK(ctx); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

// waitOK waits until every node sees the whole cluster healthy.
func (c *RedisCluster) waitOK(ctx context.Context) error {
	for {
		var bad error
		for _, n := range c.nodes {
			info, err := respCommand(ctx, "tcp", n.Addr(), "CLUSTER", "INFO")
			if err == nil && (!strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") ||
				!strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", len(c.nodes)))) {
				err = fmt.Errorf("not ready: %s", strings.Join(strings.Fields(info)[:min(3, len(strings.Fields(info)))], " "))
			}
			if err != nil {
				bad = fmt.Errorf("node %s: %w", n.Addr(), err)
				break
			}
		}
		if bad == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("localdeps: redis cluster not ok: %w", bad)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// findRedisCLI locates redis-cli (Debian's redis-tools, which redis-server
// depends on) next to redis-server or on PATH.
func findRedisCLI(ctx context.Context) (string, error) {
	server, err := ensureRedis(ctx)
	if err != nil {
		return "", err
	}
	if p := filepath.Join(filepath.Dir(server), "redis-cli"); isExecutable(p) {
		return p, nil
	}
	if p, err := exec.LookPath("redis-cli"); err == nil {
		return p, nil
	}
	return "", errors.New("localdeps: redis-cli not found; install with: sudo apt-get install -y redis-tools")
}

// Addrs returns the nodes' TCP addresses, 127.0.0.1:PORT.
func (c *RedisCluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.Addr()
	}
	return out
}

// URL returns the cluster in the form Oven's OVEN_REDIS_URL accepts:
// redis://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3?cluster=true.
func (c *RedisCluster) URL() string {
	return "redis://" + strings.Join(c.Addrs(), ",") + "?cluster=true"
}

// Close stops every node and removes the cluster's directory. It is
// idempotent; later calls return the first result.
func (c *RedisCluster) Close() error {
	c.closeOnce.Do(func() {
		errs := make([]error, len(c.nodes)+1)
		var wg sync.WaitGroup
		for i, n := range c.nodes {
			wg.Go(func() { errs[i] = n.Stop() })
		}
		wg.Wait()
		errs[len(c.nodes)] = os.RemoveAll(c.root)
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}
