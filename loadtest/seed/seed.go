// Package seed fills a dev stack's stores directly with a large game's data, to measure
// whether cost grows with data size (DESIGN.md: 1 M players, 100 k on a leaderboard,
// full mailboxes): players, devices, wallets and inventory by COPY into PostgreSQL, the
// current week's leaderboard by Redis pipelines, and full mailboxes by gocb.
//
// Seeded players get ids above every existing one (the identity sequence is moved past
// them), device ids "seed-<id>", a wallet with coins = starting coins and no ledger rows
// (invariant 4 holds), the starter cookie, and no friends or play records: the audit
// leaves them out of the leaderboard check (Range). With PushTokens each also gets one
// live device token, APNs and FCM in turn, so a push campaign reaches every one.
package seed

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/couchbase/gocb/v2"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/leaderboard"
	"github.com/ovengames/oven/application/mailbox"
	"github.com/ovengames/oven/application/redisdb"
)

// Options say what to seed and where.
type Options struct {
	DatabaseURL       string
	RedisURL          string
	CouchbaseURL      string
	CouchbasePassword string // user "oven", bucket "game"
	Players           int    // rows in players, devices, wallets, inventory
	Board             int    // entries on this week's leaderboard (≤ Players)
	Mailboxes         int    // players given a full mailbox (≤ Players)
	MailboxItems      int    // items per mailbox (the game data's capacity, 200)
	PushTokens        bool   // one device token per player in push_tokens
	Now               time.Time
	Log               func(format string, args ...any)
}

// Result is what was seeded.
type Result struct {
	First, Last   int64   `json:"-"` // seeded player ids
	Players       int     `json:"players"`
	Board         int     `json:"board"`
	BoardKey      string  `json:"board_key"`
	Mailboxes     int     `json:"mailboxes"`
	MailboxItems  int     `json:"mailbox_items"`
	PushTokens    int     `json:"push_tokens,omitempty"`
	PGSeconds     float64 `json:"pg_s"`
	RedisSeconds  float64 `json:"redis_s"`
	CouchSeconds  float64 `json:"couchbase_s"`
	TotalSeconds  float64 `json:"total_s"`
	AnalyzeSecond float64 `json:"analyze_s"`
}

// Range reports whether a player id is a seeded one.
func (r *Result) Range(id int64) bool { return r != nil && id >= r.First && id <= r.Last }

// Run seeds the stores.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	o.Board, o.Mailboxes = min(o.Board, o.Players), min(o.Mailboxes, o.Players)
	start := time.Now()
	res := &Result{Players: o.Players, Board: o.Board, Mailboxes: o.Mailboxes, MailboxItems: o.MailboxItems}
	if err := seedPG(ctx, o, res); err != nil {
		return nil, err
	}
	res.PGSeconds = time.Since(start).Seconds()
	o.Log("seed: %d players in PostgreSQL in %.1fs (ids %d–%d)", o.Players, res.PGSeconds, res.First, res.Last)
	t := time.Now()
	if err := seedBoard(ctx, o, res); err != nil {
		return nil, err
	}
	res.RedisSeconds = time.Since(t).Seconds()
	o.Log("seed: %d entries on %s in %.1fs", o.Board, res.BoardKey, res.RedisSeconds)
	t = time.Now()
	if err := seedMailboxes(ctx, o, res); err != nil {
		return nil, err
	}
	res.CouchSeconds = time.Since(t).Seconds()
	o.Log("seed: %d mailboxes × %d items in %.1fs", o.Mailboxes, o.MailboxItems, res.CouchSeconds)
	res.TotalSeconds = time.Since(start).Seconds()
	return res, nil
}

