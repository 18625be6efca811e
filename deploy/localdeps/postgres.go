package localdeps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PostgresOptions configures [StartPostgres].
type PostgresOptions struct {
	// Dir is the data directory root. The cluster lives in Dir/data and the
	// server log (when Log is nil and the cluster is not Ephemeral) in
	// Dir/postgres.log. Dir is created if missing and an existing cluster in
	// it is reused (dev runner). Empty means a new temporary directory that
	// Stop removes again.
	//
	// When the server runs as another user (the caller is root) and that user
	// cannot reach Dir (a checkout under root's 0700 home), the cluster lives
	// in a directory of its own under /var/lib/oven/pg instead, named by a
	// hash of Dir's absolute path and kept across runs like Dir/data; no
	// directory's mode is changed. [Postgres.DataDir] tells where it is.
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one (retrying on the
	// rare collision). 5432 is refused: it belongs to the machine's server.
	Port int
	// Ephemeral tunes the server for throw-away test data: fsync,
	// synchronous_commit and full_page_writes are off, and a new cluster is
	// copied from a cached template instead of running initdb. Data may be
	// lost if the machine crashes.
	Ephemeral bool
	// StatStatements loads pg_stat_statements (CREATE EXTENSION pg_stat_statements
	// in a database, then read the view), for profiling which statements cost.
	StatStatements bool
	// Log receives the server's output. When nil, output goes to
	// Dir/postgres.log for non-ephemeral servers with a Dir and is discarded
	// otherwise (the last lines are still included in startup errors). Log
	// must stay usable until Stop returns.
	Log io.Writer
}

// Postgres is a PostgreSQL server started by [StartPostgres]. Its methods
// are safe for concurrent use.
type Postgres struct {
	port           int
	root           string // data directory root: Dir, or its stand-in under sharedRoot
	logDir         string // Dir, where postgres.log goes
	dataDir        string // root/data
	sockDir        string // Unix socket directory (removed by Stop)
	ownsRoot       bool   // root is a temporary directory removed by Stop
	user           *runAs
	bins           *pgBinaries
	log            io.Writer // the server's output, kept for Restart
	logFile        *os.File
	mu             sync.Mutex // guards proc (Restart replaces it) and stopped
	proc           *child     // nil after a failed start
	stopped        bool
	stopOnce       sync.Once
	stopErr        error
	ephemeral      bool
	statStatements bool
}

// errAddrInUse marks a start attempt that failed because the port was taken.
var errAddrInUse = errors.New("port already in use")

// StartPostgres starts a PostgreSQL server as a child process and waits
// until it accepts connections (bounded by ctx, or two minutes if ctx has no
// deadline). The server listens on 127.0.0.1 only, has a "postgres"
// superuser with trust authentication (see the package documentation) and
// allows 200 connections. Call Stop to shut it down.
func StartPostgres(ctx context.Context, opt PostgresOptions) (*Postgres, error) {
	ctx, cancel := withDefaultTimeout(ctx, defaultStartTimeout)
	defer cancel()
	if opt.Port != 0 {
		if why, bad := reservedPorts[opt.Port]; bad {
			return nil, fmt.Errorf("localdeps: port %d is reserved for %s", opt.Port, why)
		}
	}
	bins, err := ensurePostgres(ctx)
	if err != nil {
		return nil, err
	}
	u, err := postgresUser()
	if err != nil {
		return nil, err
	}
	p := &Postgres{user: u, bins: bins, ephemeral: opt.Ephemeral, statStatements: opt.StatStatements}
	if opt.Dir == "" {
		if p.root, err = makeTempRoot("oven-pgtmp-"); err != nil {
			return nil, err
		}
		p.ownsRoot = true
	} else {
		dir, err := filepath.Abs(opt.Dir)
		if err != nil {
			return nil, fmt.Errorf("localdeps: %w", err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("localdeps: %w", err)
		}
		if p.root, err = clusterRoot(dir, u); err != nil {
			return nil, err
		}
		p.logDir = dir
	}
	p.dataDir = filepath.Join(p.root, "data")
	ok := false
	defer func() {
		if !ok {
			p.cleanup()
		}
	}()
	if err := u.checkTraversable(p.dataDir); err != nil {
		return nil, err
	}
	if err := p.prepareData(ctx, bins); err != nil {
		return nil, err
	}

	log := opt.Log
	if log == nil && !opt.Ephemeral && opt.Dir != "" {
		f, err := os.OpenFile(filepath.Join(p.logDir, "postgres.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("localdeps: %w", err)
		}
		p.logFile, log = f, f
	}
	p.log = log

	for attempt := 1; ; attempt++ {
		port, random, err := portOpt(opt.Port)
		if err != nil {
			return nil, err
		}
		err = p.start(ctx, bins, port, log)
		if err == nil {
			ok = true
			return p, nil
		}
		if random && attempt < maxPortAttempts && errors.Is(err, errAddrInUse) && ctx.Err() == nil {
			continue
		}
		return nil, err
	}
}

// sharedRoot holds the clusters of requested directories that the server user
// cannot reach: one directory each, owned by that user, mode 0700.
const sharedRoot = "/var/lib/oven/pg"

// checkoutFile, in a directory under sharedRoot, names the requested directory
// it stands in for, so that a human can tell whose data it is.
const checkoutFile = "oven-localdeps.dir"

// clusterRoot returns where the cluster asked for in dir lives: dir itself when
// the server user can reach it (made traversable if it is this package's own
// directory), else a directory of its own under sharedRoot, named by a hash of
// dir, so every checkout keeps its own cluster across runs. The modes of dir's
// parents are never changed: they are the user's private folders.
func clusterRoot(dir string, u *runAs) (string, error) {
	if u.cred == nil {
		return dir, nil
	}
	if u.checkTraversable(dir) == nil {
		if err := makeTraversable(dir); err != nil {
			return "", fmt.Errorf("localdeps: %w", err)
		}
		return dir, nil
	}
	if err := mkdirTraversable(sharedRoot); err != nil {
		return "", fmt.Errorf("localdeps: %w", err)
	}
	sum := sha256.Sum256([]byte(dir))
	root := filepath.Join(sharedRoot, hex.EncodeToString(sum[:8]))
	if err := u.checkTraversable(root); err != nil {
		return "", err
	}
	if err := os.Mkdir(root, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("localdeps: %w", err)
	}
	if err := u.chown(root); err != nil {
		return "", fmt.Errorf("localdeps: %w", err)
	}
	if err := os.Chmod(root, 0o700); err != nil {
		return "", fmt.Errorf("localdeps: %w", err)
	}
	if err := os.WriteFile(filepath.Join(root, checkoutFile), []byte(dir+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("localdeps: %w", err)
	}
	return root, nil
}

// mkdirTraversable creates dir and its missing parents with mode 0755 (whatever
// the umask) and leaves existing directories alone.
func mkdirTraversable(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirTraversable(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return os.Chmod(dir, 0o755)
}

// prepareData makes sure p.dataDir holds a cluster of the right version,
// owned by the server user.
func (p *Postgres) prepareData(ctx context.Context, bins *pgBinaries) error {
	verFile := filepath.Join(p.dataDir, "PG_VERSION")
	if b, err := os.ReadFile(verFile); err == nil {
		have, _ := parseVersion(strings.TrimSpace(string(b)))
		if have != bins.major {
			return fmt.Errorf("localdeps: %s holds a PostgreSQL %s cluster but the server binaries are version %s; remove the directory or install PostgreSQL %s",
				p.dataDir, strings.TrimSpace(string(b)), bins.version, strings.TrimSpace(string(b)))
		}
		if err := checkPostmasterPid(p.dataDir); err != nil {
			return err
		}
		if fi, err := os.Stat(p.dataDir); err == nil && p.user.cred != nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != p.user.uid {
				if err := p.user.chownTree(p.dataDir); err != nil {
					return fmt.Errorf("localdeps: %w", err)
				}
			}
		}
		return nil
	}
	// No cluster yet. Refuse to clobber a non-empty directory.
	if entries, err := os.ReadDir(p.dataDir); err == nil {
		if len(entries) > 0 {
			return fmt.Errorf("localdeps: %s is not empty but holds no PostgreSQL cluster (no PG_VERSION); remove it", p.dataDir)
		}
		if err := os.Remove(p.dataDir); err != nil {
			return fmt.Errorf("localdeps: %w", err)
		}
	}
	if p.ephemeral {
		tmpl, err := ensureTemplate(ctx, bins, p.user)
		if err != nil {
			return err
		}
		if err := copyTree(tmpl, p.dataDir, p.user); err != nil {
			_ = os.RemoveAll(p.dataDir)
			return fmt.Errorf("localdeps: copy template cluster: %w", err)
		}
		return nil
	}
	// Persistent cluster: a real (fsynced) initdb, built next to the final
	// place and renamed, so an interrupted initdb never leaves a half cluster.
	tmp := p.dataDir + ".initdb-tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("localdeps: %w", err)
	}
	if err := runInitdb(ctx, bins, p.user, tmp, false); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, p.dataDir); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("localdeps: %w", err)
	}
	return nil
}

// start runs one attempt to start the server on port. A restart keeps the socket
// directory of before, so that SocketURL stays the same.
func (p *Postgres) start(ctx context.Context, bins *pgBinaries, port int, log io.Writer) error {
	if p.sockDir == "" {
		sock, err := socketDir(p.root, p.user)
		if err != nil {
			return err
		}
		p.sockDir = sock
	}
	sock := p.sockDir
	args := []string{
		"-D", p.dataDir,
		"-p", strconv.Itoa(port),
		"-k", sock,
		"-h", "127.0.0.1", // listen_addresses: loopback only
		"-c", "max_connections=200",
		"-c", "unix_socket_permissions=0700",
		"-c", "logging_collector=off",
		"-c", "log_destination=stderr",
		"-c", "ssl=off",
		"-c", "cluster_name=oven-localdeps",
	}
	if p.statStatements {
		args = append(args, "-c", "shared_preload_libraries=pg_stat_statements", "-c", "pg_stat_statements.track=all")
	}
	if p.ephemeral {
		args = append(args,
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
		)
	}
	cmd := newCmd(bins.postgres, args, p.root)
	c, err := startChild("postgres", cmd, log, syscall.SIGINT, p.user.cred)
	if err != nil {
		return err
	}
	if p.ownsRoot || fileExists(filepath.Join(filepath.Dir(p.root), ownerFile)) {
		recordServer(p.root, c.pid())
	}
	p.proc, p.port = c, port

	unixCfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable", quoteDSN(sock), port))
	if err != nil {
		return p.abort(fmt.Errorf("localdeps: %w", err))
	}
	unixCfg.ConnectTimeout = dialTimeout
	// First over our private Unix socket: an answer there can only come
	// from our own server, and once it answers it holds the TCP port too
	// (postgres exits if it cannot bind listen_addresses).
	err = waitReady(ctx, c, func(ctx context.Context) error {
		conn, err := pgx.ConnectConfig(ctx, unixCfg)
		if err != nil {
			return err
		}
		defer closeConn(conn)
		return conn.Ping(ctx)
	})
	if err != nil {
		return p.abort(err)
	}
	// Then over TCP, checking that the answering server is this one.
	if err := p.verifyTCP(ctx); err != nil {
		return p.abort(err)
	}
	return nil
}

// verifyTCP connects over TCP and checks the server's data directory.
func (p *Postgres) verifyTCP(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*dialTimeout)
	defer cancel()
	conn, err := p.connect(ctx, "postgres")
	if err != nil {
		return fmt.Errorf("connect over TCP: %w", err)
	}
	defer closeConn(conn)
	var dir string
	if err := conn.QueryRow(ctx, "SHOW data_directory").Scan(&dir); err != nil {
		return fmt.Errorf("query over TCP: %w", err)
	}
	if filepath.Clean(dir) != filepath.Clean(p.dataDir) {
		return fmt.Errorf("port %d is served by another PostgreSQL (data directory %s)", p.port, dir)
	}
	return nil
}

