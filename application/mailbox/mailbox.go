package mailbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/couchbase/gocb/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/deadline"
	"github.com/ovengames/oven/application/economy"
	"github.com/ovengames/oven/application/fence"
	"github.com/ovengames/oven/application/fence/pgfence"
	"github.com/ovengames/oven/application/gamedata"
	"github.com/ovengames/oven/application/lives"
	"github.com/ovengames/oven/application/playerlock"
	"github.com/ovengames/oven/application/players"
	"github.com/ovengames/oven/application/redisdb"
	"github.com/ovengames/oven/application/wallet"
)

// Kinds of mail.
const (
	KindLife  = "life"
	KindCoins = "coins"
	// KindInfiniteLives is a GMS gift: accepting it starts infinite lives for DurationS.
	KindInfiniteLives = "infinite_lives"
)

// Item is one piece of mail. Times are game-clock unix milliseconds.
type Item struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Amount    int64  `json:"amount"`
	From      string `json:"from,omitempty"`
	Message   string `json:"msg,omitempty"`
	SentAt    int64  `json:"sent"`
	ExpiresAt int64  `json:"exp"`
	DurationS int64  `json:"dur,omitempty"` // KindInfiniteLives: how long they run once accepted
}

// doc is a player's mailbox document.
//
// Accepting is exactly-once across three stores (the mailbox in Couchbase, lives in
// Redis, coins in PostgreSQL) by moving items through "claiming":
//
//  1. CAS write: the accepted items move from Items to Claiming (no longer listed).
//  2. Credit, idempotent per mail id: lives by a Lua script that adds a life only if it
//     can add the id to the player's claimed set; coins in one SQL transaction that
//     inserts the id into mail_claims (primary key) and credits the wallet and ledger.
//  3. CAS write: Claiming is emptied.
//
// A crash after 1 leaves items in Claiming; every later operation on the mailbox by its
// owner first finishes them (2 and 3 again — step 2 credits nothing twice). A crash after
// 2 is finished the same way. Retried and concurrent accepts are serialised per player on
// the owner shard and, across a failover, by CAS. Accepting an id that is no longer in
// the mailbox answers from the claim records: claimed → the same 200, else not_found.
//
// Every write is made by the player's owner and fenced (package fence): Epoch records
// the epoch of the owner that last wrote the document, and a writer whose token is older
// is refused. The check is part of the CAS write (the epoch is read with the CAS that
// the write must still match), so once a newer owner has written a mailbox, no stale
// owner can, whatever it read before.
type doc struct {
	Items    []Item `json:"items"`
	Claiming []Item `json:"claiming,omitempty"`
	Epoch    uint64 `json:"epoch,omitempty"`
}

// Deps are what the Service works with.
type Deps struct {
	Couchbase  *Couchbase
	Broadcasts *Broadcasts
	Players    *players.Store // cached profiles, invalidated when coins are credited
	DB         *pgxpool.Pool
	// Writes sends the fenced coin credits: the owner's group commit (pggroup), or DB
	// when nil.
	Writes   pgfence.DB
	Redis    *redisdb.DB
	Clock    oven.Clock
	GameData func() *gamedata.Document
	// LifeRules gives the life rules in force at an instant (events.Calendar.LifeRules).
	LifeRules func(now time.Time) lives.Rules
	Metrics   *economy.Metrics
	Log       *slog.Logger
	// AfterClaimMarked runs after step 1 of an accept; an error aborts there, as a
	// crash would (tests only).
	AfterClaimMarked func() error
	// AfterCredit runs after step 2, before Claiming is cleared (tests only).
	AfterCredit func() error
}

// Service is the mailboxes of the players this shard owns.
type Service struct {
	Deps
	locks playerlock.Set // serialise one player's operations on its owner
}

// NewService returns a Service.
func NewService(deps Deps) *Service {
	if deps.Writes == nil && deps.DB != nil {
		deps.Writes = deps.DB
	}
	return &Service{Deps: deps}
}

func (s *Service) docKey(playerID string) string     { return s.Couchbase.prefix + "mb:" + playerID }
func (s *Service) claimedKey(playerID string) string { return s.Redis.Claimed(playerID) }

