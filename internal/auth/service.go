package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/spacetime-vr/spacetime/internal/config"
)

// Options wire a Service. Security, Environment, DataDir and APIToken come
// from config (see OptionsFromConfig); the rest are dependencies.
type Options struct {
	// Security is config's security section (authentication and
	// authorization are used).
	Security config.Security
	// Environment is GODOT_ENV: production and staging harden the
	// API_TOKEN checks, development alone allows IssueDevToken.
	Environment string
	// DataDir holds the generated API_TOKEN file when APIToken is unset.
	DataDir string
	// APIToken is the bootstrap credential from the environment (unset:
	// generated in DataDir, see LoadBootstrap).
	APIToken config.Secret

	// Clock is the time source (nil: time.Now). Tests inject a fake.
	Clock func() time.Time
	// Logger receives session and key events, never a secret (nil:
	// discard).
	Logger *slog.Logger
	// Stores (nil: in-memory implementations).
	KeyStore        KeyStore
	SigningKeyStore SigningKeyStore
	SessionStore    SessionStore
	// OnKeyAdded is called after a signing-key rotation (see
	// KeyringOptions.OnKeyAdded).
	OnKeyAdded func(SigningKey)
	// Leeway is the tolerated clock skew on token times (0:
	// DefaultLeeway).
	Leeway time.Duration
	// VerifyCacheSize bounds the keyring's cache of verified tokens (0:
	// DefaultVerifyCacheSize, negative: none).
	VerifyCacheSize int

	// SessionGrace is how long a session read from the store keeps
	// vouching for its access tokens while the store is unreachable (0:
	// DefaultSessionGrace; negative: never, every such request fails).
	SessionGrace time.Duration
	// SessionFresh is how long a session read from the store is used
	// without reading it again (0: DefaultSessionFresh; negative: every
	// Verify reads the store). An end on another replica holds here after
	// at most this long, at once when its notice arrives. While EndsHeard
	// reports false, every Verify reads the store.
	SessionFresh time.Duration
	// OnSessionsEnded is called after sessions end here (logout,
	// revocation, idle timeout, eviction) so that other replicas can be
	// told (see SessionsEndedElsewhere). It must not block for long.
	OnSessionsEnded func([]SessionID)
	// EndsHeard reports whether ends of sessions on other replicas reach
	// this one (their notice channel is up). While it reports false, a
	// session is never vouched for from memory: the store must answer.
	// nil means there are no other replicas to hear from.
	EndsHeard func() bool
}

// OptionsFromConfig returns the Options that cfg determines; the caller
// adds the clock, logger and stores.
func OptionsFromConfig(cfg *config.Config) Options {
	return Options{
		Security:    cfg.Security,
		Environment: cfg.Environment,
		DataDir:     cfg.Runtime.DataDir,
		APIToken:    cfg.APIToken,
	}
}

// Service is the authentication and authorization service: API keys, the
// keyring, sessions and the bearer entry point of the HTTP middleware. It
// is safe for concurrent use.
type Service struct {
	authn config.Authentication
	authz config.Authorization
	env   string
	clock func() time.Time
	log   *slog.Logger

	boot     Bootstrap
	keys     *APIKeys
	ring     *Keyring
	sessions SessionStore

	accessTTL  time.Duration
	refreshTTL time.Duration
	idle       time.Duration
	leeway     time.Duration
	touchEvery time.Duration
	maxPer     int

	loginMu sync.Mutex // serialises the per-principal session cap

	cache           *sessionCache // nil: SessionGrace < 0
	fresh           time.Duration // see Options.SessionFresh; 0: off
	onSessionsEnded func([]SessionID)
	endsHeard       func() bool

	devMu      sync.Mutex
	devSession SessionID
}

