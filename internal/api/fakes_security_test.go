package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/api"
)

// fakeAuth is an Authenticator, Sessions and AccessAdmin over made-up
// credentials:
//
//	"Bearer role:<role>"  a JWT-like principal "key-<role>" of that role,
//	                      session "s-<role>"
//	"Bearer raw:<role>"   a legacy raw key of that role (no session)
//	"Bearer bad:<code>"   fails with ErrUnauthenticated and that code
//	"Bearer fail"         a technical failure (store down)
//
// Any other header is a malformed one.
type fakeAuth struct {
	noEnforce bool // Authorize lets role denials through (ErrNotEnforced)

	mu        sync.Mutex
	loggedOut []string
	revoked   []string
	keys      []api.KeyInfo
	rotations int
}

var (
	_ api.Authenticator = (*fakeAuth)(nil)
	_ api.Sessions      = (*fakeAuth)(nil)
	_ api.AccessAdmin   = (*fakeAuth)(nil)
)

func unauth(code string) error {
	return &api.Error{Kind: api.ErrUnauthenticated, Code: code, Detail: strings.ReplaceAll(code, "_", " ")}
}

func (f *fakeAuth) Authenticate(h string) (api.Principal, error) {
	if h == "" {
		return api.Principal{ID: api.AnonymousID, Role: api.RoleGuest, Method: api.MethodAnonymous}, nil
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return api.Principal{}, unauth("bad_authorization_header")
	}
	kind, arg, _ := strings.Cut(tok, ":")
	switch kind {
	case "role", "raw":
		role, err := api.ParseRole(arg)
		if err != nil {
			return api.Principal{}, unauth("token_claims")
		}
		p := api.Principal{ID: "key-" + arg, Role: role, KeyID: "key-" + arg, Method: api.MethodAPIKey}
		if kind == "role" {
			p.SessionID, p.Method = "s-"+arg, api.MethodJWT
		}
		return p, nil
	case "bad":
		return api.Principal{}, unauth(arg)
	case "fail":
		return api.Principal{}, errors.New("session store unreachable at 10.0.0.9:5432")
	}
	return api.Principal{}, unauth("token_malformed")
}

func (f *fakeAuth) Authorize(p api.Principal, min api.Role) error {
	if p.Role >= min {
		return nil
	}
	if p.Anonymous() {
		return fmt.Errorf("needs a credential: %w", api.ErrUnauthenticated)
	}
	err := fmt.Errorf("role %s below %s: %w", p.Role, min, api.ErrForbidden)
	if f.noEnforce {
		return fmt.Errorf("%w: %w", api.ErrNotEnforced, err)
	}
	return err
}

// The API keys of the fake: "good-<role>" logs in as that role; the
// first login of "full-<role>" evicts one session.
func (f *fakeAuth) Exchange(key string) (api.TokenGrant, error) {
	kind, arg, _ := strings.Cut(key, "-")
	role, err := api.ParseRole(arg)
	if (kind != "good" && kind != "full") || err != nil {
		return api.TokenGrant{}, unauth("api_key_invalid")
	}
	g := grant(role)
	if kind == "full" {
		g.EvictedSessions = []string{"s-old"}
	}
	return g, nil
}

func grant(role api.Role) api.TokenGrant {
	return api.TokenGrant{
		AccessToken: "role:" + role.String(), RefreshToken: "refresh-" + role.String(),
		TokenType: "Bearer", ExpiresIn: 900, Role: role, Principal: "key-" + role.String(),
	}
}

func (f *fakeAuth) Refresh(tok string) (api.TokenGrant, error) {
	switch {
	case tok == "used":
		return api.TokenGrant{}, unauth("refresh_reuse")
	case strings.HasPrefix(tok, "refresh-"):
		role, err := api.ParseRole(strings.TrimPrefix(tok, "refresh-"))
		if err == nil {
			return grant(role), nil
		}
	}
	return api.TokenGrant{}, unauth("refresh_invalid")
}

func (f *fakeAuth) Logout(sid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loggedOut = append(f.loggedOut, sid)
	return nil
}

func (f *fakeAuth) LogoutRefresh(tok string) error {
	if !strings.HasPrefix(tok, "refresh-") {
		return unauth("refresh_invalid")
	}
	return f.Logout("s-" + strings.TrimPrefix(tok, "refresh-"))
}

func (f *fakeAuth) DevToken() (api.TokenGrant, error) {
	g := grant(api.RoleDeveloper)
	g.RefreshToken = ""
	return g, nil
}

func (f *fakeAuth) Sessions() ([]api.SessionInfo, error) {
	return []api.SessionInfo{{ID: "s-admin", Principal: "key-admin", Role: api.RoleAdmin, Created: t0, LastSeen: t0}}, nil
}

