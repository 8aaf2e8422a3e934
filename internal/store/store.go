// Package store keeps SpaceTime's durable state (scene history, the audit
// log) in an SQL database: SQLite (pure Go, modernc.org/sqlite) in the data
// directory by default, or PostgreSQL (pgx) when DB_HOST is set. Both
// engines sit behind database/sql and run the same queries; the schema is
// versioned SQL embedded in the binary (migrations/<driver>/NNNN_name.sql)
// and applied at Open.
//
// A Store is safe for concurrent use. History and AuditLog are thin views of
// it that satisfy api.History and audit.Sink/audit.Querier; KeyStore,
// SigningKeyStore and SessionStore satisfy auth.KeyStore,
// auth.SigningKeyStore and auth.SessionStore, so replicas sharing one
// database share API keys, signing keys, sessions and refresh tokens. The
// views share the Store's connection pool and are valid until the Store is
// closed.
//
// Times are stored in UTC to the microsecond (PostgreSQL's timestamptz
// precision) on both engines, so the engines return identical values.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the database/sql driver "sqlite"
)

// Driver names, as config.Database.Driver returns them.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Defaults for Options.
const (
	DefaultMaxOpenConns   = 10
	DefaultConnectTimeout = 5 * time.Second
	DefaultRetryFor       = 30 * time.Second
	DefaultMinBackoff     = 250 * time.Millisecond
	DefaultMaxBackoff     = 5 * time.Second
	// DefaultBusyTimeout is how long an SQLite connection waits for a
	// lock held by another connection or process.
	DefaultBusyTimeout = 5 * time.Second
)

// Errors. Connection failures at Open are *ConnectError values wrapping
// ErrUnreachable or ErrAuth.
var (
	// ErrUnreachable reports a backend that could not be reached within
	// Options.RetryFor.
	ErrUnreachable = errors.New("store: backend unreachable")
	// ErrAuth reports a backend that refused the credentials or the role.
	ErrAuth = errors.New("store: authentication failed")
	// ErrBadOptions reports invalid Options.
	ErrBadOptions = errors.New("store: bad options")
	// ErrClosed is returned by a Store used after Close.
	ErrClosed = errors.New("store: closed")
)

// Options configure Open. Zero fields take their defaults.
type Options struct {
	// Driver is DriverSQLite or DriverPostgres.
	Driver string
	// DSN locates the database. SQLite: the database file's path (its
	// directory is created, 0700, if missing; ":memory:" is refused since
	// every pooled connection would see its own database). PostgreSQL: a
	// URL or key=value connection string (see PostgresDSN); it may hold a
	// password, so it is never logged or put in an error.
	DSN string
	// MaxOpenConns bounds the pool (DefaultMaxOpenConns).
	MaxOpenConns int
	// ConnectTimeout bounds one PostgreSQL connection attempt
	// (DefaultConnectTimeout, unless the DSN sets connect_timeout).
	ConnectTimeout time.Duration
	// RetryFor is how long Open keeps retrying an unreachable backend, with
	// exponential backoff from MinBackoff to MaxBackoff, before it gives up
	// with ErrUnreachable (DefaultRetryFor; negative: one attempt only).
	// Refused credentials are never retried.
	RetryFor               time.Duration
	MinBackoff, MaxBackoff time.Duration
	// BusyTimeout is SQLite's busy_timeout (DefaultBusyTimeout).
	BusyTimeout time.Duration
	// Now and Sleep are the clock the retry loop uses (time.Now and a
	// context-aware timer by default); tests inject fakes.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives retry warnings and migration notices
	// (slog.DiscardHandler by default).
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.MaxOpenConns <= 0 {
		o.MaxOpenConns = DefaultMaxOpenConns
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.RetryFor == 0 {
		o.RetryFor = DefaultRetryFor
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(DefaultMaxBackoff, o.MinBackoff)
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Store is an open database with its schema migrated. Safe for concurrent
// use.
type Store struct {
	db      *sql.DB
	dialect dialect
	name    string // "postgres 127.0.0.1:5432/spacetime", "sqlite /data/spacetime.db"
	log     *slog.Logger
}

// Open connects to the database Options name, retrying an unreachable
// PostgreSQL with backoff for up to RetryFor, and applies the pending
// migrations in one transaction (under an advisory lock on PostgreSQL, so
// replicas starting together migrate once). Errors name the backend and
// never carry the password.
func Open(ctx context.Context, opts Options) (*Store, error) {
	opts.setDefaults()
	var (
		s   *Store
		err error
	)
	switch opts.Driver {
	case DriverSQLite:
		s, err = openSQLite(opts)
	case DriverPostgres:
		s, err = openPostgres(opts)
	default:
		return nil, fmt.Errorf("%w: driver %q is not %q or %q", ErrBadOptions, opts.Driver, DriverSQLite, DriverPostgres)
	}
	if err != nil {
		return nil, err
	}
	if err := s.connect(ctx, opts); err != nil {
		s.db.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

func openSQLite(opts Options) (*Store, error) {
	path := opts.DSN
	switch {
	case path == "":
		return nil, fmt.Errorf("%w: sqlite: no database file", ErrBadOptions)
	case path == ":memory:" || strings.HasPrefix(path, "file:") || strings.ContainsRune(path, '?'):
		return nil, fmt.Errorf("%w: sqlite: %q is not a plain file path", ErrBadOptions, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: sqlite %s: create directory: %w", path, err)
	}
	// _txlock=immediate takes the write lock at BEGIN, so concurrent
	// writers wait on busy_timeout instead of failing a lock upgrade.
	dsn := path + "?_busy_timeout=" + strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10) +
		"&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=1&_txlock=immediate"
	db, err := sql.Open(DriverSQLite, dsn)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(opts.MaxOpenConns)
	db.SetMaxIdleConns(opts.MaxOpenConns)
	return &Store{
		db:      db,
		dialect: sqliteDialect,
		name:    "sqlite " + path,
		log:     opts.Logger.With("component", "store", "backend", "sqlite"),
	}, nil
}

func openPostgres(opts Options) (*Store, error) {
	cfg, err := pgx.ParseConfig(opts.DSN)
	if err != nil {
		// pgx redacts the password in parse errors.
		return nil, fmt.Errorf("%w: postgres: %w", ErrBadOptions, err)
	}
	if !dsnSetsConnectTimeout(opts.DSN) {
		cfg.ConnectTimeout = opts.ConnectTimeout
	}
	name := "postgres " + pgAddr(cfg)
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(opts.MaxOpenConns)
	db.SetMaxIdleConns(opts.MaxOpenConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return &Store{
		db:      db,
		dialect: postgresDialect,
		name:    name,
		log:     opts.Logger.With("component", "store", "backend", name),
	}, nil
}

// Close closes the connection pool. History and AuditLog views fail with
// ErrClosed afterwards.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", s.name, err)
	}
	return nil
}

// String names the backend without credentials: "sqlite /data/spacetime.db"
// or "postgres db.example:5432".
func (s *Store) String() string { return s.name }

// Driver returns DriverSQLite or DriverPostgres.
func (s *Store) Driver() string { return s.dialect.driver }

// Ping checks that the database answers (for health checks).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return s.wrap("ping", err)
	}
	return nil
}

// SchemaVersion returns the highest applied migration version (0 for an
// empty database), for `spacetime health`.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, s.wrap("schema version", err)
	}
	return int(v.Int64), nil
}