// abort stops a server that failed to become ready and classifies the error.
func (p *Postgres) abort(err error) error {
	c := p.proc
	p.proc = nil
	_ = c.stop([]syscall.Signal{syscall.SIGINT, syscall.SIGQUIT}, []time.Duration{5 * time.Second, forcedStopTimeout})
	// The socket directory stays for the next attempt (same SocketURL); Stop or the
	// failed start's cleanup removes it.
	out := lastLog(c.tail)
	if isAddrInUse(out) {
		return fmt.Errorf("localdeps: postgres on port %d: %w", p.port, errAddrInUse)
	}
	return fmt.Errorf("localdeps: start postgres on 127.0.0.1:%d (data %s): %v\n--- server output ---\n%s", p.port, p.dataDir, err, out)
}

func (p *Postgres) removeSock() {
	if p.sockDir != "" {
		_ = os.RemoveAll(p.sockDir)
		p.sockDir = ""
	}
}

// cleanup releases everything after a failed start or after Stop.
func (p *Postgres) cleanup() error {
	var errs []error
	p.removeSock()
	if p.logFile != nil {
		errs = append(errs, p.logFile.Close())
		p.logFile = nil
	}
	if p.ownsRoot && p.root != "" {
		errs = append(errs, os.RemoveAll(p.root))
	}
	return errors.Join(errs...)
}