func (f *fakeAuth) RevokeSession(id string) error {
	if !strings.HasPrefix(id, "s-") {
		return &api.Error{Kind: api.ErrNotFound, Code: "session_not_found", Detail: "no such session"}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = append(f.revoked, id)
	return nil
}

func (f *fakeAuth) RevokePrincipal(id string) ([]string, error) {
	if id == "nobody" {
		return nil, nil
	}
	return []string{"s-1", "s-2"}, nil
}

func (f *fakeAuth) MintKey(role, name string) (string, api.KeyInfo, error) {
	if role == "" {
		role = "readonly"
	}
	r, err := api.ParseRole(role)
	if err != nil {
		return "", api.KeyInfo{}, &api.Error{Kind: api.ErrInvalid, Code: "invalid_role", Detail: "invalid role"}
	}
	if name == "" {
		return "", api.KeyInfo{}, &api.Error{Kind: api.ErrInvalid, Code: "invalid_name", Detail: "invalid key name"}
	}
	info := api.KeyInfo{ID: fmt.Sprintf("%016x", len(name)), Name: name, Role: r, Created: t0}
	f.mu.Lock()
	f.keys = append(f.keys, info)
	f.mu.Unlock()
	return "st_" + info.ID + "_secret", info, nil
}

func (f *fakeAuth) Keys() ([]api.KeyInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.keys), nil
}

func (f *fakeAuth) RevokeKey(id string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, k := range f.keys {
		if k.ID == id {
			f.keys[i].Revoked = t0.Add(time.Minute)
			return []string{"s-" + id}, nil
		}
	}
	return nil, &api.Error{Kind: api.ErrNotFound, Code: "key_not_found", Detail: "key not found"}
}

func (f *fakeAuth) RotateSigningKey() (api.SigningKeyInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rotations++
	return api.SigningKeyInfo{ID: fmt.Sprintf("kid%d", f.rotations), Created: t0, Current: true}, nil
}

func (f *fakeAuth) SigningKeys() ([]api.SigningKeyInfo, error) {
	return []api.SigningKeyInfo{
		{ID: "kid1", Created: t0, Current: true},
		{ID: "kid0", Created: t0.Add(-time.Hour), RetireAt: t0.Add(15 * time.Minute)},
	}, nil
}

// fakeLimiter answers per path; paths without an answer are allowed with
// a bucket of 10. It records who and what it was asked about.
type fakeLimiter struct {
	mu      sync.Mutex
	answers map[string]api.LimitDecision
	err     error
	asked   []limitCall
	bans    map[string]api.BanInfo
}

type limitCall struct {
	client api.Client
	path   string
}

var (
	_ api.Limiter = (*fakeLimiter)(nil)
	_ api.Bans    = (*fakeLimiter)(nil)
)

func newFakeLimiter() *fakeLimiter {
	return &fakeLimiter{answers: map[string]api.LimitDecision{}, bans: map[string]api.BanInfo{}}
}

func (f *fakeLimiter) set(path string, d api.LimitDecision) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[path] = d
}

func (f *fakeLimiter) Limit(_ context.Context, c api.Client, path string) (api.LimitDecision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, limitCall{c, path})
	if f.err != nil {
		return api.LimitDecision{}, f.err
	}
	if d, ok := f.answers[path]; ok {
		return d, nil
	}
	return api.LimitDecision{Outcome: api.LimitAllowed, Limit: 10, Remaining: 9, Reset: 6 * time.Second}, nil
}

func (f *fakeLimiter) calls() []limitCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.asked)
}

func (f *fakeLimiter) Bans(context.Context) ([]api.BanInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.BanInfo
	for _, b := range f.bans {
		out = append(out, b)
	}
	return out, nil
}

func (f *fakeLimiter) Unban(_ context.Context, client string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.bans[client]
	delete(f.bans, client)
	return ok, nil
}

// fakeAuditor keeps the records it is given and answers queries from
// them.
type fakeAuditor struct {
	mu   sync.Mutex
	recs []api.AuditRecord
	q    []api.AuditQuery
}

var (
	_ api.Auditor  = (*fakeAuditor)(nil)
	_ api.AuditLog = (*fakeAuditor)(nil)
)

func (f *fakeAuditor) Record(r api.AuditRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recs = append(f.recs, r)
}

func (f *fakeAuditor) records() []api.AuditRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.recs)
}

// last returns the last record, failing when there is none.
func (f *fakeAuditor) last() api.AuditRecord {
	recs := f.records()
	if len(recs) == 0 {
		return api.AuditRecord{}
	}
	return recs[len(recs)-1]
}

func (f *fakeAuditor) Query(_ context.Context, q api.AuditQuery) ([]api.AuditRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.q = append(f.q, q)
	out := slices.Clone(f.recs)
	slices.Reverse(out)
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// secured is a harness whose server has the fake security parts.
type secured struct {
	*harness
	auth    *fakeAuth
	limiter *fakeLimiter
	audit   *fakeAuditor
}

// newSecured starts a harness with the fake security parts; mods run
// after they are set.
func newSecured(t *testing.T, mods ...func(*api.Options)) *secured {
	t.Helper()
	s := &secured{auth: &fakeAuth{}, limiter: newFakeLimiter(), audit: &fakeAuditor{}}
	set := func(o *api.Options) {
		o.Security = api.SecurityOptions{
			Authenticator: s.auth, Sessions: s.auth, Admin: s.auth,
			Limiter: s.limiter, Bans: s.limiter,
			Auditor: s.audit, AuditLog: s.audit,
		}
	}
	s.harness = newHarness(t, append([]func(*api.Options){set}, mods...)...)
	return s
}

// bearer returns the header pair for a fake credential.
func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// reached answers 299 from the innermost hook: the request got through
// the whole security chain. The matrix tests use it so that no handler
// runs.
const statusReached = 299

func reachedHook(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(statusReached)
	})
}
