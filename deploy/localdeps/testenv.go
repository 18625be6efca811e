package localdeps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// TestEnv is a running PostgreSQL+Redis pair for one test binary, typically
// created in TestMain:
//
//	func TestMain(m *testing.M) {
//		env, err := localdeps.StartTestEnv(context.Background())
//		if err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//		testPG, testRedis = env.PG, env.Redis
//		code := m.Run()
//		env.Close()
//		os.Exit(code)
//	}
//
// Both servers are ephemeral (see [PostgresOptions.Ephemeral]) and live in
// one temporary directory that Close removes. Give each test its own
// database (see [Postgres.CreateDatabase]) and Redis key prefix or DB number.
type TestEnv struct {
	// PG is the PostgreSQL server.
	PG *Postgres
	// Redis is the Redis server.
	Redis *Redis

	dir       string
	closeOnce sync.Once
}

// StartTestEnv starts an ephemeral PostgreSQL and Redis in parallel, on
// random free ports, in a new temporary directory. Server output is
// discarded unless the environment variable OVEN_LOCALDEPS_LOG is set, in
// which case it goes to standard error. Call Close when done.
func StartTestEnv(ctx context.Context) (*TestEnv, error) {
	dir, err := makeTempRoot("oven-testenv-")
	if err != nil {
		return nil, err
	}
	var log io.Writer
	if os.Getenv("OVEN_LOCALDEPS_LOG") != "" {
		log = os.Stderr
	}
	e := &TestEnv{dir: dir}
	var wg sync.WaitGroup
	var pgErr, redisErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		e.PG, pgErr = StartPostgres(ctx, PostgresOptions{Dir: filepath.Join(dir, "pg"), Ephemeral: true, Log: log})
	}()
	go func() {
		defer wg.Done()
		e.Redis, redisErr = StartRedis(ctx, RedisOptions{Dir: filepath.Join(dir, "redis"), Log: log})
	}()
	wg.Wait()
	if err := errors.Join(pgErr, redisErr); err != nil {
		e.Close()
		return nil, fmt.Errorf("localdeps: StartTestEnv: %w", err)
	}
	return e, nil
}

// Close stops both servers and removes the temporary directory. Errors are
// reported on standard error, since there is nothing a test binary can do
// about them. Close is idempotent.
func (e *TestEnv) Close() {
	e.closeOnce.Do(func() {
		var errs []error
		var wg sync.WaitGroup
		var pgErr, redisErr error
		if e.PG != nil {
			wg.Add(1)
			go func() { defer wg.Done(); pgErr = e.PG.Stop() }()
		}
		if e.Redis != nil {
			wg.Add(1)
			go func() { defer wg.Done(); redisErr = e.Redis.Stop() }()
		}
		wg.Wait()
		errs = append(errs, pgErr, redisErr)
		if e.dir != "" {
			errs = append(errs, os.RemoveAll(e.dir))
		}
		if err := errors.Join(errs...); err != nil {
			fmt.Fprintf(os.Stderr, "localdeps: TestEnv.Close: %v\n", err)
		}
	})
}
