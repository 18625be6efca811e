package pushsink

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"sync"
	"time"
)

// Provider names a push service spoken by the sink.
type Provider string

// The providers the sink speaks.
const (
	APNs Provider = "apns"
	FCM  Provider = "fcm"
)

func (p Provider) valid() bool { return p == APNs || p == FCM }

// Config configures a Server. The zero value is usable.
type Config struct {
	// Addr is the listen address; default "127.0.0.1:0" (random port).
	Addr string

	// Certificate is the TLS certificate served. When nil, a self-signed
	// ECDSA P-256 certificate for 127.0.0.1, ::1, localhost and Hosts is
	// generated at start.
	Certificate *tls.Certificate

	// Hosts are extra DNS names or IP addresses put in the generated
	// certificate (e.g. a docker-compose service name). Ignored when
	// Certificate is set.
	Hosts []string

	// APNsKeys maps APNs auth key IDs (the JWT "kid") to their public keys.
	// When non-empty, provider tokens must name one of these keys and carry
	// a valid ES256 signature; otherwise only the JWT's structure is checked.
	APNsKeys map[string]*ecdsa.PublicKey

	// APNsTeamID, when set, is the only JWT "iss" (team ID) accepted.
	APNsTeamID string

	// ServiceAccounts maps service-account e-mails (the assertion's "iss")
	// to their public keys. Assertions from these accounts must carry a
	// valid RS256 signature; other accounts are checked for structure only.
	// NewServiceAccount adds to this set at run time.
	ServiceAccounts map[string]*rsa.PublicKey

	// FCMAcceptAnyToken makes the FCM endpoint accept any non-empty bearer
	// token instead of only the unexpired ones issued by POST /token.
	FCMAcceptAnyToken bool

	// APNsRateLimit and FCMRateLimit limit accepted sends per provider; the
	// zero value is unlimited. SetRateLimit changes them at run time.
	APNsRateLimit, FCMRateLimit RateLimit

	// MaxDeliveries bounds the recorded deliveries (oldest dropped first);
	// default 10000.
	MaxDeliveries int

	Now    func() time.Time // optional clock; default time.Now
	Logger *slog.Logger     // optional; default discards
}

// Server is a running push sink. It is safe for concurrent use.
type Server struct {
	cfg  Config
	log  *slog.Logger
	cert *certificate

	ln   net.Listener
	http *http.Server

	rec      *recorder
	unreg    *unregistry
	limits   *limiter
	tokens   *tokenStore
	accounts *accountStore

	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup
}

// Start validates cfg, starts listening and returns the running server.
func Start(cfg Config) (*Server, error) {
	cfg.normalize()
	cert, err := loadOrGenerateCert(cfg.Certificate, cfg.Hosts, time.Now()) // clients check it against wall time
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("pushsink: listen: %w", err)
	}
	s := newServer(cfg, cert, ln)
	s.wg.Add(1)
	go s.serve()
	s.log.Info("pushsink started", "url", s.URL())
	return s, nil
}

func (c *Config) normalize() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.MaxDeliveries <= 0 {
		c.MaxDeliveries = 10000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.APNsKeys = maps.Clone(c.APNsKeys) // read without locking while serving
}

func newServer(cfg Config, cert *certificate, ln net.Listener) *Server {
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		cert:     cert,
		ln:       ln,
		rec:      newRecorder(cfg.MaxDeliveries),
		unreg:    newUnregistry(),
		limits:   newLimiter(map[Provider]RateLimit{APNs: cfg.APNsRateLimit, FCM: cfg.FCMRateLimit}),
		tokens:   newTokenStore(),
		accounts: newAccountStore(cfg.ServiceAccounts),
	}
	s.http = &http.Server{
		Handler:           s.routes(),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert.tls}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	return s
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/3/device/", s.handleAPNs)
	mux.HandleFunc("/3/", s.handleAPNs) // BadPath answers in APNs' format
	mux.HandleFunc("/v1/", s.handleFCM)
	mux.HandleFunc("/token", s.handleToken)
	mux.HandleFunc("/sink/", s.handleControl)
	return mux
}

func (s *Server) serve() {
	defer s.wg.Done()
	err := s.http.ServeTLS(s.ln, "", "")
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Warn("pushsink serve failed", "err", err)
	}
}

// Close stops the listener, closes every connection and waits for the
// server goroutine. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.http.Close()
		s.wg.Wait()
		if errors.Is(s.closeErr, net.ErrClosed) {
			s.closeErr = nil
		}
	})
	return s.closeErr
}

// Addr returns the listen address (host:port).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL returns the sink's base URL, e.g. "https://127.0.0.1:41234". It is
// the APNs host (apns2's Client.Host). An unspecified listen host (0.0.0.0
// or ::) is reported as 127.0.0.1.
func (s *Server) URL() string { return "https://" + dialable(s.ln.Addr()) }

// APNsHost returns the URL to use in place of api.push.apple.com.
func (s *Server) APNsHost() string { return s.URL() }

// FCMEndpoint returns the URL to use in place of https://fcm.googleapis.com/v1
// (the Firebase Admin SDK's option.WithEndpoint).
func (s *Server) FCMEndpoint() string { return s.URL() + "/v1" }

// TokenURI returns the OAuth2 token endpoint, for a service account's
// token_uri.
func (s *Server) TokenURI() string { return s.URL() + "/token" }

func dialable(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))
}

func (s *Server) now() time.Time { return s.cfg.Now() }
