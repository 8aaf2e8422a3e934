package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testDatabaseURL names the PostgreSQL the tests use; unset skips them.
const testDatabaseURL = "SPACETIME_TEST_DATABASE_URL"

const pgSkipMessage = "PostgreSQL tests skipped: run them with " + testDatabaseURL +
	"=postgres://postgres@127.0.0.1:5432/test?sslmode=disable go test ./internal/store/..."

// backend makes fresh, empty databases of one engine.
type backend struct {
	name string
	// fresh returns Options for a new empty database, removed at the end
	// of the test; every call gives a different one.
	fresh func(t testing.TB) Options
}

var sqliteBackend = backend{
	name: DriverSQLite,
	fresh: func(t testing.TB) Options {
		t.Helper()
		return Options{Driver: DriverSQLite, DSN: filepath.Join(t.TempDir(), "data", "spacetime.db")}
	},
}

var postgresBackend = backend{
	name:  DriverPostgres,
	fresh: freshPostgres,
}

// freshPostgres creates a schema st_<random> in the test database, drops it
// at cleanup, and returns Options whose DSN sets search_path to it, so
// tests run side by side.
func freshPostgres(t testing.TB) Options {
	t.Helper()
	base := os.Getenv(testDatabaseURL)
	if base == "" {
		t.Skip(pgSkipMessage)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL", testDatabaseURL)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	schema := "st_" + hex.EncodeToString(rnd[:])

	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", testDatabaseURL, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return Options{Driver: DriverPostgres, DSN: u.String(), RetryFor: -1}
}

// openStore opens opts and closes the store at cleanup.
func openStore(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fakeClock is the retry loop's clock: Sleep advances Now and records
// the durations.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	return ctx.Err()
}

func (c *fakeClock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}
