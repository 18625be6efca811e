// Package audit checks DESIGN.md's invariants against the stores directly after a load
// run: PostgreSQL for wallets, the ledger and play records, Redis for lives and the
// weekly leaderboards. It also folds in what the virtual players saw from the client
// side (repeated settles, concurrent starts), and says plainly which invariants this
// run could not check.
package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven/application/leaderboard"
	"github.com/ovengames/oven/application/redisdb"
	"github.com/ovengames/oven/loadtest/vp"
)

// redisKeys is the stack's key scheme (the dev stack uses no prefix).
var redisKeys = redisdb.Keys{}

// Statuses of a check.
const (
	Pass       = "PASS"
	Fail       = "FAIL"
	NotChecked = "NOT CHECKED"
	Errored    = "ERROR" // the check itself could not run
)

// maxExamples bounds the examples of violations kept per check.
const maxExamples = 8

// Check is the outcome of one invariant.
type Check struct {
	Invariant  int        `json:"invariant"`
	Title      string     `json:"title"`
	Status     string     `json:"status"`
	Checked    int64      `json:"checked"`
	Violations int64      `json:"violations"`
	What       string     `json:"what"` // what was checked, in a sentence
	Examples   []string   `json:"examples,omitempty"`
	Client     []vp.Check `json:"client,omitempty"` // client-side checks folded in
	Note       string     `json:"note,omitempty"`
}

func (c *Check) violate(format string, args ...any) {
	c.Violations++
	if len(c.Examples) < maxExamples {
		c.Examples = append(c.Examples, fmt.Sprintf(format, args...))
	}
}

// settle decides the status from the store and client-side counts.
func (c *Check) settle(err error) {
	if err != nil {
		c.Status, c.Note = Errored, err.Error()
		return
	}
	c.Status = Pass
	bad := c.Violations
	for _, cc := range c.Client {
		bad += cc.Violations
	}
	if bad > 0 {
		c.Status = Fail
	}
}

// Config is what Run checks.
type Config struct {
	DatabaseURL string
	RedisURL    string
	// Settled are the settlements the VPs saw acknowledged; Overflow how many more
	// there were than were kept.
	Settled  []vp.Settled
	Overflow int64
	// Client are the VPs' client-side checks.
	Client []vp.Check
	Now    time.Time
	// Lives locates the mailboxes and shard metrics for invariant 1; LivesMail asks
	// for that check (a -social run).
	Lives     LivesConfig
	LivesMail bool
	// Seeded reports players seeded straight into the stores (no play records): the
	// leaderboard check leaves them out. Nil: none.
	Seeded func(playerID int64) bool // Failover is what a run that killed or stopped a shard saw (invariant 7); nil
	// when no shard was.
	Failover *Failover
}

// Result is the audit of one run.
type Result struct {
	Checks []Check `json:"checks"`
	Took   float64 `json:"took_s"`
	Pass   bool    `json:"pass"` // no FAIL and no ERROR
	// Lives is invariant 1's reconciliation, when it ran.
	Lives *LivesTally `json:"lives,omitempty"`
}

