package couchbasedev

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// sweepInterval is how often the background sweeper purges expired items.
const sweepInterval = time.Second

// Config configures a Server.
type Config struct {
	Addr     string // KV listen address, e.g. "127.0.0.1:0" (random port); default "127.0.0.1:0"
	MgmtAddr string // HTTP management listen address (serves GET /whoami); default "127.0.0.1:0"
	Bucket   string // the single bucket served, e.g. "game"; required

	// Username and Password are the only credentials accepted (SASL and HTTP).
	Username, Password string

	Now    func() time.Time // optional clock used for expiry and locks; default time.Now
	Logger *slog.Logger     // optional; default discards
}

// Server is a running single-node Couchbase-compatible KV server. It is safe
// for concurrent use.
type Server struct {
	cfg    Config
	log    *slog.Logger
	bucket *bucket
	creds  *credentials
	cas    casClock

	kvLn   net.Listener
	mgmtLn net.Listener
	http   *http.Server

	cfgGlobal []byte // cluster config served before SELECT_BUCKET
	cfgBucket []byte // bucket config served after SELECT_BUCKET

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool

	done chan struct{}
	wg   sync.WaitGroup
}

// Start validates cfg, starts listening and returns the running server.
func Start(cfg Config) (*Server, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	creds, err := newCredentials(cfg.Username, cfg.Password)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger,
		bucket: newBucket(cfg.Bucket),
		creds:  creds,
		conns:  make(map[*conn]struct{}),
		done:   make(chan struct{}),
	}
	if err := s.listen(); err != nil {
		return nil, err
	}
	s.cfgGlobal, s.cfgBucket = s.globalConfig(), s.bucketConfig()
	s.wg.Add(3)
	go s.acceptLoop()
	go s.serveMgmt()
	go s.sweepLoop()
	s.log.Info("couchbasedev started", "kv", s.KVAddr(), "mgmt", s.MgmtAddr(), "bucket", cfg.Bucket)
	return s, nil
}

func (c *Config) normalize() error {
	if c.Bucket == "" {
		return errors.New("couchbasedev: Config.Bucket is required")
	}
	if c.Username == "" {
		return errors.New("couchbasedev: Config.Username is required")
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.MgmtAddr == "" {
		c.MgmtAddr = "127.0.0.1:0"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func (s *Server) listen() error {
	kv, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("couchbasedev: kv listen: %w", err)
	}
	mgmt, err := net.Listen("tcp", s.cfg.MgmtAddr)
	if err != nil {
		kv.Close()
		return fmt.Errorf("couchbasedev: mgmt listen: %w", err)
	}
	s.kvLn, s.mgmtLn = kv, mgmt
	s.http = &http.Server{
		Handler:           s.mgmtHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ConnState:         s.trackHTTPConn,
	}
	return nil
}

// KVAddr returns the KV listener address (host:port).
func (s *Server) KVAddr() string { return s.kvLn.Addr().String() }

// MgmtAddr returns the HTTP management listener address (host:port).
func (s *Server) MgmtAddr() string { return s.mgmtLn.Addr().String() }

// ConnString returns a gocb connection string, e.g. "couchbase://127.0.0.1:41234".
// An unspecified listen host (0.0.0.0 or ::) is reported as 127.0.0.1.
func (s *Server) ConnString() string {
	return "couchbase://" + dialable(s.kvLn.Addr())
}

func dialable(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))
}

// Close stops both listeners, closes every client connection and waits for
// all server goroutines to finish. It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()

	err := errors.Join(s.kvLn.Close(), s.http.Close())
	s.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.kvLn.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Warn("couchbasedev accept failed", "err", err)
			}
			return
		}
		s.startConn(nc)
	}
}

// startConn registers and serves a new client connection, unless the server
// is already closing.
func (s *Server) startConn(nc net.Conn) {
	c := newConn(s, nc)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.serve()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}

// dropConnections closes every open client connection (used by tests to
// exercise client reconnection).
func (s *Server) dropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.nc.Close()
	}
}

func (s *Server) sweepLoop() {
	defer s.wg.Done()
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			s.sweep()
		}
	}
}

// sweep purges expired documents from every vbucket.
func (s *Server) sweep() {
	for i := range s.bucket.vbs {
		s.bucket.vbs[i].sweep(s.cfg.Now())
	}
}

// trackHTTPConn counts management HTTP connections in s.wg so that Close
// also waits for them. StateNew runs inside Serve, while serveMgmt still
// holds its own count, so Add never races with Wait at zero.
func (s *Server) trackHTTPConn(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		s.wg.Add(1)
	case http.StateClosed, http.StateHijacked:
		s.wg.Done()
	}
}

func (s *Server) serveMgmt() {
	defer s.wg.Done()
	if err := s.http.Serve(s.mgmtLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Warn("couchbasedev mgmt server failed", "err", err)
	}
}

// mgmtHandler serves the only management endpoint gocb needs: GET /whoami,
// which cluster.WaitUntilReady polls. Credentials are checked like ns_server.
func (s *Server) mgmtHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || !s.checkPassword(user, pass) {
			w.Header().Set("WWW-Authenticate", `Basic realm="Couchbase Server Admin / REST"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%q,"domain":"local","roles":[{"role":"admin"}]}`, user)
	})
	return mux
}

// checkPassword compares credentials in constant time.
func (s *Server) checkPassword(user, pass string) bool {
	u := subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.Username))
	p := subtle.ConstantTimeCompare([]byte(pass), []byte(s.cfg.Password))
	return u&p == 1
}
