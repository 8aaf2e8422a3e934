package main

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	configfiles "github.com/spacetime-vr/spacetime/config"
	"github.com/spacetime-vr/spacetime/internal/audit"
)

// The guide's security verification (section 6), through the real server
// in production, step by step.
func TestServeGuideSecurityVerification(t *testing.T) {
	s := startServe(t, map[string]string{"GODOT_ENV": "production"})

	// 1. Test authentication (should fail without token): 401.
	var p problem
	resp := s.as("", "GET", "/scene", "", &p)
	if resp.StatusCode != 401 || p.Code != "no_credentials" || resp.Header.Get("WWW-Authenticate") != `Bearer realm="spacetime"` {
		t.Fatalf("GET /scene without a token = %d %q %q, want 401 no_credentials", resp.StatusCode, p.Code, resp.Header.Get("WWW-Authenticate"))
	}

	// 2. Test with valid token: 200. In production /status hands out no
	// token (deviations.md): an admin mints a key, the client exchanges it.
	var st map[string]any
	s.as("", "GET", "/status", "", &st)
	if _, ok := st["jwt_token"]; ok {
		t.Fatalf("production /status hands out a jwt_token: %v", st)
	}
	key, keyID := s.mint("guide", "readonly")
	token := s.login(key).AccessToken
	var sc map[string]any
	if resp := s.as(token, "GET", "/scene", "", &sc); resp.StatusCode != 200 || sc["scene_path"] != "res://vr_main.tscn" {
		t.Fatalf("GET /scene with a token = %d %v, want 200 with scene data", resp.StatusCode, sc)
	}

	// 3. Test rate limiting: the guide's 65 GETs of /status all succeed
	// (100/min × burst 1.2 = a bucket of 120; deviations.md), and the
	// bucket then runs dry: 429 with Retry-After.
	for i := 1; i <= 65; i++ {
		resp := s.as(token, "GET", "/status", "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET /status #%d = %d, want 200 (the bucket holds 120)", i, resp.StatusCode)
		}
		if got := resp.Header.Get("RateLimit-Limit"); got != "120" {
			t.Fatalf("RateLimit-Limit = %q, want the bucket size 120", got)
		}
	}
	allowed := 65
	var limited *http.Response
	for range 400 {
		resp, lp := s.try(token, "GET", "/status", "")
		if resp.StatusCode == 429 {
			if lp.Code != "rate_limited" {
				t.Fatalf("first 429 has code %q, want rate_limited", lp.Code)
			}
			limited = resp
			break
		}
		allowed++
	}
	if limited == nil {
		t.Fatalf("no 429 after %d requests", allowed)
	}
	if allowed < 120 {
		t.Errorf("429 after %d requests, want at least the bucket's 120", allowed)
	}
	if ra, err := strconv.Atoi(limited.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After = %q, want whole seconds ≥ 1", limited.Header.Get("Retry-After"))
	}
	if limited.Header.Get("RateLimit-Remaining") != "0" {
		t.Errorf("RateLimit-Remaining on a 429 = %q", limited.Header.Get("RateLimit-Remaining"))
	}

	// A client that keeps hitting 429 is banned (more than 10 violations
	// within a minute in production) for ban_duration_minutes.
	var banned *http.Response
	for range 20 {
		resp, bp := s.try(token, "GET", "/status", "")
		if bp.Code == "banned" {
			banned = resp
			break
		}
	}
	if banned == nil || banned.StatusCode != 429 {
		t.Fatalf("no 429 banned after repeated violations")
	}
	if ra, _ := strconv.Atoi(banned.Header.Get("Retry-After")); ra < 3500 || ra > 3600 {
		t.Errorf("Retry-After of a ban = %q, want about 3600 (60 minutes)", banned.Header.Get("Retry-After"))
	}
	if resp, sc2 := s.try(token, "GET", "/scene", ""); resp.StatusCode != 429 || sc2.Code != "banned" {
		t.Errorf("a banned client on another route = %d %q, want 429 banned", resp.StatusCode, sc2.Code)
	}
	var bans struct {
		Bans []struct {
			Client     string `json:"client"`
			Violations int    `json:"violations"`
		} `json:"bans"`
	}
	s.do("GET", "/admin/bans", "", &bans)
	if len(bans.Bans) != 1 || bans.Bans[0].Client != "principal:"+keyID || bans.Bans[0].Violations != 11 {
		t.Fatalf("GET /admin/bans = %+v, want principal:%s with 11 violations", bans, keyID)
	}
	if resp := s.do("DELETE", "/admin/bans/principal:"+keyID, "", nil); resp.StatusCode != 204 {
		t.Fatalf("lift the ban = %d", resp.StatusCode)
	}
	if _, after := s.try(token, "GET", "/scene", ""); after.Code == "banned" {
		t.Errorf("still banned after the ban was lifted")
	}

	// 4. Test scene whitelist: 403 for res://tests/debug.tscn in
	// production; a readonly token may not load at all.
	dev, _ := s.mint("guide-dev", "developer")
	devToken := s.login(dev).AccessToken
	var wl problem
	if resp := s.as(devToken, "POST", "/scene/load", `{"scene_path":"res://tests/debug.tscn"}`, &wl); resp.StatusCode != 403 || wl.Code != "scene_forbidden" {
		t.Errorf("load of tests/debug.tscn = %d %q, want 403 scene_forbidden", resp.StatusCode, wl.Code)
	}
	var rl problem
	if resp := s.as(s.login(key).AccessToken, "POST", "/scene/load", `{"scene_path":"res://vr_main.tscn"}`, &rl); resp.StatusCode != 403 || rl.Code != "role_too_low" {
		t.Errorf("load with a readonly token = %d %q, want 403 role_too_low", resp.StatusCode, rl.Code)
	}
	// /debug and /execute do not exist in production.
	for _, tc := range []struct{ method, path, body string }{{"GET", "/debug", ""}, {"POST", "/execute", `{"command":"pause"}`}} {
		if resp := s.do(tc.method, tc.path, tc.body, nil); resp.StatusCode != 404 {
			t.Errorf("%s %s as admin in production = %d, want 404", tc.method, tc.path, resp.StatusCode)
		}
	}
	// CORS is closed: no Access-Control-Allow-Origin for any origin.
	resp = s.send("GET", "/health", "", http.Header{"Origin": {"https://dash.example.com"}}, nil)
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("Access-Control-Allow-Origin = %q with CORS closed", got)
	}
}

