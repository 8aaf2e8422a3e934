package telemetry

import "context"

// Principal is who a connection authenticated as.
type Principal struct {
	// ID identifies the caller (an API key id, "bootstrap", "anonymous").
	ID string `json:"id"`
	// Role is its role name (guest, readonly, developer, admin).
	Role string `json:"role"`
	// Session is the login session behind the credential ("" for API
	// keys, anonymous and tools): AuthorizePilot checks it is still live.
	Session string `json:"-"`
}

// Authenticator checks a bearer token (an access JWT or, where allowed, a
// raw API key) presented by a telemetry client. It is declared here, by
// its consumer; the wiring adapts the auth service to it. Any error means
// "refused": the hub answers auth_failed and closes the connection with
// CloseUnauthorized, logging errors that are not plain refusals is the
// implementation's business.
type Authenticator interface {
	AuthenticateToken(ctx context.Context, token string) (Principal, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(ctx context.Context, token string) (Principal, error)

// AuthenticateToken calls f.
func (f AuthenticatorFunc) AuthenticateToken(ctx context.Context, token string) (Principal, error) {
	return f(ctx, token)
}

var _ Authenticator = AuthenticatorFunc(nil)