func seedPG(ctx context.Context, o Options, res *Result) error {
	conn, err := pgx.Connect(ctx, o.DatabaseURL)
	if err != nil {
		return fmt.Errorf("seed: postgres: %w", err)
	}
	defer conn.Close(ctx)
	var maxID int64
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(player_id), 0) FROM players`).Scan(&maxID); err != nil {
		return fmt.Errorf("seed: players: %w", err)
	}
	// Leave room for the players the stack creates meanwhile.
	first := maxID + 1_000_000
	res.First, res.Last = first, first+int64(o.Players)-1
	if _, err := conn.Exec(ctx, `SELECT setval(pg_get_serial_sequence('players', 'player_id'), $1)`, res.Last); err != nil {
		return fmt.Errorf("seed: move the player id sequence: %w", err)
	}
	// The stack may have handed out ids between max() and setval(); they are below first.
	created := o.Now.Add(-30 * 24 * time.Hour)
	n := int64(o.Players)
	copyRows := func(table string, cols []string, row func(id int64) []any) error {
		t := time.Now()
		i := int64(0)
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if i >= n {
				return nil, nil
			}
			id := first + i
			i++
			return row(id), nil
		})
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{table}, cols, src); err != nil {
			return fmt.Errorf("seed: copy %s: %w", table, err)
		}
		o.Log("seed: copy %s: %d rows in %.1fs", table, n, time.Since(t).Seconds())
		return nil
	}
	if err := copyRows("players", []string{"player_id", "name", "level", "exp", "best_score", "created_at", "updated_at"}, func(id int64) []any {
		return []any{id, "seed" + strconv.FormatInt(id, 10), 1 + id%50, (id % 50) * 1000, (id * 7919) % 200000, created, created}
	}); err != nil {
		return err
	}
	if err := copyRows("devices", []string{"device_id", "player_id", "created_at"}, func(id int64) []any {
		return []any{"seed-" + strconv.FormatInt(id, 10), id, created}
	}); err != nil {
		return err
	}
	if err := copyRows("wallets", []string{"player_id", "coins", "starting_coins", "updated_at"}, func(id int64) []any {
		return []any{id, int64(1000), int64(1000), created}
	}); err != nil {
		return err
	}
	if err := copyRows("inventory", []string{"player_id", "item_id", "kind", "acquired_at"}, func(id int64) []any {
		return []any{id, "brave", "cookie", created}
	}); err != nil {
		return err
	}
	tables := "players, devices, wallets, inventory"
	if o.PushTokens {
		if err := copyRows("push_tokens", []string{"player_id", "platform", "token", "created_at", "updated_at"}, func(id int64) []any {
			platform, token := PushToken(id)
			return []any{id, platform, token, created, created}
		}); err != nil {
			return err
		}
		res.PushTokens, tables = o.Players, tables+", push_tokens"
	}
	// What a database that grew to this size would have: fresh statistics.
	t := time.Now()
	if _, err := conn.Exec(ctx, `ANALYZE `+tables); err != nil {
		return fmt.Errorf("seed: analyze: %w", err)
	}
	res.AnalyzeSecond = time.Since(t).Seconds()
	return nil
}

// PushToken is seeded player id's device token: APNs for even ids (64 hex digits, as
// Apple's), FCM for odd ones (an instance id, ":APA91b" and more, 152 characters of
// Google's alphabet). The id is spelled in each, so no two players share a token; the
// rest is random but the same for an id on every run.
func PushToken(id int64) (platform, token string) {
	r := rand.New(rand.NewPCG(uint64(id), 0x0be4))
	var b [40]byte
	binary.BigEndian.PutUint64(b[:8], uint64(id))
	for i := 8; i < len(b); i += 8 {
		binary.BigEndian.PutUint64(b[i:], r.Uint64())
	}
	if id%2 == 0 {
		return oven.PushAPNs, hex.EncodeToString(b[:32])
	}
	rest := make([]byte, 92) // 123 characters after "APA91b"
	for i := range rest {
		rest[i] = byte(r.Uint32())
	}
	// The id's 8 bytes and 8 random ones: 22 characters, unique by the id.
	return oven.PushFCM, base64.RawURLEncoding.EncodeToString(b[:16]) + ":APA91b" + base64.RawURLEncoding.EncodeToString(rest)[:123]
}

func seedBoard(ctx context.Context, o Options, res *Result) error {
	res.BoardKey = redisdb.Keys{}.Board(leaderboard.WeekOf(o.Now).ID)
	if o.Board == 0 {
		return nil
	}
	rdb, err := redisdb.Open(o.RedisURL) // one server or a Redis Cluster
	if err != nil {
		return err
	}
	defer rdb.Close()
	const batch = 5000
	for i := 0; i < o.Board; i += batch {
		pipe := rdb.Pipeline()
		for j := i; j < min(i+batch, o.Board); j++ {
			id := res.First + int64(j)
			at := o.Now.Add(-time.Duration(j%86400) * time.Second)
			pipe.ZAdd(ctx, res.BoardKey, redis.Z{Score: leaderboard.Encode((id*7919)%200000, at), Member: strconv.FormatInt(id, 10)})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("seed: leaderboard: %w", err)
		}
	}
	return nil
}

func seedMailboxes(ctx context.Context, o Options, res *Result) error {
	if o.Mailboxes == 0 {
		return nil
	}
	cluster, err := gocb.Connect(o.CouchbaseURL, gocb.ClusterOptions{
		Authenticator:  gocb.PasswordAuthenticator{Username: "oven", Password: o.CouchbasePassword},
		TimeoutsConfig: gocb.TimeoutsConfig{ConnectTimeout: 10 * time.Second, KVTimeout: 10 * time.Second},
	})
	if err != nil {
		return fmt.Errorf("seed: couchbase: %w", err)
	}
	defer cluster.Close(nil)
	b := cluster.Bucket("game")
	if err := b.WaitUntilReady(15*time.Second, &gocb.WaitUntilReadyOptions{Context: ctx,
		ServiceTypes: []gocb.ServiceType{gocb.ServiceTypeKeyValue}}); err != nil {
		return fmt.Errorf("seed: couchbase: %w", err)
	}
	col := b.DefaultCollection()
	type doc struct {
		Items []mailbox.Item `json:"items"`
	}
	sent := o.Now.UnixMilli()
	exp := o.Now.Add(72 * time.Hour).UnixMilli()
	work := make(chan int64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 16 {
		wg.Go(func() {
			for id := range work {
				d := doc{Items: make([]mailbox.Item, o.MailboxItems)}
				for k := range d.Items {
					from := res.First + (id+int64(k)+1)%int64(o.Players)
					d.Items[k] = mailbox.Item{ID: oven.NewID(o.Now), Kind: mailbox.KindLife, Amount: 1,
						From: strconv.FormatInt(from, 10), SentAt: sent, ExpiresAt: exp}
				}
				_, err := col.Upsert("mb:"+strconv.FormatInt(id, 10), d, &gocb.UpsertOptions{Context: ctx, Expiry: 96 * time.Hour})
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("seed: mailbox %d: %w", id, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	// Spread over the seeded range.
	step := max(int64(o.Players/o.Mailboxes), 1)
	for k := 0; k < o.Mailboxes; k++ {
		work <- res.First + int64(k)*step
	}
	close(work)
	wg.Wait()
	return firstErr
}