// The guide's developer workflow: TOKEN=$(curl /status | jq -r .jwt_token)
// works in development, for a loopback client.
func TestServeDevTokenOnStatus(t *testing.T) {
	s := startServe(t, map[string]string{"GODOT_ENV": "development"})
	var st struct {
		JWTToken string `json:"jwt_token"`
	}
	s.as("", "GET", "/status", "", &st)
	if st.JWTToken == "" {
		t.Fatal("development /status to a loopback client has no jwt_token")
	}
	if resp := s.as(st.JWTToken, "GET", "/scene", "", nil); resp.StatusCode != 200 {
		t.Errorf("GET /scene with the /status token = %d, want 200", resp.StatusCode)
	}
	if resp := s.as(st.JWTToken, "POST", "/execute", `{"command":"pause"}`, nil); resp.StatusCode != 200 {
		t.Errorf("POST /execute with the developer token = %d, want 200", resp.StatusCode)
	}
	var p problem
	if resp := s.as(st.JWTToken, "GET", "/admin/keys", "", &p); resp.StatusCode != 403 || p.Code != "role_too_low" {
		t.Errorf("GET /admin/keys with the developer token = %d %q, want 403 role_too_low", resp.StatusCode, p.Code)
	}
	// Polling /status does not pile up sessions: one development session.
	for range 3 {
		s.as("", "GET", "/status", "", nil)
	}
	var sessions struct {
		Sessions []struct {
			Principal string `json:"principal"`
		} `json:"sessions"`
	}
	s.do("GET", "/admin/sessions", "", &sessions)
	n := 0
	for _, ses := range sessions.Sessions {
		if ses.Principal == "development" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d development sessions after four /status calls, want 1", n)
	}
}

