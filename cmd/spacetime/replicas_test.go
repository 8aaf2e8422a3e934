package main

import (
	"maps"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Two replicas sharing one PostgreSQL and one Redis, as in a Kubernetes
// deployment: they enforce one rate limit together, accept each other's
// tokens, hold a logout everywhere within a second, and a session ended on
// one is not vouched for from memory by the other during a database
// outage (the session_revoked notice).
func TestServeReplicasOnPostgreSQLAndRedis(t *testing.T) {
	ru := testRedis(t)
	u, dbName := newTestDatabase(t)
	prefix := "st-test-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	cfgDir := t.TempDir()
	writeTestConfig(t, cfgDir, prefix)

	// Replica A reaches the database through a proxy the test can cut.
	proxy := newCuttableProxy(t, u.Host)
	_, port, _ := net.SplitHostPort(proxy.ln.Addr().String())
	common := map[string]string{"GODOT_ENV": "test", "REDIS_HOST": ru.Hostname(), "REDIS_PORT": ru.Port()}
	varsA := dbVars(u, dbName, "127.0.0.1", port)
	varsB := dbVars(u, dbName, u.Hostname(), u.Port())
	maps.Copy(varsA, common)
	maps.Copy(varsB, common)
	a := startServe(t, varsA, "--config-dir", cfgDir)
	b := startServe(t, varsB, "--config-dir", cfgDir)

	// One limit for both: /status is 10 per minute × burst 1.2 = 12.
	if admitted := burstAcross(a, b, 30); admitted != 12 {
		t.Errorf("two replicas admitted %d of 30 requests, want exactly the shared bucket of 12", admitted)
	}

	// A token minted by A works on B; a logout on B holds on A.
	tok := a.login(testAPIToken).AccessToken
	if resp := b.as(tok, "GET", "/scene", "", nil); resp.StatusCode != 200 {
		t.Fatalf("A's token on B = %d, want 200", resp.StatusCode)
	}
	if resp := b.as(tok, "POST", "/auth/logout", "", nil); resp.StatusCode/100 != 2 {
		t.Fatalf("logout on B = %d", resp.StatusCode)
	}
	waitStatus(t, a, tok, 401, time.Second, "a session logged out on B, on A")

	// Through an outage of A's database, a session A has seen keeps
	// working (once A hears the other replicas' notices)...
	tok = a.login(testAPIToken).AccessToken
	proxy.cut()
	// (once the session's freshness, 0.5 s, has run out, A asks its
	// database, which fails, and vouches for the session from memory).
	for deadline := time.Now().Add(5 * time.Second); ; {
		resp := a.as(tok, "GET", "/scene", "", nil)
		if resp.StatusCode == 200 && strings.Contains(a.stderr.String(), "session store unreachable") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a session A has seen, during A's database outage: GET /scene = %d, vouched from memory: %v",
				resp.StatusCode, strings.Contains(a.stderr.String(), "session store unreachable"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	proxy.restore()
	waitStatus(t, a, tok, 200, 3*time.Second, "the session after the outage")
	// ...but not once it ended on B: B's notice reaches A.
	if resp := b.as(tok, "POST", "/auth/logout", "", nil); resp.StatusCode/100 != 2 {
		t.Fatalf("logout on B = %d", resp.StatusCode)
	}
	proxy.cut()
	deadline := time.Now().Add(time.Second)
	for {
		resp, p := a.try(tok, "GET", "/scene", "")
		if resp.StatusCode == 503 && p.Code == "auth_backend_unavailable" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a session ended on B is still vouched for by A during its outage: %d %q", resp.StatusCode, p.Code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	proxy.restore()
	waitStatus(t, a, tok, 401, 3*time.Second, "the ended session after the outage")
}

// waitStatus polls GET /scene on s with tok until it answers want, or
// fails the test after d.
func waitStatus(t *testing.T, s *server, tok string, want int, d time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		resp := s.as(tok, "GET", "/scene", "", nil)
		if resp.StatusCode == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: GET /scene = %d after %v, want %d", what, resp.StatusCode, d, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
