package stack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// Counters are the stores' own cumulative counters: how much work the stack asked of
// them. Differences over a phase, divided by its requests, give the store work per
// request (DESIGN.md: overhead stays under 2× the round trips to the stores).
type Counters struct {
	At             time.Time        `json:"at"`
	RedisCommands  int64            `json:"redis_commands"`
	RedisByCommand map[string]int64 `json:"redis_by_command,omitempty"`
	PGCommits      int64            `json:"pg_commits"`
	PGRollbacks    int64            `json:"pg_rollbacks"`
	PGRowsRead     int64            `json:"pg_rows_read"`    // tup_fetched
	PGRowsWritten  int64            `json:"pg_rows_written"` // inserted + updated + deleted
	PGWALBytes     int64            `json:"pg_wal_bytes"`
}

// ReadCounters reads the counters of the stores at the given URLs. PostgreSQL reports
// a backend's counts when its transaction ends, at most about a second late under load
// (up to 10 s for a connection that went idle), so differences are approximate at the
// edges of a phase.
func ReadCounters(ctx context.Context, databaseURL, redisURL string) (Counters, error) {
	c := Counters{At: time.Now(), RedisByCommand: map[string]int64{}}
	var errs []error
	if redisURL != "" {
		errs = append(errs, readRedis(ctx, redisURL, &c))
	}
	if databaseURL != "" {
		errs = append(errs, readPG(ctx, databaseURL, &c))
	}
	return c, errors.Join(errs...)
}

func readRedis(ctx context.Context, url string, c *Counters) error {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	info, err := rdb.Info(ctx, "stats", "commandstats").Result()
	if err != nil {
		return fmt.Errorf("redis info: %w", err)
	}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
			c.RedisCommands, _ = strconv.ParseInt(v, 10, 64)
		}
		// cmdstat_evalsha:calls=12,usec=...
		if rest, ok := strings.CutPrefix(line, "cmdstat_"); ok {
			name, stats, _ := strings.Cut(rest, ":")
			for f := range strings.SplitSeq(stats, ",") {
				if v, ok := strings.CutPrefix(f, "calls="); ok {
					c.RedisByCommand[name], _ = strconv.ParseInt(v, 10, 64)
				}
			}
		}
	}
	return nil
}

func readPG(ctx context.Context, url string, c *Counters) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return err
	}
	cfg.ConnectTimeout = 5 * time.Second
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(ctx)
	var lsn string
	err = conn.QueryRow(ctx, `
		SELECT xact_commit, xact_rollback, tup_fetched, tup_inserted + tup_updated + tup_deleted,
		       (pg_current_wal_lsn() - '0/0'::pg_lsn)::text
		FROM pg_stat_database WHERE datname = current_database()`).
		Scan(&c.PGCommits, &c.PGRollbacks, &c.PGRowsRead, &c.PGRowsWritten, &lsn)
	if err != nil {
		return fmt.Errorf("postgres stats: %w", err)
	}
	c.PGWALBytes, _ = strconv.ParseInt(strings.Split(lsn, ".")[0], 10, 64)
	return nil
}

// PerRequest is the store work of a phase divided by its requests.
type PerRequest struct {
	Requests      int64              `json:"requests"`
	RedisCommands float64            `json:"redis_commands"`
	RedisTop      map[string]float64 `json:"redis_top,omitempty"`
	PGCommits     float64            `json:"pg_commits"`
	PGRowsRead    float64            `json:"pg_rows_read"`
	PGRowsWritten float64            `json:"pg_rows_written"`
	PGWALBytes    float64            `json:"pg_wal_bytes"`
}

// Per divides the work between two readings by the requests served meanwhile. The
// readings' own few commands (connection set-up, INFO) are negligible in the total and
// left out of the breakdown.
func Per(before, after Counters, requests int64) PerRequest {
	if requests <= 0 {
		return PerRequest{}
	}
	n := float64(requests)
	p := PerRequest{Requests: requests,
		RedisCommands: float64(after.RedisCommands-before.RedisCommands) / n,
		PGCommits:     float64(after.PGCommits-before.PGCommits) / n,
		PGRowsRead:    float64(after.PGRowsRead-before.PGRowsRead) / n,
		PGRowsWritten: float64(after.PGRowsWritten-before.PGRowsWritten) / n,
		PGWALBytes:    float64(after.PGWALBytes-before.PGWALBytes) / n,
		RedisTop:      map[string]float64{},
	}
	for name, calls := range after.RedisByCommand {
		if d := calls - before.RedisByCommand[name]; d > 0 && name != "info" && name != "hello" && !strings.HasPrefix(name, "client") {
			p.RedisTop[name] = float64(d) / n
		}
	}
	return p
}
