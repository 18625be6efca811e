package admins

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/audit"
	"github.com/ovengames/oven/application/redisdb"
)

// Defaults of Config.
const (
	DefaultSessionTTL      = 12 * time.Hour
	DefaultMaxFailures     = 5
	DefaultMaxUserFailures = 20
	DefaultLockout         = 60 * time.Second
)

// Config configures a Service.
type Config struct {
	DB     *pgxpool.Pool
	Redis  redis.UniversalClient
	Prefix string // namespaces every Redis key (tests)
	// SessionTTL is how long a session lasts after login (default 12 h).
	SessionTTL time.Duration
	// MaxFailures failed logins for one username from one client address, with less
	// than Lockout between them, lock that username at that address for Lockout (5,
	// 60 s); MaxUserFailures (20) lock the username from every address, against guessing
	// spread over many addresses. Failures are not counted per address alone: one
	// office's typos must not lock out every admin behind its address.
	MaxFailures     int
	MaxUserFailures int
	Lockout         time.Duration
	// Now is real time (sessions never follow the game clock); nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// Service authenticates admins and keeps their sessions.
type Service struct {
	cfg Config
	rdb *redisdb.DB // keys and scripts

	cost    atomic.Int32 // bcrypt cost of the last real hash seen
	mu      sync.Mutex
	dummies map[int][]byte // by cost
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.MaxFailures == 0 {
		cfg.MaxFailures = DefaultMaxFailures
	}
	if cfg.MaxUserFailures == 0 {
		cfg.MaxUserFailures = DefaultMaxUserFailures
	}
	if cfg.Lockout == 0 {
		cfg.Lockout = DefaultLockout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Service{cfg: cfg, rdb: redisdb.New(cfg.Redis, cfg.Prefix), dummies: map[int][]byte{}}
}

// Session is a signed-in admin.
type Session struct {
	Token     string // only set by Login
	Username  string
	Role      Role
	CSRF      string
	ExpiresAt time.Time
}

// Credentials are what a caller presents: the session token from the console's cookie
// and, for calls that change state, the CSRF token from its X-CSRF-Token header.
type Credentials struct {
	SessionToken string
	CSRFToken    string
}

var errBadLogin = oven.Errorf(oven.EUnauthenticated, "wrong username or password")

// Login checks a username and password and opens a session. Errors: unauthenticated
// for a wrong pair (whatever was wrong), rate_limited with RetryAfter while the username
// is locked, at the client address or everywhere, after repeated failures.
func (s *Service) Login(ctx context.Context, username, password, clientIP string) (*Session, error) {
	user, uerr := NormalizeUsername(username)
	keys := s.throttleKeys(user, clientIP)
	if err := s.checkLocked(ctx, keys); err != nil {
		return nil, err
	}
	var a *Admin
	if uerr == nil {
		var err error
		if a, err = get(ctx, s.cfg.DB, user); err != nil && oven.ErrorCode(err) != oven.ENotFound {
			return nil, err
		}
	}
	// Compare against a dummy hash when there is no such admin, so that the answer
	// takes as long and does not tell which usernames exist.
	var hash []byte
	if a != nil {
		hash = a.hash
		if c, err := bcrypt.Cost(hash); err == nil {
			s.cost.Store(int32(c))
		}
	} else {
		hash = s.dummyHash()
	}
	match := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	if a == nil || a.Disabled || !match {
		s.cfg.Log.WarnContext(ctx, "gms login failed", "username", user, "client_ip", clientIP)
		return nil, s.fail(ctx, keys)
	}
	// Only this address's count starts over: the username's counts failures from
	// elsewhere too, which one admin's success does not excuse.
	if err := s.cfg.Redis.Del(ctx, keys[0].key).Err(); err != nil {
		return nil, fmt.Errorf("admins: reset throttle: %w", err)
	}
	sess := &Session{Token: rand.Text(), Username: user, Role: a.Role, CSRF: rand.Text(),
		ExpiresAt: s.cfg.Now().Add(s.cfg.SessionTTL)}
	key := s.sessionKey(sess.Token)
	_, err := s.cfg.Redis.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "username", user, "csrf", sess.CSRF, "expires_ms", sess.ExpiresAt.UnixMilli())
		p.PExpire(ctx, key, s.cfg.SessionTTL)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("admins: store session: %w", err)
	}
	if err := audit.Record(ctx, s.cfg.DB, audit.Entry{Actor: user, Action: "login", Target: user,
		After: map[string]any{"client_ip": clientIP}}); err != nil {
		s.cfg.Redis.Del(context.WithoutCancel(ctx), key) // no unaudited sessions
		return nil, err
	}
	return sess, nil
}

