package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/spacetime-vr/spacetime/internal/api"
	"github.com/spacetime-vr/spacetime/internal/audit"
	"github.com/spacetime-vr/spacetime/internal/auth"
	"github.com/spacetime-vr/spacetime/internal/catalog"
	"github.com/spacetime-vr/spacetime/internal/config"
	"github.com/spacetime-vr/spacetime/internal/engine"
)

// The tests in this file drive the real security layer (auth service,
// rate-limit policy, audit logger and the adapters of security.go) through
// api's handler, in process, on an injected clock. A hook innermost in the
// chain answers 299 once a request got through, so these tests see the
// security decision alone and no engine runs.

// statusThrough is what the hook answers.
const statusThrough = 299

func throughHook(http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(statusThrough) })
}

// testClock is an injected clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// stubSim is a Sim with a fixed snapshot (a ship in orbit).
type stubSim struct{ snap *engine.Snapshot }

func (s stubSim) Snapshot() *engine.Snapshot                 { return s.snap }
func (stubSim) Load(context.Context, *engine.Spec) error     { return nil }
func (stubSim) Exec(context.Context, string) (string, error) { return "ok", nil }

func newStubSim(now time.Time) stubSim {
	return stubSim{&engine.Snapshot{
		Tick: 1, WallTime: now, TimeScale: 1, SpeedOfLight: engine.SpeedOfLight,
		Scene: engine.SceneInfo{Name: "vr_main", Path: "res://vr_main.tscn", LoadedAt: now},
		Player: &engine.PlayerState{Name: "XROrigin3D", Pos: engine.Vec3{X: 1.5e11}, Vel: engine.Vec3{Y: 29780},
			Attitude: engine.QuatIdentity, Status: engine.PlayerFlying, Lorentz: 1, Gamma: 1, Speed: 29780},
		Perf: engine.Perf{PhysicsFPS: 90, FPS: 90, Ticks: 1},
	}}
}

// secSystem is the real security layer in front of api, in process.
type secSystem struct {
	t      testing.TB
	clock  *testClock
	cfg    *config.Config
	sec    *security
	keys   *auth.MemSigningKeyStore
	sink   *audit.MemorySink
	srv    *api.Server
	scenes api.Scenes
	h      http.Handler
	n      int // requests served
}

// newSecSystem builds the security layer of environment env from the
// embedded config (edit adjusts it) in front of an api.Server whose
// innermost hooks are hooks.
func newSecSystem(t testing.TB, env string, edit func(*config.Config), hooks ...func(http.Handler) http.Handler) *secSystem {
	t.Helper()
	return newSecSystemWith(t, env, edit, slog.New(slog.DiscardHandler), false, hooks...)
}

// newSecSystemWith is newSecSystem with the API's logger and, when
// fileAudit, the real audit file in a temporary log directory.
func newSecSystemWith(t testing.TB, env string, edit func(*config.Config), apiLog *slog.Logger, fileAudit bool, hooks ...func(http.Handler) http.Handler) *secSystem {
	t.Helper()
	dir := t.TempDir()
	vars := map[string]string{"GODOT_ENV": env, "API_TOKEN": testAPIToken}
	cfg, err := config.Load(config.Options{Getenv: func(k string) string { return vars[k] }, WorkDir: dir,
		Flags: config.Flags{DataDir: dir + "/data", LogDir: dir + "/logs"}})
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(cfg)
	}
	s := &secSystem{clock: &testClock{t: time.Date(2031, 5, 4, 12, 0, 0, 0, time.UTC)}, cfg: cfg,
		keys: auth.NewMemSigningKeyStore(), sink: audit.NewMemorySink(100_000)}
	s.t = t
	log := slog.New(slog.DiscardHandler)
	deps := securityDeps{clock: s.clock.Now, signingKeys: s.keys, auditSink: s.sink}
	if fileAudit {
		deps.auditSink, s.sink = nil, nil
	}
	s.sec, err = newSecurity(cfg, log, deps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.sec.close(context.Background(), log); err != nil {
			t.Error(err)
		}
	})
	project, err := openProject("")
	if err != nil {
		t.Fatal(err)
	}
	s.scenes = catalog.New(project, cfg.SceneWhitelist)
	s.srv, err = api.New(api.Options{
		Sim: newStubSim(s.clock.Now()), Scenes: s.scenes,
		Environment: cfg.Environment, Now: s.clock.Now, Logger: apiLog,
		Security: s.sec.opts, Middleware: hooks,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.h = s.srv.Handler()
	return s
}

// reply is a handler-level response.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) problem() problem {
	var p problem
	_ = json.Unmarshal(r.body, &p)
	return p
}