// API_TOKEN unset: one is generated into <data-dir>/api_token (0600) and
// printed once to stdout, never to the log; a restart reuses it silently.
func TestServeGeneratedAPIToken(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"GODOT_ENV": "test", "API_TOKEN": ""}
	s := startServeIn(t, dir, vars)
	path := filepath.Join(dir, "data", "api_token")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(data))
	if len(tok) < 32 {
		t.Fatalf("generated token has %d characters", len(tok))
	}
	if n := strings.Count(s.stdout.String(), tok); n != 1 {
		t.Errorf("the token appears %d times on stdout, want once", n)
	}
	if strings.Contains(s.stderr.String(), tok) {
		t.Error("the token reached the log")
	}
	if g := s.login(tok); g.Role != "admin" {
		t.Errorf("the generated token logs in as %q, want admin", g.Role)
	}
	s.stop()

	s = startServeIn(t, dir, vars)
	if strings.Contains(s.stdout.String(), tok) || strings.Contains(s.stderr.String(), tok) {
		t.Error("the token was printed again after a restart")
	}
	s.login(tok)
	s.stop()
	if strings.Contains(readAuditFile(t, dir, "test"), tok) {
		t.Error("the token reached the audit log")
	}
}

// writeConfigDir copies the shipped config files into a new directory and
// applies edits (file name -> change of its decoded JSON).
func writeConfigDir(t *testing.T, edits map[string]func(map[string]any)) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(configfiles.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(configfiles.FS, p)
		if err != nil {
			return err
		}
		if edit := edits[p]; edit != nil {
			var doc map[string]any
			if err := json.Unmarshal(data, &doc); err != nil {
				return err
			}
			edit(doc)
			if data, err = json.Marshal(doc); err != nil {
				return err
			}
		}
		return os.WriteFile(filepath.Join(dir, p), data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// obj walks into nested JSON objects.
func obj(doc map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		doc = doc[k].(map[string]any)
	}
	return doc
}

// Sessions over HTTP: refresh rotation and reuse detection, the session
// cap, logout, revocation; and CORS opened by configuration.
func TestServeSessionsAndCORS(t *testing.T) {
	const origin = "https://dash.example.com"
	cdir := writeConfigDir(t, map[string]func(map[string]any){
		"security_test.json": func(d map[string]any) { obj(d, "authentication")["max_concurrent_sessions"] = 2 },
		"test.json": func(d map[string]any) {
			obj(d, "networking", "http")["cors_allowed_origins"] = []string{origin}
		},
	})
	s := startServe(t, map[string]string{"GODOT_ENV": "test"}, "--config-dir", cdir)
	key, keyID := s.mint("app", "readonly")
	ok := func(tok string) int { return s.as(tok, "GET", "/state/player", "", nil).StatusCode }
	code := func(resp *http.Response, p problem) string { return fmt.Sprintf("%d %s", resp.StatusCode, p.Code) }

	// Refresh rotates the refresh token; the old one replayed ends the
	// session, and with it every token of the family.
	g1 := s.login(key)
	var g2 grant
	if resp := s.send("POST", "/auth/refresh", fmt.Sprintf(`{"refresh_token":%q}`, g1.RefreshToken), nil, &g2); resp.StatusCode != 200 {
		t.Fatalf("refresh = %d", resp.StatusCode)
	}
	if g2.RefreshToken == "" || g2.RefreshToken == g1.RefreshToken || g2.AccessToken == g1.AccessToken {
		t.Errorf("refresh did not rotate the tokens")
	}
	if ok(g1.AccessToken) != 200 || ok(g2.AccessToken) != 200 {
		t.Errorf("access tokens of a refreshed session refused")
	}
	var p problem
	if resp := s.send("POST", "/auth/refresh", fmt.Sprintf(`{"refresh_token":%q}`, g1.RefreshToken), nil, &p); code(resp, p) != "401 refresh_reuse" {
		t.Errorf("replayed refresh token = %s, want 401 refresh_reuse", code(resp, p))
	}
	for _, tok := range []string{g1.AccessToken, g2.AccessToken} {
		var p problem
		if resp := s.as(tok, "GET", "/state/player", "", &p); code(resp, p) != "401 session_revoked" {
			t.Errorf("a token of the replayed family = %s, want 401 session_revoked", code(resp, p))
		}
	}
	p = problem{}
	if resp := s.send("POST", "/auth/refresh", fmt.Sprintf(`{"refresh_token":%q}`, g2.RefreshToken), nil, &p); resp.StatusCode != 401 {
		t.Errorf("the family's newest refresh token = %s, want 401", code(resp, p))
	}

	// At most two sessions: the third login ends the oldest and says so.
	a, b := s.login(key), s.login(key)
	c := s.login(key)
	if len(c.EvictedSessions) != 1 {
		t.Errorf("third login evicted %v, want one session", c.EvictedSessions)
	}
	p = problem{}
	if resp := s.as(a.AccessToken, "GET", "/state/player", "", &p); code(resp, p) != "401 session_revoked" {
		t.Errorf("the evicted session's token = %s, want 401 session_revoked", code(resp, p))
	}
	if ok(b.AccessToken) != 200 || ok(c.AccessToken) != 200 {
		t.Error("the two newest sessions do not work")
	}

	// Logout by bearer, and by refresh token.
	if resp := s.as(c.AccessToken, "POST", "/auth/logout", "", nil); resp.StatusCode != 204 {
		t.Errorf("logout = %d", resp.StatusCode)
	}
	if resp := s.send("POST", "/auth/logout", fmt.Sprintf(`{"refresh_token":%q}`, b.RefreshToken), nil, nil); resp.StatusCode != 204 {
		t.Errorf("logout by refresh token = %d", resp.StatusCode)
	}
	if ok(b.AccessToken) != 401 || ok(c.AccessToken) != 401 {
		t.Error("tokens work after logout")
	}

	// Revoking the key ends its sessions and refuses it at /auth/token.
	d := s.login(key)
	var rev struct {
		Ended []string `json:"ended_sessions"`
	}
	if resp := s.do("DELETE", "/admin/keys/"+keyID, "", &rev); resp.StatusCode != 200 || len(rev.Ended) != 1 {
		t.Errorf("revoke key = %d %v", resp.StatusCode, rev)
	}
	if ok(d.AccessToken) != 401 {
		t.Error("a revoked key's session still works")
	}
	p = problem{}
	if resp := s.send("POST", "/auth/token", fmt.Sprintf(`{"api_key":%q}`, key), nil, &p); code(resp, p) != "401 api_key_revoked" {
		t.Errorf("login with a revoked key = %s", code(resp, p))
	}

	// An admin ends every session of a principal.
	k2, k2ID := s.mint("app2", "developer")
	e := s.login(k2)
	if resp := s.do("DELETE", "/admin/principals/"+k2ID+"/sessions", "", &rev); resp.StatusCode != 200 || len(rev.Ended) != 1 {
		t.Errorf("revoke principal = %d %v", resp.StatusCode, rev)
	}
	if ok(e.AccessToken) != 401 {
		t.Error("a session of a revoked principal still works")
	}

	// CORS for the configured origin only.
	pre := http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"authorization,content-type"}}
	resp := s.send("OPTIONS", "/scene/load", "", pre, nil)
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != origin ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight = %d %v", resp.StatusCode, resp.Header)
	}
	resp = s.send("GET", "/health", "", http.Header{"Origin": {"https://other.example.com"}}, nil)
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("another origin was allowed")
	}
}

