package gamedata

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/pgnotify"
)

// The lifecycle of game data: operators edit one draft (SaveDraft checks it), Publish
// turns it into the next immutable version, and Rollback publishes an old version's
// document again — as a new version number, so that version numbers (the ETags of
// /v1/gamedata) only ever grow and a client's cached version N always means one document.
// Rows of gamedata_versions are only inserted (a trigger refuses updates). Each publish
// notifies Channel in its transaction, so every shard's Cache refreshes at commit.

// Channel is the PostgreSQL notification channel of publishes; the payload is the new
// version number.
const Channel = "oven_gamedata"

// AuditFunc records a change inside its transaction (the audit log's row), so that the
// change and its record commit together. A nil AuditFunc records nothing.
type AuditFunc func(ctx context.Context, tx pgx.Tx, before, after any) error

func (f AuditFunc) record(ctx context.Context, tx pgx.Tx, before, after any) error {
	if f == nil {
		return nil
	}
	return f(ctx, tx, before, after)
}

// Draft is the document operators edit.
type Draft struct {
	Doc       *Document // Version is always 0: versions are assigned at publish
	Raw       []byte
	UpdatedBy string
	UpdatedAt time.Time
	// Published is the version published now, which the draft will follow.
	Published int64
}

// VersionInfo describes one published version.
type VersionInfo struct {
	Version   int64
	CreatedBy string
	CreatedAt time.Time
	// Source is the version a rollback published again (0 for an ordinary publish).
	Source int64
}

// Draft returns the draft.
func (s *Store) Draft(ctx context.Context) (*Draft, error) {
	var d Draft
	var raw []byte
	err := s.db.QueryRow(ctx, `SELECT draft, draft_updated_by, draft_updated_at, published_version FROM gamedata_state`).
		Scan(&raw, &d.UpdatedBy, &d.UpdatedAt, &d.Published)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, oven.Errorf(oven.ENotFound, "no game data yet; run the migrations")
	}
	if err != nil {
		return nil, fmt.Errorf("gamedata: draft: %w", err)
	}
	if d.Doc, err = Parse(raw); err != nil {
		return nil, fmt.Errorf("gamedata: stored draft: %w", err)
	}
	d.Doc.Version = 0
	d.Raw = d.Doc.Marshal()
	return &d, nil
}

