package api

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// This file declares what the security layer of the API needs from the
// outside: authentication and sessions, rate limits and bans, the audit
// log. The wiring in cmd adapts internal/auth, internal/ratelimit and
// internal/audit onto these interfaces; this package never imports them,
// so tests fake them and the storage behind them can change freely.

// Security error kinds, beside those of errors.go.
var (
	// ErrUnauthenticated: no usable credential (missing, malformed,
	// expired, revoked, unknown key...). 401 with WWW-Authenticate. The
	// adapters return an *Error with the credential failure's stable code
	// ("token_expired").
	ErrUnauthenticated = errors.New("api: unauthenticated")
	// ErrRateLimited: a rate limit or a ban refused the request. 429.
	ErrRateLimited = errors.New("api: rate limited")
	// ErrNotEnforced accompanies ErrForbidden from Authenticator.Authorize
	// when authorization.enforce_permissions is false: the request goes
	// through and the audit record names the denial.
	ErrNotEnforced = errors.New("api: permission not enforced")
)

// Credential methods, Principal.Method.
const (
	MethodJWT       = "jwt"       // an access token of a live session
	MethodAPIKey    = "api_key"   // a raw API key (legacy bearer)
	MethodBootstrap = "bootstrap" // the raw API_TOKEN (legacy bearer)
	MethodAnonymous = "anonymous" // no credential
)

// AnonymousID is the principal id of a caller without a credential.
const AnonymousID = "anonymous"

// Principal is the caller of a request as the security layer identified
// it. It carries no secret.
type Principal struct {
	// ID identifies the principal (an API key id, "bootstrap",
	// "development", AnonymousID). Rate limits of authenticated callers
	// are keyed by it.
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Role Role   `json:"role"`
	// SessionID is the session of an access token ("" otherwise).
	SessionID string `json:"session_id,omitempty"`
	// KeyID is the credential the principal descends from.
	KeyID string `json:"key_id,omitempty"`
	// Method is how the credential was presented (MethodJWT, ...).
	Method string `json:"method"`
}

// Anonymous reports whether p presented no credential.
func (p Principal) Anonymous() bool { return p.Method == MethodAnonymous || p.ID == "" }

// Authenticator identifies callers and decides what they may call. It is
// the security middleware's view of internal/auth. Safe for concurrent use.
type Authenticator interface {
	// Authenticate identifies the caller from the Authorization header
	// value. An empty value yields the anonymous principal and no error.
	// A credential that does not authenticate is an error wrapping
	// ErrUnauthenticated, best an *Error whose Code names the failure
	// ("token_expired", "token_signature", "session_revoked"...); any
	// other error is a technical failure (500).
	Authenticate(authorization string) (Principal, error)
	// Authorize reports whether p may call a route whose least role is
	// min: nil when it may; an error wrapping ErrUnauthenticated when p
	// is anonymous and min needs a credential; an error wrapping
	// ErrForbidden when p's role is too low (and also ErrNotEnforced when
	// the denial is to be audited but not enforced).
	Authorize(p Principal, min Role) error
}

// TokenGrant is what POST /auth/token and /auth/refresh answer.
type TokenGrant struct {
	AccessToken string `json:"access_token"`
	// RefreshToken is empty when token refresh is disabled.
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type"` // "Bearer"
	ExpiresIn    int    `json:"expires_in"` // seconds
	Role         Role   `json:"role"`
	// EvictedSessions lists the sessions this login ended because the
	// principal was at max_concurrent_sessions (oldest first).
	EvictedSessions []string `json:"evicted_sessions,omitempty"`
	// Principal is who logged in, for the audit record; never sent.
	Principal string `json:"-"`
}

// Sessions is the credential side of internal/auth that the /auth routes
// and /status use. Safe for concurrent use. Failures of what the caller
// presented wrap ErrUnauthenticated (an *Error with the stable code),
// ErrInvalid or ErrNotFound; anything else is internal.
type Sessions interface {
	// Exchange logs in the holder of a raw API key (or the API_TOKEN).
	Exchange(apiKey string) (TokenGrant, error)
	// Refresh uses up a refresh token and returns new tokens of the same
	// session; a reused token revokes its session.
	Refresh(refreshToken string) (TokenGrant, error)
	// Logout ends a session (the caller's own).
	Logout(sessionID string) error
	// LogoutRefresh ends the session of a refresh token.
	LogoutRefresh(refreshToken string) error
	// DevToken returns a short-lived developer access token for the
	// development-only jwt_token of /status.
	DevToken() (TokenGrant, error)
}

