package stack_test

import (
	"math"
	"testing"

	"github.com/ovengames/oven/loadtest/stack"
)

func TestPer(t *testing.T) {
	before := stack.Counters{RedisCommands: 100, PGCommits: 10, PGRowsWritten: 5,
		RedisByCommand: map[string]int64{"evalsha": 40, "info": 3}}
	after := stack.Counters{RedisCommands: 401, PGCommits: 210, PGRowsWritten: 405, PGWALBytes: 1000,
		RedisByCommand: map[string]int64{"evalsha": 240, "hgetall": 100, "info": 4}}
	p := stack.Per(before, after, 100)
	near := func(name string, got, want float64) {
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	near("redis commands", p.RedisCommands, 3.01)
	near("pg commits", p.PGCommits, 2)
	near("pg rows written", p.PGRowsWritten, 4)
	near("evalsha", p.RedisTop["evalsha"], 2)
	near("hgetall", p.RedisTop["hgetall"], 1)
	if _, ok := p.RedisTop["info"]; ok {
		t.Error("the readings' own INFO calls were counted")
	}
	if z := stack.Per(before, after, 0); z.RedisCommands != 0 {
		t.Errorf("no requests: %+v", z)
	}
}
