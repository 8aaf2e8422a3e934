package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

//go:embed migrations
var migrationFiles embed.FS

// Migration is one versioned schema change, from
// migrations/<driver>/NNNN_name.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns driver's embedded migrations in version order. The
// versions run 1, 2, 3, ... without gaps or duplicates.
func Migrations(driver string) ([]Migration, error) {
	return loadMigrations(migrationFiles, path.Join("migrations", driver))
}

func loadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("store: migrations %s: %w", dir, err)
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || name == "" {
			return nil, fmt.Errorf("store: migration %s/%s: name is not NNNN_name.sql", dir, e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: migration %s/%s: %w", dir, e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("store: migrations %s: version %d where %d was expected (gap or duplicate)", dir, m.Version, i+1)
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("store: migrations %s: none", dir)
	}
	return ms, nil
}

// migrate applies the pending migrations in one transaction. On PostgreSQL
// a transaction-scoped advisory lock, keyed by the current schema,
// serializes replicas starting together: the second waits, then finds
// nothing to do. On SQLite the transaction begins IMMEDIATE, which does the
// same for processes sharing the file.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := Migrations(s.dialect.driver)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap("migrate: begin", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if s.dialect.driver == DriverPostgres {
		if _, err := tx.ExecContext(ctx,
			`SELECT pg_advisory_xact_lock(hashtext('spacetime.migrate.' || coalesce(current_schema(), '')))`); err != nil {
			return s.wrap("migrate: lock", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at TEXT    NOT NULL
)`); err != nil {
		return s.wrap("migrate: create schema_migrations", err)
	}
	var cur sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&cur); err != nil {
		return s.wrap("migrate: read version", err)
	}
	have := int(cur.Int64)
	if latest := ms[len(ms)-1].Version; have > latest {
		// A newer binary migrated this database; carry on (a rolling
		// upgrade), but say so.
		s.log.Warn("store: schema is newer than this binary knows", "schema_version", have, "binary_version", latest)
		return tx.Commit()
	}
	for _, m := range ms[have:] {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return s.wrap(fmt.Sprintf("migrate: apply %04d_%s", m.Version, m.Name), err)
		}
		if _, err := tx.ExecContext(ctx, s.dialect.rebind(
			`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, `+s.nowSQL()+`)`),
			m.Version, m.Name); err != nil {
			return s.wrap(fmt.Sprintf("migrate: record %04d_%s", m.Version, m.Name), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.wrap("migrate: commit", err)
	}
	if n := len(ms) - have; n > 0 {
		s.log.Info("store: schema migrated", "from", have, "to", ms[len(ms)-1].Version)
	}
	return nil
}

// nowSQL is the engine's expression for the current time as text.
func (s *Store) nowSQL() string {
	if s.dialect.driver == DriverPostgres {
		return `to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
	}
	return `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`
}