// connect opens a connection to database over TCP with a dial timeout.
func (p *Postgres) connect(ctx context.Context, database string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(p.URL(database))
	if err != nil {
		return nil, err
	}
	cfg.ConnectTimeout = dialTimeout
	return pgx.ConnectConfig(ctx, cfg)
}

// URL returns a connection URL for database on this server, of the form
// postgres://postgres@127.0.0.1:PORT/DATABASE?sslmode=disable. An empty
// database means "postgres".
func (p *Postgres) URL(database string) string {
	if database == "" {
		database = "postgres"
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, url.PathEscape(database))
}

// SocketURL is URL over the server's Unix socket, which costs less per round trip
// than loopback TCP: postgres://postgres@/DATABASE?host=SOCKETDIR&port=PORT&sslmode=disable.
func (p *Postgres) SocketURL(database string) string {
	if database == "" {
		database = "postgres"
	}
	return fmt.Sprintf("postgres://postgres@/%s?host=%s&port=%d&sslmode=disable", url.PathEscape(database), url.QueryEscape(p.sockDir), p.port)
}

// Port returns the TCP port the server listens on (on 127.0.0.1).
func (p *Postgres) Port() int { return p.port }

// Pid returns the process id of the postmaster, 0 after a failed Restart.
func (p *Postgres) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return 0
	}
	return p.proc.pid()
}

