package auth

import (
	"errors"
)

// Error classes. Every failure this package reports because of what a
// caller presented (as opposed to a technical failure of a store) wraps
// exactly one of them, so the HTTP layer needs four errors.Is tests:
// ErrUnauthenticated → 401, ErrForbidden → 403, ErrInvalid → 400,
// ErrNotFound → 404; anything else is an internal error.
var (
	// ErrUnauthenticated: no usable credential (missing, malformed,
	// expired, revoked, wrong signature...). 401.
	ErrUnauthenticated = errors.New("auth: unauthenticated")
	// ErrForbidden: authenticated, but the role does not allow the route
	// or the operation. 403.
	ErrForbidden = errors.New("auth: forbidden")
	// ErrInvalid: an administrative request is wrong (unknown role, bad
	// key name). 400.
	ErrInvalid = errors.New("auth: invalid request")
	// ErrNotFound: an administrative request names a key or session that
	// does not exist. 404.
	ErrNotFound = errors.New("auth: not found")
)

// Error is a failure of a known kind. Code is stable and safe to show or to
// record in the audit log ("token_expired"); the message never contains a
// credential. Each Error belongs to one class (ErrUnauthenticated, ...):
// errors.Is(err, ErrUnauthenticated) holds for every authentication kind.
type Error struct {
	// Code names the kind, e.g. "token_expired", "refresh_reuse".
	Code  string
	msg   string
	class error
}

// Error implements error.
func (e *Error) Error() string { return "auth: " + e.msg }

// Is reports whether target is e's class, so errors.Is(ErrTokenExpired,
// ErrUnauthenticated) is true.
func (e *Error) Is(target error) bool { return target == e.class }

func newKind(class error, code, msg string) *Error {
	return &Error{Code: code, msg: msg, class: class}
}

// Authentication failures of a bearer header or an access token. Each
// wraps ErrUnauthenticated.
var (
	// ErrNoCredentials: no Authorization header.
	ErrNoCredentials = newKind(ErrUnauthenticated, "no_credentials", "no credentials")
	// ErrBadHeader: the Authorization header is not "Bearer <token>"
	// (another scheme, extra spaces, an empty or oversized token).
	ErrBadHeader = newKind(ErrUnauthenticated, "bad_authorization_header", "malformed Authorization header")
	// ErrLegacyTokenRefused: a raw API key or API_TOKEN was presented as a
	// bearer token while allow_legacy_tokens is false.
	ErrLegacyTokenRefused = newKind(ErrUnauthenticated, "legacy_token_refused", "raw keys are not accepted as bearer tokens; exchange it at /auth/token")
	// ErrTokenMalformed: not a well-formed JWT (segments, base64, JSON,
	// size).
	ErrTokenMalformed = newKind(ErrUnauthenticated, "token_malformed", "malformed token")
	// ErrTokenAlgorithm: the token's alg is not the pinned one (none,
	// RS256, EdDSA, HS512, missing...).
	ErrTokenAlgorithm = newKind(ErrUnauthenticated, "token_algorithm", "token algorithm not accepted")
	// ErrUnknownKey: the token's kid is missing, unknown, or names a
	// retired signing key.
	ErrUnknownKey = newKind(ErrUnauthenticated, "token_unknown_key", "token signed with an unknown key")
	// ErrTokenSignature: the signature does not verify.
	ErrTokenSignature = newKind(ErrUnauthenticated, "token_signature", "token signature invalid")
	// ErrTokenExpired: exp is past (beyond the leeway).
	ErrTokenExpired = newKind(ErrUnauthenticated, "token_expired", "token expired")
	// ErrTokenNotYetValid: nbf or iat is in the future (beyond the leeway).
	ErrTokenNotYetValid = newKind(ErrUnauthenticated, "token_not_yet_valid", "token not yet valid")
	// ErrTokenIssuer: iss is not ours (a missing iss is ErrTokenClaims).
	ErrTokenIssuer = newKind(ErrUnauthenticated, "token_issuer", "token issuer not accepted")
	// ErrTokenAudience: aud does not name us (a missing aud is
	// ErrTokenClaims).
	ErrTokenAudience = newKind(ErrUnauthenticated, "token_audience", "token audience not accepted")
	// ErrTokenClaims: a required claim (iss, aud, exp, sub, sid, jti,
	// role) is missing or invalid, or disagrees with the session.
	ErrTokenClaims = newKind(ErrUnauthenticated, "token_claims", "token claims invalid")
	// ErrTokenInvalid: a token that failed verification for another reason.
	ErrTokenInvalid = newKind(ErrUnauthenticated, "token_invalid", "token invalid")
)

