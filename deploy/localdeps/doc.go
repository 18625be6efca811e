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
// (or by the process group the package created for that child). Children are
// started with a parent-death signal, so they shut down if the owning process
// dies without calling Stop.
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
// directory is chowned to that user, and every parent directory must be
// traversable (execute permission) by it. Redis runs as the current user.
//
// # Binaries
//
// PostgreSQL server binaries are looked up in /usr/lib/postgresql/<ver>/bin
// (newest version wins) and on PATH; redis-server on PATH. When missing and
// running as root they are installed with apt-get (see [EnsureBinaries]).
//
// # Speed
//
// Creating a cluster with initdb takes a second or more. Ephemeral clusters
// are instead copied from a template data directory that is built once per
// machine, user and PostgreSQL version under os.TempDir() (for example
// /tmp/oven-pg-template-15.20-u101), atomically and safely when several test
// processes race to build it.
//
// # Environment
//
// If OVEN_LOCALDEPS_LOG is set to a non-empty value, servers started by
// [StartTestEnv] write their logs to standard error.
package localdeps
