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
//	matchRoute       finds the Route the mux will serve (RouteFromContext)
//	Options.Middleware  hook: auth, RBAC, rate limits, audit (in order given)
//	limitBody        413 for bodies over Options.MaxBodyBytes
//	mux              Go ServeMux; its 404 and 405 become problem+json
//
// The routes are listed once, in routes.go (Routes), with the least role
// that may call each; the document served at /openapi.json describes
// exactly those routes, and a test keeps the two identical.
package api
