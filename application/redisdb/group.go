package redisdb

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Grouping: a shard's Redis commands and pipelines from many requests at once go to
// Redis together, one pipeline per round trip, instead of one round trip (and one wake
// of Redis and of the shard) each. It is a go-redis hook, so every caller (scripts,
// Pipe, plain commands) is grouped without knowing it:
//
//   - a caller's command, or its whole pipeline, is one unit: it stays in order and
//     contiguous, and a unit's commands get their own replies and errors (a pipeline has
//     no transaction: one unit's error never touches another's);
//   - there is no timer: senders each take everything queued when they become free, so
//     at low load a command goes at once, alone, and groups grow with the load;
//   - what must not share a pipeline runs alone, as before: MULTI/EXEC transactions,
//     blocking commands, and commands without a key (SCRIPT LOAD, PING, INFO…), which a
//     Redis Cluster fans out or routes on their own.
//
// The group runs on its own client (the same options, a small pool), so a unit waiting
// for its group holds no connection.

// group queues units and sends them in pipelines on raw.
type group struct {
	raw    redis.UniversalClient
	max    int
	sizes  prometheus.Observer
	mu     sync.Mutex
	cond   *sync.Cond
	queue  []*redisUnit
	closed bool
	wg     sync.WaitGroup
}

type redisUnit struct {
	ctx   context.Context
	cmds  []redis.Cmder
	state atomic.Int32 // queued → taken or abandoned
	done  chan struct{}
}

const (
	unitQueued int32 = iota
	unitTaken
	unitAbandoned
)

func newGroup(raw redis.UniversalClient, senders int, reg prometheus.Registerer) *group {
	sizes := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "oven_redis_group_units",
		Help:    "Callers' commands or pipelines (units) sent to Redis in one pipeline by the shard's grouping.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}})
	if reg != nil {
		reg.MustRegister(sizes)
	}
	g := &group{raw: raw, max: 256, sizes: sizes}
	g.cond = sync.NewCond(&g.mu)
	for range senders {
		g.wg.Add(1)
		go g.send()
	}
	return g
}

// close stops the senders once the queue is empty; later units fail with ErrClosed.
func (g *group) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.cond.Broadcast()
	g.wg.Wait()
	g.raw.Close()
}

var _ redis.Hook = (*group)(nil)

func (g *group) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *group) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !groupable(cmd) {
			return next(ctx, cmd)
		}
		return g.do(ctx, []redis.Cmder{cmd})
	}
}

// ProcessPipelineHook wraps both the pipeline and the MULTI/EXEC chains; a
// transaction's commands come wrapped in MULTI … EXEC and pass through.
func (g *group) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) == 0 || cmds[0].Name() == "multi" {
			return next(ctx, cmds)
		}
		for _, c := range cmds {
			if !groupable(c) {
				return next(ctx, cmds)
			}
		}
		return g.do(ctx, cmds)
	}
}

// notGrouped are the commands that run alone: keyless, blocking, or connection state.
var notGrouped = map[string]bool{
	"script": true, "function": true, "ping": true, "echo": true, "info": true, "time": true, "dbsize": true,
	"flushdb": true, "flushall": true, "cluster": true, "client": true, "config": true, "hello": true,
	"auth": true, "select": true, "keys": true, "scan": true, "randomkey": true, "wait": true, "waitaof": true,
	"publish": true, "spublish": true, "subscribe": true, "psubscribe": true, "ssubscribe": true,
	"multi": true, "exec": true, "watch": true, "unwatch": true, "discard": true, "readonly": true,
	"readwrite": true, "command": true, "memory": true, "debug": true, "slowlog": true, "latency": true,
	"blpop": true, "brpop": true, "brpoplpush": true, "blmove": true, "blmpop": true, "bzpopmin": true,
	"bzpopmax": true, "bzmpop": true, "xread": true, "xreadgroup": true, "monitor": true, "swapdb": true,
}

func groupable(c redis.Cmder) bool { return !notGrouped[c.Name()] }

// do queues cmds as one unit and waits for its replies. A caller whose ctx ends while
// the unit is still queued sends nothing and gets ctx's error; once sent, it waits
// for the reply (bounded by the client's read and write timeouts).
func (g *group) do(ctx context.Context, cmds []redis.Cmder) error {
	u := &redisUnit{ctx: ctx, cmds: cmds, done: make(chan struct{})}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return setErr(cmds, redis.ErrClosed)
	}
	g.queue = append(g.queue, u)
	g.mu.Unlock()
	g.cond.Signal()
	select {
	case <-u.done:
	case <-ctx.Done():
		if u.state.CompareAndSwap(unitQueued, unitAbandoned) {
			return setErr(cmds, ctx.Err())
		}
		<-u.done
	}
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return err
		}
	}
	return nil
}

func setErr(cmds []redis.Cmder, err error) error {
	for _, c := range cmds {
		c.SetErr(err)
	}
	return err
}

// send is one sender: it takes what is queued and sends it as one pipeline.
func (g *group) send() {
	defer g.wg.Done()
	for {
		units := g.take()
		if units == nil {
			return
		}
		g.sizes.Observe(float64(len(units)))
		pipe := g.raw.Pipeline()
		for _, u := range units {
			pipe.BatchProcess(u.ctx, u.cmds...) // queued; the replies land in the callers' commands
		}
		pipe.Exec(context.Background()) // each command carries its own reply or error
		for _, u := range units {
			close(u.done)
		}
	}
}

// take waits for queued units and takes up to max of them; nil once closed and empty.
func (g *group) take() []*redisUnit {
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		for len(g.queue) == 0 {
			if g.closed {
				return nil
			}
			g.cond.Wait()
		}
		n := min(len(g.queue), g.max)
		units := make([]*redisUnit, 0, n)
		for _, u := range g.queue[:n] {
			if u.state.CompareAndSwap(unitQueued, unitTaken) {
				units = append(units, u)
			}
		}
		g.queue = append(g.queue[:0], g.queue[n:]...)
		if len(g.queue) > 0 {
			g.cond.Signal()
		}
		if len(units) > 0 {
			return units
		}
	}
}
