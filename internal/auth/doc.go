// Package auth provides SpaceTime's credentials and the decisions made with
// them: roles and their order, the bootstrap admin token (API_TOKEN), admin-
// minted role-bound API keys, a rotating keyring of HS256 signing keys for
// short-lived access JWTs, sessions with rotating single-use refresh tokens,
// and one entry point for the HTTP middleware, [Service.AuthenticateBearer].
//
// The package knows nothing of HTTP routing: it parses an Authorization
// header value and answers with a [Principal] or an error of a known kind
// (see [Error], [Reason]); the HTTP layer maps the classes
// [ErrUnauthenticated], [ErrForbidden], [ErrInvalid] and [ErrNotFound] to
// status codes. Storage sits behind narrow interfaces ([KeyStore],
// [SigningKeyStore], [SessionStore]) with in-memory implementations; time
// comes from an injected clock so tests never sleep.
//
// Secrets (raw API keys, refresh tokens, access tokens, signing keys, the
// bootstrap token) never appear in an error message, a String result or a
// log/slog value: every type that carries one implements slog.LogValuer and
// fmt.Stringer with a redacted form. Comparisons of secrets are constant
// time.
package auth
