// Package gms serves the game-master console of API.md under /gms: the console itself
// (HTML, JavaScript and CSS embedded in the binary, no CDN) and its JSON API.
//
// It is as stateless as the rest of the presentation tier: the session cookie holds an
// opaque token, and every API call hands it (with the X-CSRF-Token header) to the
// application tier's Admin service, which authenticates, authorizes and audits.
package gms

import (
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovengames/oven/presentation/httpmw"
	"github.com/ovengames/oven/proto/ovenv1"
)

const (
	// callTimeout bounds the gRPC call of one request.
	callTimeout = 5 * time.Second
	// cookieName is the session cookie; its path keeps it off the game API.
	cookieName = "oven_gms"
	cookiePath = "/gms"
)

// Config holds the console's dependencies.
type Config struct {
	// Admin is the application tier's Admin service, through the routing client.
	Admin ovenv1.AdminClient
	// Registry receives the console's request metrics; nil gets a private one.
	Registry *prometheus.Registry
	// Logger receives the access log; nil means slog.Default().
	Logger *slog.Logger
	// SecureCookie marks the session cookie Secure: set it wherever the console is served
	// over HTTPS (OVEN_GMS_SECURE_COOKIE=1).
	SecureCookie bool
	// ClientIP returns the client's address for login throttling; nil means the
	// connection's remote address. Behind a proxy, pass one that trusts its header.
	ClientIP func(r *http.Request) string
}

type server struct {
	admin    ovenv1.AdminClient
	log      *slog.Logger
	secure   bool
	clientIP func(r *http.Request) string
	metrics  *httpmw.Metrics
	console  *console
}

// New returns the handler of every /gms route. Mount it at /gms/ (it routes on the full
// path). It panics when cfg lacks Admin, which is a wiring bug.
func New(cfg Config) http.Handler {
	if cfg.Admin == nil {
		panic("gms: Config.Admin is required")
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = remoteIP
	}
	s := &server{admin: cfg.Admin, log: cfg.Logger, secure: cfg.SecureCookie, clientIP: cfg.ClientIP,
		metrics: newMetrics(cfg.Registry), console: newConsole()}
	r := chi.NewRouter()
	r.Use(httpmw.Stack(httpmw.Config{
		Logger:        s.log,
		AccessMessage: "gms request",
		PanicMessage:  "gms handler panic",
		Metrics:       s.metrics,
		WriteError:    s.writeError,
	})...)
	r.Use(securityHeaders)
	r.NotFound(s.handle(func(w http.ResponseWriter, r *http.Request) error { return errNoRoute(r) }))
	r.MethodNotAllowed(s.handle(func(w http.ResponseWriter, r *http.Request) error { return errNoRoute(r) }))
	r.Get("/gms", http.RedirectHandler("/gms/", http.StatusMovedPermanently).ServeHTTP)
	r.Get("/gms/", s.console.index)
	r.Get("/gms/static/{file}", s.console.static)
	r.Route("/gms/api", func(r chi.Router) {
		r.Use(noStore, httpmw.LimitBody(s.writeError), s.apiGuard)
		r.Post("/login", s.handle(s.login))
		r.Post("/logout", s.handle(s.logout))
		r.Get("/session", s.handle(s.session))
		r.Get("/gamedata/draft", s.handle(s.getDraft))
		r.Put("/gamedata/draft", s.handle(s.putDraft))
		r.Post("/gamedata/validate", s.handle(s.validate))
		r.Post("/gamedata/publish", s.handle(s.publish))
		r.Post("/gamedata/rollback", s.handle(s.rollback))
		r.Get("/gamedata/versions", s.handle(s.versions))
		r.Get("/gamedata/versions/{version}", s.handle(s.version))
		r.Get("/players/{id}", s.handle(s.player))
		r.Post("/players/{id}/ban", s.handle(s.ban(true)))
		r.Post("/players/{id}/unban", s.handle(s.ban(false)))
		r.Post("/players/{id}/gifts", s.handle(s.gift))
		r.Get("/players/{id}/pushes", s.handle(s.playerPushes))
		r.Post("/gifts/broadcast", s.handle(s.createBroadcast))
		r.Get("/gifts/broadcast", s.handle(s.broadcasts))
		r.Get("/audit", s.handle(s.audit))
		r.Get("/events", s.handle(s.events))
		r.Post("/events", s.handle(s.createEvent))
		r.Patch("/events/{id}", s.handle(s.updateEvent))
		r.Post("/events/{id}/cancel", s.handle(s.cancelEvent))
		r.Get("/events/{id}/pushes", s.handle(s.eventPushes))
		r.Get("/capacity", s.handle(s.capacity))
	})
	return r
}

// remoteIP is the host part of the connection's remote address.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Mount serves /gms and everything under it with console, and every other path with
// rest (the client API), so that one listener serves both.
func Mount(console, rest http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == cookiePath || strings.HasPrefix(p, cookiePath+"/") {
			console.ServeHTTP(w, r)
			return
		}
		rest.ServeHTTP(w, r)
	})
}

// ForwardedClientIP is a Config.ClientIP for a console behind a proxy that appends the
// address it saw to X-Forwarded-For: the last entry is the one that proxy wrote (earlier
// ones come from the client and may be forged). Without the header it falls back to the
// connection's address.
func ForwardedClientIP(r *http.Request) string {
	values := r.Header.Values("X-Forwarded-For")
	if len(values) == 0 {
		return remoteIP(r)
	}
	parts := strings.Split(values[len(values)-1], ",")
	if ip := strings.TrimSpace(parts[len(parts)-1]); ip != "" && utf8.ValidString(ip) {
		return ip
	}
	return remoteIP(r)
}