// SaveDraft checks raw (Check) and stores it as the draft. With problems it stores
// nothing and returns them. A document equal to the stored draft changes nothing and
// records nothing.
func (s *Store) SaveDraft(ctx context.Context, raw []byte, actor string, record AuditFunc) (*Draft, []Problem, error) {
	doc, ps := Check(raw)
	if len(ps) > 0 {
		return nil, ps, nil
	}
	doc.Version = 0
	norm := doc.Marshal()
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var old []byte
		if err := tx.QueryRow(ctx, `SELECT draft FROM gamedata_state FOR UPDATE`).Scan(&old); err != nil {
			return err
		}
		before, err := normalize(old)
		if err != nil {
			return err
		}
		if bytes.Equal(before, norm) {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE gamedata_state SET draft = $1, draft_updated_by = $2, draft_updated_at = now()`, norm, actor); err != nil {
			return err
		}
		return record.record(ctx, tx, json.RawMessage(before), json.RawMessage(norm))
	})
	if err != nil {
		return nil, nil, fmt.Errorf("gamedata: save draft: %w", err)
	}
	d, err := s.Draft(ctx)
	return d, nil, err
}

// Publish makes the draft the next version and returns its number. Errors: conflict
// when the draft is the published document already (there is nothing to publish).
func (s *Store) Publish(ctx context.Context, actor string, record AuditFunc) (int64, error) {
	var next int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		cur, draft, published, err := lockState(ctx, tx)
		if err != nil {
			return err
		}
		doc, err := Parse(draft)
		if err != nil {
			return fmt.Errorf("stored draft: %w", err)
		}
		if ps := sanity(doc); len(ps) > 0 {
			return oven.Errorf(oven.EInvalid, "the draft is invalid: %s: %s", ps[0].Path, ps[0].Message)
		}
		if bytes.Equal(mustNormalize(draft), mustNormalize(published)) {
			return oven.Errorf(oven.EConflict, "the draft is already published as version %d; change it first", cur)
		}
		if next, err = insertVersion(ctx, tx, doc, actor, 0); err != nil {
			return err
		}
		return record.record(ctx, tx, map[string]int64{"version": cur}, map[string]int64{"version": next})
	})
	if err != nil {
		return 0, fmt.Errorf("gamedata: publish: %w", err)
	}
	return next, nil
}

// Rollback publishes the document of an old version again, as a new version, and
// resets the draft to it (so that the change rolled back is not re-published by the next
// publish by accident; the audit row keeps the discarded draft). Errors: not_found for
// an unknown version, conflict when that document is the one published now.
func (s *Store) Rollback(ctx context.Context, version int64, actor string, record AuditFunc) (int64, error) {
	var next int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		cur, draft, published, err := lockState(ctx, tx)
		if err != nil {
			return err
		}
		var raw []byte
		err = tx.QueryRow(ctx, `SELECT document FROM gamedata_versions WHERE version = $1`, version).Scan(&raw)
		if errors.Is(err, pgx.ErrNoRows) {
			return oven.Errorf(oven.ENotFound, "no game data version %d", version)
		}
		if err != nil {
			return err
		}
		if bytes.Equal(mustNormalize(raw), mustNormalize(published)) {
			return oven.Errorf(oven.EConflict, "version %d's document is what version %d publishes now", version, cur)
		}
		doc, err := Parse(raw)
		if err != nil {
			return fmt.Errorf("version %d: %w", version, err)
		}
		if next, err = insertVersion(ctx, tx, doc, actor, version); err != nil {
			return err
		}
		doc.Version = 0
		if _, err := tx.Exec(ctx, `UPDATE gamedata_state SET draft = $1, draft_updated_by = $2, draft_updated_at = now()`, doc.Marshal(), actor); err != nil {
			return err
		}
		return record.record(ctx, tx, map[string]any{"version": cur, "draft": json.RawMessage(mustNormalize(draft))},
			map[string]any{"version": next, "source_version": version})
	})
	if err != nil {
		return 0, fmt.Errorf("gamedata: rollback: %w", err)
	}
	return next, nil
}

// lockState locks the one state row (serializing every publish and rollback) and
// returns the published version, the draft and the published document.
func lockState(ctx context.Context, tx pgx.Tx) (cur int64, draft, published []byte, err error) {
	// Lock first, then read the document in a second statement: a statement that waited
	// for the lock sees the row as the previous publish left it, but its snapshot of
	// gamedata_versions predates that publish's new row (read committed), so one joined
	// query would find nothing.
	err = tx.QueryRow(ctx, `SELECT published_version, draft FROM gamedata_state FOR UPDATE`).Scan(&cur, &draft)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, nil, oven.Errorf(oven.ENotFound, "no game data yet; run the migrations")
	}
	if err != nil {
		return 0, nil, nil, err
	}
	err = tx.QueryRow(ctx, `SELECT document FROM gamedata_versions WHERE version = $1`, cur).Scan(&published)
	return cur, draft, published, err
}

// insertVersion stores doc as the next version, publishes it and notifies the shards
// (at commit).
func insertVersion(ctx context.Context, tx pgx.Tx, doc *Document, actor string, source int64) (int64, error) {
	var next int64
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) + 1 FROM gamedata_versions`).Scan(&next); err != nil {
		return 0, err
	}
	doc.Version = next
	var src *int64
	if source > 0 {
		src = &source
	}
	if _, err := tx.Exec(ctx, `INSERT INTO gamedata_versions (version, document, created_by, source_version) VALUES ($1, $2, $3, $4)`,
		next, doc.Marshal(), actor, src); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `UPDATE gamedata_state SET published_version = $1, published_at = now()`, next); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, strconv.FormatInt(next, 10)); err != nil {
		return 0, err
	}
	return next, nil
}

// Versions lists published versions, newest first (at most limit, 1..500), and the
// version published now.
func (s *Store) Versions(ctx context.Context, limit int) ([]VersionInfo, int64, error) {
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	var published int64
	if err := s.db.QueryRow(ctx, `SELECT published_version FROM gamedata_state`).Scan(&published); err != nil {
		return nil, 0, fmt.Errorf("gamedata: versions: %w", err)
	}
	rows, err := s.db.Query(ctx, `SELECT version, created_by, created_at, coalesce(source_version, 0)
		FROM gamedata_versions ORDER BY version DESC LIMIT $1`, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("gamedata: versions: %w", err)
	}
	vs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (VersionInfo, error) {
		var v VersionInfo
		return v, r.Scan(&v.Version, &v.CreatedBy, &v.CreatedAt, &v.Source)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("gamedata: versions: %w", err)
	}
	return vs, published, nil
}

// normalize renders a stored document with version 0, so that documents compare by
// content alone.
func normalize(raw []byte) ([]byte, error) {
	d, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	d.Version = 0
	return d.Marshal(), nil
}

// mustNormalize is normalize for documents that were valid when stored; a broken one
// compares as itself.
func mustNormalize(raw []byte) []byte {
	if n, err := normalize(raw); err == nil {
		return n
	}
	return raw
}

// Follow refreshes the cache the moment a publish commits anywhere, by LISTENing on
// Channel over a dedicated connection; Run's periodic refresh stays as the fallback for
// notifications lost while that connection was down.
func (c *Cache) Follow(ctx context.Context) {
	refresh := func(ctx context.Context) {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := c.Refresh(rctx); err != nil && ctx.Err() == nil {
			c.log.Warn("game data refresh on notification failed", "err", err)
		}
	}
	pgnotify.Listen(ctx, c.store.db.Config().ConnConfig, []string{Channel}, pgnotify.Handler{
		Notify:    func(string, string) { refresh(ctx) },
		Connected: refresh,
	}, c.log)
}