// SessionInfo describes a live session (GET /admin/sessions).
type SessionInfo struct {
	ID        string    `json:"id"`
	Principal string    `json:"principal"`
	Name      string    `json:"name,omitempty"`
	Role      Role      `json:"role"`
	KeyID     string    `json:"key_id,omitempty"`
	Created   time.Time `json:"created"`
	LastSeen  time.Time `json:"last_seen"`
}

// KeyInfo describes an API key without its secret (GET /admin/keys).
type KeyInfo struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Role    Role      `json:"role"`
	Created time.Time `json:"created"`
	// Revoked is when the key was revoked; absent while active.
	Revoked time.Time `json:"revoked,omitzero"`
}

// SigningKeyInfo describes a JWT signing key without its secret.
type SigningKeyInfo struct {
	ID      string    `json:"kid"`
	Created time.Time `json:"created"`
	// RetireAt is when the key stops verifying (absent for the current
	// key).
	RetireAt time.Time `json:"retire_at,omitzero"`
	Current  bool      `json:"current"`
}

// AccessAdmin is the administrative side of internal/auth: sessions, API
// keys and signing keys. Safe for concurrent use. Errors: ErrInvalid (a
// bad role or name), ErrNotFound (no such session or key); anything else
// is internal.
type AccessAdmin interface {
	// Sessions lists the live sessions, oldest first.
	Sessions() ([]SessionInfo, error)
	// RevokeSession ends one live session.
	RevokeSession(id string) error
	// RevokePrincipal ends every live session of a principal and returns
	// their ids.
	RevokePrincipal(principal string) ([]string, error)
	// MintKey creates an API key for role ("" for the configured default
	// role) and returns the raw key, shown only this once.
	MintKey(role, name string) (string, KeyInfo, error)
	// Keys lists every API key, active and revoked.
	Keys() ([]KeyInfo, error)
	// RevokeKey revokes an API key and ends its sessions, returning their
	// ids.
	RevokeKey(id string) ([]string, error)
	// RotateSigningKey makes a new signing key current; the previous one
	// verifies until its tokens have expired.
	RotateSigningKey() (SigningKeyInfo, error)
	// SigningKeys lists the keys that still verify, newest first.
	SigningKeys() ([]SigningKeyInfo, error)
}

// Client is who a rate limit applies to: an authenticated principal, or
// an anonymous caller's IP address.
type Client struct {
	Principal string // "" for an anonymous caller
	IP        netip.Addr
}

// LimitOutcome is what a Limiter decided.
type LimitOutcome int

// The outcomes. The zero value is none of them.
const (
	// LimitAllowed: serve the request.
	LimitAllowed LimitOutcome = iota + 1
	// LimitRefused: a limit refused it; 429 rate_limited.
	LimitRefused
	// LimitBanned: the client is banned; 429 banned.
	LimitBanned
	// LimitDisabled: the route's limit is 0; 404 as if it did not exist.
	LimitDisabled
)

// LimitDecision is a Limiter's answer for one request.
type LimitDecision struct {
	Outcome LimitOutcome
	// Limit is the bucket size (limit × burst multiplier) of the binding
	// rule; 0 when no limit applied (no RateLimit-* headers then).
	Limit int
	// Remaining is how many more requests would be admitted now.
	Remaining int
	// Reset is the time until the bucket is full again.
	Reset time.Duration
	// RetryAfter is, when refused or banned, the wait until a retry may
	// succeed.
	RetryAfter time.Duration
}

// Limiter applies the rate limits and bans. Safe for concurrent use.
type Limiter interface {
	// Limit decides one request of c to path (the route's path pattern,
	// or the cleaned URL path when no route matched) and counts it when
	// allowed. An error is a technical failure of the limiter.
	Limit(ctx context.Context, c Client, path string) (LimitDecision, error)
}

