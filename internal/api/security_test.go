package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/api"
)

// credential is one way of calling a route in the matrix tests.
type credential struct {
	name   string
	header string   // Authorization value; "" sends none
	role   api.Role // for a valid credential
	valid  bool
	code   string // the 401 code of an invalid one
}

func fakeCredentials() []credential {
	creds := []credential{
		{name: "no token", header: ""},
		{name: "malformed header", header: "Basic dXNlcjpwYXNz", code: "bad_authorization_header"},
		{name: "malformed token", header: "Bearer x.y", code: "token_malformed"},
		{name: "expired", header: "Bearer bad:token_expired", code: "token_expired"},
		{name: "revoked session", header: "Bearer bad:session_revoked", code: "session_revoked"},
	}
	for _, r := range []api.Role{api.RoleGuest, api.RoleReadonly, api.RoleDeveloper, api.RoleAdmin} {
		creds = append(creds, credential{name: r.String(), header: "Bearer role:" + r.String(), role: r, valid: true})
	}
	return creds
}

// TestSecurityMatrix calls every route of the table with every kind of
// credential through the chain (the hook answers 299 once a request got
// through, so no handler runs) and checks the one right answer: public
// routes serve everyone (a bad credential is ignored), others want a
// valid credential of at least their role.
func TestSecurityMatrix(t *testing.T) {
	s := newSecured(t, func(o *api.Options) {
		o.Middleware = []func(http.Handler) http.Handler{reachedHook}
		o.Pprof = true
	})
	n := 0
	for _, rt := range api.Routes() {
		for _, c := range fakeCredentials() {
			var hdr []string
			if c.header != "" {
				hdr = []string{"Authorization", c.header}
			}
			path := strings.NewReplacer("{id}", "x1", "{client}", "ip:192.0.2.1", "{name...}", "heap").Replace(rt.Path)
			r := s.do(rt.Method, path, "", hdr...)
			n++
			t.Run(rt.Pattern()+"/"+c.name, func(t *testing.T) {
				switch {
				case rt.MinRole == api.RoleGuest, c.valid && c.role >= rt.MinRole:
					if r.status != statusReached {
						t.Fatalf("status %d, want the request through (%d): %s", r.status, statusReached, r.body)
					}
				case c.header == "":
					problem(t, r, http.StatusUnauthorized, "no_credentials")
					if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="spacetime"` {
						t.Errorf("WWW-Authenticate = %q", got)
					}
				case !c.valid:
					problem(t, r, http.StatusUnauthorized, c.code)
					if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
						t.Errorf("WWW-Authenticate = %q, want error=invalid_token", got)
					}
				default:
					p := problem(t, r, http.StatusForbidden, "role_too_low")
					if !strings.Contains(p.Detail, rt.MinRole.String()) {
						t.Errorf("detail %q does not name the role needed", p.Detail)
					}
				}
				if r.header.Get("RateLimit-Limit") != "10" {
					t.Errorf("RateLimit-Limit = %q, want the limiter's 10", r.header.Get("RateLimit-Limit"))
				}
			})
		}
	}
	recs := s.audit.records()
	if len(recs) != n {
		t.Fatalf("%d audit records for %d requests", len(recs), n)
	}
	for _, rec := range recs {
		if rec.Route == "" || rec.Status == 0 || rec.RequestID == "" {
			t.Errorf("incomplete record %+v", rec)
		}
		if rec.Status >= 400 && rec.Reason == "" {
			t.Errorf("denial without a reason: %+v", rec)
		}
	}
}

func TestAuthenticatorFailureIsInternal(t *testing.T) {
	s := newSecured(t)
	for _, path := range []string{"/scene", "/health"} {
		r := s.do("GET", path, "", bearer("fail")...)
		problem(t, r, http.StatusInternalServerError, "internal")
		if strings.Contains(string(r.body), "10.0.0.9") {
			t.Errorf("%s: the store's address leaked: %s", path, r.body)
		}
	}
}

func TestMultipleAuthorizationHeaders(t *testing.T) {
	s := newSecured(t)
	req, err := http.NewRequest("GET", s.ts.URL+"/scene", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Add("Authorization", "Bearer role:admin")
	req.Header.Add("Authorization", "Bearer role:guest")
	problem(t, s.send(req), http.StatusUnauthorized, "bad_authorization_header")
}

func TestPublicRouteIgnoresBadCredential(t *testing.T) {
	s := newSecured(t)
	if r := s.do("GET", "/health", "", bearer("bad:token_expired")...); r.status != 200 {
		t.Fatalf("GET /health with an expired token = %d, want 200", r.status)
	}
	rec := s.audit.last()
	if rec.Principal != api.AnonymousID || rec.Role != "guest" {
		t.Errorf("record %+v, want the anonymous guest", rec)
	}
}

func TestPermissionNotEnforced(t *testing.T) {
	s := newSecured(t)
	s.auth.noEnforce = true
	if r := s.do("GET", "/scene", "", bearer("role:guest")...); r.status != 200 {
		t.Fatalf("status %d, want 200 with enforcement off", r.status)
	}
	if rec := s.audit.last(); rec.Reason != "permission_not_enforced" || rec.Status != 200 {
		t.Errorf("record %+v, want the denial audited as permission_not_enforced", rec)
	}
}

func TestRateLimitOutcomes(t *testing.T) {
	tests := []struct {
		name       string
		decision   api.LimitDecision
		err        error
		wantStatus int
		wantCode   string
		wantReason string
		wantHeader map[string]string
	}{
		{name: "allowed", decision: api.LimitDecision{Outcome: api.LimitAllowed, Limit: 12, Remaining: 7, Reset: 2500 * time.Millisecond},
			wantStatus: 200, wantHeader: map[string]string{"RateLimit-Limit": "12", "RateLimit-Remaining": "7", "RateLimit-Reset": "3", "Retry-After": ""}},
		{name: "refused", decision: api.LimitDecision{Outcome: api.LimitRefused, Limit: 12, Reset: 6 * time.Second, RetryAfter: 600 * time.Millisecond},
			wantStatus: 429, wantCode: "rate_limited", wantReason: "rate_limited",
			wantHeader: map[string]string{"RateLimit-Limit": "12", "RateLimit-Remaining": "0", "RateLimit-Reset": "6", "Retry-After": "1"}},
		{name: "banned", decision: api.LimitDecision{Outcome: api.LimitBanned, RetryAfter: time.Hour},
			wantStatus: 429, wantCode: "banned", wantReason: "banned",
			wantHeader: map[string]string{"RateLimit-Limit": "", "Retry-After": "3600"}},
		{name: "disabled", decision: api.LimitDecision{Outcome: api.LimitDisabled},
			wantStatus: 404, wantCode: "not_found", wantReason: "route_disabled",
			wantHeader: map[string]string{"RateLimit-Limit": "", "Retry-After": ""}},
		{name: "limiter down fails open", err: errors.New("redis: connection refused"),
			wantStatus: 200, wantHeader: map[string]string{"RateLimit-Limit": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSecured(t)
			s.limiter.set("/scene", tt.decision)
			s.limiter.err = tt.err
			r := s.do("GET", "/scene", "", bearer("role:readonly")...)
			if tt.wantCode != "" {
				problem(t, r, tt.wantStatus, tt.wantCode)
			} else if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			for k, want := range tt.wantHeader {
				if got := r.header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if rec := s.audit.last(); rec.Reason != tt.wantReason || rec.Status != tt.wantStatus {
				t.Errorf("record reason %q status %d, want %q %d", rec.Reason, rec.Status, tt.wantReason, tt.wantStatus)
			}
		})
	}
}

// TestRateLimitKeys: authenticated callers are limited by principal,
// anonymous ones (and failed credentials) by IP; the route's path
// pattern names the limit, or the cleaned path when no route matched.
func TestRateLimitKeys(t *testing.T) {
	s := newSecured(t)
	s.do("GET", "/scene", "", bearer("role:readonly")...)
	s.do("DELETE", "/admin/sessions/abc", "", bearer("role:admin")...)
	s.do("GET", "/scene", "")
	s.do("GET", "/scene", "", bearer("bad:token_expired")...)
	s.do("GET", "/no/such/route", "")
	loop := netip.MustParseAddr("127.0.0.1")
	want := []limitCall{
		{api.Client{Principal: "key-readonly", IP: loop}, "/scene"},
		{api.Client{Principal: "key-admin", IP: loop}, "/admin/sessions/{id}"},
		{api.Client{IP: loop}, "/scene"},
		{api.Client{IP: loop}, "/scene"},
		{api.Client{IP: loop}, "/no/such/route"},
	}
	if got := s.limiter.calls(); !slices.Equal(got, want) {
		t.Errorf("limiter asked\n%v\nwant\n%v", got, want)
	}
}

// TestLimitsBeforeAuthorization: a client without a valid credential
// spends its budget too, and is refused 429 before it would get its 401.
func TestLimitsBeforeAuthorization(t *testing.T) {
	s := newSecured(t)
	s.limiter.set("/admin/keys", api.LimitDecision{Outcome: api.LimitRefused, Limit: 6, RetryAfter: 10 * time.Second})
	problem(t, s.do("GET", "/admin/keys", "", bearer("bad:token_signature")...), http.StatusTooManyRequests, "rate_limited")
	problem(t, s.do("GET", "/admin/keys", ""), http.StatusTooManyRequests, "rate_limited")
}

func TestAuditRecordOfASceneLoad(t *testing.T) {
	s := newSecured(t)
	r := s.do("POST", "/scene/load", `{"scene_path":"res://tests/debug.tscn"}`,
		"Authorization", "Bearer role:developer", "X-Request-ID", "load-1", "User-Agent", "curl/8.5")
	problem(t, r, http.StatusForbidden, "scene_forbidden")
	got := s.audit.last()
	if got.DurationMS < 0 {
		t.Errorf("duration %v", got.DurationMS)
	}
	got.DurationMS = 0
	want := api.AuditRecord{
		Time: t0, RequestID: "load-1", Principal: "key-developer", Role: "developer", ClientAddr: "127.0.0.1",
		Method: "POST", Route: "POST /scene/load", Path: "/scene/load", ScenePath: "res://tests/debug.tscn",
		Status: 403, Reason: "scene_forbidden", UserAgent: "curl/8.5",
	}
	if got != want {
		t.Errorf("record\n%+v\nwant\n%+v", got, want)
	}

	s.do("POST", "/scene/load", `{"scene_path":"res://vr_main.tscn"}`, bearer("role:developer")...)
	if got := s.audit.last(); got.ScenePath != "res://vr_main.tscn" || got.Status != 200 || got.Reason != "" {
		t.Errorf("record of a load = %+v", got)
	}
}

func TestAuditOneRecordPerRequestUnderConcurrency(t *testing.T) {
	s := newSecured(t)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				hdr := []string{"X-Request-ID", fmt.Sprintf("w%d-%d", w, i)}
				if i%3 == 0 {
					hdr = append(hdr, bearer("role:readonly")...)
				}
				req, _ := http.NewRequest("GET", s.ts.URL+"/state/player", nil)
				for j := 0; j < len(hdr); j += 2 {
					req.Header.Set(hdr[j], hdr[j+1])
				}
				if _, err := s.trySend(req); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	recs := s.audit.records()
	if len(recs) != workers*each {
		t.Fatalf("%d records for %d requests", len(recs), workers*each)
	}
	ids := map[string]int{}
	denied := 0
	for _, r := range recs {
		ids[r.RequestID]++
		if r.Status == 401 {
			denied++
		}
	}
	if len(ids) != workers*each {
		t.Errorf("%d distinct request ids in %d records", len(ids), len(recs))
	}
	if want := workers * (each - (each+2)/3); denied != want {
		t.Errorf("%d records of 401, want %d", denied, want)
	}
}

func TestAuditRecordsAPanic(t *testing.T) {
	s := newSecured(t)
	s.sim.setPanic("boom")
	problem(t, s.do("GET", "/state/player", "", bearer("role:readonly")...), http.StatusInternalServerError, "internal")
	if rec := s.audit.last(); rec.Status != 500 || rec.Reason != "panic" {
		t.Errorf("record %+v, want 500 panic", rec)
	}
}

// TestDevTokenOnStatus: the jwt_token of /status exists in development,
// with the flag, for a direct loopback peer, and in no other case. The
// requests go straight to the handler so RemoteAddr can be anything.
func TestDevTokenOnStatus(t *testing.T) {
	tests := []struct {
		name   string
		env    string
		flag   bool
		remote string
		host   string // Host header; "" means 127.0.0.1:8080
		hdr    []string
		want   bool
	}{
		{name: "development loopback v4", env: "development", flag: true, remote: "127.0.0.1:5555", want: true},
		{name: "Host localhost", env: "development", flag: true, remote: "127.0.0.1:5555", host: "localhost:8080", want: true},
		{name: "Host [::1]", env: "development", flag: true, remote: "[::1]:5555", host: "[::1]:8080", want: true},
		{name: "DNS rebinding: a page's own name in Host", env: "development", flag: true, remote: "127.0.0.1:5555",
			host: "attacker.example:8080", hdr: []string{"Origin", "http://attacker.example:8080"}},
		{name: "Host naming a LAN address", env: "development", flag: true, remote: "127.0.0.1:5555", host: "10.1.2.3:8080"},
		{name: "development loopback v6", env: "development", flag: true, remote: "[::1]:5555", want: true},
		{name: "development loopback v4-mapped", env: "development", flag: true, remote: "[::ffff:127.0.0.1]:5555", want: true},
		{name: "remote client", env: "development", flag: true, remote: "192.0.2.7:5555"},
		{name: "LAN client", env: "development", flag: true, remote: "10.1.2.3:5555"},
		{name: "remote client claiming loopback", env: "development", flag: true, remote: "192.0.2.7:5555",
			hdr: []string{"X-Forwarded-For", "127.0.0.1"}},
		{name: "local proxy forwarding a remote client", env: "development", flag: true, remote: "127.0.0.1:5555",
			hdr: []string{"X-Forwarded-For", "192.0.2.7"}},
		{name: "local proxy with Forwarded", env: "development", flag: true, remote: "127.0.0.1:5555",
			hdr: []string{"Forwarded", "for=192.0.2.7"}},
		{name: "flag off", env: "development", remote: "127.0.0.1:5555"},
		{name: "test environment", env: "test", flag: true, remote: "127.0.0.1:5555"},
		{name: "staging", env: "staging", flag: true, remote: "127.0.0.1:5555"},
		{name: "production", env: "production", flag: true, remote: "127.0.0.1:5555"},
		{name: "unparsable peer", env: "development", flag: true, remote: "pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSecured(t, func(o *api.Options) {
				o.Environment = tt.env
				o.Security.DevTokenOnStatus = tt.flag
			})
			req := httptest.NewRequest("GET", "/status", nil)
			req.RemoteAddr = tt.remote
			req.Host = tt.host
			if req.Host == "" {
				req.Host = "127.0.0.1:8080"
			}
			for i := 0; i+1 < len(tt.hdr); i += 2 {
				req.Header.Set(tt.hdr[i], tt.hdr[i+1])
			}
			w := httptest.NewRecorder()
			s.srv.Handler().ServeHTTP(w, req)
			if w.Code != 200 {
				t.Fatalf("status %d", w.Code)
			}
			var st map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
				t.Fatal(err)
			}
			tok, ok := st["jwt_token"]
			if ok != tt.want {
				t.Fatalf("jwt_token present = %v, want %v (%v)", ok, tt.want, st)
			}
			if ok && tok != "role:developer" {
				t.Errorf("jwt_token = %v, want the developer token", tok)
			}
		})
	}
}

func TestOffInProduction(t *testing.T) {
	for _, env := range []string{"production", "staging"} {
		t.Run(env, func(t *testing.T) {
			s := newSecured(t, func(o *api.Options) { o.Environment = env })
			for _, tc := range []struct{ method, path, body string }{
				{"GET", "/debug", ""}, {"POST", "/execute", `{"command":"pause"}`},
			} {
				r := s.do(tc.method, tc.path, tc.body, bearer("role:admin")...)
				if env == "production" {
					problem(t, r, http.StatusNotFound, "not_found")
				} else if r.status != 200 {
					t.Errorf("%s %s in %s = %d, want 200", tc.method, tc.path, env, r.status)
				}
			}
			has := slices.ContainsFunc(s.srv.Routes(), func(rt api.Route) bool { return rt.OffInProduction })
			if has == (env == "production") {
				t.Errorf("Routes() lists routes off in production: %v", has)
			}
		})
	}
}

func TestCORS(t *testing.T) {
	const allowed, other = "https://dash.example.com", "https://evil.example.net"
	preflight := []string{"Origin", "", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type"}
	tests := []struct {
		name       string
		origins    []string
		method     string
		hdr        []string
		wantStatus int
		wantACAO   string
		wantVary   bool
	}{
		{name: "closed: simple request", method: "GET", hdr: []string{"Origin", allowed}, wantStatus: 200},
		{name: "closed: preflight", method: "OPTIONS", hdr: withOrigin(preflight, allowed), wantStatus: 405},
		{name: "open: simple request", origins: []string{allowed}, method: "GET", hdr: []string{"Origin", allowed},
			wantStatus: 200, wantACAO: allowed, wantVary: true},
		{name: "open: preflight", origins: []string{allowed}, method: "OPTIONS", hdr: withOrigin(preflight, allowed),
			wantStatus: 204, wantACAO: allowed, wantVary: true},
		{name: "open: other origin", origins: []string{allowed}, method: "GET", hdr: []string{"Origin", other},
			wantStatus: 200, wantVary: true},
		{name: "open: other origin preflight", origins: []string{allowed}, method: "OPTIONS", hdr: withOrigin(preflight, other),
			wantStatus: 405, wantVary: true},
		{name: "open: no origin", origins: []string{allowed}, method: "GET", wantStatus: 200, wantVary: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSecured(t, func(o *api.Options) { o.Security.CORSAllowedOrigins = tt.origins })
			r := s.do(tt.method, "/scene", "", append(tt.hdr, bearer("role:readonly")...)...)
			if r.status != tt.wantStatus {
				t.Errorf("status %d, want %d", r.status, tt.wantStatus)
			}
			if got := r.header.Get("Access-Control-Allow-Origin"); got != tt.wantACAO {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tt.wantACAO)
			}
			if got := slices.Contains(r.header.Values("Vary"), "Origin"); got != tt.wantVary {
				t.Errorf("Vary: Origin = %v, want %v", got, tt.wantVary)
			}
			if tt.wantACAO == "" {
				for k := range r.header {
					if strings.HasPrefix(k, "Access-Control-") {
						t.Errorf("%s sent to a refused origin", k)
					}
				}
			}
			if tt.wantStatus == 204 {
				if m := r.header.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "POST") {
					t.Errorf("Allow-Methods = %q", m)
				}
				if h := r.header.Get("Access-Control-Allow-Headers"); !strings.Contains(h, "Authorization") {
					t.Errorf("Allow-Headers = %q, want Authorization", h)
				}
				if r.header.Get("Access-Control-Allow-Credentials") != "" {
					t.Error("credentials allowed: bearer tokens need no cookies")
				}
			}
		})
	}
}

func withOrigin(hdr []string, origin string) []string {
	out := slices.Clone(hdr)
	out[1] = origin
	return out
}

func TestTrustedProxies(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{name: "direct client", remote: "198.51.100.4:1000", want: "198.51.100.4"},
		{name: "untrusted peer's XFF ignored", remote: "198.51.100.4:1000", xff: []string{"203.0.113.9"}, want: "198.51.100.4"},
		{name: "one trusted proxy", remote: "10.0.0.2:1000", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "chain of proxies", remote: "127.0.0.1:1000", xff: []string{"203.0.113.9, 10.1.1.1"}, want: "203.0.113.9"},
		{name: "spoofed left entries", remote: "10.0.0.2:1000", xff: []string{"1.2.3.4, 203.0.113.9"}, want: "203.0.113.9"},
		{name: "several headers", remote: "10.0.0.2:1000", xff: []string{"1.2.3.4", "203.0.113.9"}, want: "203.0.113.9"},
		{name: "garbage stops the walk", remote: "10.0.0.2:1000", xff: []string{"203.0.113.9, junk"}, want: "10.0.0.2"},
		{name: "trusted proxy without XFF", remote: "10.0.0.2:1000", want: "10.0.0.2"},
		{name: "IPv6 client", remote: "10.0.0.2:1000", xff: []string{"2001:db8::1"}, want: "2001:db8::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSecured(t, func(o *api.Options) { o.Security.TrustedProxies = proxies })
			req := httptest.NewRequest("GET", "/health", nil)
			req.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			s.srv.Handler().ServeHTTP(httptest.NewRecorder(), req)
			if got := s.audit.last().ClientAddr; got != tt.want {
				t.Errorf("client %q, want %q", got, tt.want)
			}
			if got := s.limiter.calls()[0].client.IP.String(); got != tt.want {
				t.Errorf("limited as %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAuthToken(t *testing.T) {
	s := newSecured(t)
	r := s.do("POST", "/auth/token", `{"api_key":"good-developer"}`)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	got := decode[map[string]any](t, r)
	want := map[string]any{"access_token": "role:developer", "refresh_token": "refresh-developer",
		"token_type": "Bearer", "expires_in": 900.0, "role": "developer"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("body %v, want %v", got, want)
	}
	if rec := s.audit.last(); rec.Principal != "key-developer" || rec.Role != "developer" || rec.Route != "POST /auth/token" {
		t.Errorf("record %+v, want the login of key-developer", rec)
	}

	r = s.do("POST", "/auth/token", `{"api_key":"full-readonly"}`)
	if ev := decode[api.TokenGrant](t, r).EvictedSessions; !slices.Equal(ev, []string{"s-old"}) {
		t.Errorf("evicted_sessions = %v", ev)
	}

	for _, tc := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"api_key":"st_nope"}`, 401, "api_key_invalid"},
		{`{"api_key":""}`, 400, "invalid_parameter"},
		{`{"key":"good-admin"}`, 400, "malformed_json"},
		{``, 400, "malformed_json"},
	} {
		problem(t, s.do("POST", "/auth/token", tc.body), tc.status, tc.code)
		if rec := s.audit.last(); rec.Principal != api.AnonymousID || rec.Reason != tc.code {
			t.Errorf("%s: record %+v", tc.body, rec)
		}
	}
}

func TestAuthRefreshAndLogout(t *testing.T) {
	s := newSecured(t)
	r := s.do("POST", "/auth/refresh", `{"refresh_token":"refresh-admin"}`)
	if g := decode[api.TokenGrant](t, r); r.status != 200 || g.AccessToken != "role:admin" {
		t.Errorf("refresh = %d %+v", r.status, g)
	}
	problem(t, s.do("POST", "/auth/refresh", `{"refresh_token":"used"}`), 401, "refresh_reuse")

	tests := []struct {
		name   string
		body   string
		hdr    []string
		status int
		code   string
		ended  string
	}{
		{name: "bearer", hdr: bearer("role:readonly"), status: 204, ended: "s-readonly"},
		{name: "refresh token", body: `{"refresh_token":"refresh-developer"}`, status: 204, ended: "s-developer"},
		{name: "refresh token wins over bearer", body: `{"refresh_token":"refresh-admin"}`, hdr: bearer("role:guest"), status: 204, ended: "s-admin"},
		{name: "bad refresh token", body: `{"refresh_token":"x"}`, status: 401, code: "refresh_invalid"},
		{name: "no credential", status: 401, code: "no_credentials"},
		{name: "expired bearer", hdr: bearer("bad:token_expired"), status: 401, code: "token_expired"},
		{name: "raw key has no session", hdr: bearer("raw:admin"), status: 400, code: "no_session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(s.auth.loggedOut)
			r := s.do("POST", "/auth/logout", tt.body, tt.hdr...)
			if tt.code != "" {
				problem(t, r, tt.status, tt.code)
				if tt.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
					t.Error("401 without WWW-Authenticate")
				}
				return
			}
			if r.status != tt.status {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if got := s.auth.loggedOut[before:]; !slices.Equal(got, []string{tt.ended}) {
				t.Errorf("ended %v, want %s", got, tt.ended)
			}
		})
	}
}

func TestAdminRoutes(t *testing.T) {
	s := newSecured(t)
	admin := bearer("role:admin")

	r := s.do("POST", "/admin/keys", `{"name":"ci","role":"developer"}`, admin...)
	if r.status != 201 {
		t.Fatalf("mint = %d: %s", r.status, r.body)
	}
	minted := decode[struct {
		APIKey string      `json:"api_key"`
		Key    api.KeyInfo `json:"key"`
	}](t, r)
	if !strings.HasPrefix(minted.APIKey, "st_") || minted.Key.Role != api.RoleDeveloper || minted.Key.Name != "ci" {
		t.Errorf("minted %+v", minted)
	}
	problem(t, s.do("POST", "/admin/keys", `{"name":"x","role":"root"}`, admin...), 400, "invalid_role")
	problem(t, s.do("POST", "/admin/keys", `{"role":"guest"}`, admin...), 400, "invalid_name")

	keys := decode[struct{ Keys []api.KeyInfo }](t, s.do("GET", "/admin/keys", "", admin...)).Keys
	if len(keys) != 1 || keys[0].ID != minted.Key.ID {
		t.Errorf("keys %+v", keys)
	}
	if strings.Contains(string(s.do("GET", "/admin/keys", "", admin...).body), minted.APIKey) {
		t.Error("the key list shows a secret")
	}
	r = s.do("DELETE", "/admin/keys/"+minted.Key.ID, "", admin...)
	if got := decode[map[string]any](t, r); r.status != 200 || fmt.Sprint(got["ended_sessions"]) != "[s-"+minted.Key.ID+"]" {
		t.Errorf("revoke = %d %v", r.status, got)
	}
	problem(t, s.do("DELETE", "/admin/keys/nope", "", admin...), 404, "key_not_found")

	if r := s.do("POST", "/admin/keys/rotate", "", admin...); r.status != 201 || decode[api.SigningKeyInfo](t, r).ID != "kid1" {
		t.Errorf("rotate = %d %s", r.status, r.body)
	}
	if got := decode[struct{ Keys []api.SigningKeyInfo }](t, s.do("GET", "/admin/signing-keys", "", admin...)).Keys; len(got) != 2 {
		t.Errorf("signing keys %+v", got)
	}

	if got := decode[struct{ Sessions []api.SessionInfo }](t, s.do("GET", "/admin/sessions", "", admin...)).Sessions; len(got) != 1 {
		t.Errorf("sessions %+v", got)
	}
	if r := s.do("DELETE", "/admin/sessions/s-7", "", admin...); r.status != 204 || !slices.Equal(s.auth.revoked, []string{"s-7"}) {
		t.Errorf("revoke session = %d, revoked %v", r.status, s.auth.revoked)
	}
	problem(t, s.do("DELETE", "/admin/sessions/zzz", "", admin...), 404, "session_not_found")
	r = s.do("DELETE", "/admin/principals/nobody/sessions", "", admin...)
	if r.status != 200 || !strings.Contains(string(r.body), `"ended_sessions":[]`) {
		t.Errorf("revoke principal = %d %s", r.status, r.body)
	}

	s.limiter.bans["ip:2001:db8::/64"] = api.BanInfo{Client: "ip:2001:db8::/64", Reason: "r", Since: t0, Until: t0.Add(time.Hour), Violations: 11}
	if got := decode[struct{ Bans []api.BanInfo }](t, s.do("GET", "/admin/bans", "", admin...)).Bans; len(got) != 1 {
		t.Errorf("bans %+v", got)
	}
	if r := s.do("DELETE", "/admin/bans/ip:2001:db8::%2F64", "", admin...); r.status != 204 {
		t.Errorf("unban with an escaped slash = %d: %s", r.status, r.body)
	}
	problem(t, s.do("DELETE", "/admin/bans/ip:2001:db8::%2F64", "", admin...), 404, "ban_not_found")
}

func TestAdminAuditQuery(t *testing.T) {
	tests := []struct {
		query string
		want  api.AuditQuery
		code  string
	}{
		{query: "", want: api.AuditQuery{}},
		{query: "?since=2031-05-04T11:00:00Z&until=2031-05-04T12:00:00.5Z&principal=bootstrap&status=401&reason=token_expired&limit=5",
			want: api.AuditQuery{Since: t0.Add(-time.Hour), Until: t0.Add(500 * time.Millisecond), Principal: "bootstrap",
				Status: 401, Reason: "token_expired", Limit: 5}},
		{query: "?status=4xx", want: api.AuditQuery{StatusClass: 4}},
		{query: "?status=5XX", want: api.AuditQuery{StatusClass: 5}},
		{query: "?status=6xx", code: "invalid_parameter"},
		{query: "?status=99", code: "invalid_parameter"},
		{query: "?since=yesterday", code: "invalid_parameter"},
		{query: "?since=2031-05-04T12:00:00Z&until=2031-05-04T11:00:00Z", code: "invalid_parameter"},
		{query: "?limit=0", code: "invalid_parameter"},
		{query: "?limit=10001", code: "invalid_parameter"},
		{query: "?limit=1&limit=2", code: "invalid_parameter"},
		{query: "?user=x", code: "invalid_parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			s := newSecured(t)
			s.do("GET", "/health", "")
			r := s.do("GET", "/admin/audit"+tt.query, "", bearer("role:admin")...)
			if tt.code != "" {
				problem(t, r, 400, tt.code)
				return
			}
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if got := s.audit.q[len(s.audit.q)-1]; got != tt.want {
				t.Errorf("query %+v, want %+v", got, tt.want)
			}
			if len(decode[struct{ Records []api.AuditRecord }](t, r).Records) == 0 {
				t.Error("no records: the harness's own requests are audited")
			}
		})
	}
}

func TestSecurityPartsNotConfigured(t *testing.T) {
	h := newHarness(t) // no security at all: every route is served
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/auth/token", `{"api_key":"k"}`}, {"GET", "/admin/sessions", ""},
		{"GET", "/admin/audit", ""}, {"GET", "/admin/bans", ""},
	} {
		problem(t, h.do(tc.method, tc.path, tc.body), http.StatusServiceUnavailable, "not_configured")
	}
	if r := h.do("GET", "/status", ""); strings.Contains(string(r.body), "jwt_token") {
		t.Error("jwt_token without a session service")
	}
}

