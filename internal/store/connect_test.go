package store

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/spacetime-vr/spacetime/internal/config"
)

// testPassword must never show in an error.
const testPassword = "hunter2-secret-pw"

func TestPostgresDSN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		db   config.Database
		want string
	}{
		{
			name: "full",
			db: config.Database{Host: "db.example", Port: 5433, Name: "spacetime", User: "st",
				Password: config.NewSecret("p@ss word/?"), SSLMode: "require", ConnectTimeoutSeconds: 7},
			want: "postgres://st:p%40ss%20word%2F%3F@db.example:5433/spacetime?connect_timeout=7&sslmode=require",
		},
		{
			name: "no password, default port",
			db:   config.Database{Host: "10.0.0.5", Name: "st", User: "st"},
			want: "postgres://st@10.0.0.5:5432/st",
		},
		{
			name: "IPv6 host",
			db:   config.Database{Host: "::1", Port: 5432, Name: "st", User: "st", SSLMode: "disable"},
			want: "postgres://st@[::1]:5432/st?sslmode=disable",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := PostgresDSN(tc.db)
			if got != tc.want {
				t.Errorf("PostgresDSN = %q, want %q", got, tc.want)
			}
			// pgx must read back what the config says.
			cfg, err := pgconn.ParseConfig(got)
			if err != nil {
				t.Fatalf("pgx cannot parse %q: %v", got, err)
			}
			if cfg.Host != tc.db.Host || cfg.User != tc.db.User || cfg.Database != tc.db.Name ||
				cfg.Password != tc.db.Password.Reveal() {
				t.Errorf("pgx read host %q user %q db %q password ok=%v", cfg.Host, cfg.User, cfg.Database,
					cfg.Password == tc.db.Password.Reveal())
			}
		})
	}
}

func TestFromConfig(t *testing.T) {
	t.Parallel()
	def := config.Defaults().Database
	got := FromConfig(def, "/var/lib/spacetime")
	want := Options{Driver: DriverSQLite, DSN: filepath.Join("/var/lib/spacetime", def.SQLiteFile),
		MaxOpenConns: def.MaxOpenConns, ConnectTimeout: def.ConnectTimeout()}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FromConfig(defaults) = %+v, want %+v", got, want)
	}
	pg := def
	pg.Host = "db"
	if got := FromConfig(pg, "/data"); got.Driver != DriverPostgres || got.DSN != PostgresDSN(pg) {
		t.Errorf("FromConfig(host set) = driver %q dsn %q, want postgres and PostgresDSN", got.Driver, got.DSN)
	}
}

func TestOpenBadOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"no driver", Options{DSN: "x.db"}},
		{"unknown driver", Options{Driver: "mysql", DSN: "x"}},
		{"sqlite without path", Options{Driver: DriverSQLite}},
		{"sqlite memory", Options{Driver: DriverSQLite, DSN: ":memory:"}},
		{"sqlite with query", Options{Driver: DriverSQLite, DSN: "x.db?mode=ro"}},
		{"postgres bad DSN", Options{Driver: DriverPostgres, DSN: "postgres://u:" + testPassword + "@h:notaport/db"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(context.Background(), tc.opts)
			if !errors.Is(err, ErrBadOptions) {
				t.Fatalf("Open: err = %v, want ErrBadOptions", err)
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

// fakeAuthServer is a PostgreSQL server that refuses every password.
func fakeAuthServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { refusePassword(conn) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

func refusePassword(conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	be := pgproto3.NewBackend(conn, conn)
	msg, err := be.ReceiveStartupMessage()
	if err != nil {
		return
	}
	if _, ok := msg.(*pgproto3.SSLRequest); ok {
		if _, err := conn.Write([]byte("N")); err != nil {
			return
		}
		if msg, err = be.ReceiveStartupMessage(); err != nil {
			return
		}
	}
	startup, ok := msg.(*pgproto3.StartupMessage)
	if !ok {
		return
	}
	be.Send(&pgproto3.AuthenticationCleartextPassword{})
	if be.Flush() != nil || be.SetAuthType(pgproto3.AuthTypeCleartextPassword) != nil {
		return
	}
	if _, err := be.Receive(); err != nil {
		return
	}
	be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01",
		Message: `password authentication failed for user "` + startup.Parameters["user"] + `"`})
	be.Flush()
}

func TestOpenWrongPassword(t *testing.T) {
	t.Parallel()
	addr := fakeAuthServer(t)
	clock := newFakeClock()
	_, err := Open(context.Background(), Options{
		Driver: DriverPostgres,
		DSN:    "postgres://spacetime:" + testPassword + "@" + addr + "/spacetime?sslmode=prefer",
		Now:    clock.Now, Sleep: clock.Sleep,
	})
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("Open: err = %v, want ErrAuth", err)
	}
	msg := err.Error()
	want := `store: postgres ` + addr + `: password authentication failed for user "spacetime" (SQLSTATE 28P01)`
	if msg != want {
		t.Errorf("error = %q, want %q", msg, want)
	}
	if strings.Contains(msg, testPassword) {
		t.Errorf("error shows the password: %q", msg)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Errorf("errors.As PgError = %v, want code 28P01", pgErr)
	}
	if n := len(clock.Slept()); n != 0 {
		t.Errorf("refused credentials were retried %d times, want none", n)
	}
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		retryFor     time.Duration
		wantSlept    []time.Duration
		wantAttempts int
	}{
		{"no retry", -1, nil, 1},
		{"backoff within bound", 10 * time.Second, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, 4},
		{"capped backoff", 20 * time.Second, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			_, err := Open(context.Background(), Options{
				Driver:     DriverPostgres,
				DSN:        "postgres://spacetime:" + testPassword + "@127.0.0.1:1/spacetime?sslmode=disable",
				RetryFor:   tc.retryFor,
				MinBackoff: time.Second, MaxBackoff: 5 * time.Second,
				ConnectTimeout: 2 * time.Second,
				Now:            clock.Now, Sleep: clock.Sleep,
			})
			if !errors.Is(err, ErrUnreachable) {
				t.Fatalf("Open: err = %v, want ErrUnreachable", err)
			}
			var ce *ConnectError
			if !errors.As(err, &ce) || ce.Attempts != tc.wantAttempts {
				t.Errorf("attempts = %+v, want %d", ce, tc.wantAttempts)
			}
			if got := clock.Slept(); !reflect.DeepEqual(got, tc.wantSlept) {
				t.Errorf("slept %v, want %v", got, tc.wantSlept)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.HasPrefix(msg, "store: postgres 127.0.0.1:1: unreachable after ") {
				t.Errorf("error = %q, want it to name postgres 127.0.0.1:1 as unreachable", msg)
			}
			if strings.Contains(msg, testPassword) {
				t.Errorf("error shows the password: %q", msg)
			}
		})
	}
}

func TestOpenCanceledWhileRetrying(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Open(ctx, Options{
		Driver:   DriverPostgres,
		DSN:      "postgres://spacetime@127.0.0.1:1/spacetime?sslmode=disable",
		RetryFor: time.Hour,
		Sleep: func(context.Context, time.Duration) error {
			cancel()
			return context.Canceled
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Open: err = %v, want context.Canceled", err)
	}
}

// TestPostgresUnknownRole uses the real server: with trust auth any
// password passes, but an unknown role is still refused.
func TestPostgresUnknownRole(t *testing.T) {
	t.Parallel()
	base := os.Getenv(testDatabaseURL)
	if base == "" {
		t.Skip(pgSkipMessage)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("st_no_such_role", testPassword)
	_, err = Open(context.Background(), Options{Driver: DriverPostgres, DSN: u.String()})
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("Open: err = %v, want ErrAuth", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "store: postgres "+u.Host+": ") || !strings.Contains(msg, "st_no_such_role") {
		t.Errorf("error = %q, want it to name postgres %s and the role", msg, u.Host)
	}
	if strings.Contains(msg, testPassword) {
		t.Errorf("error shows the password: %q", msg)
	}
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	for _, driver := range []string{DriverSQLite, DriverPostgres} {
		ms, err := Migrations(driver)
		if err != nil || len(ms) == 0 || ms[0].Version != 1 {
			t.Errorf("Migrations(%s) = %d migrations, %v", driver, len(ms), err)
		}
	}
	sql := &fstest.MapFile{Data: []byte("SELECT 1;")}
	for _, tc := range []struct {
		name    string
		files   fstest.MapFS
		wantErr bool
	}{
		{"good", fstest.MapFS{"m/0001_a.sql": sql, "m/0002_b.sql": sql, "m/README": sql}, false},
		{"gap", fstest.MapFS{"m/0001_a.sql": sql, "m/0003_c.sql": sql}, true},
		{"duplicate", fstest.MapFS{"m/0001_a.sql": sql, "m/001_b.sql": sql}, true},
		{"no number", fstest.MapFS{"m/init.sql": sql}, true},
		{"zero", fstest.MapFS{"m/0000_a.sql": sql}, true},
		{"none", fstest.MapFS{"m/README": sql}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadMigrations(tc.files, "m")
			if (err != nil) != tc.wantErr {
				t.Errorf("loadMigrations: err = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}