// load reads a mailbox; a missing document is an empty mailbox with cas 0.
func (s *Service) load(ctx context.Context, playerID string) (*doc, gocb.Cas, error) {
	res, err := s.Couchbase.collection.Get(s.docKey(playerID), &gocb.GetOptions{Context: ctx, Timeout: s.Couchbase.timeout})
	if errors.Is(err, gocb.ErrDocumentNotFound) {
		return &doc{}, 0, nil
	}
	if err != nil {
		return nil, 0, unavailable("read mailbox", err)
	}
	var d doc
	if err := res.Content(&d); err != nil {
		return nil, 0, fmt.Errorf("mailbox: decode: %w", err)
	}
	return &d, res.Cas(), nil
}

// errCASMismatch means another writer changed the mailbox first: reload and retry.
var errCASMismatch = errors.New("mailbox changed concurrently")

// fenced returns the token ctx carries, or the refusal if d (as read) was last written
// by a newer owner of the player's slot.
func fenced(ctx context.Context, d *doc) (fence.Token, error) {
	tok, err := fence.Must(ctx)
	if err != nil {
		return tok, err
	}
	if d.Epoch > tok.Epoch {
		return tok, &fence.Error{Store: fence.StoreCouchbase, Slot: tok.Slot, Epoch: tok.Epoch}
	}
	return tok, nil
}

// store writes the mailbox if it still has cas (0: must not exist yet), stamped with the
// writer's epoch; d is the document as read with cas, changed. A writer older than d's
// epoch is refused (*fence.Error); a newer writer since the read is a CAS mismatch, and
// the retry reads its epoch. The document expires (space only) a day after its last
// item, or soon after it empties.
func (s *Service) store(ctx context.Context, playerID string, d *doc, cas gocb.Cas, now time.Time) (gocb.Cas, error) {
	tok, err := fenced(ctx, d)
	if err != nil {
		return 0, err
	}
	d.Epoch = tok.Epoch
	expiry := time.Hour
	for _, it := range slices.Concat(d.Items, d.Claiming) {
		expiry = max(expiry, time.UnixMilli(it.ExpiresAt).Sub(now)+24*time.Hour)
	}
	var res *gocb.MutationResult
	if cas == 0 {
		res, err = s.Couchbase.collection.Insert(s.docKey(playerID), d, &gocb.InsertOptions{
			Context: ctx, Timeout: s.Couchbase.timeout, Expiry: expiry})
	} else {
		res, err = s.Couchbase.collection.Replace(s.docKey(playerID), d, &gocb.ReplaceOptions{
			Context: ctx, Timeout: s.Couchbase.timeout, Expiry: expiry, Cas: cas})
	}
	switch {
	case errors.Is(err, gocb.ErrCasMismatch), errors.Is(err, gocb.ErrDocumentExists), errors.Is(err, gocb.ErrDocumentNotFound):
		return 0, errCASMismatch
	case err != nil:
		return 0, unavailable("write mailbox", err)
	}
	return res.Cas(), nil
}

func unavailable(op string, err error) error {
	return fmt.Errorf("mailbox: %s: %w", op, &oven.Error{Code: oven.EUnavailable,
		Message: "the mailbox is unavailable, retry shortly", RetryAfter: time.Second, Cause: err})
}

// update runs a read-modify-write on a player's mailbox, retrying on CAS conflicts
// (another owner during a failover). change returns whether to write. The caller holds
// the player's lock. Claims left by a crash are finished first. A mailbox last written by
// a newer owner is refused at once, before any claim is credited.
func (s *Service) update(ctx context.Context, playerID string, change func(d *doc, now time.Time) (bool, error)) (*doc, error) {
	for attempt := 0; ; attempt++ {
		d, cas, err := s.load(ctx, playerID)
		if err != nil {
			return nil, err
		}
		if _, err := fenced(ctx, d); err != nil {
			return nil, err
		}
		now := s.Clock.Now()
		if len(d.Claiming) > 0 {
			if cas, err = s.finishClaims(ctx, playerID, d, cas, now); err != nil {
				if errors.Is(err, errCASMismatch) && attempt < 8 {
					continue
				}
				return nil, err
			}
		}
		write, err := change(d, now)
		if err != nil || !write {
			return d, err
		}
		if _, err = s.store(ctx, playerID, d, cas, now); err == nil {
			return d, nil
		}
		if !errors.Is(err, errCASMismatch) || attempt >= 8 {
			return nil, err
		}
	}
}