// DataDir returns the cluster's data directory.
func (p *Postgres) DataDir() string { return p.dataDir }

// CreateDatabase runs CREATE DATABASE name, with TEMPLATE template unless
// template is empty. Both names are quoted as identifiers. Creating from a
// template fails while other sessions are connected to the template; such
// failures are retried until ctx ends (default 30 seconds).
func (p *Postgres) CreateDatabase(ctx context.Context, name string, template string) error {
	if name == "" {
		return errors.New("localdeps: CreateDatabase: empty database name")
	}
	ctx, cancel := withDefaultTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := p.connect(ctx, "postgres")
	if err != nil {
		return fmt.Errorf("localdeps: CreateDatabase %s: %w", name, err)
	}
	defer closeConn(conn)
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		sql += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	for {
		_, err := conn.Exec(ctx, sql)
		if err == nil {
			return nil
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "55006" { // object_in_use
			return fmt.Errorf("localdeps: %s: %w", sql, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("localdeps: %s: %w", sql, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop shuts the server down like "pg_ctl stop -m fast" (SIGINT: abort
// transactions, disconnect clients, checkpoint). If it has not exited after
// 15 seconds it gets SIGQUIT (immediate shutdown) and finally SIGKILL. Only
// this server's own processes are signalled. A temporary data directory is
// removed afterwards. Stop is idempotent; later calls return the first
// result.
func (p *Postgres) Stop() error {
	p.stopOnce.Do(func() {
		var errs []error
		p.mu.Lock()
		proc := p.proc
		p.stopped = true
		p.mu.Unlock()
		if proc != nil {
			errs = append(errs, proc.stop(
				[]syscall.Signal{syscall.SIGINT, syscall.SIGQUIT},
				[]time.Duration{gracefulStopTimeout, forcedStopTimeout}))
		}
		errs = append(errs, p.cleanup())
		p.stopErr = errors.Join(errs...)
	})
	return p.stopErr
}

// quoteDSN quotes a value for a keyword/value connection string.
func quoteDSN(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	_ = conn.Close(ctx)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
