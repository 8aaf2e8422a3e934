// Package api is SpaceTime's HTTP API: the route table, thin handlers
// (decode, call, encode), the middleware stack and the one function that
// turns errors into application/problem+json responses.
//
// The package depends on its collaborators only through interfaces it
// declares itself (Sim, Scenes, History, VRStatus); the wiring in cmd adapts
// the engine, the scene loader and the whitelist onto them and maps their
// errors onto this package's error kinds (see errors.go).
//
// Every request passes the same stack, outermost first (see Server.stack):
//
//	requestID        X-Request-ID honoured when sane, else generated
//	securityHeaders  nosniff, DENY, no-referrer, CSP, no-store, HSTS on TLS
//	accessLog        one slog line per request: method, route, status, duration, id
//	recoverPanics    a panic becomes a 500 problem; the server keeps running
//	cors             closed unless origins are configured; answers their preflights
//	matchRoute       finds the Route the mux will serve (RouteFromContext)
//	audit            one audit record per request, denials included
//	identify         the principal from the Authorization header (PrincipalFromContext)
//	rateLimit        per principal or client IP and route: 429, bans, 404 for limit 0
//	authorize        401 without a valid credential, 403 role_too_low
//	Options.Middleware  extra hooks (in order given)
//	limitBody        413 for bodies over Options.MaxBodyBytes
//	mux              Go ServeMux; its 404 and 405 become problem+json
//
// The security chain (audit to authorize) talks to internal/auth,
// internal/ratelimit and internal/audit only through the interfaces of
// security.go (Authenticator, Sessions, AccessAdmin, Limiter, Bans,
// Auditor, AuditLog); cmd wires the real ones. Rate limits come before the
// 401/403 decision so that failed credentials spend the client's budget.
// Routes marked OffInProduction (/debug, /execute) are not registered in
// production at all.
//
// The routes are listed once, in routes.go (Routes), with the least role
// that may call each; the document served at /openapi.json describes
// exactly those routes, and a test keeps the two identical.
//
// The web client's files (GET / and GET /assets/..., from Options.Web)
// are public routes like the others: audited, rate limited, logged. They
// replace the API's Content-Security-Policy and Cache-Control with their
// own (WebCSP; revalidation, or a year for content-hashed names) and are
// gzipped once, on first use, for clients that accept it.
package api
