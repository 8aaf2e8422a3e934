package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net"
	neturl "net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx database/sql driver, to create the test database
)

// cuttableProxy forwards TCP to target until cut, and again after restore:
// a database link the test can break in the middle of traffic.
type cuttableProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newCuttableProxy(t *testing.T, target string) *cuttableProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttableProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() { ln.Close(); p.cut(); p.wg.Wait() })
	return p
}

func (p *cuttableProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, up)
		p.wg.Add(2)
		p.mu.Unlock()
		go func() { defer p.wg.Done(); _, _ = io.Copy(up, c); up.Close() }()
		go func() { defer p.wg.Done(); _, _ = io.Copy(c, up); c.Close() }()
	}
}

// cut closes every forwarded connection and refuses new ones.
func (p *cuttableProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cuttableProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// newTestDatabase creates a PostgreSQL database of the test's own on the
// server of SPACETIME_TEST_DATABASE_URL (dropped at cleanup) and returns
// the server's URL and the database's name; it skips without the
// variable.
func newTestDatabase(t *testing.T) (*neturl.URL, string) {
	t.Helper()
	raw := os.Getenv("SPACETIME_TEST_DATABASE_URL")
	if raw == "" {
		missing(t, "needs PostgreSQL: SPACETIME_TEST_DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/test?sslmode=disable (scripts/services.sh starts one)")
	}
	u, err := neturl.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("pgx", raw)
	if err != nil {
		t.Fatal(err)
	}
	dbName := "st_test_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := admin.Exec("CREATE DATABASE " + dbName); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + dbName + " WITH (FORCE)")
		admin.Close()
	})
	return u, dbName
}

// dbVars are the serve environment variables for database dbName of the
// server at u, reached at host:port (the server itself or a proxy).
func dbVars(u *neturl.URL, dbName, host, port string) map[string]string {
	pw, _ := u.User.Password()
	return map[string]string{"DB_HOST": host, "DB_PORT": port, "DB_NAME": dbName,
		"DB_USER": u.User.Username(), "DB_PASSWORD": pw, "DB_SSLMODE": "disable"}
}

// PostgreSQL cut off in the middle of traffic: the API keeps serving, audit
// records wait in the spool and are all in the database once it returns.
func TestServeAuditSurvivesDatabaseOutage(t *testing.T) {
	u, dbName := newTestDatabase(t)
	proxy := newCuttableProxy(t, u.Host)
	_, port, _ := net.SplitHostPort(proxy.ln.Addr().String())
	// Most requests present the raw API_TOKEN (legacy bearer), which needs
	// no database, to exercise the audit path alone; session tokens are
	// checked separately below.
	cfgDir := t.TempDir()
	writeTestConfig(t, cfgDir, "st-fault:")
	sec := filepath.Join(cfgDir, "security_test.json")
	data, err := os.ReadFile(sec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sec, []byte(strings.Replace(string(data), `"allow_legacy_tokens": false`, `"allow_legacy_tokens": true`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	vars := dbVars(u, dbName, "127.0.0.1", port)
	vars["GODOT_ENV"] = "test"
	s := startServe(t, vars, "--config-dir", cfgDir)

	sent := 0
	send := func(n int) {
		for range n {
			sent++
			if resp := s.as(testAPIToken, "GET", "/state/player", "", nil); resp.StatusCode != 200 {
				t.Errorf("GET /state/player = %d during the test", resp.StatusCode)
			}
		}
	}
	// A second replica on the same database (reached directly, not through
	// the proxy) mints a session the first one has never seen.
	direct := dbVars(u, dbName, u.Hostname(), u.Port())
	direct["GODOT_ENV"] = "test"
	other := startServe(t, direct, "--config-dir", cfgDir)
	unseen := other.login(testAPIToken).AccessToken
	other.stop()

	send(20)
	jwt := s.login(testAPIToken).AccessToken
	proxy.cut()
	send(30) // the API keeps serving with the database gone
	// A session this replica read from the database moments ago keeps
	// working through the outage (for security.SessionGrace)...
	// (once the session's freshness, 0.5 s, has run out, the database is
	// asked, fails, and the session is vouched for from memory).
	for deadline := time.Now().Add(5 * time.Second); ; {
		sent++
		if resp := s.as(jwt, "GET", "/state/player", "", nil); resp.StatusCode != 200 {
			t.Errorf("a recently seen session's JWT during the outage = %d, want 200", resp.StatusCode)
		}
		if strings.Contains(s.stderr.String(), "session store unreachable") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// ...and one it cannot check is refused as unavailable (503), never
	// let through and never a 500.
	var p problem
	if resp := s.as(unseen, "GET", "/state/player", "", &p); resp.StatusCode != 503 || p.Code != "auth_backend_unavailable" {
		t.Errorf("an unseen session's JWT during the outage = %d %q, want 503 auth_backend_unavailable", resp.StatusCode, p.Code)
	}
	if !strings.Contains(s.stderr.String(), "session store unreachable") {
		t.Errorf("serving sessions from memory was not logged")
	}
	proxy.restore()
	send(10)
	s.stop()
	// The outage must have gone through the spool (the count below then
	// proves the spooled records reached the database).
	if log := s.stderr.String(); !strings.Contains(log, "audit sink failing: spooling records") {
		t.Errorf("the outage did not go through the spool (no spooling in the log):\n%s", log)
	}

	db, err := sql.Open("pgx", (&neturl.URL{Scheme: "postgres", User: u.User, Host: u.Host, Path: "/" + dbName, RawQuery: "sslmode=disable"}).String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM audit_records WHERE route = 'GET /state/player'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	// The refused JWT request is a GET /state/player record too.
	if n != int64(sent)+1 {
		var routes []string
		rows, _ := db.QueryContext(ctx, "SELECT route FROM audit_records")
		for rows != nil && rows.Next() {
			var r string
			_ = rows.Scan(&r)
			routes = append(routes, r)
		}
		b, _ := json.Marshal(routes)
		t.Errorf("audit_records has %d GET /state/player records, want %d (all routes: %s)", n, sent+1, b)
	}
}
