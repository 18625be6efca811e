package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ovengames/oven/application/admins"
)

// bootstrapAdmin creates or updates the GMS admin "admin" (operator) with
// OVEN_ADMIN_PASSWORD, or with a random password that it prints once, here (API.md).
func bootstrapAdmin(ctx context.Context, databaseURL string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	db, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return fmt.Errorf("bootstrap admin: %w", err)
	}
	defer db.Close()
	generated, err := admins.Bootstrap(ctx, db, os.Getenv("OVEN_ADMIN_PASSWORD"), 0)
	if err != nil {
		return fmt.Errorf("bootstrap admin: %w", err)
	}
	if generated != "" {
		fmt.Printf("\nGMS admin: %s / %s  (generated; set OVEN_ADMIN_PASSWORD to choose one)\n", admins.BootstrapUsername, generated)
	} else {
		fmt.Printf("\nGMS admin: %s / the password in OVEN_ADMIN_PASSWORD\n", admins.BootstrapUsername)
	}
	return nil
}
