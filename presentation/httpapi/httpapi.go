// Package httpapi serves the client HTTP contract of API.md: authentication, input
// validation and JSON rendering in front of the application tier's Game service.
//
// It holds no player state, so any number of copies can run behind a load balancer.
// Every game call goes over gRPC through the routing client in Config.Game, under a
// per-request deadline, and its errors come back as *oven.Error (grpcerr.FromStatus)
// rendered through the one status table in errors.go.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ovengames/oven/presentation/auth"
	"github.com/ovengames/oven/presentation/httpmw"
	"github.com/ovengames/oven/proto/ovenv1"
)

const (
	// callTimeout bounds every gRPC call made for one request, so that a stuck shard
	// costs a client a 503 instead of a hung connection.
	callTimeout = 5 * time.Second
	// readyTimeout bounds /readyz: a load balancer's probe must get an answer quickly.
	readyTimeout = 2 * time.Second
)

// Config holds the dependencies of the HTTP API.
type Config struct {
	// Game is the application tier's client, routed to the owning shard by the caller's router.
	Game ovenv1.GameClient
	// Ready returns nil when every shard and its stores answer. Without it /readyz
	// answers 503: a copy that cannot tell must not take traffic.
	Ready func(ctx context.Context) error
	// Tokens signs and verifies guest bearer tokens.
	Tokens *auth.Signer
	// Registry is Oven's own Prometheus registry (never the default one); /metrics serves
	// it and the HTTP metrics are registered in it. A nil Registry gets a private one.
	Registry *prometheus.Registry
	// Logger receives the access log and failures; nil means slog.Default().
	Logger *slog.Logger
	// DevClock enables POST /v1/dev/clock (OVEN_DEV_CLOCK=1). When false the route
	// does not exist at all.
	DevClock bool
	// PlayerLimit limits each player's requests on authenticated routes; AddressLimit
	// each client address's requests on the routes that need no token but do work
	// (POST /v1/auth/guest). Both are shared by every copy (package ratelimit); nil
	// means no limit.
	PlayerLimit, AddressLimit Limiter
	// ClientIP returns the client's address for AddressLimit; nil means the
	// connection's (gms.ForwardedClientIP behind a proxy that sets X-Forwarded-For).
	ClientIP func(r *http.Request) string
	// Now is the real time used for token issue and expiry; nil means time.Now. It is
	// never the game clock: the dev clock must not move security deadlines.
	Now func() time.Time
}

// Limiter is a request budget per key shared by every copy (ratelimit.Limiter). Allow
// takes one request from key's budget, or says how long until one fits; it decides
// itself what to do when the budget cannot be read (ratelimit fails open).
type Limiter interface {
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration)
}

// server carries the dependencies of the handlers.
type server struct {
	game     ovenv1.GameClient
	ready    func(ctx context.Context) error
	tokens   *auth.Signer
	log      *slog.Logger
	now      func() time.Time
	metrics  *httpmw.Metrics
	gamedata *gamedataCache
	players  Limiter // nil: no per-player limit
	addrs    Limiter // nil: no per-address limit
	clientIP func(r *http.Request) string
}

// New returns the HTTP handler of API.md's client routes plus /healthz, /readyz and
// /metrics. It panics when cfg lacks Game or Tokens, which is a wiring bug.
func New(cfg Config) http.Handler {
	if cfg.Game == nil || cfg.Tokens == nil {
		panic("httpapi: Config.Game and Config.Tokens are required")
	}
	s := newServer(cfg)
	r := chi.NewRouter()
	r.Use(httpmw.Stack(httpmw.Config{
		Logger:        s.log,
		AccessMessage: "http request",
		PanicMessage:  "handler panic",
		Metrics:       s.metrics,
		WriteError:    s.writeError,
	})...)
	r.Use(httpmw.LimitBody(s.writeError))
	r.NotFound(s.notFound)
	r.MethodNotAllowed(s.methodNotAllowed(r))
	s.routes(r, cfg)
	return r
}

func newServer(cfg Config) *server {
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &server{
		game:     cfg.Game,
		ready:    cfg.Ready,
		tokens:   cfg.Tokens,
		log:      cfg.Logger,
		now:      cfg.Now,
		metrics:  newMetrics(cfg.Registry),
		gamedata: newGamedataCache(cfg.Game),
	}
	s.players, s.addrs, s.clientIP = cfg.PlayerLimit, cfg.AddressLimit, cfg.ClientIP
	if s.clientIP == nil {
		s.clientIP = remoteIP
	}
	return s
}

func (s *server) routes(r chi.Router, cfg Config) {
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelError),
	}))
	r.Group(func(r chi.Router) {
		r.Use(s.limitAddress)
		r.Post("/v1/auth/guest", s.handle(s.authGuest))
	})
	r.Group(func(r chi.Router) {
		r.Use(s.authenticate)
		r.Get("/v1/me", s.handle(s.getMe))
		r.Patch("/v1/me", s.handle(s.patchMe))
		r.Put("/v1/me/push-token", s.handle(s.putPushToken))
		r.Delete("/v1/me/push-token", s.handle(s.deletePushToken))
		r.Get("/v1/gamedata", s.handle(s.getCurrentGamedata))
		r.Get("/v1/gamedata/{version}", s.handle(s.getGamedataVersion))
		r.Post("/v1/shop/buy", s.handle(s.buyItem))
		r.Post("/v1/plays", s.handle(s.startPlay))
		r.Post("/v1/plays/{play_id}/settle", s.handle(s.settlePlay))
		// chi prefers a static segment to a parameter, so POST /v1/friends/lives is
		// SendLives, while PUT and DELETE there still reach {player_id} (a player whose
		// id is "lives"). accept-all and {id}/accept differ in depth and cannot meet.
		r.Get("/v1/friends", s.handle(s.listFriends))
		r.Post("/v1/friends/lives", s.handle(s.sendLives))
		r.Put("/v1/friends/{player_id}", s.handle(s.addFriend))
		r.Delete("/v1/friends/{player_id}", s.handle(s.removeFriend))
		r.Post("/v1/friends/{player_id}/life", s.handle(s.sendLife))
		r.Get("/v1/mailbox", s.handle(s.listMailbox))
		r.Post("/v1/mailbox/accept-all", s.handle(s.acceptAllMail))
		r.Post("/v1/mailbox/{id}/accept", s.handle(s.acceptMail))
		r.Get("/v1/leaderboard/friends", s.handle(s.friendsLeaderboard))
		r.Get("/v1/leaderboard/global", s.handle(s.globalLeaderboard))
		r.Get("/v1/leaderboard/global/me", s.handle(s.aroundMe))
		r.Get("/v1/events", s.handle(s.listEvents))
		// Registered only when enabled, so that in production the route answers exactly
		// like an unknown one and does not reveal itself.
		if cfg.DevClock {
			r.Post("/v1/dev/clock", s.handle(s.advanceClock))
		}
	})
}

// handlerFunc is a handler that returns its failure instead of rendering it, so that
// every error goes through writeError and its one status table.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// callCtx returns the context for the gRPC calls of one request.
func callCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), callTimeout)
}
