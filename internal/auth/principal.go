package auth

import "log/slog"

// Method says how a principal proved who it is.
type Method string

// The methods.
const (
	// MethodJWT: an access token issued by Login (its session is live).
	MethodJWT Method = "jwt"
	// MethodAPIKey: a raw API key (at /auth/token, or as a legacy bearer).
	MethodAPIKey Method = "api_key"
	// MethodBootstrap: the raw API_TOKEN.
	MethodBootstrap Method = "bootstrap"
	// MethodAnonymous: no credential (see Service.Anonymous).
	MethodAnonymous Method = "anonymous"
)

// BootstrapPrincipalID is the principal id of the API_TOKEN holder, an
// admin.
const BootstrapPrincipalID = "bootstrap"

// DevPrincipalID is the principal id of development tokens
// (Service.IssueDevToken), a developer.
const DevPrincipalID = "development"

// AnonymousPrincipalID is the principal id of callers without credentials.
const AnonymousPrincipalID = "anonymous"

// Principal is an authenticated caller. It carries no secret and may be
// logged.
type Principal struct {
	// ID identifies the principal: an API key id, BootstrapPrincipalID,
	// DevPrincipalID or AnonymousPrincipalID. Sessions are capped per ID.
	ID string `json:"id"`
	// Name is a human label (the API key's name).
	Name string `json:"name,omitempty"`
	// Role is what the principal may do.
	Role Role `json:"role"`
	// SessionID is the session of a JWT; empty for raw keys.
	SessionID SessionID `json:"session_id,omitempty"`
	// KeyID is the credential the principal descends from: an API key id,
	// "bootstrap" or "development"; empty for anonymous callers.
	KeyID string `json:"key_id,omitempty"`
	// Method is how the credential was presented.
	Method Method `json:"method"`
}

// LogValue logs the principal as a group (id, role, session, key, method).
func (p Principal) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("id", p.ID),
		slog.String("role", p.Role.String()),
		slog.String("method", string(p.Method)),
	}
	if p.SessionID != "" {
		attrs = append(attrs, slog.String("session", string(p.SessionID)))
	}
	if p.KeyID != "" {
		attrs = append(attrs, slog.String("key", p.KeyID))
	}
	return slog.GroupValue(attrs...)
}
