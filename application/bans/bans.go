// Package bans keeps which players are banned, and since when each player's older
// tokens are revoked. Both live in the players row (banned, tokens_valid_after); every
// shard also holds them in memory for the players that have either, because each game
// call checks them and such players are few: the check costs no store round trip.
//
// A ban revokes the player's tokens: tokens issued before it stay refused after an
// unban, and the player signs in again (guest auth refuses a banned player's device).
// The presentation tier sends each call's token issue time (package issuedat) and the
// owner compares it with tokens_valid_after here, in the same in-memory lookup as the
// ban flag. That was chosen over a revocation list in Redis or a per-request read of
// the row: it adds nothing to the hot path (a player with neither flag is one map miss),
// and tokens stay stateless for the presentation tier.
//
// The owner shard bans (SetBanned is routed to it) and updates its cache before it
// answers, so a ban holds from that moment on the shard that serves the player. The
// change is announced on Channel in its transaction, and the other shards apply it at
// commit (they serve the player after an ownership move). A full reload after every
// (re)connect of the listener and every refresh interval covers notifications lost and
// changes made behind Oven's back, such as a manual UPDATE.
package bans

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/bans/issuedat"
	"github.com/ovengames/oven/application/fence/pgfence"
	"github.com/ovengames/oven/application/periodic"
	"github.com/ovengames/oven/application/pgnotify"
	"github.com/ovengames/oven/application/players"
)

// Channel is the PostgreSQL notification channel of ban changes. The payload is
// "<player id>/<1 ban, 0 unban>/<tokens valid after, unix ms>". The earlier form
// "<player id>:<1|0>" (shards before token revocation, a manual pg_notify) is still
// understood; those shards, in turn, find no ':' in the new form and reload the whole set.
const Channel = "oven_bans"

// DefaultRefresh is how often the whole set is reloaded as a safety net.
const DefaultRefresh = 10 * time.Second

// RevokeGrace is how far past the instant of a ban its revocation reaches. It covers a
// guest sign-in that read the player unbanned just before the ban committed and whose
// token the presentation signs a moment after it, and clock skew between the
// presentation hosts (which stamp tokens) and PostgreSQL (which stamps revocations).
// No token is issued to a banned player, so it refuses nobody legitimate; an unban
// brings the instant back to the unban itself, so signing in right after an unban works.
const RevokeGrace = 2 * time.Second

// errRevoked refuses a token issued before the player's tokens were revoked.
var errRevoked = &oven.Error{Code: oven.EUnauthenticated, Message: "this token was revoked; sign in again"}

// entry is what a shard knows of one player with a ban or revoked tokens.
type entry struct {
	banned bool
	// validAfter is when the player's tokens were last revoked, in unix milliseconds:
	// tokens issued before it are refused. 0: none ever were.
	validAfter int64
}

// Cache is a shard's set of banned players and revoked tokens. It is safe for
// concurrent use.
type Cache struct {
	db      *pgxpool.Pool
	refresh time.Duration
	log     *slog.Logger

	mu      sync.RWMutex
	players map[string]entry
	gen     uint64 // bumped by every change, so that a reload cannot store an older picture
}