// TestSecurityResponsesMatchDocument checks the new routes' answers
// against the OpenAPI schemas.
func TestSecurityResponsesMatchDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	s := newSecured(t)
	s.limiter.bans["ip:192.0.2.1"] = api.BanInfo{Client: "ip:192.0.2.1", Reason: "r", Since: t0, Until: t0.Add(time.Hour), Violations: 11}
	admin := bearer("role:admin")
	tests := []struct {
		method, path, body string
		hdr                []string
		status             int
	}{
		{"POST", "/auth/token", `{"api_key":"full-admin"}`, nil, 200},
		{"POST", "/auth/token", `{"api_key":"bad"}`, nil, 401},
		{"POST", "/auth/refresh", `{"refresh_token":"refresh-guest"}`, nil, 200},
		{"POST", "/admin/keys", `{"name":"dash"}`, admin, 201},
		{"GET", "/admin/keys", "", admin, 200},
		{"GET", "/admin/sessions", "", admin, 200},
		{"DELETE", "/admin/principals/key-x/sessions", "", admin, 200},
		{"POST", "/admin/keys/rotate", "", admin, 201},
		{"GET", "/admin/signing-keys", "", admin, 200},
		{"GET", "/admin/audit?limit=3", "", admin, 200},
		{"GET", "/admin/bans", "", admin, 200},
		{"GET", "/admin/bans", "", nil, 401},
		{"GET", "/admin/bans", "", bearer("role:developer"), 403},
	}
	for _, tt := range tests {
		r := s.do(tt.method, tt.path, tt.body, tt.hdr...)
		t.Run(fmt.Sprintf("%s %s %d", tt.method, tt.path, tt.status), func(t *testing.T) {
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
			path, _, _ := strings.Cut(tt.path, "?")
			if strings.HasPrefix(path, "/admin/principals/") {
				path = "/admin/principals/{id}/sessions"
			}
			var v any
			if err := json.Unmarshal(r.body, &v); err != nil {
				t.Fatalf("body: %v", err)
			}
			for _, p := range checkSchema(doc, documentedSchema(t, doc, tt.method, path, r.status), v, "$") {
				t.Error(p)
			}
		})
	}
}