// readAuditFile returns the audit log of env under dir/logs.
func readAuditFile(t *testing.T, dir, env string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "logs", "audit_"+env+".log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Every request through the HTTP stack leaves one audit record, under
// concurrency, and none is lost across a graceful shutdown: the file holds
// exactly as many lines as requests were sent once serve has returned.
func TestServeAuditLog(t *testing.T) {
	s := startServe(t, map[string]string{"GODOT_ENV": "test"})
	key, keyID := s.mint("auditor", "readonly")
	ro := s.login(key).AccessToken

	kinds := []struct {
		tok, method, path string
		status            int
	}{
		{ro, "GET", "/state/player", 200},
		{"", "GET", "/scene", 401},
		{ro, "GET", "/admin/keys", 403},
		{ro, "GET", "/nowhere", 404},
		{"not.a.token", "GET", "/scene", 401},
	}
	const workers, each = 6, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				k := kinds[(w+i)%len(kinds)]
				req, _ := http.NewRequest(k.method, s.base+k.path, nil)
				if k.tok != "" {
					req.Header.Set("Authorization", "Bearer "+k.tok)
				}
				req.Header.Set("X-Request-ID", fmt.Sprintf("audit-%d-%d", w, i))
				s.sent.Add(1)
				resp, err := s.client.Do(req)
				if err != nil {
					errs <- err
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != k.status {
					errs <- fmt.Errorf("%s %s = %d, want %d", k.method, k.path, resp.StatusCode, k.status)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// The admin query sees them (the queue is flushed first).
	var q struct {
		Records []audit.Record `json:"records"`
	}
	s.do("GET", "/admin/audit?status=403&limit=1000", "", &q)
	want403 := 0
	for w := range workers {
		for i := range each {
			if kinds[(w+i)%len(kinds)].status == 403 {
				want403++
			}
		}
	}
	if len(q.Records) != want403 {
		t.Errorf("GET /admin/audit?status=403 found %d records, want %d", len(q.Records), want403)
	}
	for _, r := range q.Records {
		if r.Principal != keyID || r.Role != "readonly" || r.Reason != "role_too_low" || r.Route != "GET /admin/keys" || r.ClientAddr != "127.0.0.1" {
			t.Errorf("403 record %+v", r)
			break
		}
	}

	sent := s.sent.Load()
	s.stop() // graceful shutdown: the queue is written out before serve returns
	lines := 0
	ids := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(readAuditFile(t, s.dir, "test")))
	for sc.Scan() {
		lines++
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d: %v", lines, err)
		}
		if r.Status == 0 || r.Method == "" || r.Principal == "" || r.Time.IsZero() {
			t.Errorf("incomplete record %+v", r)
		}
		if r.Status == 401 && (r.Reason == "" || r.Principal != "anonymous") {
			t.Errorf("401 record %+v", r)
		}
		ids[r.RequestID] = true
	}
	if int64(lines) != sent {
		t.Errorf("%d audit lines after shutdown for %d requests", lines, sent)
	}
	if len(ids) != lines {
		t.Errorf("%d distinct request ids in %d lines", len(ids), lines)
	}
}

// writeSelfSigned writes the guide's self-signed pair (openssl req -x509
// -nodes -newkey rsa:2048: an RSA key in PKCS#8, a self-signed
// certificate) for 127.0.0.1, and returns a pool trusting it. (Go and
// curl check the subject alternative name: add -addext
// "subjectAltName=IP:127.0.0.1" to the guide's openssl command for a
// local server.)
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	return writeSelfSignedUntil(t, dir, time.Now().Add(365*24*time.Hour))
}