// finishClaims credits the items in d.Claiming (idempotently) and clears them.
func (s *Service) finishClaims(ctx context.Context, playerID string, d *doc, cas gocb.Cas, now time.Time) (gocb.Cas, error) {
	if err := s.credit(ctx, playerID, d.Claiming, now); err != nil {
		return 0, err
	}
	if s.AfterCredit != nil {
		if err := s.AfterCredit(); err != nil {
			return 0, err
		}
	}
	d.Claiming = nil
	return s.store(ctx, playerID, d, cas, now)
}

// credit credits mail items exactly once per id (step 2).
func (s *Service) credit(ctx context.Context, playerID string, items []Item, now time.Time) error {
	var lifeArgs, infiniteArgs []any
	var coins []Item
	for _, it := range items {
		switch it.Kind {
		case KindLife:
			for k := range int(it.Amount) {
				// One life per claim id: a multi-life gift claims "<id>", "<id>#2", ...
				lifeArgs = append(lifeArgs, lifeClaimID(it.ID, k), it.ExpiresAt)
			}
		case KindCoins:
			coins = append(coins, it)
		case KindInfiniteLives:
			infiniteArgs = append(infiniteArgs, it.ID, it.ExpiresAt, oven.Seconds(it.DurationS).Milliseconds())
		}
	}
	if len(infiniteArgs) > 0 {
		args := append([]any{now.UnixMilli()}, infiniteArgs...)
		if err := s.Redis.Run(ctx, redisdb.MailInfinite, []string{s.Redis.Infinite(playerID), s.claimedKey(playerID)}, args...).Err(); err != nil {
			return fmt.Errorf("mailbox: start infinite lives: %w", err)
		}
	}
	if len(lifeArgs) > 0 {
		if err := s.creditLives(ctx, playerID, lifeArgs, now); err != nil {
			return err
		}
	}
	if len(coins) > 0 {
		return s.creditCoins(ctx, playerID, coins)
	}
	return nil
}

func lifeClaimID(mailID string, n int) string {
	if n == 0 {
		return mailID
	}
	return fmt.Sprintf("%s#%d", mailID, n+1)
}

func (s *Service) creditLives(ctx context.Context, playerID string, pairs []any, now time.Time) error {
	r := s.LifeRules(now)
	args := append([]any{now.UnixMilli(), r.Max, r.Regen.Milliseconds()}, pairs...)
	res, err := s.Redis.Run(ctx, redisdb.MailClaim, []string{s.Redis.Lives(playerID), s.claimedKey(playerID)}, args...).Slice()
	if err != nil {
		return fmt.Errorf("mailbox: credit lives: %w", err)
	}
	fresh := res[3:]
	s.Metrics.LivesAccepted.Add(float64(len(fresh)))
	for _, id := range fresh {
		s.countClaim(ctx, id.(string))
	}
	return nil
}

// creditSQL claims coin items once each and credits the fresh ones' coins with a ledger
// row each, in one statement (so one fenced round trip, and a unit of the owner's group
// commit): mail_claims' primary key is what makes a claim happen once. It returns the
// fresh claims' ids and the coins they earned.
const creditSQL = `
WITH c AS (
	INSERT INTO mail_claims (player_id, mail_id, sent_at, amount)
	SELECT $1, id, sent, amount FROM unnest($2::text[], $3::timestamptz[], $4::bigint[]) AS t(id, sent, amount)
	ON CONFLICT DO NOTHING RETURNING mail_id, amount
), w AS (
	UPDATE wallets SET coins = coins + (SELECT sum(amount) FROM c WHERE amount > 0), updated_at = now()
	WHERE player_id = $1 AND EXISTS (SELECT FROM c WHERE amount > 0)
), l AS (
	INSERT INTO coin_ledger (player_id, amount, reason, ref) SELECT $1, amount, $5, mail_id FROM c WHERE amount > 0
)
SELECT coalesce(array_agg(mail_id) FILTER (WHERE amount > 0), '{}'), coalesce(sum(amount) FILTER (WHERE amount > 0), 0)::bigint FROM c`

