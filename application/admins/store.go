package admins

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/audit"
)

// DefaultCost is the bcrypt cost of new password hashes.
const DefaultCost = 11

// Password length limits; bcrypt ignores bytes past 72, so longer ones are refused
// rather than silently truncated.
const (
	minPassword = 8
	maxPassword = 72
)

var usernameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,31}$`)

// NormalizeUsername lowercases and trims a username and checks its form: 1–32 of
// a-z, 0-9, '.', '_' and '-', starting with a letter or digit.
func NormalizeUsername(s string) (string, error) {
	u := strings.ToLower(strings.TrimSpace(s))
	if !usernameRE.MatchString(u) {
		return "", oven.Errorf(oven.EInvalid, "username must be 1-32 of a-z, 0-9, '.', '_', '-'")
	}
	return u, nil
}

// Admin is one account.
type Admin struct {
	Username string
	Role     Role
	Disabled bool
	hash     []byte
}

// get returns an account; not_found when there is none.
func get(ctx context.Context, db *pgxpool.Pool, username string) (*Admin, error) {
	a := Admin{Username: username}
	var role string
	err := db.QueryRow(ctx, `SELECT role, disabled, password_hash FROM admins WHERE username = $1`, username).
		Scan(&role, &a.Disabled, &a.hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, oven.Errorf(oven.ENotFound, "no such admin")
	}
	if err != nil {
		return nil, fmt.Errorf("admins: get: %w", err)
	}
	if a.Role, err = ParseRole(role); err != nil {
		return nil, fmt.Errorf("admins: %s: %w", username, err)
	}
	return &a, nil
}

// Put creates an admin or replaces an existing one's password and role (enabling it),
// recording who did it in the audit log in the same transaction. It reports whether the
// account was created. Errors: invalid_argument for a bad username, password or role.
func Put(ctx context.Context, db *pgxpool.Pool, actor, username, password string, role Role, cost int) (created bool, err error) {
	if username, err = NormalizeUsername(username); err != nil {
		return false, err
	}
	if n := len(password); n < minPassword || n > maxPassword {
		return false, oven.Errorf(oven.EInvalid, "password must be %d-%d bytes", minPassword, maxPassword)
	}
	if role.String() == "none" {
		return false, oven.Errorf(oven.EInvalid, "unknown role")
	}
	if cost == 0 {
		cost = DefaultCost
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return false, fmt.Errorf("admins: hash: %w", err)
	}
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var before map[string]any
		var oldRole string
		var oldDisabled bool
		err := tx.QueryRow(ctx, `SELECT role, disabled FROM admins WHERE username = $1 FOR UPDATE`, username).Scan(&oldRole, &oldDisabled)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			created = true
		case err != nil:
			return err
		default:
			before = map[string]any{"role": oldRole, "disabled": oldDisabled}
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO admins (username, password_hash, role) VALUES ($1, $2, $3)
			ON CONFLICT (username) DO UPDATE SET password_hash = $2, role = $3, disabled = false, updated_at = now()`,
			username, hash, role.String())
		if err != nil {
			return err
		}
		action := "admin.update"
		if created {
			action = "admin.create"
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: action, Target: username, Before: before,
			After: map[string]any{"role": role.String(), "disabled": false, "password_changed": true}})
	})
	if err != nil {
		return false, fmt.Errorf("admins: put %s: %w", username, err)
	}
	return created, nil
}