// do serves one request from client 192.0.2.1 (httptest's).
func (s *secSystem) do(authz, method, path, body string) reply {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, req)
	s.n++
	b, _ := io.ReadAll(w.Result().Body)
	return reply{w.Code, w.Result().Header, b}
}

// login exchanges a key for tokens through the adapter (the hook of the
// matrix would stop an HTTP /auth/token before its handler).
func (s *secSystem) login(key string) api.TokenGrant {
	s.t.Helper()
	g, err := authAdapter{s.sec.auth}.Exchange(key)
	if err != nil {
		s.t.Fatalf("login: %v", err)
	}
	return g
}

// mint mints an API key of role directly.
func (s *secSystem) mint(role auth.Role) string {
	s.t.Helper()
	raw, _, err := s.sec.auth.APIKeys().Mint(role, "matrix-"+role.String())
	if err != nil {
		s.t.Fatal(err)
	}
	return raw
}

// signingKey returns the current HS256 key.
func (s *secSystem) signingKey() auth.SigningKey {
	s.t.Helper()
	keys, err := s.keys.Load()
	if err != nil || len(keys) == 0 {
		s.t.Fatalf("signing keys: %v %d", err, len(keys))
	}
	cur := keys[0]
	for _, k := range keys {
		if k.RetireAt.IsZero() {
			cur = k
		}
	}
	return cur
}

