// Package social sends lives between friends: one per sender→receiver pair per cooldown
// window, with gift points for the sender, delivered into the receiver's mailbox by the
// receiver's owner shard. No SQL row is written per life sent.
//
// A send is three steps. A Lua script reserves the pair's cooldown with a new mail id
// (state "pending"); the life is delivered to the receiver's owner, which stores it
// idempotently by mail id; a second script marks the reservation "sent" and adds the gift
// points, once. If delivery fails the reservation stays pending and a retry delivers the
// same mail id again, so the receiver never gets two lives for one send; a full mailbox
// releases the reservation so the cooldown is not consumed.
package social

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/deadline"
	"github.com/ovengames/oven/application/economy"
	"github.com/ovengames/oven/application/friends"
	"github.com/ovengames/oven/application/gamedata"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/application/mailbox"
	"github.com/ovengames/oven/application/playerlock"
	"github.com/ovengames/oven/proto/ovenv1"
)

var (
	//go:embed reserve.lua
	reserveSrc string
	//go:embed commit.lua
	commitSrc string
	//go:embed release.lua
	releaseSrc string

	reserveScript = redis.NewScript(reserveSrc)
	commitScript  = redis.NewScript(commitSrc)
	releaseScript = redis.NewScript(releaseSrc)
)

// Deliverer delivers mail to the receiver's owner shard (the routing gRPC client).
type Deliverer interface {
	DeliverMail(ctx context.Context, in *ovenv1.DeliverMailRequest, opts ...grpc.CallOption) (*ovenv1.DeliverMailResponse, error)
}

// Deps are what the Service works with.
type Deps struct {
	Redis    redis.UniversalClient
	Prefix   string
	Clock    oven.Clock
	GameData func() *gamedata.Document
	Friends  *friends.Store
	Deliver  Deliverer
	Metrics  *economy.Metrics
}

// Service sends lives for the players this shard owns.
type Service struct {
	Deps
	locks playerlock.Set // serialise one player's operations on its owner
}

// New returns a Service.
func New(deps Deps) *Service { return &Service{Deps: deps} }

func (s *Service) cooldownKey(sender, receiver string) string {
	return s.Prefix + "{p:" + sender + "}:cd:" + receiver
}

// GiftPointsKey is the Redis key of a player's gift points.
func GiftPointsKey(prefix, playerID string) string { return prefix + "{p:" + playerID + "}:gp" }

// GiftPoints returns the player's gift points.
func (s *Service) GiftPoints(ctx context.Context, playerID string) (int64, error) {
	n, err := s.Redis.Get(ctx, GiftPointsKey(s.Prefix, playerID)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("social: gift points: %w", err)
	}
	return n, nil
}

// Send sends one life from sender to receiver. Errors: invalid_argument, not_friend,
// already_sent (with the wait), mailbox_full, unavailable.
func (s *Service) Send(ctx context.Context, sender, receiver string) (points int64, next time.Time, err error) {
	if sender == receiver {
		return 0, time.Time{}, oven.Errorf(oven.EInvalid, "you cannot send a life to yourself")
	}
	ok, err := s.Friends.IsFriend(ctx, sender, receiver)
	if err != nil {
		return 0, time.Time{}, err
	}
	if !ok {
		return 0, time.Time{}, oven.Errorf(oven.ENotFriend, "player %s is not your friend", receiver)
	}
	defer s.locks.Lock(sender)()
	return s.send(ctx, sender, receiver)
}

