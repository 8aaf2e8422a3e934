package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/config"
)

func TestParseBearer(t *testing.T) {
	long := strings.Repeat("a", MaxTokenLen-len("Bearer "))
	tests := []struct {
		name   string
		header string
		want   string
		err    error
	}{
		{"ok", "Bearer abc.def.ghi", "abc.def.ghi", nil},
		{"lower scheme", "bearer tok", "tok", nil},
		{"upper scheme", "BEARER tok", "tok", nil},
		{"base64 chars", "Bearer a+b/c=", "a+b/c=", nil},
		{"max length", "Bearer " + long, long, nil},
		{"empty", "", "", ErrNoCredentials},
		{"too long", "Bearer " + long + "a", "", ErrBadHeader},
		{"scheme only", "Bearer", "", ErrBadHeader},
		{"scheme and space", "Bearer ", "", ErrBadHeader},
		{"two spaces", "Bearer  tok", "", ErrBadHeader},
		{"tab", "Bearer\ttok", "", ErrBadHeader},
		{"trailing space", "Bearer tok ", "", ErrBadHeader},
		{"inner space", "Bearer to k", "", ErrBadHeader},
		{"basic", "Basic dXNlcjpwYXNz", "", ErrBadHeader},
		{"token scheme", "Token tok", "", ErrBadHeader},
		{"no scheme", "tok", "", ErrBadHeader},
		{"bearerx", "Bearerx tok", "", ErrBadHeader},
		{"leading space", " Bearer tok", "", ErrBadHeader},
		{"control char", "Bearer to\x00k", "", ErrBadHeader},
		{"non-ascii", "Bearer tök", "", ErrBadHeader},
		{"two credentials", "Bearer a, Bearer b", "", ErrBadHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBearer(tt.header)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("ParseBearer error = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseBearer = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestAuthenticateBearer(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("legacy=%t", legacy), func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.Security.Authentication.AllowLegacyTokens = legacy })
			raw, info, err := f.svc.APIKeys().Mint(RoleReadonly, "viewer")
			if err != nil {
				t.Fatal(err)
			}
			tok, _, err := f.svc.Exchange(raw)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if tok.Role != RoleReadonly {
				t.Errorf("exchanged role = %v", tok.Role)
			}

			p, err := f.svc.AuthenticateBearer("Bearer " + tok.AccessToken)
			if err != nil || p.ID != info.ID || p.Method != MethodJWT || p.SessionID != tok.SessionID || p.Role != RoleReadonly {
				t.Fatalf("JWT bearer = %+v, %v", p, err)
			}

			legacyCases := []struct {
				name   string
				raw    string
				id     string
				method Method
			}{
				{"api key", raw, info.ID, MethodAPIKey},
				{"API_TOKEN", testToken, BootstrapPrincipalID, MethodBootstrap},
			}
			for _, lc := range legacyCases {
				p, err := f.svc.AuthenticateBearer("Bearer " + lc.raw)
				if !legacy {
					if !errors.Is(err, ErrLegacyTokenRefused) {
						t.Errorf("%s as bearer = %+v, %v; want ErrLegacyTokenRefused", lc.name, p, err)
					}
					continue
				}
				if err != nil || p.ID != lc.id || p.Method != lc.method || p.SessionID != "" {
					t.Errorf("%s as bearer = %+v, %v", lc.name, p, err)
				}
			}
			_, err = f.svc.AuthenticateBearer("Bearer st_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
			want := ErrLegacyTokenRefused
			if legacy {
				want = ErrInvalidAPIKey
			}
			if !errors.Is(err, want) {
				t.Errorf("unknown key as bearer = %v, want %v", err, want)
			}
			dotted := newFixture(t, func(o *Options) {
				o.Security.Authentication.AllowLegacyTokens = legacy
				o.APIToken = config.NewSecret("my.dotted.token-0123456789abcdef")
			})
			p, err = dotted.svc.AuthenticateBearer("Bearer my.dotted.token-0123456789abcdef")
			if legacy && (err != nil || p.ID != BootstrapPrincipalID) {
				t.Errorf("dotted API_TOKEN with legacy on = %+v, %v", p, err)
			}
			if !legacy && !errors.Is(err, ErrTokenMalformed) {
				t.Errorf("dotted API_TOKEN with legacy off = %v, want ErrTokenMalformed", err)
			}
			if _, err := f.svc.AuthenticateBearer(""); !errors.Is(err, ErrNoCredentials) {
				t.Errorf("no header = %v", err)
			}
			if _, err := f.svc.AuthenticateBearer("Basic x"); !errors.Is(err, ErrBadHeader) {
				t.Errorf("basic = %v", err)
			}
		})
	}
}

func TestExchangeFailures(t *testing.T) {
	f := newFixture(t, nil)
	if _, _, err := f.svc.Exchange("wrong"); !errors.Is(err, ErrInvalidAPIKey) {
		t.Errorf("Exchange(wrong) = %v", err)
	}
	tok, _, err := f.svc.Exchange(testToken)
	if err != nil || tok.Role != RoleAdmin {
		t.Fatalf("Exchange(API_TOKEN) = %v, %v", tok, err)
	}
	p, err := f.svc.Verify(tok.AccessToken)
	if err != nil || p.ID != BootstrapPrincipalID || p.KeyID != BootstrapPrincipalID {
		t.Errorf("bootstrap session principal = %+v, %v", p, err)
	}
}

func TestRevokeKeyEndsSessions(t *testing.T) {
	f := newFixture(t, nil)
	raw, info, err := f.svc.APIKeys().Mint(RoleDeveloper, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := f.svc.Exchange(raw)
	if err != nil {
		t.Fatal(err)
	}
	ended, err := f.svc.RevokeKey(info.ID)
	if err != nil || len(ended) != 1 || ended[0] != tok.SessionID {
		t.Fatalf("RevokeKey = %v, %v", ended, err)
	}
	if _, err := f.svc.Verify(tok.AccessToken); !errors.Is(err, ErrSessionRevoked) {
		t.Errorf("access token of revoked key = %v", err)
	}
	if _, _, err := f.svc.Exchange(raw); !errors.Is(err, ErrKeyRevoked) {
		t.Errorf("Exchange of revoked key = %v", err)
	}
	if _, err := f.svc.RevokeKey("ffffffffffffffff"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("RevokeKey(unknown) = %v", err)
	}
}

func TestAuthorize(t *testing.T) {
	user := func(r Role) Principal { return Principal{ID: "u", Role: r, Method: MethodJWT} }
	anon := Principal{ID: AnonymousPrincipalID, Role: RoleGuest, Method: MethodAnonymous}
	tests := []struct {
		name                   string
		rbac, enforce, inherit bool
		p                      Principal
		min                    Role
		want                   error // nil: allowed
		wantNotEnforced        bool
	}{
		{"readonly on readonly", true, true, true, user(RoleReadonly), RoleReadonly, nil, false},
		{"readonly on developer", true, true, true, user(RoleReadonly), RoleDeveloper, ErrRoleTooLow, false},
		{"admin on developer", true, true, true, user(RoleAdmin), RoleDeveloper, nil, false},
		{"developer on readonly flat", true, true, false, user(RoleDeveloper), RoleReadonly, ErrRoleTooLow, false},
		{"developer on guest flat", true, true, false, user(RoleDeveloper), RoleGuest, nil, false},
		{"not enforced", true, false, true, user(RoleGuest), RoleAdmin, ErrRoleTooLow, true},
		{"rbac off", false, true, true, user(RoleGuest), RoleAdmin, nil, false},
		{"anonymous on public", true, true, true, anon, RoleGuest, nil, false},
		{"anonymous on readonly", true, true, true, anon, RoleReadonly, ErrNoCredentials, false},
		{"anonymous rbac off", false, false, true, anon, RoleReadonly, ErrNoCredentials, false},
		{"zero principal", true, true, true, Principal{}, RoleReadonly, ErrNoCredentials, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) {
				o.Security.Authorization.RBACEnabled = tt.rbac
				o.Security.Authorization.EnforcePermissions = tt.enforce
				o.Security.Authorization.RoleInheritanceEnabled = tt.inherit
			})
			err := f.svc.Authorize(tt.p, tt.min)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Authorize = %v, want allowed", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Authorize = %v, want %v", err, tt.want)
			}
			if got := errors.Is(err, ErrNotEnforced); got != tt.wantNotEnforced {
				t.Errorf("ErrNotEnforced = %t, want %t", got, tt.wantNotEnforced)
			}
		})
	}
}

