package health

import (
	"context"
	"database/sql"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime/internal/config"
	"github.com/spacetime-vr/spacetime/internal/store"
)

// migratedDataDir returns a data directory whose SQLite store the real
// store.Open created and migrated.
func migratedDataDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	cfg := loadConfig(t, nil, config.Flags{DataDir: dir})
	st, err := store.Open(context.Background(), store.FromConfig(cfg.Database, dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// alter runs SQL statements on the SQLite store of dataDir.
func alter(t *testing.T, dataDir string, stmts ...string) {
	t.Helper()
	db, err := sql.Open(store.DriverSQLite, filepath.Join(dataDir, "spacetime.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestHealthStoreSchema(t *testing.T) {
	ms, err := store.Migrations(store.DriverSQLite)
	if err != nil {
		t.Fatal(err)
	}
	latest := ms[len(ms)-1].Version
	tests := []struct {
		name    string
		alter   []string
		want    Status
		summary string
	}{
		{"current", nil, Pass, "schema version " + strconv.Itoa(latest) + " is current"},
		{"behind the binary", []string{"DELETE FROM schema_migrations WHERE version = " + strconv.Itoa(latest)},
			Fail, "is behind this binary's " + strconv.Itoa(latest)},
		{"a migration missing below the version", []string{"DELETE FROM schema_migrations WHERE version = 1"},
			Fail, "lacks migration(s) 0001_init"},
		{"migrated by another schema", []string{"UPDATE schema_migrations SET name = 'other' WHERE version = 1"},
			Fail, "was migrated by another schema"},
		{"newer than the binary", []string{"INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 'x')"},
			Warn, "is newer than this binary's"},
		{"never migrated", []string{"DROP TABLE schema_migrations"}, Fail, "never migrated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := migratedDataDir(t)
			alter(t, dir, tc.alter...)
			before, err := os.ReadFile(filepath.Join(dir, "spacetime.db"))
			if err != nil {
				t.Fatal(err)
			}
			cfg := loadConfig(t, nil, config.Flags{DataDir: dir})
			r := runCheck(t, offlineOptions(t, cfg), checkStore)
			wantStatus(t, r, tc.want)
			if !strings.Contains(r.Summary, tc.summary) {
				t.Errorf("summary %q lacks %q", r.Summary, tc.summary)
			}
			// Read only: the check never migrates or writes.
			after, err := os.ReadFile(filepath.Join(dir, "spacetime.db"))
			if err != nil {
				t.Fatal(err)
			}
			if string(before) != string(after) {
				t.Error("the check changed the database file")
			}
		})
	}
	t.Run("no database yet", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		cfg := loadConfig(t, nil, config.Flags{DataDir: dir})
		r := runCheck(t, offlineOptions(t, cfg), checkStore)
		wantStatus(t, r, Warn)
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("the check created %s (%v)", dir, err)
		}
	})
}

// postgresURL returns SPACETIME_TEST_DATABASE_URL or skips.
func postgresURL(t *testing.T) *url.URL {
	t.Helper()
	raw := os.Getenv("SPACETIME_TEST_DATABASE_URL")
	if raw == "" {
		t.Skip("PostgreSQL tests skipped: set SPACETIME_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// The schema check on PostgreSQL, in a schema of its own: current after
// store.Open, behind after a version row goes.
func TestHealthStoreSchemaPostgres(t *testing.T) {
	base := postgresURL(t)
	admin, err := sql.Open("pgx", base.String())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	schema := "st_health_" + strconv.FormatInt(int64(os.Getpid()), 10)
	if _, err := admin.Exec(`DROP SCHEMA IF EXISTS ` + schema + ` CASCADE; CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(`DROP SCHEMA IF EXISTS ` + schema + ` CASCADE`) })
	u := *base
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	st, err := store.Open(context.Background(), store.Options{Driver: store.DriverPostgres, DSN: u.String()})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms, err := store.Migrations(store.DriverPostgres)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ReadSchema(t.Context(), db, store.DriverPostgres, "postgres test")
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, JudgeSchema(s, ms), Pass)
	if _, err := db.Exec(`DELETE FROM schema_migrations WHERE version = $1`, len(ms)); err != nil {
		t.Fatal(err)
	}
	s, err = ReadSchema(t.Context(), db, store.DriverPostgres, "postgres test")
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, JudgeSchema(s, ms), Fail)
}

func TestHealthBackends(t *testing.T) {
	closedPort := func() string { _, p, _ := net.SplitHostPort(closedAddr(t)); return p }
	t.Run("none configured", func(t *testing.T) {
		r := runCheck(t, offlineOptions(t, loadConfig(t, nil, config.Flags{})), checkBackends)
		wantStatus(t, r, Pass)
		if !strings.Contains(r.Summary, "none configured") {
			t.Errorf("summary %q", r.Summary)
		}
	})
	t.Run("redis on a closed port", func(t *testing.T) {
		cfg := loadConfig(t, map[string]string{"REDIS_HOST": "127.0.0.1", "REDIS_PORT": closedPort()}, config.Flags{})
		r := runCheck(t, offlineOptions(t, cfg), checkBackends)
		wantStatus(t, r, Fail)
		if !strings.Contains(r.Summary, "Redis: 127.0.0.1:") {
			t.Errorf("summary %q", r.Summary)
		}
	})
	t.Run("postgres on a closed port", func(t *testing.T) {
		cfg := loadConfig(t, map[string]string{"DB_HOST": "127.0.0.1", "DB_PORT": closedPort()}, config.Flags{})
		r := runCheck(t, offlineOptions(t, cfg), checkBackends)
		wantStatus(t, r, Fail)
		if !strings.Contains(r.Summary, "PostgreSQL: postgres 127.0.0.1:") || strings.Contains(r.Summary, "password") {
			t.Errorf("summary %q", r.Summary)
		}
	})
	t.Run("real redis", func(t *testing.T) {
		raw := os.Getenv("SPACETIME_TEST_REDIS_URL")
		if raw == "" {
			t.Skip("set SPACETIME_TEST_REDIS_URL=redis://127.0.0.1:6379/0")
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		cfg := loadConfig(t, map[string]string{"REDIS_HOST": u.Hostname(), "REDIS_PORT": u.Port()}, config.Flags{})
		r := runCheck(t, offlineOptions(t, cfg), checkBackends)
		wantStatus(t, r, Pass)
	})
	t.Run("real postgres", func(t *testing.T) {
		u := postgresURL(t)
		vars := map[string]string{"DB_HOST": u.Hostname(), "DB_PORT": u.Port(), "DB_NAME": strings.TrimPrefix(u.Path, "/"),
			"DB_USER": u.User.Username(), "DB_SSLMODE": u.Query().Get("sslmode")}
		if pw, ok := u.User.Password(); ok {
			vars["DB_PASSWORD"] = pw
		}
		cfg := loadConfig(t, vars, config.Flags{})
		r := runCheck(t, offlineOptions(t, cfg), checkBackends)
		wantStatus(t, r, Pass)
		if !strings.Contains(r.Summary, "PostgreSQL answer") {
			t.Errorf("summary %q", r.Summary)
		}
	})
}
