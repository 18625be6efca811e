package shard

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ovengames/oven/application/gamedata"
	"github.com/ovengames/oven/application/janitor"
	"github.com/ovengames/oven/migrations"
)

// Migrate applies the SQL migrations and seeds the shipped game data as version 1 when
// the database has none. It is the explicit migrate command; serving never migrates.
func Migrate(ctx context.Context, databaseURL string) error {
	if err := migrations.Up(ctx, databaseURL); err != nil {
		return err
	}
	db, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer db.Close()
	if err := gamedata.Seed(ctx, db); err != nil {
		return err
	}
	// Today's partitions must exist before the first write; shards keep them coming.
	_, err = janitor.New(db, janitor.Config{Tables: janitor.Defaults(30*24*time.Hour, 90*24*time.Hour)}).Pass(ctx, time.Now())
	return err
}