func (s *Service) creditCoins(ctx context.Context, playerID string, items []Item) error {
	pid, err := players.ParseID(playerID)
	if err != nil {
		return err
	}
	ids, sent, amounts := make([]string, len(items)), make([]time.Time, len(items)), make([]int64, len(items))
	for i, it := range items {
		t, ok := oven.IDTime(it.ID)
		if !ok {
			return fmt.Errorf("mailbox: credit coins: mail id %q has no time", it.ID)
		}
		ids[i], sent[i], amounts[i] = it.ID, t, it.Amount
	}
	var earned int64
	var fresh []string
	err = pgfence.QueryRow(ctx, s.Writes, creditSQL, pid, ids, sent, amounts, wallet.ReasonMail).Scan(&fresh, &earned)
	if s.Players != nil {
		s.Players.Invalidate(playerID)
	}
	if err != nil {
		return fmt.Errorf("mailbox: credit coins: %w", err)
	}
	s.Metrics.CoinsEarned.WithLabelValues(wallet.ReasonMail).Add(float64(earned))
	// The claimed set also hides claimed coin broadcasts from listings (the SQL row is
	// what guarantees once). A crash before this only shows a claimed broadcast again;
	// accepting it then credits nothing.
	args := []any{s.Clock.Now().UnixMilli()}
	for _, it := range items {
		args = append(args, it.ID, it.ExpiresAt)
	}
	if err := s.Redis.Run(ctx, redisdb.MailMark, []string{s.claimedKey(playerID)}, args...).Err(); err != nil {
		return fmt.Errorf("mailbox: mark coins claimed: %w", err)
	}
	for _, id := range fresh {
		s.countClaim(ctx, id)
	}
	return nil
}

// pruneExpired drops expired items (they can no longer be accepted) and counts them.
func (s *Service) pruneExpired(d *doc, now time.Time) bool {
	n := len(d.Items)
	d.Items = slices.DeleteFunc(d.Items, func(it Item) bool {
		if it.ExpiresAt > now.UnixMilli() {
			return false
		}
		if it.Kind == KindLife {
			s.Metrics.LivesExpired.Add(float64(it.Amount))
		}
		return true
	})
	return len(d.Items) != n
}

// Deliver puts item in the player's mailbox. It is idempotent by item id: an item already
// there, or already accepted, is not added again (delivered = false). With
// enforceCapacity a full mailbox is mailbox_full.
func (s *Service) Deliver(ctx context.Context, playerID string, it Item, enforceCapacity bool) (delivered bool, err error) {
	if _, err := players.ParseID(playerID); err != nil {
		return false, err
	}
	if _, ok := oven.IDTime(it.ID); !ok {
		return false, oven.Errorf(oven.EInvalid, "malformed mail id")
	}
	if err := CheckGift(it); err != nil {
		return false, err
	}
	defer s.locks.Lock(playerID)()
	claimed, err := s.claimed(ctx, playerID, it)
	if err != nil || claimed {
		return false, err
	}
	if err := deadline.Check(ctx); err != nil {
		return false, err
	}
	capacity := int(s.GameData().Mailbox.Capacity)
	_, err = s.update(ctx, playerID, func(d *doc, now time.Time) (bool, error) {
		delivered = false
		if slices.ContainsFunc(slices.Concat(d.Items, d.Claiming), func(x Item) bool { return x.ID == it.ID }) {
			return false, nil
		}
		s.pruneExpired(d, now)
		if enforceCapacity && len(d.Items) >= capacity {
			return false, oven.Errorf(oven.EMailboxFull, "the mailbox is full")
		}
		d.Items = append(d.Items, it)
		delivered = true
		return true, nil
	})
	return delivered, err
}

// claimed reports whether a mail item was already accepted.
func (s *Service) claimed(ctx context.Context, playerID string, it Item) (bool, error) {
	if it.Kind == KindLife || it.Kind == KindInfiniteLives { // credited in Redis, once per id
		_, err := s.Redis.Client.ZScore(ctx, s.claimedKey(playerID), it.ID).Result()
		if errors.Is(err, redis.Nil) {
			return false, nil
		}
		return err == nil, err
	}
	sent, _ := oven.IDTime(it.ID)
	pid, err := players.ParseID(playerID)
	if err != nil {
		return false, err
	}
	var n int
	err = s.DB.QueryRow(ctx, `SELECT count(*) FROM mail_claims WHERE player_id = $1 AND mail_id = $2 AND sent_at = $3`,
		pid, it.ID, sent).Scan(&n)
	return n > 0, err
}

// countClaim counts a first claim of a broadcast (best effort: it is a statistic). The
// counter is a global key, not a player's state, so the INCR is not fenced: a stale
// owner's late count can only be a claim the fenced credit already made.
func (s *Service) countClaim(ctx context.Context, id string) {
	if s.Broadcasts != nil && s.Broadcasts.counted(id) {
		s.Redis.Client.Incr(ctx, s.Broadcasts.countKey(id))
	}
}