// BanInfo is a ban in force (GET /admin/bans).
type BanInfo struct {
	// Client is the limiter's client key: "principal:<id>" or
	// "ip:<address or IPv6 /64>".
	Client     string    `json:"client"`
	Reason     string    `json:"reason"`
	Since      time.Time `json:"since"`
	Until      time.Time `json:"until"`
	Violations int       `json:"violations"`
}

// Bans lists and lifts bans. Safe for concurrent use.
type Bans interface {
	// Bans returns the bans in force, oldest first.
	Bans(ctx context.Context) ([]BanInfo, error)
	// Unban lifts the ban of a client key and reports whether one was in
	// force.
	Unban(ctx context.Context, client string) (bool, error)
}

// AuditRecord is one audited request, as internal/audit stores it.
type AuditRecord struct {
	Time       time.Time `json:"time"`
	ID         string    `json:"id,omitempty"` // set by the audit log
	RequestID  string    `json:"request_id,omitempty"`
	Principal  string    `json:"principal"`
	Role       string    `json:"role,omitempty"`
	ClientAddr string    `json:"client_addr,omitempty"`
	Method     string    `json:"method"`
	Route      string    `json:"route,omitempty"`
	Path       string    `json:"path,omitempty"`
	ScenePath  string    `json:"scene_path,omitempty"`
	Status     int       `json:"status"`
	DurationMS float64   `json:"duration_ms"`
	Reason     string    `json:"reason,omitempty"`
	UserAgent  string    `json:"user_agent,omitempty"`
}

// Auditor receives one record per request that reaches authentication.
// Record must not block for long (internal/audit queues it). Safe for
// concurrent use.
type Auditor interface {
	Record(AuditRecord)
}

// DurableAuditor is an Auditor that can also wait until a record is
// stored. The audit middleware uses it for requests that change something
// (every method but GET, HEAD and OPTIONS): their answer leaves only once
// the record is stored, or after AuditWait, so a crash right after an
// answer does not lose the record of what it acknowledged. Records of
// reads are written behind the answers, within milliseconds.
type DurableAuditor interface {
	Auditor
	// RecordDurably records r and waits until it is stored or ctx ends.
	RecordDurably(ctx context.Context, r AuditRecord) error
}

// DefaultAuditWait bounds how long an answer waits for its audit record
// (SecurityOptions.AuditWait).
const DefaultAuditWait = 250 * time.Millisecond

// AuditQuery selects audit records (GET /admin/audit). Zero fields do not
// filter.
type AuditQuery struct {
	Since, Until time.Time // Since inclusive, Until exclusive
	Principal    string
	Status       int // one status, e.g. 401
	StatusClass  int // a class, e.g. 4 for 4xx
	Reason       string
	Limit        int // 0: the log's default
}

// AuditLog answers audit queries, newest first. Errors: ErrInvalid for a
// query the log refuses; anything else is internal.
type AuditLog interface {
	Query(ctx context.Context, q AuditQuery) ([]AuditRecord, error)
}

// SecurityOptions wire the security layer. With a nil Authenticator every
// request is served without authentication or role checks (the behaviour
// of a bare API, for tests of the handlers; cmd always sets it). Each
// other nil field switches its part off: no rate limits, no audit, and
// the /auth and /admin routes that need a missing part answer 503.
type SecurityOptions struct {
	Authenticator Authenticator
	Sessions      Sessions
	Admin         AccessAdmin
	Limiter       Limiter
	Bans          Bans
	Auditor       Auditor
	// AuditWait bounds how long the answer to a changing request waits
	// for its record to be stored by a DurableAuditor (0:
	// DefaultAuditWait; negative: never wait).
	AuditWait time.Duration
	AuditLog  AuditLog

	// DevTokenOnStatus adds a developer jwt_token to /status answers, in
	// the development environment only and only to clients connected
	// from a loopback address without forwarding headers.
	DevTokenOnStatus bool
	// CORSAllowedOrigins are the origins ("https://host[:port]", exact
	// match) allowed to call the API from a browser; empty: none (no
	// Access-Control-* header is ever sent).
	CORSAllowedOrigins []string
	// TrustedProxies are the peers whose X-Forwarded-For names the
	// client, for rate limits and the audit log (never for /status).
	TrustedProxies []netip.Prefix
}
