package health

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/spacetime-vr/spacetime/internal/config"
	"github.com/spacetime-vr/spacetime/internal/store"
)

// SchemaState is what a database's schema_migrations table says, compared
// with the migrations this binary carries.
type SchemaState struct {
	// Backend names the database without credentials.
	Backend string
	// Applied lists the applied versions and names, in version order.
	Applied []store.Migration
	// Latest is the binary's newest migration.
	Latest store.Migration
}

// Version is the highest applied version (0 when none).
func (s SchemaState) Version() int {
	if len(s.Applied) == 0 {
		return 0
	}
	return s.Applied[len(s.Applied)-1].Version
}

// openReadOnly opens the database cfg names for reading only: SQLite
// with mode=ro (an absent file is not created), PostgreSQL with a
// read-only session. It returns the database, its name, and
// os.ErrNotExist for an absent SQLite file.
func openReadOnly(db config.Database, dataDir string) (*sql.DB, string, error) {
	opts := store.FromConfig(db, dataDir)
	switch opts.Driver {
	case store.DriverSQLite:
		name := "sqlite " + opts.DSN
		if _, err := os.Stat(opts.DSN); err != nil {
			return nil, name, err
		}
		abs, err := filepath.Abs(opts.DSN)
		if err != nil {
			return nil, name, err
		}
		u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: "mode=ro&_pragma=busy_timeout(5000)"}
		d, err := sql.Open(store.DriverSQLite, u.String())
		if err != nil {
			return nil, name, err
		}
		d.SetMaxOpenConns(1)
		return d, name, nil
	case store.DriverPostgres:
		pc, err := pgx.ParseConfig(opts.DSN)
		if err != nil {
			return nil, "postgres", fmt.Errorf("database settings: %w", err)
		}
		pc.ConnectTimeout = db.ConnectTimeout()
		pc.RuntimeParams["default_transaction_read_only"] = "on"
		pc.RuntimeParams["application_name"] = "spacetime-health"
		name := fmt.Sprintf("postgres %s:%d/%s", pc.Host, pc.Port, pc.Database)
		d := stdlib.OpenDB(*pc)
		d.SetMaxOpenConns(1)
		return d, name, nil
	}
	return nil, "", fmt.Errorf("unknown database driver %q", opts.Driver)
}

