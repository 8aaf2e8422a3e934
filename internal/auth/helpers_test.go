package auth

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/spacetime-vr/spacetime/internal/config"
)

// testToken is the bootstrap API_TOKEN of test services (43 characters).
const testToken = "bootstrap-token-for-tests-0123456789abcdefgh"

// epoch is where every fake clock starts.
var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeClock is a settable clock; tests advance it instead of sleeping.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: epoch} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// lockedBuffer collects log output from concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fixture is a Service with a fake clock and a captured log.
type fixture struct {
	svc   *Service
	clock *fakeClock
	log   *lockedBuffer
	opts  Options
}

// newFixture builds a development Service with the default security
// configuration, API_TOKEN = testToken, after applying edit.
func newFixture(t testing.TB, edit func(*Options)) *fixture {
	t.Helper()
	clock := newFakeClock()
	logs := &lockedBuffer{}
	opts := Options{
		Security:    config.Defaults().Security,
		Environment: config.EnvDevelopment,
		DataDir:     t.TempDir(),
		APIToken:    config.NewSecret(testToken),
		Clock:       clock.Now,
		Logger:      slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&opts)
	}
	svc, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &fixture{svc: svc, clock: clock, log: logs, opts: opts}
}

// login logs in a fresh principal of role and returns its tokens.
func (f *fixture) login(t testing.TB, id string, role Role) Tokens {
	t.Helper()
	tok, _, err := f.svc.Login(Principal{ID: id, Name: id, Role: role, KeyID: id, Method: MethodAPIKey})
	if err != nil {
		t.Fatalf("Login(%s): %v", id, err)
	}
	return tok
}

// currentKey returns the keyring's signing key.
func (f *fixture) currentKey(t testing.TB) SigningKey {
	t.Helper()
	cur := f.svc.ring.set.Load().current
	if cur == nil {
		t.Fatal("no current key")
	}
	return *cur
}

// goodClaims returns the claims of a valid token of session sid at now.
func (f *fixture) goodClaims(sid SessionID, now time.Time) Claims {
	a := f.opts.Security.Authentication
	return Claims{
		Role:      RoleDeveloper,
		SessionID: sid,
		Issuer:    a.Issuer,
		Subject:   "dev1",
		Audience:  audience{a.Audience},
		ExpiresAt: now.Add(5 * time.Minute).Unix(),
		NotBefore: now.Unix(),
		IssuedAt:  now.Unix(),
		ID:        "jti-1",
	}
}

// craft signs claims with method and key, setting the header fields in hdr
// (a nil value deletes the field).
func craft(t testing.TB, method jwt.SigningMethod, key any, hdr map[string]any, claims jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range hdr {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("craft token: %v", err)
	}
	return s
}

// assertNoSecrets fails when text contains any of secrets.
func assertNoSecrets(t testing.TB, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains a secret (%d bytes)", what, len(s))
		}
	}
}
