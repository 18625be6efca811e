package redisdb

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven/application/fence"
)

//go:embed lua
var luaFS embed.FS

func lua(name string) string {
	b, err := luaFS.ReadFile("lua/" + name)
	if err != nil {
		panic("redisdb: " + err.Error())
	}
	return string(b)
}

// Script is one of Oven's Lua scripts. A fenced script writes a player's state: it
// runs behind the fence preamble (lua/fence.lua), so Run passes the slot's fence key
// and the caller's epoch ahead of the script's own keys and arguments.
type Script struct {
	name   string
	fenced bool
	s      *redis.Script
}

// newScript assembles a script from the Lua files parts (libraries first, the body
// last), behind the fence preamble when fenced.
func newScript(fenced bool, parts ...string) *Script {
	var src strings.Builder
	if fenced {
		src.WriteString(lua("fence.lua"))
	}
	for _, p := range parts {
		src.WriteString(lua(p))
		src.WriteString("\n")
	}
	return &Script{name: parts[len(parts)-1], fenced: fenced, s: redis.NewScript(src.String())}
}

// Name is the script's file name under lua/.
func (sc *Script) Name() string { return sc.name }

// Fenced reports whether the script writes a player's state behind the fence.
func (sc *Script) Fenced() bool { return sc.fenced }

// call is one script invocation with its final keys and arguments.
type call struct {
	sc   *Script
	tok  fence.Token
	keys []string
	args []any
}

// prepare checks a fenced call's token and keys and puts the fence first.
func (db *DB) prepare(ctx context.Context, sc *Script, keys []string, args []any) (call, error) {
	c := call{sc: sc, keys: keys, args: args}
	if !sc.fenced {
		return c, nil
	}
	tok, err := fence.Must(ctx)
	if err != nil {
		return c, fmt.Errorf("redisdb: %s: %w", sc.name, err)
	}
	for _, k := range keys {
		if !db.inSlot(k, tok.Slot) {
			// A key outside the token's slot is a bug (the wrong player's token), and
			// on Redis Cluster a cross-slot script.
			return c, fmt.Errorf("redisdb: %s: key %q is not in slot %d", sc.name, k, tok.Slot)
		}
	}
	c.tok = tok
	c.keys = append(append(make([]string, 0, len(keys)+1), db.Fence(tok.Slot)), keys...)
	c.args = append(append(make([]any, 0, len(args)+1), tok.Epoch), args...)
	return c, nil
}

// Run runs sc with keys and args. A fenced script takes the fence token from ctx
// (fence.Must): without one it writes nothing and fails with fence.ErrNoToken; refused
// by the fence, its error is a *fence.Error. A script the server does not know yet
// (a restart, SCRIPT FLUSH) is sent in full.
func (db *DB) Run(ctx context.Context, sc *Script, keys []string, args ...any) *redis.Cmd {
	c, err := db.prepare(ctx, sc, keys, args)
	if err != nil {
		cmd := redis.NewCmd(ctx)
		cmd.SetErr(err)
		return cmd
	}
	cmd := sc.s.Run(ctx, db.Client, c.keys, c.args...)
	c.settle(cmd)
	return cmd
}

// settle turns a fence refusal into a *fence.Error.
func (c call) settle(cmd *redis.Cmd) {
	if c.sc.fenced && redis.HasErrorPrefix(cmd.Err(), "FENCED") {
		cmd.SetErr(&fence.Error{Store: fence.StoreRedis, Slot: c.tok.Slot, Epoch: c.tok.Epoch})
	}
}

// LoadScripts loads every script into Redis (on every master of a cluster), so that
// pipelines find them at once; Run and Pipe load them again when the server forgets.
func (db *DB) LoadScripts(ctx context.Context) error {
	for _, sc := range All() {
		if err := sc.s.Load(ctx, db.Client).Err(); err != nil {
			return fmt.Errorf("redisdb: load %s: %w", sc.name, err)
		}
	}
	return nil
}

// Pipe queues commands and scripts and sends them in one round trip. It is a
// redis.Pipeliner for plain commands; scripts go through Run.
type Pipe struct {
	redis.Pipeliner
	db    *DB
	calls []queued
}

type queued struct {
	call
	cmd *redis.Cmd
}

// Pipeline returns an empty Pipe.
func (db *DB) Pipeline() *Pipe { return &Pipe{Pipeliner: db.Client.Pipeline(), db: db} }

// Run queues sc (as DB.Run does; see there); its result is in the returned Cmd after Exec.
func (p *Pipe) Run(ctx context.Context, sc *Script, keys []string, args ...any) *redis.Cmd {
	c, err := p.db.prepare(ctx, sc, keys, args)
	if err != nil {
		cmd := redis.NewCmd(ctx)
		cmd.SetErr(err)
		return cmd
	}
	cmd := sc.s.EvalSha(ctx, p.Pipeliner, c.keys, c.args...)
	p.calls = append(p.calls, queued{c, cmd})
	return cmd
}

// Exec sends the queued commands. A script the server did not know (NOSCRIPT) is run
// again in full after the pipeline, provided every command queued before it succeeded
// (redis.Nil counts as success), so that it still never takes effect without them.
// Like redis.Pipeliner's, the error is the first command's error, redis.Nil included.
func (p *Pipe) Exec(ctx context.Context) ([]redis.Cmder, error) {
	cmds, err := p.Pipeliner.Exec(ctx)
	if len(p.calls) == 0 {
		return cmds, err
	}
	calls := make(map[redis.Cmder]call, len(p.calls))
	for _, q := range p.calls {
		calls[q.cmd] = q.call
	}
	p.calls = nil
	failed := false
	for _, c := range cmds {
		q, isScript := calls[c]
		if isScript && !failed && redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			again := q.sc.s.Run(ctx, p.db.Client, q.keys, q.args...)
			cmd := c.(*redis.Cmd)
			cmd.SetVal(again.Val())
			cmd.SetErr(again.Err())
		}
		if isScript {
			q.settle(c.(*redis.Cmd))
		}
		if e := c.Err(); e != nil && !errors.Is(e, redis.Nil) {
			failed = true
		}
	}
	for _, c := range cmds {
		if c.Err() != nil {
			return cmds, c.Err()
		}
	}
	return cmds, nil
}
