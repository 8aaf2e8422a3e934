package api

import (
	"fmt"
	"net/http"
	"strings"
)

// Role is a caller's role. Roles inherit: each may do everything the ones
// below it may (guest < readonly < developer < admin).
type Role int

// The roles, least first.
const (
	RoleGuest Role = iota
	RoleReadonly
	RoleDeveloper
	RoleAdmin
)

// String returns the role's name as the configuration files spell it.
func (r Role) String() string {
	switch r {
	case RoleGuest:
		return "guest"
	case RoleReadonly:
		return "readonly"
	case RoleDeveloper:
		return "developer"
	case RoleAdmin:
		return "admin"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// ParseRole returns the role named s ("guest", "readonly", "developer",
// "admin").
func ParseRole(s string) (Role, error) {
	for r := RoleGuest; r <= RoleAdmin; r++ {
		if r.String() == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("api: unknown role %q", s)
}

// Allows reports whether a caller with role r may call a route whose least
// role is min, with inheritance. The security layer asks its
// Authenticator instead, which applies the configured RBAC rules.
func (r Role) Allows(min Role) bool { return r >= min }

// MarshalText encodes the role as its name, so JSON shows "admin".
func (r Role) MarshalText() ([]byte, error) {
	if r < RoleGuest || r > RoleAdmin {
		return nil, fmt.Errorf("api: invalid role %d", int(r))
	}
	return []byte(r.String()), nil
}

// UnmarshalText decodes a role name (see ParseRole).
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Route is one entry of the route table.
type Route struct {
	Method string // "GET", "POST", ...
	// Path is the ServeMux path pattern, e.g. "/scene/load" or
	// "/assets/{path...}"; "/" matches the root only. OpenAPIPath is its
	// spelling in the OpenAPI document.
	Path    string
	MinRole Role   // the least role that may call it (enforced by the security middleware)
	Summary string // one line, as in the OpenAPI document
	// OffInProduction leaves the route unregistered in the production
	// environment, whatever the rate-limit table says: it answers 404 as
	// if it did not exist (the guide: /debug and /execute stay off).
	OffInProduction bool
	// Pprof marks the Go profiles, registered only with Options.Pprof
	// (monitoring.pprof_enabled); without it they answer 404 like any
	// unknown path.
	Pprof bool
	// Static marks the routes of the web client's files (GET / and
	// /assets/...): they set their own Content-Security-Policy and
	// caching instead of the API's.
	Static bool

	handle  func(*Server, http.ResponseWriter, *http.Request) error
	pattern string // Method + " " + Path, set by New for the hot path
}

// Pattern is the ServeMux pattern, e.g. "POST /scene/load"; the root
// path "/" becomes "/{$}" (the root only, not every path).
func (rt Route) Pattern() string {
	if rt.pattern != "" {
		return rt.pattern
	}
	if rt.Path == "/" {
		return rt.Method + " /{$}"
	}
	return rt.Method + " " + rt.Path
}

// OpenAPIPath is Path as an OpenAPI path template: a ServeMux wildcard
// "{name...}" becomes "{name}".
func (rt Route) OpenAPIPath() string {
	return strings.ReplaceAll(rt.Path, "...}", "}")
}

// Routes returns the route table: every route the API serves, once. The
// /openapi.json document describes exactly these (a test checks).
//
// Roles follow design §3: health, status, the API description, the web
// client's files and the /auth routes are public; reading state is readonly; changing or
// inspecting the engine is developer; /admin is admin. POST
// /scene/validate is developer because it reads project files, as load
// does.
func Routes() []Route {
	return []Route{
		{Method: "GET", Path: "/health", MinRole: RoleGuest, handle: (*Server).health,
			Summary: "Liveness of the process and the engine loop"},
		{Method: "GET", Path: "/status", MinRole: RoleGuest, handle: (*Server).status,
			Summary: "Service status, version and running scene"},
		{Method: "GET", Path: "/openapi.json", MinRole: RoleGuest, handle: (*Server).openAPI,
			Summary: "This API's OpenAPI 3.1 description"},
		{Method: "GET", Path: "/", MinRole: RoleGuest, handle: (*Server).webIndex, Static: true,
			Summary: "The web client: WebXR viewer and dashboard"},
		{Method: "GET", Path: "/assets/{path...}", MinRole: RoleGuest, handle: (*Server).webAsset, Static: true,
			Summary: "A file of the web client (scripts, styles, images)"},
		{Method: "GET", Path: "/telemetry", MinRole: RoleGuest, handle: (*Server).telemetryStream,
			Summary: "The telemetry WebSocket stream, as on the telemetry port"},
		{Method: "POST", Path: "/telemetry/ticket", MinRole: RoleReadonly, handle: (*Server).telemetryTicket,
			Summary: "A short-lived single-use ticket for the telemetry stream"},

		{Method: "GET", Path: "/scene", MinRole: RoleReadonly, handle: (*Server).currentScene,
			Summary: "The running scene"},
		{Method: "GET", Path: "/scenes", MinRole: RoleReadonly, handle: (*Server).listScenes,
			Summary: "The project's scenes and whether the whitelist allows each"},
		{Method: "GET", Path: "/scene/history", MinRole: RoleReadonly, handle: (*Server).sceneHistory,
			Summary: "Scene load attempts, oldest first"},
		{Method: "GET", Path: "/state/scene", MinRole: RoleReadonly, handle: (*Server).stateScene,
			Summary: "Simulation state: time, bodies, particle counts"},
		{Method: "GET", Path: "/state/player", MinRole: RoleReadonly, handle: (*Server).statePlayer,
			Summary: "The player's vessel"},
		{Method: "GET", Path: "/state/vr", MinRole: RoleReadonly, handle: (*Server).stateVR,
			Summary: "What connected WebXR clients report about their headsets"},

		{Method: "POST", Path: "/scene/validate", MinRole: RoleDeveloper, handle: (*Server).validateScene,
			Summary: "Validate a scene file without loading it"},
		{Method: "POST", Path: "/scene/load", MinRole: RoleDeveloper, handle: (*Server).loadScene,
			Summary: "Load a scene; the previous one keeps running on failure"},
		{Method: "POST", Path: "/scene/reload", MinRole: RoleDeveloper, handle: (*Server).reloadScene,
			Summary: "Reload the running scene from its source"},
		{Method: "GET", Path: "/performance/metrics", MinRole: RoleDeveloper, handle: (*Server).performance,
			Summary: "Tick rate, tick times, memory and counts"},
		{Method: "GET", Path: "/debug", MinRole: RoleDeveloper, handle: (*Server).debugInfo, OffInProduction: true,
			Summary: "Engine and Go runtime details"},
		{Method: "GET", Path: "/debug/pprof/{name...}", MinRole: RoleAdmin, handle: (*Server).pprof, Pprof: true,
			Summary: "Go runtime profiles (net/http/pprof), when monitoring.pprof_enabled"},
		{Method: "POST", Path: "/execute", MinRole: RoleDeveloper, handle: (*Server).execute, OffInProduction: true,
			Summary: "Run one engine console command"},

		{Method: "POST", Path: "/auth/token", MinRole: RoleGuest, handle: (*Server).authToken,
			Summary: "Exchange an API key for an access token and a refresh token"},
		{Method: "POST", Path: "/auth/refresh", MinRole: RoleGuest, handle: (*Server).authRefresh,
			Summary: "Exchange a refresh token for new tokens; each refresh token works once"},
		{Method: "POST", Path: "/auth/logout", MinRole: RoleGuest, handle: (*Server).authLogout,
			Summary: "End the caller's session"},

		{Method: "GET", Path: "/admin/sessions", MinRole: RoleAdmin, handle: (*Server).adminSessions,
			Summary: "List the live sessions"},
		{Method: "DELETE", Path: "/admin/sessions/{id}", MinRole: RoleAdmin, handle: (*Server).adminRevokeSession,
			Summary: "End one session"},
		{Method: "DELETE", Path: "/admin/principals/{id}/sessions", MinRole: RoleAdmin, handle: (*Server).adminRevokePrincipal,
			Summary: "End every session of a principal"},
		{Method: "GET", Path: "/admin/keys", MinRole: RoleAdmin, handle: (*Server).adminKeys,
			Summary: "List the API keys, without their secrets"},
		{Method: "POST", Path: "/admin/keys", MinRole: RoleAdmin, handle: (*Server).adminMintKey,
			Summary: "Mint a role-bound API key; the key is shown only in this answer"},
		{Method: "DELETE", Path: "/admin/keys/{id}", MinRole: RoleAdmin, handle: (*Server).adminRevokeKey,
			Summary: "Revoke an API key and end its sessions"},
		{Method: "POST", Path: "/admin/keys/rotate", MinRole: RoleAdmin, handle: (*Server).adminRotate,
			Summary: "Rotate the JWT signing key now"},
		{Method: "GET", Path: "/admin/signing-keys", MinRole: RoleAdmin, handle: (*Server).adminSigningKeys,
			Summary: "List the JWT signing keys that still verify, without secrets"},
		{Method: "GET", Path: "/admin/audit", MinRole: RoleAdmin, handle: (*Server).adminAudit,
			Summary: "Query the audit log, newest first"},
		{Method: "GET", Path: "/admin/bans", MinRole: RoleAdmin, handle: (*Server).adminBans,
			Summary: "List the rate-limit bans in force"},
		{Method: "DELETE", Path: "/admin/bans/{client}", MinRole: RoleAdmin, handle: (*Server).adminUnban,
			Summary: "Lift a ban"},
	}
}
