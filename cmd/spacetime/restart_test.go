package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The backends of a deployment restarted under traffic, as real server
// processes of the test's own (the machine's shared PostgreSQL and Redis
// serve other tests at the same time): Redis killed and started again,
// PostgreSQL stopped in immediate mode (a crash) and started again. The API
// keeps answering throughout, the limiter falls back to memory and back to
// Redis, and every request has its audit record in the database at the end.
func TestServeSurvivesBackendRestarts(t *testing.T) {
	if os.Getenv("SPACETIME_TEST_DATABASE_URL") == "" || os.Getenv("SPACETIME_TEST_REDIS_URL") == "" {
		missing(t, "needs PostgreSQL and Redis installed: run through scripts/test.sh (make test), which sets SPACETIME_TEST_DATABASE_URL and SPACETIME_TEST_REDIS_URL")
	}
	pg := startPrivatePostgres(t)
	rd := startPrivateRedis(t)

	cfgDir := t.TempDir()
	writeLegacyTestConfig(t, cfgDir, "st-restart:")
	s := startServe(t, map[string]string{"GODOT_ENV": "test",
		"DB_HOST": "127.0.0.1", "DB_PORT": pg.port, "DB_NAME": "postgres", "DB_USER": "postgres", "DB_SSLMODE": "disable",
		"REDIS_HOST": "127.0.0.1", "REDIS_PORT": rd.port}, "--config-dir", cfgDir)

	sent := 0
	send := func(n int, when string) {
		t.Helper()
		for range n {
			sent++
			if resp := s.as(testAPIToken, "GET", "/state/player", "", nil); resp.StatusCode != 200 {
				t.Errorf("GET /state/player %s = %d, want 200", when, resp.StatusCode)
			}
		}
	}
	limiter := func() string {
		var st map[string]any
		s.do("GET", "/status", "", &st)
		v, _ := st["rate_limiter"].(string)
		return v
	}
	waitLimiter := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for limiter() != want {
			if time.Now().After(deadline) {
				t.Fatalf("/status rate_limiter = %q after 10 s, want %q", limiter(), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	send(20, "before the restarts")
	waitLimiter("redis")

	rd.stop(t)
	send(20, "while Redis is down")
	waitLimiter("memory (redis unreachable)")
	rd.start(t)
	waitLimiter("redis")
	send(10, "after Redis came back")

	pg.stop(t)
	send(20, "while PostgreSQL is down")
	pg.start(t)
	send(10, "after PostgreSQL came back")
	s.stop()

	db, err := sql.Open("pgx", fmt.Sprintf("postgres://postgres@127.0.0.1:%s/postgres?sslmode=disable", pg.port))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM audit_records WHERE route = 'GET /state/player'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != sent {
		t.Errorf("audit_records holds %d GET /state/player records after the restarts, want %d", n, sent)
	}
}

// writeLegacyTestConfig is writeTestConfig with allow_legacy_tokens on,
// so requests can present the raw API_TOKEN, which needs no database.
func writeLegacyTestConfig(t *testing.T, dir, prefix string) {
	t.Helper()
	writeTestConfig(t, dir, prefix)
	sec := filepath.Join(dir, "security_test.json")
	data, err := os.ReadFile(sec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sec, []byte(strings.Replace(string(data), `"allow_legacy_tokens": false`, `"allow_legacy_tokens": true`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// freeAddr returns a TCP address on 127.0.0.1 that nothing listened on a
// moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// freePort is the port of freeAddr.
func freePort(t *testing.T) string {
	t.Helper()
	_, port, _ := net.SplitHostPort(freeAddr(t))
	return port
}

// privateServer is a PostgreSQL or Redis server process of one test.
type privateServer struct {
	port  string
	start func(t *testing.T)
	stop  func(t *testing.T)
}

// startPrivatePostgres initialises a PostgreSQL cluster in a temporary
// directory and starts it on a free port (as the postgres user when run as
// root, since PostgreSQL refuses to run as root).
func startPrivatePostgres(t *testing.T) *privateServer {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		missing(t, "needs the PostgreSQL server binaries (Debian package postgresql; scripts/services.sh installs it)")
	}
	bin := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "st-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	asPostgres := func(name string, args ...string) *exec.Cmd {
		if os.Geteuid() == 0 {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(bin, name)}, args...)...)
		}
		return exec.Command(filepath.Join(bin, name), args...)
	}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown %s: %v\n%s", dir, err, out)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := asPostgres("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := freePort(t)
	p := &privateServer{port: port}
	p.start = func(t *testing.T) {
		t.Helper()
		cmd := asPostgres("pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "30", "start",
			"-o", "-p "+port+" -k "+dir+" -c listen_addresses=127.0.0.1 -c fsync=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
		}
	}
	p.stop = func(t *testing.T) {
		t.Helper()
		if out, err := asPostgres("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop").CombinedOutput(); err != nil {
			t.Fatalf("pg_ctl stop: %v\n%s", err, out)
		}
	}
	p.start(t)
	t.Cleanup(func() { _ = asPostgres("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop").Run() })
	return p
}

// startPrivateRedis starts a redis-server that keeps nothing on disk on a
// free port; stop kills it (SIGKILL, as a crash) and start starts a new
// one on the same port.
func startPrivateRedis(t *testing.T) *privateServer {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		missing(t, "needs redis-server (Debian package redis-server; scripts/services.sh installs it)")
	}
	port := freePort(t)
	p := &privateServer{port: port}
	var cmd *exec.Cmd
	p.start = func(t *testing.T) {
		t.Helper()
		cmd = exec.Command(path, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
			if err == nil {
				c.Close()
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("redis-server on port %s did not start: %v", port, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	p.stop = func(t *testing.T) {
		t.Helper()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	p.start(t)
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return p
}