// Authorize returns the session of creds when it is valid, its admin still enabled and
// of at least role need, and (when mutating) the CSRF token matches. Errors:
// unauthenticated (no, expired or revoked session), forbidden (role too weak, or a
// missing or wrong CSRF token).
func (s *Service) Authorize(ctx context.Context, creds Credentials, need Role, mutating bool) (*Session, error) {
	if creds.SessionToken == "" {
		return nil, oven.Errorf(oven.EUnauthenticated, "sign in first")
	}
	vals, err := s.cfg.Redis.HGetAll(ctx, s.sessionKey(creds.SessionToken)).Result()
	if err != nil {
		return nil, fmt.Errorf("admins: session: %w", err)
	}
	exp, _ := strconv.ParseInt(vals["expires_ms"], 10, 64)
	if vals["username"] == "" || s.cfg.Now().UnixMilli() >= exp {
		return nil, oven.Errorf(oven.EUnauthenticated, "the session has expired; sign in again")
	}
	if mutating && (creds.CSRFToken == "" || subtle.ConstantTimeCompare([]byte(creds.CSRFToken), []byte(vals["csrf"])) != 1) {
		return nil, oven.Errorf(oven.EForbidden, "missing or wrong X-CSRF-Token")
	}
	a, err := get(ctx, s.cfg.DB, vals["username"])
	if oven.ErrorCode(err) == oven.ENotFound || err == nil && a.Disabled {
		return nil, oven.Errorf(oven.EUnauthenticated, "the account is disabled")
	}
	if err != nil {
		return nil, err
	}
	if a.Role < need {
		return nil, oven.Errorf(oven.EForbidden, "this needs the %s role; you are %s", need, a.Role)
	}
	return &Session{Username: a.Username, Role: a.Role, CSRF: vals["csrf"], ExpiresAt: time.UnixMilli(exp)}, nil
}

// Logout ends the session of creds (which Authorize has checked).
func (s *Service) Logout(ctx context.Context, creds Credentials, sess *Session) error {
	if err := s.cfg.Redis.Del(ctx, s.sessionKey(creds.SessionToken)).Err(); err != nil {
		return fmt.Errorf("admins: logout: %w", err)
	}
	return audit.Record(ctx, s.cfg.DB, audit.Entry{Actor: sess.Username, Action: "logout", Target: sess.Username})
}

// sessionKey stores sessions under a hash of their token, so that a leaked Redis dump
// holds no usable session.
func (s *Service) sessionKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return s.rdb.GMSSession(hex.EncodeToString(sum[:]))
}

// throttle is one failure counter and the count that locks it.
type throttle struct {
	key string
	max int
}

// throttleKeys are the failure counters of a username at a client address ("" when
// there is none) and of the username anywhere. Each is touched alone, so Redis Cluster
// needs no hash tags.
func (s *Service) throttleKeys(user, clientIP string) [2]throttle {
	if len(clientIP) > 64 {
		clientIP = clientIP[:64]
	}
	return [2]throttle{
		{s.rdb.GMSFailures("userip", redisdb.GMSUserAddress(user, clientIP)), s.cfg.MaxFailures},
		{s.rdb.GMSFailures("user", user), s.cfg.MaxUserFailures},
	}
}

// checkLocked answers rate_limited while either counter has reached its maximum; the
// lock ends when the counter's TTL does.
func (s *Service) checkLocked(ctx context.Context, keys [2]throttle) error {
	var wait time.Duration
	for _, t := range keys {
		k := t.key
		n, err := s.cfg.Redis.Get(ctx, k).Int()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return fmt.Errorf("admins: throttle: %w", err)
		}
		if n < t.max {
			continue
		}
		ttl, err := s.cfg.Redis.PTTL(ctx, k).Result()
		if err != nil {
			return fmt.Errorf("admins: throttle: %w", err)
		}
		wait = max(wait, ttl, time.Millisecond)
	}
	if wait > 0 {
		return &oven.Error{Code: oven.ERateLimited, Message: "too many failed logins; wait and try again", RetryAfter: wait}
	}
	return nil
}

// fail counts a failed login against both counters; the failure that reaches the limit
// is already answered rate_limited.
func (s *Service) fail(ctx context.Context, keys [2]throttle) error {
	locked := false
	for _, t := range keys {
		n, err := s.rdb.Run(ctx, redisdb.GMSFailure, []string{t.key}, s.cfg.Lockout.Milliseconds()).Int()
		if err != nil {
			return fmt.Errorf("admins: throttle: %w", err)
		}
		locked = locked || n >= t.max
	}
	if locked {
		return &oven.Error{Code: oven.ERateLimited, Message: "too many failed logins; wait and try again", RetryAfter: s.cfg.Lockout}
	}
	return errBadLogin
}

// dummyHash is a hash of a random password at the cost of the real hashes (as last
// seen), so that comparing against it takes as long.
func (s *Service) dummyHash() []byte {
	cost := int(s.cost.Load())
	if cost == 0 {
		cost = DefaultCost
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.dummies[cost]
	if !ok {
		h, _ = bcrypt.GenerateFromPassword([]byte(rand.Text()), cost)
		s.dummies[cost] = h
	}
	return h
}