// Session and refresh-token failures. Each wraps ErrUnauthenticated.
var (
	// ErrSessionNotFound: the token's session does not exist (never did,
	// or ended long enough ago to be forgotten).
	ErrSessionNotFound = newKind(ErrUnauthenticated, "session_not_found", "session not found")
	// ErrSessionExpired: the session was idle longer than
	// session_timeout_minutes.
	ErrSessionExpired = newKind(ErrUnauthenticated, "session_expired", "session expired")
	// ErrSessionRevoked: the session ended by logout, revocation, eviction
	// by the session cap, or refresh-token reuse.
	ErrSessionRevoked = newKind(ErrUnauthenticated, "session_revoked", "session ended")
	// ErrRefreshInvalid: the refresh token is malformed or unknown.
	ErrRefreshInvalid = newKind(ErrUnauthenticated, "refresh_invalid", "refresh token invalid")
	// ErrRefreshExpired: the refresh token outlived refresh_token_ttl_hours.
	ErrRefreshExpired = newKind(ErrUnauthenticated, "refresh_expired", "refresh token expired")
	// ErrRefreshReuse: an already used refresh token was presented; its
	// whole session family has been revoked.
	ErrRefreshReuse = newKind(ErrUnauthenticated, "refresh_reuse", "refresh token reused; session revoked")
	// ErrRefreshDisabled: token_refresh_enabled is false.
	ErrRefreshDisabled = newKind(ErrUnauthenticated, "refresh_disabled", "token refresh is disabled")
)

// API-key failures. Each wraps ErrUnauthenticated.
var (
	// ErrInvalidAPIKey: the key is malformed, unknown or wrong.
	ErrInvalidAPIKey = newKind(ErrUnauthenticated, "api_key_invalid", "invalid API key")
	// ErrKeyRevoked: the key was revoked (reported only to a caller who
	// presented the right secret).
	ErrKeyRevoked = newKind(ErrUnauthenticated, "api_key_revoked", "API key revoked")
)

// Authorization failures. Each wraps ErrForbidden.
var (
	// ErrRoleTooLow: the principal's role does not allow the route.
	ErrRoleTooLow = newKind(ErrForbidden, "role_insufficient", "role does not allow this")
	// ErrNotEnforced accompanies ErrRoleTooLow when
	// enforce_permissions is false: the request should go through and be
	// audited as a denial that was not enforced.
	ErrNotEnforced = newKind(ErrForbidden, "permission_not_enforced", "permission denied but not enforced")
	// ErrDevTokenDisabled: a development token was asked for outside the
	// development environment.
	ErrDevTokenDisabled = newKind(ErrForbidden, "dev_token_disabled", "development tokens exist only in development")
)

// Administrative failures.
var (
	// ErrInvalidRole: an unknown role name or value. Wraps ErrInvalid.
	ErrInvalidRole = newKind(ErrInvalid, "invalid_role", "invalid role")
	// ErrInvalidName: an API key name that is empty, too long or has
	// control characters. Wraps ErrInvalid.
	ErrInvalidName = newKind(ErrInvalid, "invalid_name", "invalid key name")
	// ErrKeyNotFound: no API key or signing key has that id. Wraps
	// ErrNotFound.
	ErrKeyNotFound = newKind(ErrNotFound, "key_not_found", "key not found")
	// ErrNoSuchSession: no live session has that id. Wraps ErrNotFound.
	ErrNoSuchSession = newKind(ErrNotFound, "session_not_found", "no such session")
)

// ErrInsecureToken: the bootstrap token is a template placeholder, too
// short for a hardened environment, or otherwise unusable. It stops the
// start; it belongs to no request class.
var ErrInsecureToken = newKind(nil, "insecure_api_token", "insecure API_TOKEN")

// Reason returns the stable code of the first *Error in err's chain ("token_expired"),
// "unauthenticated", "forbidden", "invalid" or "not_found" for a bare class,
// "" for nil and "internal" otherwise. It is what the audit log records.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	switch {
	case errors.Is(err, ErrUnauthenticated):
		return "unauthenticated"
	case errors.Is(err, ErrForbidden):
		return "forbidden"
	case errors.Is(err, ErrInvalid):
		return "invalid"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	}
	return "internal"
}