// New resolves the bootstrap credential (generating and storing it when
// unset, see LoadBootstrap; Bootstrap tells the caller whether to print
// it), loads the keyring and wires the stores.
func New(opts Options) (*Service, error) {
	a := opts.Security.Authentication
	switch {
	case a.AccessTokenTTLMinutes <= 0:
		return nil, errors.New("auth: access_token_ttl_minutes must be positive")
	case a.RefreshTokenTTLHours <= 0:
		return nil, errors.New("auth: refresh_token_ttl_hours must be positive")
	case a.SessionTimeoutMinutes <= 0:
		return nil, errors.New("auth: session_timeout_minutes must be positive")
	case a.MaxConcurrentSessions <= 0:
		return nil, errors.New("auth: max_concurrent_sessions must be positive")
	case a.TokenRotationEnabled && a.TokenRotationIntervalHours <= 0:
		return nil, errors.New("auth: token_rotation_interval_hours must be positive")
	}
	defaultRole, err := ParseRole(opts.Security.Authorization.DefaultRole)
	if err != nil {
		return nil, fmt.Errorf("auth: authorization.default_role: %w", err)
	}
	s := &Service{
		authn:      a,
		authz:      opts.Security.Authorization,
		env:        opts.Environment,
		clock:      opts.Clock,
		log:        opts.Logger,
		sessions:   opts.SessionStore,
		accessTTL:  a.AccessTokenTTL(),
		refreshTTL: a.RefreshTokenTTL(),
		idle:       a.SessionTimeout(),
		leeway:     opts.Leeway,
		maxPer:     a.MaxConcurrentSessions,
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.sessions == nil {
		s.sessions = NewMemSessionStore()
	}
	if s.leeway <= 0 {
		s.leeway = DefaultLeeway
	}
	s.touchEvery = min(s.idle/10, 30*time.Second)
	switch {
	case opts.SessionGrace == 0:
		s.cache = newSessionCache(DefaultSessionGrace)
	case opts.SessionGrace > 0:
		s.cache = newSessionCache(opts.SessionGrace)
	}
	s.onSessionsEnded, s.endsHeard = opts.OnSessionsEnded, opts.EndsHeard
	switch {
	case opts.SessionFresh == 0:
		s.fresh = DefaultSessionFresh
	case opts.SessionFresh > 0:
		s.fresh = opts.SessionFresh
	}

	if s.boot, err = LoadBootstrap(opts.Environment, opts.APIToken, opts.DataDir); err != nil {
		return nil, err
	}
	if s.keys, err = NewAPIKeys(opts.KeyStore, defaultRole, s.boot.Token, s.clock); err != nil {
		return nil, err
	}
	var interval time.Duration
	if a.TokenRotationEnabled {
		interval = a.TokenRotationInterval()
	}
	s.ring, err = NewKeyring(KeyringOptions{
		Store:            opts.SigningKeyStore,
		Clock:            s.clock,
		Issuer:           a.Issuer,
		Audience:         a.Audience,
		TTL:              s.accessTTL,
		Leeway:           s.leeway,
		RotationInterval: interval,
		OnKeyAdded:       opts.OnKeyAdded,
		Logger:           s.log,
		CacheSize:        opts.VerifyCacheSize,
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Bootstrap describes the bootstrap credential; when Created is true the
// caller prints Bootstrap().Token.Reveal() once, to the operator.
func (s *Service) Bootstrap() Bootstrap { return s.boot }

// APIKeys returns the API-key manager (Mint, List, Get; revoke through
// Service.RevokeKey, which also ends the key's sessions).
func (s *Service) APIKeys() *APIKeys { return s.keys }

// Keyring returns the signing keyring (RotateNow, Keys, Reload).
func (s *Service) Keyring() *Keyring { return s.ring }

// Enabled reports authentication.enabled. When false (never in
// production) a request without credentials gets Anonymous(), a developer.
func (s *Service) Enabled() bool { return s.authn.Enabled }

// Anonymous is the principal of a request without credentials: a guest,
// or, when authentication is disabled, a developer (never an admin: admin
// routes always need a credential).
func (s *Service) Anonymous() Principal {
	role := RoleGuest
	if !s.authn.Enabled {
		role = RoleDeveloper
	}
	return Principal{ID: AnonymousPrincipalID, Role: role, Method: MethodAnonymous}
}

// Authorize decides whether p may call a route whose least role is min.
//   - An anonymous caller (MethodAnonymous) gets ErrNoCredentials (401)
//     for any route its role does not allow, whatever the RBAC settings:
//     only public routes (and, with authentication disabled, developer
//     ones) work without a credential.
//   - rbac_enabled false allows every authenticated principal.
//   - Otherwise Role.Allows with role_inheritance_enabled decides; a
//     denial is an error wrapping ErrRoleTooLow (ErrForbidden, 403).
//     When enforce_permissions is false the denial also wraps
//     ErrNotEnforced (Reason: "permission_not_enforced"): the middleware
//     lets the request through and audits the denial.
func (s *Service) Authorize(p Principal, min Role) error {
	inherit := s.authz.RoleInheritanceEnabled
	if p.Method == MethodAnonymous || p.Method == "" {
		if p.Role.Allows(min, true) {
			return nil
		}
		return ErrNoCredentials
	}
	if !s.authz.RBACEnabled || p.Role.Allows(min, inherit) {
		return nil
	}
	err := fmt.Errorf("auth: role %s may not call a route for %s: %w", p.Role, min, ErrRoleTooLow)
	if !s.authz.EnforcePermissions {
		return fmt.Errorf("%w: %w", ErrNotEnforced, err)
	}
	return err
}

// ParseBearer returns the token of an Authorization header value of the
// form "Bearer <token>": the scheme case-insensitive, exactly one space,
// a non-empty token of visible ASCII (0x21-0x7E, so no further spaces), the
// whole value at most MaxTokenLen bytes. Errors: ErrNoCredentials for an
// empty value, ErrBadHeader otherwise.
func ParseBearer(header string) (string, error) {
	const scheme = "Bearer "
	switch {
	case header == "":
		return "", ErrNoCredentials
	case len(header) > MaxTokenLen, len(header) <= len(scheme),
		!strings.EqualFold(header[:len(scheme)-1], scheme[:len(scheme)-1]), header[len(scheme)-1] != ' ':
		return "", ErrBadHeader
	}
	tok := header[len(scheme):]
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c < 0x21 || c > 0x7e {
			return "", ErrBadHeader
		}
	}
	return tok, nil
}

// looksLikeJWT tells a JWT (three dot-separated segments) from a raw key
// (API keys and base64 tokens contain no dot).
func looksLikeJWT(tok string) bool { return strings.Count(tok, ".") == 2 }

// AuthenticateBearer is the middleware's entry point: it parses the
// Authorization header value (see ParseBearer) and authenticates its
// token. A JWT (two dots) is verified with its session (Verify). Anything
// else is a raw API key or the API_TOKEN, accepted only when
// allow_legacy_tokens is true (APIKeys.Authenticate), else
// ErrLegacyTokenRefused; with legacy tokens on, a malformed "JWT" is also
// tried as a raw key (an operator's API_TOKEN may contain dots). Every failure
// wraps ErrUnauthenticated unless a store failed; Reason names it for the
// audit log.
func (s *Service) AuthenticateBearer(header string) (Principal, error) {
	tok, err := ParseBearer(header)
	if err != nil {
		return Principal{}, err
	}
	if looksLikeJWT(tok) {
		p, err := s.Verify(tok)
		if errors.Is(err, ErrTokenMalformed) && s.authn.AllowLegacyTokens {
			// An operator-chosen API_TOKEN may contain two dots.
			if lp, lerr := s.keys.Authenticate(tok); lerr == nil {
				return lp, nil
			}
		}
		return p, err
	}
	if !s.authn.AllowLegacyTokens {
		return Principal{}, ErrLegacyTokenRefused
	}
	return s.keys.Authenticate(tok)
}

// Verify checks an access token (Keyring.Verify) and its session: it must
// exist, be live, belong to the token's subject and role, and not be idle
// longer than session_timeout_minutes (an idle session is ended). Activity
// is recorded at most every touch interval (a tenth of the idle timeout,
// at most 30 s), so the idle timeout may strike up to that much early.
//
// When the session store cannot be reached, a session the store returned
// within SessionGrace still vouches for its tokens unless its end is known
// here (see SessionsEndedElsewhere) or ends on other replicas may go
// unheard (Options.EndsHeard); otherwise the store's error is returned.
func (s *Service) Verify(token string) (Principal, error) {
	c, err := s.ring.Verify(token)
	if err != nil {
		return Principal{}, err
	}
	now := s.clock()
	ses, cached, err := s.session(c.SessionID, now)
	if err != nil {
		return Principal{}, err
	}
	if ses.Principal != c.Subject || ses.Role != c.Role {
		return Principal{}, ErrTokenClaims
	}
	if cached {
		if s.idleAt(ses, now) {
			return Principal{}, ErrSessionExpired
		}
	} else {
		if err := s.checkSession(ses, now); err != nil {
			return Principal{}, err
		}
		if now.Sub(ses.LastSeen) >= s.touchEvery {
			if err := s.sessions.Touch(ses.ID, now); err != nil {
				// The session was just read live; a lost activity stamp
				// can only bring its idle timeout forward.
				s.log.Warn("session activity not recorded", "session", string(ses.ID), "err", err)
			} else if s.cache != nil {
				s.cache.touched(ses.ID, now)
			}
		}
	}
	return Principal{ID: ses.Principal, Name: ses.Name, Role: ses.Role, SessionID: ses.ID, KeyID: ses.KeyID, Method: MethodJWT}, nil
}

// SessionLive reports whether session id is live and not idle (nil), as
// Verify would find it, without recording activity: ErrSessionRevoked,
// ErrSessionExpired, ErrSessionNotFound or the store's error otherwise.
func (s *Service) SessionLive(id SessionID) error {
	now := s.clock()
	ses, _, err := s.session(id, now)
	if err != nil {
		return err
	}
	if !ses.Live() {
		if ses.EndReason == EndIdle {
			return ErrSessionExpired
		}
		return ErrSessionRevoked
	}
	if s.idleAt(ses, now) {
		return ErrSessionExpired
	}
	return nil
}

// session reads session id from the store (or uses what the store
// returned less than SessionFresh ago), or from the cache when the store
// fails and the cache may answer (cached is then true).
func (s *Service) session(id SessionID, now time.Time) (ses Session, cached bool, err error) {
	if s.cache == nil {
		ses, err = s.sessions.Get(id)
		return ses, false, err
	}
	if s.fresh > 0 && (s.endsHeard == nil || s.endsHeard()) {
		if c, ok := s.cache.within(id, now, s.fresh); ok {
			return c, false, nil
		}
	}
	ses, err = s.sessions.Get(id)
	switch {
	case err == nil:
		s.cache.put(ses, now)
		s.servingFromCache(false, nil)
		return ses, false, nil
	case errors.Is(err, ErrSessionNotFound):
		s.cache.forget(id)
		return Session{}, false, err
	}
	if s.endsHeard != nil && !s.endsHeard() {
		return Session{}, false, err
	}
	c, ok := s.cache.get(id, now)
	if !ok {
		return Session{}, false, err
	}
	s.servingFromCache(true, err)
	return c, true, nil
}

// servingFromCache logs when Verify starts and stops answering from the
// session cache.
func (s *Service) servingFromCache(on bool, cause error) {
	if !s.cache.setServing(on) {
		return
	}
	if on {
		s.log.Warn("session store unreachable: recently seen sessions are vouched for from memory", "grace", s.cache.grace.String(), "err", cause)
	} else {
		s.log.Info("session store reachable again")
	}
}

// SessionsEndedElsewhere records that sessions ids ended on another
// replica (a session_revoked notice): they are never vouched for from
// memory again.
func (s *Service) SessionsEndedElsewhere(ids []SessionID) {
	if s.cache != nil {
		s.cache.end(ids, s.clock())
	}
}

// ForgetCachedSessions drops every session remembered for outages, for
// when notices from other replicas may have been lost.
func (s *Service) ForgetCachedSessions() {
	if s.cache != nil {
		s.cache.clear()
	}
}

// ended records sessions that ended here and tells OnSessionsEnded.
func (s *Service) ended(ids []SessionID) {
	if len(ids) == 0 {
		return
	}
	if s.cache != nil {
		s.cache.end(ids, s.clock())
	}
	if s.onSessionsEnded != nil {
		s.onSessionsEnded(ids)
	}
}

// checkSession refuses an ended session, and ends and refuses an idle one.
func (s *Service) checkSession(ses Session, now time.Time) error {
	if !ses.Live() {
		if ses.EndReason == EndIdle {
			return ErrSessionExpired
		}
		return ErrSessionRevoked
	}
	if now.Sub(ses.LastSeen) >= s.idle {
		if _, err := s.sessions.End([]SessionID{ses.ID}, now, EndIdle); err != nil {
			return fmt.Errorf("auth: end idle session: %w", err)
		}
		return ErrSessionExpired
	}
	return nil
}

// idleAt reports whether a live session is idle past the timeout at now.
func (s *Service) idleAt(ses Session, now time.Time) bool { return now.Sub(ses.LastSeen) >= s.idle }

// Exchange authenticates a raw API key or the API_TOKEN and logs its
// holder in: POST /auth/token. See Login.
func (s *Service) Exchange(apiKey string) (Tokens, []SessionID, error) {
	p, err := s.keys.Authenticate(apiKey)
	if err != nil {
		return Tokens{}, nil, err
	}
	return s.Login(p)
}

// Login starts a session for p and returns its tokens: an access JWT
// (access_token_ttl_minutes) and, when token_refresh_enabled, a refresh
// token (refresh_token_ttl_hours). When p already has
// max_concurrent_sessions live sessions, the oldest are ended and their ids
// returned as evicted (the response says so). Error: ErrInvalidRole for a
// principal without a valid role or id.
func (s *Service) Login(p Principal) (Tokens, []SessionID, error) {
	return s.login(p, s.authn.TokenRefreshEnabled, 0)
}

// login starts a session; ttl bounds the access token (0: the access TTL).
func (s *Service) login(p Principal, withRefresh bool, ttl time.Duration) (Tokens, []SessionID, error) {
	if p.ID == "" || !p.Role.Valid() {
		return Tokens{}, nil, fmt.Errorf("auth: login: %w", ErrInvalidRole)
	}
	now := s.clock()
	ses := Session{
		ID:        SessionID(randomToken(16)),
		Principal: p.ID,
		Name:      p.Name,
		Role:      p.Role,
		KeyID:     p.KeyID,
		Created:   now,
		LastSeen:  now,
	}
	var raw string
	var rec *RefreshRecord
	if withRefresh {
		raw = randomToken(secretBytes)
		rec = &RefreshRecord{Hash: hashSecret(raw), SessionID: ses.ID, Issued: now, Expires: now.Add(s.refreshTTL)}
	}

	s.loginMu.Lock()
	evicted, err := s.makeRoom(p.ID, now)
	if err == nil {
		err = s.sessions.Create(ses, rec)
	}
	s.loginMu.Unlock()
	if err != nil {
		return Tokens{}, nil, fmt.Errorf("auth: login: %w", err)
	}
	if s.cache != nil {
		s.cache.put(ses, now)
	}

	t, err := s.issue(ses, now, ttl)
	if err != nil {
		return Tokens{}, nil, err
	}
	t.RefreshToken = raw
	s.log.Info("session started", "principal", p.ID, "role", p.Role.String(), "session", string(ses.ID), "evicted", len(evicted))
	return t, evicted, nil
}

// makeRoom ends p's idle sessions and, at the cap, its oldest live ones, so
// that one more fits. Called with loginMu held.
func (s *Service) makeRoom(principal string, now time.Time) ([]SessionID, error) {
	live, err := s.sessions.ByPrincipal(principal)
	if err != nil {
		return nil, err
	}
	var idle, alive []SessionID
	for _, ses := range live {
		if s.idleAt(ses, now) {
			idle = append(idle, ses.ID)
		} else {
			alive = append(alive, ses.ID)
		}
	}
	if len(idle) > 0 {
		if _, err := s.sessions.End(idle, now, EndIdle); err != nil {
			return nil, err
		}
	}
	if n := len(alive) - s.maxPer + 1; n > 0 {
		evicted, err := s.sessions.End(alive[:n], now, EndEvicted)
		if err != nil {
			return nil, err
		}
		s.ended(evicted)
		return evicted, nil
	}
	return nil, nil
}

// issue signs an access token for ses.
func (s *Service) issue(ses Session, now time.Time, ttl time.Duration) (Tokens, error) {
	tok, exp, err := s.ring.Sign(ses.Principal, ses.Role, ses.ID, ttl)
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{
		AccessToken: tok,
		TokenType:   "Bearer",
		ExpiresIn:   int(exp.Sub(now.Truncate(time.Second)) / time.Second),
		Role:        ses.Role,
		SessionID:   ses.ID,
		ExpiresAt:   exp,
	}, nil
}

// validRefreshShape reports whether raw can be a refresh token (43
// base64url characters), so junk is refused before hashing.
func validRefreshShape(raw string) bool {
	if len(raw) != apiKeySecLen {
		return false
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Refresh exchanges a refresh token for a new access token and a new
// refresh token (POST /auth/refresh); the presented one is used up. The
// session continues (same sid) and counts as active; access tokens issued
// earlier in it stay valid until they expire. Presenting a refresh
// token that was already used ends its session (the family: every token
// descended from that login) and returns ErrRefreshReuse. Other errors:
// ErrRefreshDisabled, ErrRefreshInvalid, ErrRefreshExpired,
// ErrSessionRevoked, ErrSessionExpired, ErrSessionNotFound.
func (s *Service) Refresh(raw string) (Tokens, error) {
	if !s.authn.TokenRefreshEnabled {
		return Tokens{}, ErrRefreshDisabled
	}
	if !validRefreshShape(raw) {
		return Tokens{}, ErrRefreshInvalid
	}
	now := s.clock()
	rec, err := s.sessions.UseRefresh(hashSecret(raw), now)
	if errors.Is(err, ErrRefreshReuse) {
		ended, endErr := s.sessions.End([]SessionID{rec.SessionID}, now, EndReuse)
		if endErr != nil {
			return Tokens{}, fmt.Errorf("auth: revoke session after refresh reuse: %w", endErr)
		}
		s.ended(ended)
		s.log.Warn("refresh token reused: session revoked", "session", string(rec.SessionID), "revoked", len(ended) > 0)
		return Tokens{}, ErrRefreshReuse
	}
	if err != nil {
		return Tokens{}, err
	}
	ses, err := s.sessions.Get(rec.SessionID)
	if err != nil {
		return Tokens{}, err
	}
	if err := s.checkSession(ses, now); err != nil {
		return Tokens{}, err
	}
	next := randomToken(secretBytes)
	if err := s.sessions.AddRefresh(RefreshRecord{Hash: hashSecret(next), SessionID: ses.ID, Issued: now, Expires: now.Add(s.refreshTTL)}); err != nil {
		return Tokens{}, fmt.Errorf("auth: refresh: %w", err)
	}
	if err := s.sessions.Touch(ses.ID, now); err != nil {
		return Tokens{}, fmt.Errorf("auth: refresh: %w", err)
	}
	t, err := s.issue(ses, now, 0)
	if err != nil {
		return Tokens{}, err
	}
	t.RefreshToken = next
	return t, nil
}

// end ends one live session or reports ErrNoSuchSession.
func (s *Service) end(id SessionID, reason EndReason) error {
	ended, err := s.sessions.End([]SessionID{id}, s.clock(), reason)
	if err != nil {
		return fmt.Errorf("auth: end session: %w", err)
	}
	if len(ended) == 0 {
		return ErrNoSuchSession
	}
	s.ended(ended)
	s.log.Info("session ended", "session", string(id), "reason", string(reason))
	return nil
}

// Logout ends session id (POST /auth/logout with the caller's access
// token: Principal.SessionID). Its access and refresh tokens stop working
// at once. Error: ErrNoSuchSession when it is not live.
func (s *Service) Logout(id SessionID) error { return s.end(id, EndLogout) }

// LogoutRefresh ends the session of a refresh token (POST /auth/logout
// with {"refresh_token": ...}, for a client whose access token expired).
// The token is used up. Errors: ErrRefreshInvalid for an unknown token,
// ErrNoSuchSession when the session already ended.
func (s *Service) LogoutRefresh(raw string) error {
	if !validRefreshShape(raw) {
		return ErrRefreshInvalid
	}
	rec, err := s.sessions.UseRefresh(hashSecret(raw), s.clock())
	if rec.SessionID == "" {
		return err
	}
	return s.end(rec.SessionID, EndLogout)
}

// Revoke ends session id on an admin's order. Error: ErrNoSuchSession.
func (s *Service) Revoke(id SessionID) error { return s.end(id, EndRevoked) }

// RevokePrincipal ends every live session of the principal (an API key
// id, "bootstrap", ...) and returns their ids.
func (s *Service) RevokePrincipal(id string) ([]SessionID, error) {
	return s.revokePrincipal(id, EndRevoked)
}

func (s *Service) revokePrincipal(id string, reason EndReason) ([]SessionID, error) {
	live, err := s.sessions.ByPrincipal(id)
	if err != nil {
		return nil, fmt.Errorf("auth: revoke sessions of %q: %w", id, err)
	}
	ids := make([]SessionID, len(live))
	for i, ses := range live {
		ids[i] = ses.ID
	}
	ended, err := s.sessions.End(ids, s.clock(), reason)
	if err != nil {
		return nil, fmt.Errorf("auth: revoke sessions of %q: %w", id, err)
	}
	s.ended(ended)
	if len(ended) > 0 {
		s.log.Info("sessions revoked", "principal", id, "count", len(ended), "reason", string(reason))
	}
	return ended, nil
}

// RevokeKey revokes API key id and ends its holder's sessions, returning
// their ids (DELETE /admin/keys/{id}). Error: ErrKeyNotFound.
func (s *Service) RevokeKey(id string) ([]SessionID, error) {
	if err := s.keys.Revoke(id); err != nil {
		return nil, err
	}
	return s.revokePrincipal(id, EndKeyRevoked)
}

// Sessions lists the live sessions, oldest first (GET /admin/sessions).
// Sessions found idle past the timeout are ended and left out.
func (s *Service) Sessions() ([]Session, error) { return s.sessionsAt(s.clock()) }

func (s *Service) sessionsAt(now time.Time) ([]Session, error) {
	all, err := s.sessions.List()
	if err != nil {
		return nil, fmt.Errorf("auth: list sessions: %w", err)
	}
	live := all[:0]
	var idle []SessionID
	for _, ses := range all {
		if s.idleAt(ses, now) {
			idle = append(idle, ses.ID)
			continue
		}
		live = append(live, ses)
	}
	if len(idle) > 0 {
		if _, err := s.sessions.End(idle, now, EndIdle); err != nil {
			return nil, fmt.Errorf("auth: end idle sessions: %w", err)
		}
	}
	return live, nil
}

// devTokenTTL bounds development tokens.
const devTokenTTL = 15 * time.Minute

// IssueDevToken returns a short-lived developer access token (at most 15
// minutes, or the access TTL if shorter) for the development-only
// jwt_token of /status. All such tokens share one session of principal
// DevPrincipalID without a refresh token, so polling /status does not pile
// up sessions; a new session starts when the previous one ended. The HTTP
// layer must still check feature_flags.dev_token_on_status and that the
// client is on loopback. Error: ErrDevTokenDisabled outside the
// development environment.
func (s *Service) IssueDevToken() (Tokens, error) {
	if s.env != config.EnvDevelopment {
		return Tokens{}, ErrDevTokenDisabled
	}
	s.devMu.Lock()
	defer s.devMu.Unlock()
	now := s.clock()
	if s.devSession != "" {
		ses, err := s.sessions.Get(s.devSession)
		if err == nil && s.checkSession(ses, now) == nil {
			if err := s.sessions.Touch(ses.ID, now); err != nil {
				return Tokens{}, fmt.Errorf("auth: dev token: %w", err)
			}
			return s.issue(ses, now, devTokenTTL)
		}
	}
	p := Principal{ID: DevPrincipalID, Name: "development", Role: RoleDeveloper, KeyID: DevPrincipalID}
	t, _, err := s.login(p, false, devTokenTTL)
	if err != nil {
		return Tokens{}, err
	}
	s.devSession = t.SessionID
	return t, nil
}

// Maintain does the periodic work at now: rotates the signing key when it
// is due (token_rotation_enabled), forgets retired keys, ends sessions idle
// past the timeout and forgets sessions ended long enough ago that none of
// their access tokens can still be valid, with their refresh tokens.
func (s *Service) Maintain(now time.Time) error {
	if s.cache != nil {
		s.cache.sweep(now)
	}
	if _, err := s.ring.MaybeRotate(now); err != nil {
		return err
	}
	if _, err := s.sessionsAt(now); err != nil {
		return err
	}
	if _, err := s.sessions.Sweep(now, now.Add(-(s.accessTTL + s.leeway))); err != nil {
		return fmt.Errorf("auth: sweep sessions: %w", err)
	}
	return nil
}

// Run calls Maintain with the service clock's time every interval until
// ctx ends, logging failures; it returns nil when ctx ends.
func (s *Service) Run(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		return errors.New("auth: run: interval must be positive")
	}
	t := time.NewTicker(every)
	defer t.Stop()
	s.maintainOn(ctx, t.C)
	return nil
}

// maintainOn runs Maintain on every tick until ctx ends.
func (s *Service) maintainOn(ctx context.Context, ticks <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			if err := s.Maintain(s.clock()); err != nil {
				s.log.Error("auth maintenance failed", "err", err)
			}
		}
	}
}
