package admins

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// BootstrapUsername is the admin the dev stack creates (API.md).
const BootstrapUsername = "admin"

// Bootstrap creates or updates the bootstrap admin (operator) with password, or with a
// random one when password is empty, which it then returns so that the caller can print
// it once. cost is the bcrypt cost (0: DefaultCost).
func Bootstrap(ctx context.Context, db *pgxpool.Pool, password string, cost int) (generated string, err error) {
	if password == "" {
		password = rand.Text()
		generated = password
	}
	if _, err := Put(ctx, db, "bootstrap", BootstrapUsername, password, Operator, cost); err != nil {
		return "", err
	}
	return generated, nil
}

// CommandEnv is what the admin command reads besides its arguments.
type CommandEnv struct {
	DatabaseURL string
	// Password is OVEN_ADMIN_NEW_PASSWORD; when empty the first line of Stdin is read.
	Password string
	Stdin    io.Reader
	Stdout   io.Writer
	// Cost is the bcrypt cost (0: DefaultCost; tests use less).
	Cost int
}

// Command runs `application admin add -username U -role R`: it creates the admin, or
// replaces an existing one's password and role, and records it in the audit log.
func Command(ctx context.Context, args []string, env CommandEnv) error {
	if len(args) == 0 || args[0] != "add" {
		return errors.New("usage: admin add -username U -role viewer|editor|publisher|operator (password from OVEN_ADMIN_NEW_PASSWORD or stdin)")
	}
	fs := flag.NewFlagSet("admin add", flag.ContinueOnError)
	username := fs.String("username", "", "the admin's username")
	roleName := fs.String("role", "viewer", "viewer, editor, publisher or operator")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	role, err := ParseRole(*roleName)
	if err != nil {
		return err
	}
	if env.DatabaseURL == "" {
		return errors.New("admin add: set OVEN_DATABASE_URL")
	}
	password := env.Password
	if password == "" {
		if password, err = readPassword(env.Stdin); err != nil {
			return err
		}
	}
	db, err := pgxpool.New(ctx, env.DatabaseURL)
	if err != nil {
		return fmt.Errorf("admin add: %w", err)
	}
	defer db.Close()
	actor := "cli"
	if u := os.Getenv("USER"); u != "" {
		actor = "cli:" + u
	}
	created, err := Put(ctx, db, actor, *username, password, role, env.Cost)
	if err != nil {
		return err
	}
	verb := "updated"
	if created {
		verb = "created"
	}
	fmt.Fprintf(env.Stdout, "%s admin %s (%s)\n", verb, strings.ToLower(strings.TrimSpace(*username)), role)
	return nil
}

// readPassword reads the first line of r, prompting when r is a terminal.
func readPassword(r io.Reader) (string, error) {
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprint(os.Stderr, "password (echoed; prefer OVEN_ADMIN_NEW_PASSWORD): ")
		}
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("admin add: read password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("admin add: no password (set OVEN_ADMIN_NEW_PASSWORD or pipe it on stdin)")
	}
	return line, nil
}