// ReadSchema reads the applied migrations of db (driver is
// store.DriverSQLite or store.DriverPostgres) and pairs them with the
// binary's latest.
func ReadSchema(ctx context.Context, db *sql.DB, driver, backend string) (SchemaState, error) {
	ms, err := store.Migrations(driver)
	if err != nil {
		return SchemaState{}, err
	}
	s := SchemaState{Backend: backend, Latest: ms[len(ms)-1]}
	rows, err := db.QueryContext(ctx, `SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		if missingTable(err) {
			return s, errNotMigrated
		}
		return s, err
	}
	defer rows.Close()
	for rows.Next() {
		var m store.Migration
		if err := rows.Scan(&m.Version, &m.Name); err != nil {
			return s, err
		}
		s.Applied = append(s.Applied, m)
	}
	return s, rows.Err()
}

// errNotMigrated: the database has no schema_migrations table.
var errNotMigrated = errors.New("no schema_migrations table: the database was never migrated")

func missingTable(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "no such table") || strings.Contains(msg, "42P01") ||
		strings.Contains(msg, "does not exist")
}

// JudgeSchema compares a schema with the binary's migrations: every one
// applied, in order, with the same names, and nothing missing. A schema
// newer than the binary is a warning (a newer server migrated it).
func JudgeSchema(s SchemaState, binary []store.Migration) Result {
	detail := []string{
		detailf("database", "%s", s.Backend),
		detailf("schema version", "%d", s.Version()),
		detailf("binary's latest", "%04d_%s", s.Latest.Version, s.Latest.Name),
	}
	byVersion := map[int]string{}
	for _, m := range s.Applied {
		byVersion[m.Version] = m.Name
	}
	var missing, renamed []string
	for _, m := range binary {
		if m.Version > s.Version() {
			break
		}
		name, ok := byVersion[m.Version]
		switch {
		case !ok:
			missing = append(missing, fmt.Sprintf("%04d_%s", m.Version, m.Name))
		case name != m.Name:
			renamed = append(renamed, fmt.Sprintf("%04d is %q in the database, %q in the binary", m.Version, name, m.Name))
		}
	}
	switch {
	case len(missing) > 0:
		return fail(fmt.Sprintf("%s lacks migration(s) %s below its version %d", s.Backend, strings.Join(missing, ", "), s.Version()), detail...)
	case len(renamed) > 0:
		return fail(fmt.Sprintf("%s was migrated by another schema: %s", s.Backend, strings.Join(renamed, "; ")), detail...)
	case s.Version() < s.Latest.Version:
		var pending []string
		for _, m := range binary[s.Version():] {
			pending = append(pending, fmt.Sprintf("%04d_%s", m.Version, m.Name))
		}
		return fail(fmt.Sprintf("schema version %d is behind this binary's %d (pending %s): serve applies them at start",
			s.Version(), s.Latest.Version, strings.Join(pending, ", ")), detail...)
	case s.Version() > s.Latest.Version:
		return warn(fmt.Sprintf("schema version %d is newer than this binary's %d: a newer release migrated %s",
			s.Version(), s.Latest.Version, s.Backend), detail...)
	}
	return pass(fmt.Sprintf("schema version %d is current (%s)", s.Version(), s.Backend), detail...)
}

// checkStore: the configured store's schema is the one this binary
// expects. It only reads: SQLite is opened read-only and never created,
// PostgreSQL in a read-only session.
func checkStore(ctx context.Context, t *Target) Result {
	cfg, skip := t.config()
	if skip != nil {
		return *skip
	}
	db, name, err := openReadOnly(cfg.Database, cfg.Runtime.DataDir)
	if errors.Is(err, os.ErrNotExist) {
		return warn(fmt.Sprintf("no database yet at %s: serve creates and migrates it at start (is --data-dir the server's?)", strings.TrimPrefix(name, "sqlite ")))
	}
	if err != nil {
		return fail(fmt.Sprintf("%s: %v", name, err))
	}
	defer db.Close()
	driver := cfg.Database.Driver()
	s, err := ReadSchema(ctx, db, driver, name)
	if err != nil {
		return fail(fmt.Sprintf("%s: %v", name, err))
	}
	ms, err := store.Migrations(driver)
	if err != nil {
		return fail(err.Error())
	}
	return JudgeSchema(s, ms)
}

// checkBackends: PostgreSQL (DB_HOST) and Redis (REDIS_HOST) answer when
// configured, and the server itself does not report Redis down.
func checkBackends(ctx context.Context, t *Target) Result {
	cfg, skip := t.config()
	if skip != nil {
		return *skip
	}
	var (
		fails, warns, ok []string
		detail           []string
	)
	if cfg.Database.Host != "" {
		msg, err := pingPostgres(ctx, cfg.Database)
		if err != nil {
			fails = append(fails, "PostgreSQL: "+err.Error())
		} else {
			ok = append(ok, "PostgreSQL")
			detail = append(detail, detailf("postgres", "%s", msg))
		}
	} else {
		detail = append(detail, detailf("postgres", "not configured (SQLite in %s)", cfg.Runtime.DataDir))
	}
	if cfg.Cache.Enabled() {
		msg, err := pingRedis(ctx, cfg.Cache)
		if err != nil {
			fails = append(fails, "Redis: "+err.Error())
		} else {
			ok = append(ok, "Redis")
			detail = append(detail, detailf("redis", "%s", msg))
		}
	} else {
		detail = append(detail, detailf("redis", "not configured (rate limits in memory)"))
	}
	if st, err := t.serverStatus(); err == nil && st.RateLimiter != "" {
		detail = append(detail, detailf("server's rate limiter", "%s", st.RateLimiter))
		switch {
		case strings.Contains(st.RateLimiter, "unreachable"):
			fails = append(fails, "the server reports rate limits as "+st.RateLimiter)
		case cfg.Cache.Enabled() && st.RateLimiter == "memory":
			warns = append(warns, "Redis is configured here but the server keeps limits in memory (its REDIS_HOST differs)")
		case !cfg.Cache.Enabled() && st.RateLimiter == "redis":
			warns = append(warns, "the server keeps limits in Redis but REDIS_HOST is not set here")
		}
	}
	switch {
	case len(fails) > 0:
		return fail(strings.Join(fails, "; "), detail...)
	case len(warns) > 0:
		return warn(strings.Join(warns, "; "), detail...)
	case len(ok) == 0:
		return pass("none configured: SQLite store, rate limits in memory", detail...)
	}
	return pass(strings.Join(ok, " and ")+" answer", detail...)
}

// pingPostgres connects once (no retries) and asks the server version.
func pingPostgres(ctx context.Context, db config.Database) (string, error) {
	d, name, err := openReadOnly(db, "")
	if err != nil {
		return "", err
	}
	defer d.Close()
	var version string
	if err := d.QueryRowContext(ctx, `SHOW server_version`).Scan(&version); err != nil {
		return "", fmt.Errorf("%s: %w", name, pgError(err))
	}
	return fmt.Sprintf("%s answers (PostgreSQL %s)", name, version), nil
}

// pgError drops pgx's connection-string prefix from a connect error.
func pgError(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "): "); strings.HasPrefix(msg, "failed to connect to `") && i > 0 {
		return errors.New(msg[i+3:])
	}
	return err
}

// pingRedis connects once and sends AUTH (with a password), SELECT and
// PING in RESP. It speaks the protocol itself rather than through a pooled
// client: a one-shot probe must not retry in the background or log on
// its own.
func pingRedis(ctx context.Context, c config.Cache) (string, error) {
	d := net.Dialer{Timeout: c.DialTimeout()}
	conn, err := d.DialContext(ctx, "tcp", c.Addr())
	if err != nil {
		return "", fmt.Errorf("%s: %w", c.Addr(), err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	r := bufio.NewReader(conn)
	cmds := [][]string{}
	if pw := c.Password.Reveal(); pw != "" {
		cmds = append(cmds, []string{"AUTH", pw})
	}
	if c.DB != 0 {
		cmds = append(cmds, []string{"SELECT", strconv.Itoa(c.DB)})
	}
	cmds = append(cmds, []string{"PING"})
	var reply string
	for _, cmd := range cmds {
		if reply, err = redisCommand(conn, r, cmd); err != nil {
			return "", fmt.Errorf("%s: %s: %w", c.Addr(), cmd[0], err)
		}
	}
	if reply != "PONG" {
		return "", fmt.Errorf("%s: PING answered %q", c.Addr(), reply)
	}
	return fmt.Sprintf("%s answers PING (db %d)", c.Addr(), c.DB), nil
}

// redisCommand sends one command as a RESP array of bulk strings and
// reads a simple-string reply; an error reply is an error.
func redisCommand(w io.Writer, r *bufio.Reader, args []string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return "", err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "+"):
		return line[1:], nil
	case strings.HasPrefix(line, "-"):
		return "", errors.New(line[1:])
	}
	return "", fmt.Errorf("unexpected reply %q: not a Redis server?", snippet([]byte(line)))
}