// forge signs claims with method and key under kid.
func forge(t *testing.T, method jwt.SigningMethod, kid string, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// claimsOf decodes the payload of a JWT without verifying it.
func claimsOf(t *testing.T, tok string) jwt.MapClaims {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c jwt.MapClaims
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// resign returns the claims of tok with changes, ready to forge.
func resign(t *testing.T, tok string, now time.Time, changes map[string]any) jwt.MapClaims {
	c := claimsOf(t, tok)
	c["iat"], c["nbf"], c["exp"] = now.Unix(), now.Unix(), now.Add(10*time.Minute).Unix()
	for k, v := range changes {
		c[k] = v
	}
	return c
}

// matrixCredential is one credential of the matrix: a valid one of role,
// or an invalid one refused with code (public routes serve it as
// anonymous).
type matrixCredential struct {
	name   string
	header string
	valid  bool
	role   api.Role
	code   string
}

// credentials builds every kind of credential against s.
func credentials(t *testing.T, s *secSystem) []matrixCredential {
	key := s.signingKey()
	bearer := func(tok string) string { return "Bearer " + tok }

	// A session that goes idle past session_timeout_minutes: its tokens
	// are refused even when otherwise valid.
	idle := s.login(s.mint(auth.RoleReadonly)).AccessToken
	s.clock.Advance(s.cfg.Security.Authentication.SessionTimeout() + time.Minute)
	now := s.clock.Now()
	idleTok := forge(t, jwt.SigningMethodHS256, key.ID, key.Secret(), resign(t, idle, now, nil))
	fresh := s.login(s.mint(auth.RoleReadonly)).AccessToken

	revoked := s.login(s.mint(auth.RoleDeveloper))
	p, err := s.sec.auth.Verify(revoked.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.sec.auth.Logout(p.SessionID); err != nil {
		t.Fatal(err)
	}
	rawKey := s.mint(auth.RoleAdmin)

	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other := make([]byte, 32)
	_, _ = rand.Read(other)
	hs := func(changes map[string]any) string {
		return forge(t, jwt.SigningMethodHS256, key.ID, key.Secret(), resign(t, fresh, now, changes))
	}
	noneTok, err := jwt.NewWithClaims(jwt.SigningMethodNone, resign(t, fresh, now, nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	// Elevate a readonly token to admin by editing its payload.
	parts := strings.Split(fresh, ".")
	payload, _ := json.Marshal(resign(t, fresh, now, map[string]any{"role": "admin"}))
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]

	creds := []matrixCredential{
		{name: "no token"},
		{name: "basic scheme", header: "Basic dXNlcjpwYXNz", code: "bad_authorization_header"},
		{name: "bearer without token", header: "Bearer ", code: "bad_authorization_header"},
		{name: "two spaces", header: "Bearer  " + fresh, code: "bad_authorization_header"},
		{name: "malformed jwt", header: "Bearer not.a.jwt", code: "token_malformed"},
		{name: "raw API key", header: bearer(rawKey), code: "legacy_token_refused"},
		{name: "raw API_TOKEN", header: bearer(testAPIToken), code: "legacy_token_refused"},
		{name: "expired", header: bearer(hs(map[string]any{"exp": now.Add(-time.Hour).Unix(), "iat": now.Add(-2 * time.Hour).Unix(), "nbf": now.Add(-2 * time.Hour).Unix()})), code: "token_expired"},
		{name: "not yet valid", header: bearer(hs(map[string]any{"nbf": now.Add(time.Hour).Unix(), "iat": now.Add(time.Hour).Unix(), "exp": now.Add(2 * time.Hour).Unix()})), code: "token_not_yet_valid"},
		{name: "wrong signature", header: bearer(forge(t, jwt.SigningMethodHS256, key.ID, other, resign(t, fresh, now, nil))), code: "token_signature"},
		{name: "payload edited to admin", header: bearer(tampered), code: "token_signature"},
		{name: "unknown kid", header: bearer(forge(t, jwt.SigningMethodHS256, "0123456789abcdef", other, resign(t, fresh, now, nil))), code: "token_unknown_key"},
		{name: "no kid", header: bearer(forge(t, jwt.SigningMethodHS256, "", key.Secret(), resign(t, fresh, now, nil))), code: "token_unknown_key"},
		{name: "alg none", header: bearer(noneTok), code: "token_algorithm"},
		{name: "HS512 with the real key", header: bearer(forge(t, jwt.SigningMethodHS512, key.ID, key.Secret(), resign(t, fresh, now, nil))), code: "token_algorithm"},
		{name: "EdDSA", header: bearer(forge(t, jwt.SigningMethodEdDSA, key.ID, edKey, resign(t, fresh, now, nil))), code: "token_algorithm"},
		{name: "RS256", header: bearer(forge(t, jwt.SigningMethodRS256, key.ID, rsaKey, resign(t, fresh, now, nil))), code: "token_algorithm"},
		{name: "wrong issuer", header: bearer(hs(map[string]any{"iss": "someone-else"})), code: "token_issuer"},
		{name: "wrong audience", header: bearer(hs(map[string]any{"aud": "other-api"})), code: "token_audience"},
		{name: "role claim disagrees with session", header: bearer(hs(map[string]any{"role": "admin"})), code: "token_claims"},
		{name: "revoked session", header: bearer(revoked.AccessToken), code: "session_revoked"},
		{name: "idle session", header: bearer(idleTok), code: "session_expired"},
		{name: "bootstrap admin", header: bearer(s.login(testAPIToken).AccessToken), valid: true, role: api.RoleAdmin},
	}
	for _, r := range auth.Roles() {
		creds = append(creds, matrixCredential{name: r.String(), header: bearer(s.login(s.mint(r)).AccessToken), valid: true, role: api.Role(r)})
	}
	return creds
}

// matrixPath fills a route's wildcards.
func matrixPath(rt api.Route) string {
	return strings.NewReplacer("{id}", "x1", "{client}", "ip:192.0.2.99").Replace(rt.Path)
}

// TestSecurityMatrixRealAuth is the route × role × credential matrix over
// the whole router, generated from the route table: a new route is in it
// the day it is added.
func TestSecurityMatrixRealAuth(t *testing.T) {
	s := newSecSystem(t, config.EnvTest, nil, throughHook)
	creds := credentials(t, s)
	for _, rt := range s.srv.Routes() {
		for _, c := range creds {
			r := s.do(c.header, rt.Method, matrixPath(rt), "")
			t.Run(rt.Pattern()+"/"+c.name, func(t *testing.T) {
				p := r.problem()
				switch {
				case rt.MinRole == api.RoleGuest, c.valid && c.role >= rt.MinRole:
					if r.status != statusThrough {
						t.Fatalf("%d %s, want the request through", r.status, r.body)
					}
				case c.header == "":
					if r.status != 401 || p.Code != "no_credentials" || r.header.Get("WWW-Authenticate") != `Bearer realm="spacetime"` {
						t.Errorf("%d %q %q, want 401 no_credentials with a bare challenge", r.status, p.Code, r.header.Get("WWW-Authenticate"))
					}
				case !c.valid:
					if r.status != 401 || p.Code != c.code || !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
						t.Errorf("%d %q (%s) %q, want 401 %s", r.status, p.Code, p.Detail, r.header.Get("WWW-Authenticate"), c.code)
					}
				default:
					if r.status != 403 || p.Code != "role_too_low" {
						t.Errorf("%d %q, want 403 role_too_low", r.status, p.Code)
					}
				}
				if r.header.Get("RateLimit-Limit") == "" {
					t.Error("no RateLimit-Limit")
				}
			})
		}
	}
	// Every request of the matrix, and of its setup, left one record.
	if err := s.sec.audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs := s.sink.Records()
	if len(recs) != s.n {
		t.Errorf("%d audit records for %d requests", len(recs), s.n)
	}
	reasons := map[string]bool{}
	for _, r := range recs {
		reasons[r.Reason] = true
	}
	for _, c := range creds {
		if c.code != "" && !reasons[c.code] {
			t.Errorf("no audit record with reason %s", c.code)
		}
	}
}

// TestOffInProductionWhateverTheLimits: /debug and /execute are 404 in
// production for every credential, even when the rate table allows them.
func TestOffInProductionWhateverTheLimits(t *testing.T) {
	s := newSecSystem(t, config.EnvProduction, func(c *config.Config) {
		c.Security.RateLimiting.PerEndpointLimits["/debug"] = 100
		c.Security.RateLimiting.PerEndpointLimits["/execute"] = 100
	}) // real handlers: an unregistered route meets the mux's 404
	admin := "Bearer " + s.login(testAPIToken).AccessToken
	for _, tc := range []struct{ method, path string }{{"GET", "/debug"}, {"POST", "/execute"}} {
		for _, authz := range []string{"", admin} {
			r := s.do(authz, tc.method, tc.path, "")
			if r.status != 404 || r.problem().Code != "not_found" {
				t.Errorf("%s %s (auth %v) = %d %s, want 404", tc.method, tc.path, authz != "", r.status, r.body)
			}
		}
	}
	// Elsewhere a limit of 0 disables a route the same way.
	s = newSecSystem(t, config.EnvStaging, func(c *config.Config) {
		c.Security.RateLimiting.PerEndpointLimits["/debug"] = 0
	}, throughHook)
	admin = "Bearer " + s.login(testAPIToken).AccessToken
	if r := s.do(admin, "GET", "/debug", ""); r.status != 404 || r.problem().Code != "not_found" {
		t.Errorf("GET /debug with limit 0 in staging = %d %s, want 404", r.status, r.body)
	}
	if r := s.do(admin, "POST", "/execute", ""); r.status != statusThrough {
		t.Errorf("POST /execute in staging = %d, want it served", r.status)
	}
	if err := s.sec.audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(s.sink.Records(), func(r audit.Record) bool { return r.Reason == "route_disabled" && r.Path == "/debug" }) {
		t.Error("the disabled route's 404 is not audited as route_disabled")
	}
}

// TestSigningKeyRotationOverHTTP: after POST /admin/keys/rotate, tokens of
// the old key keep working until they expire; new ones carry the new kid;
// the old key is retired once its tokens are past expiry.
func TestSigningKeyRotationOverHTTP(t *testing.T) {
	s := newSecSystem(t, config.EnvTest, nil) // real handlers
	admin := "Bearer " + s.login(testAPIToken).AccessToken
	old := s.login(s.mint(auth.RoleReadonly)).AccessToken
	oldKid := s.signingKey().ID

	r := s.do(admin, "POST", "/admin/keys/rotate", "")
	var k api.SigningKeyInfo
	if err := json.Unmarshal(r.body, &k); r.status != 201 || err != nil || k.ID == oldKid || !k.Current {
		t.Fatalf("rotate = %d %s", r.status, r.body)
	}
	if r := s.do("Bearer "+old, "GET", "/state/player", ""); r.status != 200 {
		t.Errorf("a token of the old key after rotation = %d, want 200 until it expires", r.status)
	}
	fresh := s.login(s.mint(auth.RoleReadonly)).AccessToken
	if kid := jwtHeader(t, fresh)["kid"]; kid != k.ID {
		t.Errorf("new token kid %v, want %s", kid, k.ID)
	}
	var listed struct{ Keys []api.SigningKeyInfo }
	r = s.do(admin, "GET", "/admin/signing-keys", "")
	if err := json.Unmarshal(r.body, &listed); err != nil || len(listed.Keys) != 2 {
		t.Fatalf("signing keys after rotation = %s", r.body)
	}
	for _, l := range listed.Keys {
		if (l.ID == oldKid) != !l.Current || (l.ID == oldKid) == l.RetireAt.IsZero() {
			t.Errorf("signing key %+v (old %s): the old one retires, the new one is current", l, oldKid)
		}
	}
	// Past the old tokens' expiry the old key is gone.
	s.clock.Advance(s.cfg.Security.Authentication.AccessTokenTTL() + auth.DefaultLeeway + time.Second)
	if err := s.sec.auth.Maintain(s.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if r := s.do("Bearer "+old, "GET", "/state/player", ""); r.status != 401 {
		t.Errorf("the old token after expiry = %d, want 401", r.status)
	}
	if slices.ContainsFunc(s.sec.auth.Keyring().Keys(), func(k auth.SigningKeyInfo) bool { return k.ID == oldKid }) {
		t.Error("the retired key still verifies")
	}
}

// jwtHeader decodes a JWT's header.
func jwtHeader(t *testing.T, tok string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestRolesAgree: api.Role and auth.Role are converted by value, so their
// names and order must be the same.
func TestRolesAgree(t *testing.T) {
	for _, r := range auth.Roles() {
		if got := api.Role(r).String(); got != r.String() {
			t.Errorf("auth role %d is %s, api calls it %s", int(r), r, got)
		}
	}
	if api.RoleAdmin != api.Role(auth.RoleAdmin) || api.RoleGuest != api.Role(auth.RoleGuest) {
		t.Error("role values differ")
	}
	for _, m := range []struct {
		a string
		b auth.Method
	}{
		{api.MethodJWT, auth.MethodJWT}, {api.MethodAPIKey, auth.MethodAPIKey},
		{api.MethodBootstrap, auth.MethodBootstrap}, {api.MethodAnonymous, auth.MethodAnonymous},
	} {
		if m.a != string(m.b) {
			t.Errorf("method %q in api, %q in auth", m.a, m.b)
		}
	}
}

// FuzzAuthorizationHeader: whatever Authorization header arrives, a route
// that needs a credential is never served, the server never fails, and
// the answer never echoes the header.
func FuzzAuthorizationHeader(f *testing.F) {
	s := newSecSystem(f, config.EnvTest, nil, throughHook)
	for _, seed := range []string{
		"", "Bearer", "Bearer ", "bearer abc", "Bearer a.b.c", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
		"Basic YWRtaW46YWRtaW4=", "Bearer " + testAPIToken, "Bearer st_0123456789abcdef_" + strings.Repeat("A", 43),
		"Bearer " + strings.Repeat("x", 5000), "Bearer a.b.c.d", "Bearer \x00\x01", "Bearer ..",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := s.do(header, "GET", "/state/player", "")
		switch r.status {
		case 401, 429:
		default:
			t.Fatalf("Authorization %q: status %d %s", header, r.status, r.body)
		}
		if len(header) > 16 && strings.Contains(string(r.body), header[7:]) {
			t.Errorf("the answer echoes the credential: %s", r.body)
		}
	})
}