func TestAnonymous(t *testing.T) {
	on := newFixture(t, nil)
	if p := on.svc.Anonymous(); p.Role != RoleGuest || p.Method != MethodAnonymous {
		t.Errorf("Anonymous with auth on = %+v", p)
	}
	off := newFixture(t, func(o *Options) { o.Security.Authentication.Enabled = false })
	p := off.svc.Anonymous()
	if p.Role != RoleDeveloper {
		t.Errorf("Anonymous with auth off = %+v", p)
	}
	if err := off.svc.Authorize(p, RoleAdmin); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("anonymous admin route with auth off = %v, want ErrNoCredentials", err)
	}
}

func TestIssueDevToken(t *testing.T) {
	f := newFixture(t, nil)
	t1, err := f.svc.IssueDevToken()
	if err != nil {
		t.Fatalf("IssueDevToken: %v", err)
	}
	p, err := f.svc.Verify(t1.AccessToken)
	if err != nil || p.ID != DevPrincipalID || p.Role != RoleDeveloper {
		t.Fatalf("dev token = %+v, %v", p, err)
	}
	if t1.RefreshToken != "" || t1.ExpiresIn > 15*60 {
		t.Errorf("dev token has refresh %t, lifetime %d s", t1.RefreshToken != "", t1.ExpiresIn)
	}
	// Polling reuses one session.
	for range 10 {
		f.clock.Advance(time.Second)
		tk, err := f.svc.IssueDevToken()
		if err != nil || tk.SessionID != t1.SessionID {
			t.Fatalf("repeated IssueDevToken = %v, %v; want session %s", tk.SessionID, err, t1.SessionID)
		}
	}
	// A revoked dev session is replaced.
	if err := f.svc.Revoke(t1.SessionID); err != nil {
		t.Fatal(err)
	}
	t2, err := f.svc.IssueDevToken()
	if err != nil || t2.SessionID == t1.SessionID {
		t.Fatalf("after revoke: %v, %v", t2.SessionID, err)
	}
	if _, err := f.svc.Verify(t2.AccessToken); err != nil {
		t.Errorf("new dev token: %v", err)
	}

	for _, env := range []string{config.EnvProduction, config.EnvStaging, config.EnvTest} {
		g := newFixture(t, func(o *Options) {
			o.Environment = env
			o.APIToken = config.NewSecret(strings.Repeat("p", 40))
		})
		if _, err := g.svc.IssueDevToken(); !errors.Is(err, ErrDevTokenDisabled) || !errors.Is(err, ErrForbidden) {
			t.Errorf("%s: IssueDevToken = %v, want ErrDevTokenDisabled", env, err)
		}
	}
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Options)
	}{
		{"zero ttl", func(o *Options) { o.Security.Authentication.AccessTokenTTLMinutes = 0 }},
		{"zero refresh ttl", func(o *Options) { o.Security.Authentication.RefreshTokenTTLHours = 0 }},
		{"zero idle", func(o *Options) { o.Security.Authentication.SessionTimeoutMinutes = 0 }},
		{"zero cap", func(o *Options) { o.Security.Authentication.MaxConcurrentSessions = 0 }},
		{"zero rotation", func(o *Options) { o.Security.Authentication.TokenRotationIntervalHours = 0 }},
		{"bad default role", func(o *Options) { o.Security.Authorization.DefaultRole = "root" }},
		{"no issuer", func(o *Options) { o.Security.Authentication.Issuer = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Security: config.Defaults().Security, Environment: config.EnvDevelopment, DataDir: t.TempDir(), APIToken: config.NewSecret(testToken)}
			tt.edit(&opts)
			if _, err := New(opts); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
}

func TestOptionsFromConfig(t *testing.T) {
	cfg := config.Defaults()
	cfg.APIToken = config.NewSecret(testToken)
	cfg.Runtime.DataDir = t.TempDir()
	o := OptionsFromConfig(cfg)
	if o.Environment != cfg.Environment || o.DataDir != cfg.Runtime.DataDir || o.APIToken.Reveal() != testToken {
		t.Fatalf("OptionsFromConfig = %+v", o)
	}
	if _, err := New(o); err != nil {
		t.Fatalf("New(defaults): %v", err)
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{ErrTokenExpired, "token_expired"},
		{fmt.Errorf("wrapped: %w", ErrRefreshReuse), "refresh_reuse"},
		{fmt.Errorf("%w: %w", ErrNotEnforced, ErrRoleTooLow), "permission_not_enforced"},
		{ErrUnauthenticated, "unauthenticated"},
		{errors.New("disk on fire"), "internal"},
	}
	for _, tt := range tests {
		if got := Reason(tt.err); got != tt.want {
			t.Errorf("Reason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
	codes := map[string]bool{}
	for _, e := range []*Error{ErrNoCredentials, ErrBadHeader, ErrLegacyTokenRefused, ErrTokenMalformed, ErrTokenAlgorithm,
		ErrUnknownKey, ErrTokenSignature, ErrTokenExpired, ErrTokenNotYetValid, ErrTokenIssuer, ErrTokenAudience,
		ErrTokenClaims, ErrTokenInvalid, ErrSessionNotFound, ErrSessionExpired, ErrSessionRevoked, ErrRefreshInvalid,
		ErrRefreshExpired, ErrRefreshReuse, ErrRefreshDisabled, ErrInvalidAPIKey, ErrKeyRevoked} {
		if !errors.Is(e, ErrUnauthenticated) {
			t.Errorf("%s does not wrap ErrUnauthenticated", e.Code)
		}
		if codes[e.Code] {
			t.Errorf("duplicate code %s", e.Code)
		}
		codes[e.Code] = true
	}
}

func TestNoSecretsInLogsOrStrings(t *testing.T) {
	f := newFixture(t, nil)
	raw, _, err := f.svc.APIKeys().Mint(RoleAdmin, "ops")
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := f.svc.Exchange(raw)
	if err != nil {
		t.Fatal(err)
	}
	next, err := f.svc.Refresh(tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.svc.Refresh(tok.RefreshToken) // reuse, logged
	if _, err := f.svc.Keyring().RotateNow(); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Maintain(f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	secrets := []string{raw, tok.AccessToken, tok.RefreshToken, next.AccessToken, next.RefreshToken, testToken}

	var sb strings.Builder
	lg := slog.New(slog.NewJSONHandler(&sb, nil))
	lg.Info("values", "tokens", tok, "next", next, "bootstrap", f.svc.Bootstrap(), "principal", Principal{ID: "x"})
	out := fmt.Sprintf("%v %+v %#v %s %v", tok, tok, tok, next, f.svc.Bootstrap()) + sb.String() + f.log.String()
	assertNoSecrets(t, "formatted values and logs", out, secrets...)

	// The response encoding does carry the tokens (it is the response).
	js, _ := json.Marshal(tok)
	if !strings.Contains(string(js), tok.AccessToken) || !strings.Contains(string(js), `"token_type":"Bearer"`) || !strings.Contains(string(js), `"role":"admin"`) {
		t.Errorf("JSON = %s", js)
	}
}

func TestRunMaintains(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Security.Authentication.TokenRotationIntervalHours = 1 })
	before := f.currentKey(t).ID
	f.clock.Advance(2 * time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	ticks := make(chan time.Time) // unbuffered: a send completes only when the loop takes it
	done := make(chan struct{})
	go func() { f.svc.maintainOn(ctx, ticks); close(done) }()
	ticks <- time.Time{}
	ticks <- time.Time{} // the first Maintain has finished
	cancel()
	<-done
	if f.currentKey(t).ID == before {
		t.Error("maintenance did not rotate the due key")
	}

	// Run itself starts and stops cleanly (goleak checks the goroutine).
	runCtx, stop := context.WithCancel(context.Background())
	stop()
	if err := f.svc.Run(runCtx, time.Hour); err != nil {
		t.Errorf("Run = %v", err)
	}
	if err := f.svc.Run(context.Background(), 0); err == nil {
		t.Error("Run with zero interval succeeded")
	}
}
