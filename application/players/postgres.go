// Package players keeps player accounts, their devices, wallets and inventories in
// PostgreSQL.
package players

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/fence/pgfence"
	"github.com/ovengames/oven/application/gamedata"
)

// Player is a player's durable profile.
type Player struct {
	ID        string
	Name      string
	Level     int64
	Exp       int64
	Coins     int64
	BestScore int64
	Banned    bool
	Cookies   []string
	Pets      []string
	// PushTokens is how many live device tokens the player holds (package push).
	PushTokens int64
}

// Store is the PostgreSQL store of players.
type Store struct {
	db     *pgxpool.Pool
	writes Writer
	cache  *cache
	names  nameCache
}

// Writer sends the one-statement writes (new players, renames): the owner's group
// commit (pggroup.Committer) or the pool itself.
type Writer interface {
	pgfence.DB
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// NewStore returns a Store that reads db and writes through writes (db when nil). Get is
// served from a per-shard cache: every writer of a player's rows (the player's owner
// shard) must call Invalidate after its write.
func NewStore(db *pgxpool.Pool, writes Writer) *Store {
	if writes == nil {
		writes = db
	}
	return &Store{db: db, writes: writes, cache: newCache()}
}

// ForgetPlayers drops every cached profile and name of the players match selects: the
// owner calls it for the slots it hands over, whose next owner may write them.
func (s *Store) ForgetPlayers(match func(playerID string) bool) {
	s.cache.forget(match)
	s.names.forget(match)
}

// Invalidate forgets the cached profile of a player whose rows were just written.
func (s *Store) Invalidate(playerID string) { s.cache.invalidate(playerID) }

// Generation returns a token to take before writing a player's rows, for Update.
func (s *Store) Generation(playerID string) uint64 { return s.cache.generation(playerID) }

// Update applies a committed write to the player's cached profile instead of
// forgetting it, so the next read needs no SQL. gen is the token from Generation taken
// before the write; if any other write or invalidation came in between, or nothing
// fresh is cached, the entry is forgotten instead. f must set the values the write
// returned (absolute, not deltas). Call it only when the write is known to have
// committed; otherwise call Invalidate.
func (s *Store) Update(playerID string, gen uint64, f func(*Player)) {
	s.cache.update(playerID, gen, f)
}

// ParseID validates an opaque player id and returns its database key.
func ParseID(id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return 0, oven.Errorf(oven.ENotFound, "no such player")
	}
	return n, nil
}

// FindOrCreate returns the player of deviceID, creating it (with the starting coins and
// cookie of start) on first sight, and whether that player is banned (guest auth
// refuses it), read in the same statement. Concurrent first calls for one device create
// one player.
func (s *Store) FindOrCreate(ctx context.Context, deviceID string, start gamedata.Starting) (id string, created, banned bool, err error) {
	// Unfenced: a new player has no owner yet (its id comes from the sequence, so its
	// slot is unknown until the statement has run), and nothing else can write its rows
	// before the id is returned. A found player is only read.
	//
	// One statement finds the device's player or creates the player, its device, wallet
	// and starting cookie: atomic without an explicit transaction, one round trip either
	// way (nextval runs only when the device is new). Foreign keys are checked at the end
	// of the statement, when the player row exists. If another request took the device
	// first, the unique violation aborts all of it and that request's player wins.
	var pid int64
	err = s.writes.QueryRow(ctx, `
		WITH f AS (SELECT d.player_id, pl.banned FROM devices d JOIN players pl USING (player_id) WHERE d.device_id = $1),
		n AS (SELECT nextval(pg_get_serial_sequence('players', 'player_id')) AS id WHERE NOT EXISTS (SELECT FROM f)),
		p AS (INSERT INTO players (player_id, name) SELECT id, 'Guest' || id FROM n RETURNING player_id),
		d AS (INSERT INTO devices (device_id, player_id) SELECT $1, player_id FROM p),
		w AS (INSERT INTO wallets (player_id, coins, starting_coins) SELECT player_id, $2, $2 FROM p),
		i AS (INSERT INTO inventory (player_id, item_id, kind) SELECT player_id, $3, 'cookie' FROM p)
		SELECT player_id, false, banned FROM f UNION ALL SELECT player_id, true, false FROM p`,
		deviceID, start.Coins, start.CookieID).Scan(&pid, &created, &banned)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		err := s.db.QueryRow(ctx, `SELECT d.player_id, pl.banned FROM devices d JOIN players pl USING (player_id)
			WHERE d.device_id = $1`, deviceID).Scan(&pid, &banned)
		if err != nil {
			return "", false, false, fmt.Errorf("players: create: %w (after %v)", err, pgErr)
		}
		return strconv.FormatInt(pid, 10), false, banned, nil
	}
	if err != nil {
		return "", false, false, fmt.Errorf("players: find or create: %w", err)
	}
	return strconv.FormatInt(pid, 10), created, banned, nil
}