// Run checks every invariant it can. Failing to reach a store makes those checks
// ERROR, never PASS.
func Run(ctx context.Context, cfg Config) Result {
	start := time.Now()
	if cfg.Now.IsZero() {
		cfg.Now = start
	}
	client := map[string]vp.Check{}
	for _, c := range cfg.Client {
		client[c.Name] = c
	}
	pick := func(names ...string) []vp.Check {
		var out []vp.Check
		for _, n := range names {
			if c, ok := client[n]; ok && c.Checked > 0 {
				out = append(out, c)
			}
		}
		return out
	}
	inv1 := Check{Invariant: 1, Title: "a life is never created or lost (mail)", Status: NotChecked,
		Note: "not yet: reconciling lives sent with the Couchbase mailboxes, their claiming items and the claimed sets comes next"}
	inv5 := Check{Invariant: 5, Title: "one life per sender→receiver per cooldown", Status: NotChecked,
		Note: "needs -social: lives sent by the VPs"}
	if c := pick(vp.CheckCooldown); len(c) > 0 {
		inv5 = Check{Invariant: 5, Title: inv5.Title, Client: c,
			What: "no sender→receiver pair got two lives through within the cooldown, as the VPs saw the answers",
			Note: "client-side only: the server's cooldown records are not read"}
		inv5.settle(nil)
	}
	db, dbErr := openDB(ctx, cfg.DatabaseURL)
	if db != nil {
		defer db.Close()
	}
	rdb, rdbErr := openRedis(cfg.RedisURL)
	if rdb != nil {
		defer rdb.Close()
	}

	inv2 := Check{Invariant: 2, Title: "lives never below zero", Client: pick(vp.CheckLivesProbe, vp.CheckLivesAccounting),
		What: "every lives count in Redis is ≥ 0; concurrent starts never took more lives than there were"}
	inv2.settle(errors.Join(rdbErr, checkLives(ctx, rdb, &inv2)))

	inv3 := Check{Invariant: 3, Title: "a play settles at most once", Client: pick(vp.CheckResettle, vp.CheckConflict),
		What: "play_records holds one row per play id; every settlement a VP saw acknowledged is there with its score and outcome; repeated settles got the first answer"}
	inv3.settle(errors.Join(dbErr, checkPlays(ctx, db, cfg.Settled, &inv3)))
	if cfg.Overflow > 0 {
		inv3.Note = fmt.Sprintf("%d acknowledged settlements beyond the kept ones were not cross-checked", cfg.Overflow)
	}

	inv4 := Check{Invariant: 4, Title: "coins = starting + carried + ledger", Client: pick(vp.CheckBalance),
		What: "every wallet: coins = starting_coins + carried_coins + sum(coin_ledger.amount)"}
	inv4.settle(errors.Join(dbErr, checkWallets(ctx, db, &inv4)))

	inv6 := Check{Invariant: 6, Title: "weekly score = best accepted score of the week",
		What: "every lb:week:* member decodes to the player's max accepted play_records score of that week, and every such best is on the board"}
	inv6.settle(errors.Join(dbErr, rdbErr, checkBoards(ctx, db, rdb, cfg.Now, cfg.Seeded, &inv6)))
	inv6.Note = "weeks are taken from play start times; valid while the dev clock is not moved"

	var tally *LivesTally
	if cfg.LivesMail {
		inv1 = Check{Invariant: 1, Title: inv1.Title,
			What: "every cooldown marked sent has its mail id exactly once: waiting in the receiver's Couchbase mailbox (items/claiming, from the sender) or accepted in the receiver's claimed set, never waiting and accepted; no mail id twice; life units delivered (waiting + claiming + accepted) + expired = sent (shard metrics) + deliveries of pending cooldowns; claims = accepted; the VPs' acknowledged sends and accepts ≤ the shards' counts",
			Note: "cooldown hashes expire (cooldown + 1 day): only the ones still present are matched one by one; the counts cover every mailbox of a player with a friend and every claimed set; coin mail is not checked"}
		var err error
		tally, err = checkLivesMail(ctx, db, rdb, cfg.Lives, cfg.Now, &inv1)
		inv1.settle(errors.Join(dbErr, rdbErr, err))
		if tally != nil {
			inv1.Note = tally.Summary() + ". " + inv1.Note
		}
	}

	inv7 := CheckFailover(cfg.Failover, []Check{inv1, inv2, inv3, inv4, inv5, inv6})

	api := Check{Invariant: 0, Title: "API contract seen by the VPs", Client: pick(vp.CheckDevice),
		What: "the same device id maps to the same player"}
	api.settle(nil)

	res := Result{Checks: []Check{inv1, inv2, inv3, inv4, inv5, inv6, inv7, api}, Pass: true, Lives: tally}
	for _, c := range res.Checks {
		if c.Status == Fail || c.Status == Errored {
			res.Pass = false
		}
	}
	res.Took = time.Since(start).Seconds()
	return res
}

// ClientOnly folds the client-side checks into a result for a target without stores
// (the relay).
func ClientOnly(checks []vp.Check) Result {
	c := Check{Title: "client-side checks (no stores to audit)", Client: checks, What: "what the VPs saw"}
	c.settle(nil)
	return Result{Checks: []Check{c}, Pass: c.Status == Pass}
}

