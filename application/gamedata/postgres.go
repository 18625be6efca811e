package gamedata

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ovengames/oven"
)

// Version is one published, immutable game-data version.
type Version struct {
	Number int64
	Doc    *Document
	Raw    []byte // the document as clients receive it
}

// Store keeps game-data versions in PostgreSQL.
type Store struct {
	db *pgxpool.Pool
}

// NewStore returns a Store on db.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

// Seed makes the shipped default document version 1, published, when the database has
// no game data yet. It is idempotent and runs from the migrate command.
func Seed(ctx context.Context, db *pgxpool.Pool) error {
	d := Default()
	d.Version = 1
	raw := d.Marshal()
	_, err := db.Exec(ctx, `
		WITH v AS (
			INSERT INTO gamedata_versions (version, document, created_by)
			VALUES (1, $1, 'seed') ON CONFLICT (version) DO NOTHING
		)
		INSERT INTO gamedata_state (id, published_version, draft, draft_updated_by)
		VALUES (true, 1, $1, 'seed') ON CONFLICT (id) DO NOTHING`, raw)
	if err != nil {
		return fmt.Errorf("gamedata: seed: %w", err)
	}
	return nil
}

// Published returns the currently published version.
func (s *Store) Published(ctx context.Context) (*Version, error) {
	return s.load(ctx, `SELECT v.version, v.document FROM gamedata_state s
		JOIN gamedata_versions v ON v.version = s.published_version`)
}

// Get returns one version; not_found when it does not exist.
func (s *Store) Get(ctx context.Context, version int64) (*Version, error) {
	return s.load(ctx, `SELECT version, document FROM gamedata_versions WHERE version = $1`, version)
}

func (s *Store) load(ctx context.Context, query string, args ...any) (*Version, error) {
	var v Version
	var raw []byte
	err := s.db.QueryRow(ctx, query, args...).Scan(&v.Number, &raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, oven.Errorf(oven.ENotFound, "no such game data version")
	}
	if err != nil {
		return nil, fmt.Errorf("gamedata: load: %w", err)
	}
	doc, err := Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("gamedata: version %d: %w", v.Number, err)
	}
	doc.Version = v.Number
	v.Doc, v.Raw = doc, doc.Marshal()
	return &v, nil
}