// writeSelfSignedUntil is writeSelfSigned with a certificate valid for the
// year before notAfter (a past notAfter writes an expired one).
func writeSelfSignedUntil(t *testing.T, dir string, notAfter time.Time) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "spacetime.yourdomain.com"},
		NotBefore: notAfter.Add(-365 * 24 * time.Hour), NotAfter: notAfter,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, BasicConstraintsValid: true, IsCA: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// The guide's self-signed flow: serve over TLS with --tls-cert/--tls-key.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeSelfSigned(t, dir)
	s := startServe(t, map[string]string{"GODOT_ENV": "test"}, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(s.base, "https://") {
		t.Fatalf("serve with a certificate listens on %s", s.base)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	s.client = &http.Client{Transport: tr}
	s.token = s.login(testAPIToken).AccessToken

	resp := s.do("GET", "/state/player", "", nil)
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("GET /state/player over TLS = %d (TLS %v)", resp.StatusCode, resp.TLS != nil)
	}
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
		t.Errorf("Strict-Transport-Security = %q over TLS", hsts)
	}
	// Plain HTTP on the TLS port is not served.
	plain := &http.Client{Transport: &http.Transport{}}
	r, err := plain.Get("http://" + strings.TrimPrefix(s.base, "https://") + "/health")
	if err == nil {
		r.Body.Close()
		if r.StatusCode == 200 {
			t.Error("plain HTTP answered 200 on the TLS port")
		}
	}
	plain.CloseIdleConnections()
	// An untrusting client refuses the self-signed certificate.
	strict := &http.Client{Transport: &http.Transport{}}
	if r, err := strict.Get(s.base + "/health"); err == nil {
		r.Body.Close()
		t.Error("a client without the certificate connected")
	} else if !errors.As(err, new(*tls.CertificateVerificationError)) && !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate error = %v", err)
	}
	strict.CloseIdleConnections()
}
