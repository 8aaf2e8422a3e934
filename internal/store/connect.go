package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/spacetime-vr/spacetime/internal/config"
)

// FromConfig returns the Options for db: PostgreSQL (PostgresDSN) when
// db.Host is set, else SQLite at dataDir/db.SQLiteFile. Clock, logger and
// retry settings are left for the caller.
func FromConfig(db config.Database, dataDir string) Options {
	o := Options{
		Driver:         db.Driver(),
		MaxOpenConns:   db.MaxOpenConns,
		ConnectTimeout: db.ConnectTimeout(),
	}
	if o.Driver == DriverPostgres {
		o.DSN = PostgresDSN(db)
		return o
	}
	file := db.SQLiteFile
	if file == "" {
		file = "spacetime.db"
	}
	o.DSN = filepath.Join(dataDir, file)
	return o
}

// PostgresDSN builds a postgres:// URL from db: host, port, dbname, user,
// password (escaped), sslmode and connect_timeout. The result holds the
// password: pass it to Open, never to a log.
func PostgresDSN(db config.Database) string {
	port := db.Port
	if port == 0 {
		port = 5432
	}
	u := url.URL{
		Scheme: "postgres",
		Host:   net.JoinHostPort(db.Host, strconv.Itoa(port)),
		Path:   "/" + db.Name,
	}
	switch pw := db.Password.Reveal(); {
	case pw != "":
		u.User = url.UserPassword(db.User, pw)
	case db.User != "":
		u.User = url.User(db.User)
	}
	q := url.Values{}
	if db.SSLMode != "" {
		q.Set("sslmode", db.SSLMode)
	}
	if db.ConnectTimeoutSeconds > 0 {
		q.Set("connect_timeout", strconv.Itoa(db.ConnectTimeoutSeconds))
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// dsnSetsConnectTimeout reports whether a connection string names
// connect_timeout itself.
func dsnSetsConnectTimeout(dsn string) bool {
	return strings.Contains(dsn, "connect_timeout")
}

// pgAddr returns host:port of cfg's first host.
func pgAddr(cfg *pgx.ConnConfig) string {
	host := cfg.Host
	if strings.HasPrefix(host, "/") {
		return host // Unix socket directory
	}
	return net.JoinHostPort(host, strconv.Itoa(int(cfg.Port)))
}

// ConnectError reports that Open could not connect. It wraps ErrUnreachable
// or ErrAuth (or neither, for other refusals) and the driver's error, so
// errors.Is and errors.As see both. Its text names the backend and never
// the password.
type ConnectError struct {
	// Backend names the database: "postgres 127.0.0.1:5432".
	Backend string
	// Attempts is how many connection attempts were made.
	Attempts int
	// Elapsed is the time spent, by Options.Now.
	Elapsed time.Duration
	// Kind is ErrUnreachable, ErrAuth or nil.
	Kind error
	// Err is the last attempt's error.
	Err error
}

// Error implements error: "store: postgres 127.0.0.1:5432: password
// authentication failed for user "x" (SQLSTATE 28P01)".
func (e *ConnectError) Error() string {
	var pgErr *pgconn.PgError
	cause := e.Err.Error()
	var ce *pgconn.ConnectError
	if errors.As(e.Err, &ce) && ce.Unwrap() != nil {
		cause = ce.Unwrap().Error() // drop pgx's "failed to connect to `user=...`" prefix
	}
	if errors.As(e.Err, &pgErr) {
		cause = fmt.Sprintf("%s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
	}
	if errors.Is(e.Kind, ErrUnreachable) {
		return fmt.Sprintf("store: %s: unreachable after %d attempts in %s: %s",
			e.Backend, e.Attempts, e.Elapsed.Round(time.Millisecond), cause)
	}
	return fmt.Sprintf("store: %s: %s", e.Backend, cause)
}

// Unwrap returns Kind (when set) and Err.
func (e *ConnectError) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// connect pings the database until it answers, retrying transient failures
// with exponential backoff while the next attempt would start within
// opts.RetryFor of the first.
func (s *Store) connect(ctx context.Context, opts Options) error {
	start := opts.Now()
	backoff := opts.MinBackoff
	for attempt := 1; ; attempt++ {
		err := s.db.PingContext(ctx)
		if err == nil {
			if attempt > 1 {
				s.log.Info("store: connected", "attempts", attempt)
			}
			return nil
		}
		cerr := &ConnectError{Backend: s.name, Attempts: attempt, Elapsed: opts.Now().Sub(start), Err: err}
		if ctx.Err() != nil {
			return fmt.Errorf("store: %s: connect: %w", s.name, ctx.Err())
		}
		switch kind, retry := classify(s.dialect.driver, err); {
		case !retry:
			cerr.Kind = kind
			return cerr
		case opts.RetryFor < 0 || opts.Now().Add(backoff).Sub(start) > opts.RetryFor:
			cerr.Kind = ErrUnreachable
			return cerr
		}
		s.log.Warn("store: backend unreachable, retrying", "attempt", attempt, "retry_in", backoff, "error", cerr.Error())
		if err := opts.Sleep(ctx, backoff); err != nil {
			return fmt.Errorf("store: %s: connect: %w", s.name, err)
		}
		backoff = min(2*backoff, opts.MaxBackoff)
	}
}

// classify says whether a connection error is worth retrying, and its kind
// when not: a server that answers with an error has decided (bad
// credentials, unknown role or database), except while it is starting up
// or out of connections; anything else (refused, timed out, DNS) may heal.
func classify(driver string, err error) (kind error, retry bool) {
	if driver != DriverPostgres {
		// Another process switching the shared file to WAL holds it
		// exclusively for a moment, which the busy handler does not wait
		// out: retry.
		msg := err.Error()
		return nil, strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked")
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return nil, true
	}
	switch {
	case strings.HasPrefix(pgErr.Code, "28"): // invalid authorization
		return ErrAuth, false
	case pgErr.Code == "57P03", strings.HasPrefix(pgErr.Code, "53"): // starting up, out of resources
		return nil, true
	}
	return nil, false
}