func openDB(ctx context.Context, url string) (*pgxpool.Pool, error) {
	if url == "" {
		return nil, errors.New("no database url")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 2
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	return pgxpool.NewWithConfig(ctx, cfg)
}

// openRedis connects to the stack's Redis: one server or a Redis Cluster (redisdb.ParseURL).
func openRedis(url string) (redis.UniversalClient, error) {
	if url == "" {
		return nil, errors.New("no redis url")
	}
	opt, err := redisdb.ParseURL(url)
	if err != nil {
		return nil, err
	}
	opt.ReadTimeout, opt.WriteTimeout = 10*time.Second, 10*time.Second
	return redis.NewUniversalClient(opt), nil
}

// scanKeys calls fn with batches of the keys matching pattern, on every master of a
// Redis Cluster (one batch at a time).
func scanKeys(ctx context.Context, rdb redis.UniversalClient, pattern string, fn func([]string) error) error {
	var mu sync.Mutex
	scan := func(ctx context.Context, node *redis.Client) error {
		var cursor uint64
		for {
			keys, next, err := node.Scan(ctx, cursor, pattern, 1000).Result()
			if err != nil {
				return fmt.Errorf("scan %s: %w", pattern, err)
			}
			if len(keys) > 0 {
				mu.Lock()
				err := fn(keys)
				mu.Unlock()
				if err != nil {
					return err
				}
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, scan)
	}
	node, ok := rdb.(*redis.Client)
	if !ok {
		return fmt.Errorf("scan %s: cannot scan a %T", pattern, rdb)
	}
	return scan(ctx, node)
}

func checkLives(ctx context.Context, rdb redis.UniversalClient, c *Check) error {
	if rdb == nil {
		return nil
	}
	return scanKeys(ctx, rdb, redisKeys.Pattern(redisdb.KindLives), func(keys []string) error {
		pipe := rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.HGet(ctx, k, "c")
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("lives: %w", err)
		}
		for i, cmd := range cmds {
			c.Checked++
			n, ok := LivesCount(cmd.Val())
			if !ok {
				c.violate("%s: count %q is not a number", keys[i], cmd.Val())
			} else if n < 0 {
				c.violate("%s: %d lives", keys[i], n)
			}
		}
		return nil
	})
}

// LivesCount parses a lives hash's count field.
func LivesCount(v string) (int64, bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

func checkPlays(ctx context.Context, db *pgxpool.Pool, settled []vp.Settled, c *Check) error {
	if db == nil {
		return nil
	}
	var rows, distinct int64
	if err := db.QueryRow(ctx, `SELECT count(*), count(DISTINCT play_id) FROM play_records`).Scan(&rows, &distinct); err != nil {
		return fmt.Errorf("play_records: %w", err)
	}
	c.Checked = rows
	if rows != distinct {
		c.violate("%d play_records rows for %d play ids", rows, distinct)
	}
	const batch = 5000
	for i := 0; i < len(settled); i += batch {
		chunk := settled[i:min(i+batch, len(settled))]
		ids := make([]string, len(chunk))
		for j, s := range chunk {
			ids[j] = s.PlayID
		}
		got := map[string]Recorded{}
		r, err := db.Query(ctx, `SELECT play_id, player_id, score, coins, outcome FROM play_records WHERE play_id = ANY($1)`, ids)
		if err != nil {
			return fmt.Errorf("play_records: %w", err)
		}
		for r.Next() {
			var p Recorded
			if err := r.Scan(&p.PlayID, &p.PlayerID, &p.Score, &p.Coins, &p.Outcome); err != nil {
				r.Close()
				return err
			}
			got[p.PlayID] = p
		}
		if err := r.Err(); err != nil {
			return err
		}
		for _, s := range chunk {
			row, found := got[s.PlayID]
			if why := SettledMatches(s, row, found); why != "" {
				c.violate("play %s of player %s: %s", s.PlayID, s.PlayerID, why)
			}
		}
	}
	return nil
}

// Recorded is a play_records row, as far as the audit reads it.
type Recorded struct {
	PlayID   string
	PlayerID int64
	Score    int64
	Coins    int64
	Outcome  string // accepted, or rejected:<reason>
}

// SettledMatches compares an acknowledged settlement with its play_records row; it
// returns "" when they agree, or what differs.
func SettledMatches(s vp.Settled, row Recorded, found bool) string {
	switch {
	case !found:
		return "acknowledged to the client but not in play_records"
	case strconv.FormatInt(row.PlayerID, 10) != s.PlayerID:
		return fmt.Sprintf("recorded for player %d", row.PlayerID)
	case row.Score != s.Score || row.Coins != s.Coins:
		return fmt.Sprintf("client sent score %d coins %d, recorded %d and %d", s.Score, s.Coins, row.Score, row.Coins)
	case s.Accepted != (row.Outcome == "accepted"):
		return fmt.Sprintf("client saw accepted=%v, recorded %q", s.Accepted, row.Outcome)
	}
	return ""
}

func checkWallets(ctx context.Context, db *pgxpool.Pool, c *Check) error {
	if db == nil {
		return nil
	}
	r, err := db.Query(ctx, `
		SELECT w.player_id, w.coins, w.starting_coins, w.carried_coins, coalesce(l.total, 0)
		FROM wallets w LEFT JOIN (SELECT player_id, sum(amount) AS total FROM coin_ledger GROUP BY player_id) l
		USING (player_id)`)
	if err != nil {
		return fmt.Errorf("wallets: %w", err)
	}
	defer r.Close()
	for r.Next() {
		var id, coins, start, carried, ledger int64
		if err := r.Scan(&id, &coins, &start, &carried, &ledger); err != nil {
			return err
		}
		c.Checked++
		if coins != start+carried+ledger {
			c.violate("player %d: %d coins ≠ %d starting + %d carried + %d ledger", id, coins, start, carried, ledger)
		}
	}
	return r.Err()
}

// Boards maps week id → player id → a value (a sorted-set score, or a best score).
type Boards[V any] map[string]map[string]V

func (b Boards[V]) set(week, player string, v V) {
	if b[week] == nil {
		b[week] = map[string]V{}
	}
	b[week][player] = v
}

func checkBoards(ctx context.Context, db *pgxpool.Pool, rdb redis.UniversalClient, now time.Time, seeded func(int64) bool, c *Check) error {
	if db == nil || rdb == nil {
		return nil
	}
	board := Boards[float64]{}
	err := scanKeys(ctx, rdb, redisKeys.BoardPattern(), func(keys []string) error {
		for _, k := range keys {
			week := k[len(redisKeys.Board("")):]
			board[week] = map[string]float64{}
			for start := int64(0); ; start += 10000 {
				zs, err := rdb.ZRangeWithScores(ctx, k, start, start+9999).Result()
				if err != nil {
					return fmt.Errorf("%s: %w", k, err)
				}
				for _, z := range zs {
					if id, err := strconv.ParseInt(fmt.Sprint(z.Member), 10, 64); err == nil && seeded != nil && seeded(id) {
						continue
					}
					board.set(week, fmt.Sprint(z.Member), z.Score)
				}
				if len(zs) < 10000 {
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The week of a play: Monday 00:00 Asia/Seoul (UTC+9, no daylight saving), as in
	// leaderboard.WeekOf.
	r, err := db.Query(ctx, `
		SELECT player_id, to_char(date_trunc('week', (started_at AT TIME ZONE 'UTC') + interval '9 hours'), 'YYYY-MM-DD'),
		       max(score)
		FROM play_records WHERE outcome = 'accepted' GROUP BY 1, 2`)
	if err != nil {
		return fmt.Errorf("play_records: %w", err)
	}
	defer r.Close()
	best := Boards[int64]{}
	for r.Next() {
		var player, score int64
		var week string
		if err := r.Scan(&player, &week, &score); err != nil {
			return err
		}
		best.set(week, strconv.FormatInt(player, 10), score)
	}
	if err := r.Err(); err != nil {
		return err
	}
	checked, problems := CompareWeekly(board, best, leaderboard.WeekOf(now.Add(-35*24*time.Hour)).ID)
	c.Checked = checked
	for _, p := range problems {
		c.violate("%s", p)
	}
	return nil
}

// CompareWeekly checks every board entry against the best accepted scores and every
// best score against the boards. Weeks before oldest may have expired from Redis and
// are only checked where their board still exists. It returns how many entries were
// compared and one line per violation.
func CompareWeekly(board Boards[float64], best Boards[int64], oldest string) (int64, []string) {
	var checked int64
	var problems []string
	for week, members := range board {
		for player, v := range members {
			checked++
			got := leaderboard.Decode(v)
			want, ok := best[week][player]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("week %s player %s: %d on the board, no accepted play", week, player, got))
			case got != want:
				problems = append(problems, fmt.Sprintf("week %s player %s: %d on the board, best accepted play %d", week, player, got, want))
			}
		}
	}
	for week, players := range best {
		if _, ok := board[week]; !ok && week < oldest {
			continue // the board expired with its retention
		}
		for player, want := range players {
			if _, ok := board[week][player]; !ok {
				checked++
				problems = append(problems, fmt.Sprintf("week %s player %s: best accepted play %d is not on the board", week, player, want))
			}
		}
	}
	slices.Sort(problems)
	return checked, problems
}
