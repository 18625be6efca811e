package shard

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ovengames/oven/application/gamedata"
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
	return gamedata.Seed(ctx, db)
}