// unclaimedBroadcasts returns the running broadcasts the player has not claimed.
func (s *Service) unclaimedBroadcasts(ctx context.Context, playerID string, now time.Time) ([]Item, error) {
	if s.Broadcasts == nil {
		return nil, nil
	}
	active := s.Broadcasts.Active(now)
	if len(active) == 0 {
		return nil, nil
	}
	ids := make([]string, len(active))
	for i, bc := range active {
		ids[i] = bc.ID
	}
	scores, err := s.Redis.Client.ZMScore(ctx, s.claimedKey(playerID), ids...).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("mailbox: broadcast claims: %w", err)
	}
	var out []Item
	for i, bc := range active {
		if i >= len(scores) || scores[i] == 0 {
			out = append(out, bc.item())
		}
	}
	return out, nil
}

// List returns the unexpired items, newest first.
func (s *Service) List(ctx context.Context, playerID string) ([]Item, error) {
	if _, err := players.ParseID(playerID); err != nil {
		return nil, err
	}
	d, _, err := s.load(ctx, playerID)
	if err != nil {
		return nil, err
	}
	if len(d.Claiming) > 0 {
		unlock := s.locks.Lock(playerID)
		d, err = s.update(ctx, playerID, func(*doc, time.Time) (bool, error) { return false, nil })
		unlock()
		if err != nil {
			return nil, err
		}
	}
	now := s.Clock.Now()
	bcs, err := s.unclaimedBroadcasts(ctx, playerID, now)
	if err != nil {
		return nil, err
	}
	items := slices.DeleteFunc(slices.Concat(d.Items, bcs), func(it Item) bool { return it.ExpiresAt <= now.UnixMilli() })
	slices.SortStableFunc(items, func(a, b Item) int { return cmp.Or(cmp.Compare(b.SentAt, a.SentAt), cmp.Compare(b.ID, a.ID)) })
	return items, nil
}

// Accept accepts the items with the given ids (nil: every unexpired item) exactly once
// and returns how many it accepted. One unknown or expired id is not_found, unless it was
// accepted before (then it is answered like a new accept).
func (s *Service) Accept(ctx context.Context, playerID string, ids []string) (int, error) {
	if _, err := players.ParseID(playerID); err != nil {
		return 0, err
	}
	defer s.locks.Lock(playerID)()
	bcs, err := s.unclaimedBroadcasts(ctx, playerID, s.Clock.Now())
	if err != nil {
		return 0, err
	}
	if err := deadline.Check(ctx); err != nil { // steps 2 and 3 finish what step 1 began
		return 0, err
	}
	var taken []Item
	_, err = s.update(ctx, playerID, func(d *doc, now time.Time) (bool, error) {
		pruned := s.pruneExpired(d, now)
		taken = nil
		d.Items = slices.DeleteFunc(d.Items, func(it Item) bool {
			if ids == nil || slices.Contains(ids, it.ID) {
				taken = append(taken, it)
				return true
			}
			return false
		})
		for _, bc := range bcs {
			if (ids == nil || slices.Contains(ids, bc.ID)) && bc.ExpiresAt > now.UnixMilli() &&
				!slices.ContainsFunc(taken, func(it Item) bool { return it.ID == bc.ID }) {
				taken = append(taken, bc)
			}
		}
		d.Claiming = taken
		return len(taken) > 0 || pruned, nil
	})
	if err != nil {
		return 0, err
	}
	if ids != nil && len(taken) == 0 {
		return 0, s.acceptedBefore(ctx, playerID, ids[0])
	}
	if len(taken) == 0 {
		return 0, nil
	}
	if s.AfterClaimMarked != nil {
		if err := s.AfterClaimMarked(); err != nil {
			return 0, err
		}
	}
	_, err = s.update(ctx, playerID, func(*doc, time.Time) (bool, error) { return false, nil }) // steps 2 and 3
	return len(taken), err
}

// acceptedBefore answers an accept of an id that is not in the mailbox.
func (s *Service) acceptedBefore(ctx context.Context, playerID, id string) error {
	if _, ok := oven.IDTime(id); !ok {
		return oven.Errorf(oven.ENotFound, "no such mail")
	}
	for _, kind := range []string{KindLife, KindCoins} {
		ok, err := s.claimed(ctx, playerID, Item{ID: id, Kind: kind})
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return oven.Errorf(oven.ENotFound, "no such mail, or it expired")
}