// selfSigned returns a TLS certificate for 127.0.0.1 and a pool that
// trusts it: the guide's self-signed flow.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "spacetime test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestServeTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	h := newHarness(t, func(o *api.Options) {
		o.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	})
	addr, err := h.srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.srv.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	resp, err := client.Get("https://" + addr.String() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("GET /health over TLS = %d (TLS %v)", resp.StatusCode, resp.TLS != nil)
	}
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
		t.Errorf("HSTS = %q over TLS", hsts)
	}
	// Plain HTTP to the TLS port gets no API answer.
	if resp, err := http.Get("http://" + addr.String() + "/health"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP served on the TLS listener")
		}
	}
}

func TestNewRefusesProductionWithoutAuthentication(t *testing.T) {
	_, err := api.New(api.Options{Sim: &fakeSim{clock: &fakeClock{t: t0}, snap: snapshotOf(mainSpec(), t0)},
		Scenes: newFakeScenes(), Environment: "production"})
	if err == nil || !strings.Contains(err.Error(), "Authenticator") {
		t.Errorf("New = %v, want production refused without authentication", err)
	}
}

func TestNewRefusesTLSWithoutCertificate(t *testing.T) {
	_, err := api.New(api.Options{Sim: &fakeSim{clock: &fakeClock{t: t0}, snap: snapshotOf(mainSpec(), t0)},
		Scenes: newFakeScenes(), TLS: &tls.Config{}})
	if err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("New = %v, want a TLS problem", err)
	}
}
