// Package localdeps starts real PostgreSQL and Redis servers as child
// processes of the current program, for two purposes:
//
//   - the dev runner (`make run`): persistent state in a local folder such as
//     .oven/, see [PostgresOptions.Dir] and [RedisOptions.Persistent];
//   - integration tests: ephemeral clusters in temporary directories on random
//     free ports, removed again on Stop, see [StartTestEnv].
//
// # Isolation from the machine's own servers
//
// The package never uses, connects to or writes to a PostgreSQL or Redis that
// it did not start itself. In particular the well-known ports 5432 and 6379
// are refused, every server is bound to 127.0.0.1 only, and readiness is first
// checked over a Unix socket in a directory private to the new server (which
// proves the process that answers is ours) before the TCP port is used. The
// data directories, sockets and configuration of system-wide installations
// (/var/lib/postgresql, /etc/postgresql, /var/run/postgresql, ...) are never
// touched, and the Debian-managed system services are never started.
//
// Only processes started by this package are ever signalled, always by pid
// (or by the process group the package created for that child). Each server
// runs in its own process group, so a terminal's ^C reaches only the owning
// program, which should call Stop (the dev runner on SIGINT/SIGTERM, tests
// after m.Run). Servers are also started with a parent-death signal, so they
// shut down by themselves if the owning process dies without calling Stop.
//
// A server that died (a crash, a SIGKILL) is started again on the same data,
// port and Unix socket by Restart, so its clients reconnect as they were;
// Exited tells when it died. The dev runner supervises its stores with them.
//
// # Security
//
// PostgreSQL clusters are initialised with "trust" authentication for local
// connections and a superuser named "postgres" without a password. The server
// only listens on 127.0.0.1 (plus a Unix socket readable only by the server's
// user), so only local users can reach it, but any local user can connect as
// superuser. This is intended for development and tests only; never point
// production data at these servers. Redis runs with protected mode on and no
// password, bound to 127.0.0.1.
//
// # Running as root
//
// initdb and postgres refuse to run as root. When the current process is
// root, PostgreSQL runs as the unprivileged "postgres" system user (created
// by the Debian package; "nobody" is used if it does not exist). Its data
// directory is chowned to that user. When that user cannot traverse the
// parents of the requested directory (a checkout under root's 0700 home), the
// cluster lives in /var/lib/oven/pg/<hash of the directory> instead (owned by
// that user, mode 0700, kept across runs): the caller's folders keep their
// modes. Redis runs as the current user.
//
// # Binaries
//
// PostgreSQL server binaries are looked up in /usr/lib/postgresql/<ver>/bin
// (newest version wins) and on PATH; redis-server on PATH. When missing and
// running as root they are installed with apt-get (see [EnsureBinaries]).
//
// # Speed
//
// Creating a cluster with initdb takes seconds. Ephemeral clusters are
// instead copied from a template data directory that is built once per
// machine, server user and PostgreSQL version (for example
// oven-pg-template-15.20-u101), atomically (built in a temporary directory,
// then renamed) and under a file lock, so racing test processes run initdb
// only once.
//
// Temporary server directories and the template live in the scratch
// directory: $OVEN_LOCALDEPS_TMPDIR if set, else /dev/shm if it is a
// writable tmpfs with at least 2 GiB available (copying the ~1000 files of a
// cluster is several times faster there than on a journaling disk; ephemeral
// data is RAM-backed and thrown away anyway), else os.TempDir(). Directories
// left behind by killed processes (e.g. a test binary hitting -timeout) are
// removed by later runs once their owner and servers are gone.
//
// # Environment
//
//   - OVEN_LOCALDEPS_LOG: if non-empty, servers started by [StartTestEnv]
//     write their logs to standard error.
//   - OVEN_LOCALDEPS_TMPDIR: scratch directory for ephemeral servers and the
//     template cluster (set it to /tmp to keep them off /dev/shm).
package localdeps