// New loads the banned set from db and returns a Cache over it; refresh 0 means
// DefaultRefresh.
func New(ctx context.Context, db *pgxpool.Pool, refresh time.Duration, log *slog.Logger) (*Cache, error) {
	if refresh == 0 {
		refresh = DefaultRefresh
	}
	c := &Cache{db: db, refresh: refresh, log: log, players: map[string]entry{}}
	if err := c.reload(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Check returns a banned error when the player is banned, and an unauthenticated error
// when the call's token (issuedat.Receive) was issued before the player's tokens were
// revoked. A call that carries no issue time is judged on the ban alone.
func (c *Cache) Check(ctx context.Context, playerID string) error {
	c.mu.RLock()
	e, ok := c.players[playerID]
	c.mu.RUnlock()
	switch {
	case !ok:
		return nil
	case e.banned:
		return oven.Errorf(oven.EBanned, "this player is banned")
	case e.validAfter != 0:
		if iat, sent := issuedat.Receive(ctx); sent && iat.UnixMilli() < e.validAfter {
			return errRevoked
		}
	}
	return nil
}

// Banned reports whether the player is banned.
func (c *Cache) Banned(playerID string) bool {
	c.mu.RLock()
	e := c.players[playerID]
	c.mu.RUnlock()
	return e.banned
}

// put records one player's state.
func (c *Cache) put(playerID string, e entry) {
	c.mu.Lock()
	c.putLocked(playerID, e)
	c.mu.Unlock()
}

// setBanned records one player's flag and keeps what is known of its revocation.
func (c *Cache) setBanned(playerID string, banned bool) {
	c.mu.Lock()
	e := c.players[playerID]
	e.banned = banned
	c.putLocked(playerID, e)
	c.mu.Unlock()
}

func (c *Cache) putLocked(playerID string, e entry) {
	c.gen++
	if e == (entry{}) {
		delete(c.players, playerID)
	} else {
		c.players[playerID] = e
	}
}

// reload replaces the set with the database's, unless a change arrived meanwhile (the
// next reload will catch up then).
func (c *Cache) reload(ctx context.Context) error {
	c.mu.RLock()
	gen := c.gen
	c.mu.RUnlock()
	rows, err := c.db.Query(ctx, `SELECT player_id, banned, tokens_valid_after FROM players
		WHERE banned OR tokens_valid_after IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("bans: load: %w", err)
	}
	set := map[string]entry{}
	var (
		id     int64
		banned bool
		after  *time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &banned, &after}, func() error {
		set[strconv.FormatInt(id, 10)] = entry{banned: banned, validAfter: unixMilli(after)}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bans: load: %w", err)
	}
	c.mu.Lock()
	if c.gen == gen {
		c.players = set
	}
	c.mu.Unlock()
	return nil
}

func unixMilli(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return t.UnixMilli()
}

// AuditFunc records the change inside its transaction; nil records nothing.
type AuditFunc func(ctx context.Context, tx pgx.Tx, before, after any) error

// Set bans or unbans a player, records it (in the same transaction), announces it on
// Channel and updates this shard's cache. A ban also revokes the player's tokens
// (tokens_valid_after, see RevokeGrace); an unban keeps them revoked. It runs on the
// player's owner, fenced by the player's token. It reports whether the flag changed
// (setting it to what it is records nothing). Errors: not_found.
func (c *Cache) Set(ctx context.Context, playerID string, banned bool, record AuditFunc) (changed bool, err error) {
	pid, err := players.ParseID(playerID)
	if err != nil {
		return false, err
	}
	var after time.Time
	err = pgfence.BeginFunc(ctx, c.db, func(tx pgx.Tx) error {
		var was bool
		err := tx.QueryRow(ctx, `SELECT banned FROM players WHERE player_id = $1 FOR UPDATE`, pid).Scan(&was)
		if errors.Is(err, pgx.ErrNoRows) {
			return oven.Errorf(oven.ENotFound, "no such player")
		}
		if err != nil || was == banned {
			return err
		}
		changed = true
		// PostgreSQL's clock stamps revocations, one clock for every shard; like token
		// expiry it is real time, never the game clock. GREATEST and LEAST skip NULL: a
		// player banned before revocations existed gets them at the unban.
		err = tx.QueryRow(ctx, `
			UPDATE players SET banned = $2, updated_at = now(),
			       tokens_valid_after = CASE WHEN $2 THEN GREATEST(tokens_valid_after, clock_timestamp() + $3::interval)
			                                 ELSE LEAST(tokens_valid_after, clock_timestamp()) END
			WHERE player_id = $1 RETURNING tokens_valid_after`, pid, banned, RevokeGrace).Scan(&after)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, payload(playerID, entry{banned, after.UnixMilli()})); err != nil {
			return err
		}
		if record == nil {
			return nil
		}
		return record(ctx, tx, map[string]bool{"banned": was}, map[string]bool{"banned": banned})
	})
	if err != nil {
		return false, fmt.Errorf("bans: set: %w", err)
	}
	if changed {
		c.put(playerID, entry{banned: banned, validAfter: after.UnixMilli()})
	}
	return changed, nil
}

func payload(playerID string, e entry) string {
	flag := "0"
	if e.banned {
		flag = "1"
	}
	return playerID + "/" + flag + "/" + strconv.FormatInt(e.validAfter, 10)
}

// apply applies a notification; false when its payload is not understood.
func (c *Cache) apply(p string) bool {
	if parts := strings.Split(p, "/"); len(parts) == 3 {
		after, err := strconv.ParseInt(parts[2], 10, 64)
		if parts[0] == "" || (parts[1] != "0" && parts[1] != "1") || err != nil || after < 0 {
			return false
		}
		c.put(parts[0], entry{banned: parts[1] == "1", validAfter: after})
		return true
	}
	id, flag, ok := strings.Cut(p, ":")
	if !ok || id == "" {
		return false
	}
	c.setBanned(id, flag == "1")
	return true
}

// Run follows Channel and reloads the whole set after every (re)connect and every
// refresh interval, until ctx ends.
func (c *Cache) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	reload := func(ctx context.Context) {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := c.reload(rctx); err != nil && ctx.Err() == nil {
			c.log.Warn("ban list reload failed", "err", err)
		}
	}
	wg.Go(func() { periodic.Run(ctx, c.refresh, 10*time.Second, c.log, "ban list reload", c.reload) })
	pgnotify.Listen(ctx, c.db.Config().ConnConfig, []string{Channel}, pgnotify.Handler{
		Notify: func(_, p string) {
			if !c.apply(p) {
				reload(ctx)
			}
		},
		Connected: reload,
	}, c.log)
}