// send runs the three steps; the caller holds the sender's lock.
func (s *Service) send(ctx context.Context, sender, receiver string) (int64, time.Time, error) {
	if err := deadline.Check(ctx); err != nil {
		return 0, time.Time{}, err
	}
	doc := s.GameData()
	now := s.Clock.Now()
	key := s.cooldownKey(sender, receiver)
	res, err := reserveScript.Run(ctx, s.Redis, []string{key}, now.UnixMilli(),
		doc.Lives.SendCooldownSecond*1000, oven.NewID(time.Now())).Slice()
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("social: reserve: %w", err)
	}
	deadline := time.UnixMilli(res[1].(int64))
	if res[0].(int64) == 0 {
		e := oven.Errorf(oven.EAlreadySent, "you already sent a life to this friend")
		e.RetryAfter = deadline.Sub(now)
		return 0, deadline, e
	}
	mailID, sentMS := res[2].(string), res[3].(int64)
	_, err = s.Deliver.DeliverMail(ctx, &ovenv1.DeliverMailRequest{PlayerId: receiver, EnforceCapacity: true,
		Item: &ovenv1.MailItem{Id: mailID, Kind: mailbox.KindLife, Amount: 1, FromPlayerId: sender,
			SentAtMs: sentMS, ExpiresAtMs: sentMS + doc.Mailbox.TTLSeconds*1000}})
	if err != nil {
		err = grpcerr.FromStatus(err)
		if oven.ErrorCode(err) == oven.EMailboxFull {
			if rerr := releaseScript.Run(ctx, s.Redis, []string{key}, mailID).Err(); rerr != nil {
				return 0, time.Time{}, fmt.Errorf("social: release: %w", rerr)
			}
		}
		return 0, time.Time{}, err
	}
	points, err := commitScript.Run(ctx, s.Redis, []string{key, GiftPointsKey(s.Prefix, sender)},
		mailID, doc.Lives.GiftPointsPerSend).Int64()
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("social: commit: %w", err)
	}
	s.Metrics.LivesSent.Inc()
	return points, deadline, nil
}

// NextSend returns, for each friend, when sender may send them a life again (zero: now).
func (s *Service) NextSend(ctx context.Context, sender string, friendIDs []string) (map[string]time.Time, error) {
	pipe := s.Redis.Pipeline()
	cmds := make([]*redis.SliceCmd, len(friendIDs))
	for i, f := range friendIDs {
		cmds[i] = pipe.HMGet(ctx, s.cooldownKey(sender, f), "d", "s")
	}
	if len(friendIDs) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("social: cooldowns: %w", err)
		}
	}
	now := s.Clock.Now()
	out := make(map[string]time.Time, len(friendIDs))
	for i, f := range friendIDs {
		v := cmds[i].Val()
		if len(v) == 2 && v[1] == "sent" {
			if ms, err := strconv.ParseInt(fmt.Sprint(v[0]), 10, 64); err == nil && time.UnixMilli(ms).After(now) {
				out[f] = time.UnixMilli(ms)
				continue
			}
		}
		out[f] = time.Time{}
	}
	return out, nil
}

// SendAll sends a life to every friend who can receive one now. Friends in cooldown or
// with a full mailbox are skipped; deliveries run in parallel.
func (s *Service) SendAll(ctx context.Context, sender string) (sent []string, skipped int, points int64, err error) {
	ids, err := s.Friends.List(ctx, sender)
	if err != nil {
		return nil, 0, 0, err
	}
	defer s.locks.Lock(sender)()
	next, err := s.NextSend(ctx, sender, ids)
	if err != nil {
		return nil, 0, 0, err
	}
	type result struct {
		id     string
		points int64
		err    error
	}
	results := make(chan result, len(ids))
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, f := range ids {
		if !next[f].IsZero() {
			skipped++
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			p, _, err := s.send(ctx, sender, f)
			results <- result{f, p, err}
		})
	}
	wg.Wait()
	close(results)
	var firstErr error
	for r := range results {
		switch code := oven.ErrorCode(r.err); code {
		case "":
			sent = append(sent, r.id)
			points = max(points, r.points)
		case oven.EAlreadySent, oven.EMailboxFull:
			skipped++
		default:
			skipped++
			if firstErr == nil {
				firstErr = r.err
			}
		}
	}
	if len(sent) == 0 && firstErr != nil {
		return nil, 0, 0, firstErr
	}
	if points == 0 {
		if points, err = s.GiftPoints(ctx, sender); err != nil {
			return nil, 0, 0, err
		}
	}
	return sent, skipped, points, nil
}

// QueueGiftPoints queues GiftPoints on pipe; the returned func gives the result after pipe.Exec.
func (s *Service) QueueGiftPoints(ctx context.Context, pipe redis.Pipeliner, playerID string) func() (int64, error) {
	cmd := pipe.Get(ctx, GiftPointsKey(s.Prefix, playerID))
	return func() (int64, error) {
		n, err := cmd.Int64()
		if errors.Is(err, redis.Nil) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("social: gift points: %w", err)
		}
		return n, nil
	}
}