// Get returns a player (from the cache when it can); not_found when there is none.
func (s *Store) Get(ctx context.Context, id string) (*Player, error) {
	p, gen := s.cache.get(id)
	if p != nil {
		return p, nil
	}
	p, err := s.load(ctx, id)
	if err == nil {
		s.cache.put(id, p, gen)
	}
	return p, err
}

func (s *Store) load(ctx context.Context, id string) (*Player, error) {
	pid, err := ParseID(id)
	if err != nil {
		return nil, err
	}
	p := Player{ID: id}
	err = s.db.QueryRow(ctx, `
		SELECT p.name, p.level, p.exp, p.best_score, p.banned, w.coins,
		       coalesce(array_agg(i.item_id ORDER BY i.acquired_at, i.item_id) FILTER (WHERE i.kind = 'cookie'), '{}'),
		       coalesce(array_agg(i.item_id ORDER BY i.acquired_at, i.item_id) FILTER (WHERE i.kind = 'pet'), '{}'),
		       (SELECT count(*) FROM push_tokens t WHERE t.player_id = p.player_id AND t.removed_at IS NULL AND t.disabled_at IS NULL)
		FROM players p JOIN wallets w USING (player_id)
		LEFT JOIN inventory i USING (player_id)
		WHERE p.player_id = $1
		GROUP BY p.player_id, w.coins`, pid).
		Scan(&p.Name, &p.Level, &p.Exp, &p.BestScore, &p.Banned, &p.Coins, &p.Cookies, &p.Pets, &p.PushTokens)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, oven.Errorf(oven.ENotFound, "no such player")
	}
	if err != nil {
		return nil, fmt.Errorf("players: get: %w", err)
	}
	return &p, nil
}

// Rename sets the player's display name (validated by the caller's tier too), fenced by
// the player's token.
func (s *Store) Rename(ctx context.Context, id, name string) error {
	pid, err := ParseID(id)
	if err != nil {
		return err
	}
	tag, err := pgfence.Exec(ctx, s.writes, `UPDATE players SET name = $2, updated_at = now() WHERE player_id = $1`, pid, name)
	s.Invalidate(id)
	if err != nil {
		return fmt.Errorf("players: rename: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return oven.Errorf(oven.ENotFound, "no such player")
	}
	s.names.put(map[string]string{id: name})
	return nil
}

// Names returns the display names of the given players (unknown ids are left out),
// from a cache where it can: a rename elsewhere shows within namesTTL.
func (s *Store) Names(ctx context.Context, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	missing := s.names.lookup(ids, out)
	if len(missing) == 0 {
		return out, nil
	}
	loaded, err := s.loadNames(ctx, missing)
	if err != nil {
		return nil, err
	}
	s.names.put(loaded)
	for id, n := range loaded {
		out[id] = n
	}
	return out, nil
}

func (s *Store) loadNames(ctx context.Context, ids []string) (map[string]string, error) {
	nums := make([]int64, 0, len(ids))
	for _, id := range ids {
		if n, err := ParseID(id); err == nil {
			nums = append(nums, n)
		}
	}
	rows, err := s.db.Query(ctx, `SELECT player_id, name FROM players WHERE player_id = ANY($1)`, nums)
	if err != nil {
		return nil, fmt.Errorf("players: names: %w", err)
	}
	defer rows.Close()
	out := make(map[string]string, len(nums))
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("players: names: %w", err)
		}
		out[strconv.FormatInt(id, 10)] = name
	}
	return out, rows.Err()
}
