package redisdb

import (
	"context"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven/application/grouping"
)

// Grouping: a shard's Redis commands and pipelines from many requests at once go to
// Redis together, one pipeline per round trip, instead of one round trip (and one wake
// of Redis and of the shard) each. It is a go-redis hook, so every caller (scripts,
// Pipe, plain commands) is grouped without knowing it:
//
//   - a caller's command, or its whole pipeline, is one unit: it stays in order and
//     contiguous, and a unit's commands get their own replies and errors (a pipeline has
//     no transaction: one unit's error never touches another's);
//   - there is no timer (package grouping): at low load a command goes at once, alone,
//     sent by its own caller, and groups grow with the load;
//   - what must not share a pipeline runs alone, as before: MULTI/EXEC transactions,
//     blocking commands, and commands without a key (SCRIPT LOAD, PING, INFO…), which a
//     Redis Cluster fans out or routes on their own.
//
// The group runs on its own client (the same options, a small pool), so a unit waiting
// for its group holds no connection.

// group sends callers' units in pipelines on raw (package grouping runs them).
type group struct {
	raw    redis.UniversalClient
	groups *grouping.Group[*redisUnit]
}

// redisUnit is one caller's command, or its whole pipeline.
type redisUnit struct {
	ctx  context.Context
	cmds []redis.Cmder
}

func newGroup(raw redis.UniversalClient, senders int, reg prometheus.Registerer) *group {
	sizes := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "oven_redis_group_units",
		Help:    "Callers' commands or pipelines (units) sent to Redis in one pipeline by the shard's grouping.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}})
	if reg != nil {
		reg.MustRegister(sizes)
	}
	g := &group{raw: raw}
	g.groups = grouping.New(g.send, senders, 256, sizes)
	return g
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

// do sends cmds as one unit of a group and returns the first command's error (as a
// pipeline's Exec does). A caller whose ctx ends while the unit is still queued sends
// nothing and gets ctx's error; once sent, it waits for the reply (bounded by the
// client's read and write timeouts).
func (g *group) do(ctx context.Context, cmds []redis.Cmder) error {
	if !g.groups.Do(ctx, &redisUnit{ctx: ctx, cmds: cmds}) {
		for _, c := range cmds {
			c.SetErr(ctx.Err())
		}
		return ctx.Err()
	}
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return err
		}
	}
	return nil
}

// send sends a group's units as one pipeline; each command gets its own reply or error.
func (g *group) send(units []*redisUnit) {
	pipe := g.raw.Pipeline()
	for _, u := range units {
		pipe.BatchProcess(u.ctx, u.cmds...)
	}
	pipe.Exec(context.Background())
}