// wrap names the backend and the operation in err, mapping a closed pool
// to ErrClosed.
func (s *Store) wrap(op string, err error) error {
	if errors.Is(err, sql.ErrConnDone) || (err != nil && err.Error() == "sql: database is closed") {
		return fmt.Errorf("store: %s: %s: %w", s.name, op, ErrClosed)
	}
	return &BackendError{Backend: s.name, Op: op, Err: err}
}

// BackendError is a failure of the database itself during an operation
// (unreachable, timed out, refused the statement): callers answer "try
// again later" rather than "you are wrong". errors.Is(err, ErrBackend)
// matches it.
type BackendError struct {
	Backend string // e.g. "postgres 127.0.0.1:5432"
	Op      string // e.g. "session get"
	Err     error
}

// Error returns "store: BACKEND: OP: cause".
func (e *BackendError) Error() string {
	return "store: " + e.Backend + ": " + e.Op + ": " + e.Err.Error()
}

// Unwrap returns the cause and ErrBackend.
func (e *BackendError) Unwrap() []error { return []error{e.Err, ErrBackend} }

// ErrBackend matches every *BackendError.
var ErrBackend = errors.New("store: backend error")

// dialect holds what differs between the engines.
type dialect struct {
	driver string
	// dollar: placeholders are $1, $2, ... instead of ?.
	dollar bool
	// nanoTime: times are INTEGER Unix nanoseconds instead of timestamptz.
	nanoTime bool
}

var (
	sqliteDialect   = dialect{driver: DriverSQLite, nanoTime: true}
	postgresDialect = dialect{driver: DriverPostgres, dollar: true}
)

// rebind turns the ? placeholders of q into $n for PostgreSQL. Queries in
// this package hold no ? inside literals.
func (d dialect) rebind(q string) string {
	if !d.dollar {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// timeArg converts t to the engine's column value, UTC, to the microsecond.
func (d dialect) timeArg(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if d.nanoTime {
		return t.UnixNano()
	}
	return t
}

// boundArg converts a query bound to the engine's column value, rounded up
// to the microsecond: stored times are whole microseconds, so t <= stored
// exactly when ceil(t) <= stored, and Filter.Match on the records returned
// agrees with the query.
func (d dialect) boundArg(t time.Time) any {
	if tr := t.Truncate(time.Microsecond); !tr.Equal(t) {
		t = tr.Add(time.Microsecond)
	}
	return d.timeArg(t)
}

// timeScanner scans a time column of either engine.
type timeScanner struct {
	t *time.Time
}

// Scan implements sql.Scanner.
func (ts timeScanner) Scan(v any) error {
	switch x := v.(type) {
	case int64:
		*ts.t = time.Unix(0, x).UTC()
	case time.Time:
		*ts.t = x.UTC()
	default:
		return fmt.Errorf("store: time column holds %T", v)
	}
	return nil
}
