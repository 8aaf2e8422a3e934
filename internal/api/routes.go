package api

import (
	"fmt"
	"net/http"
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
// role is min.
func (r Role) Allows(min Role) bool { return r >= min }

// Route is one entry of the route table.
type Route struct {
	Method  string // "GET", "POST", ...
	Path    string // ServeMux path pattern, e.g. "/scene/load"; also the OpenAPI path
	MinRole Role   // the least role that may call it (enforced by the security middleware)
	Summary string // one line, as in the OpenAPI document

	handle func(*Server, http.ResponseWriter, *http.Request) error
}

// Pattern is the ServeMux pattern, e.g. "POST /scene/load".
func (rt Route) Pattern() string { return rt.Method + " " + rt.Path }

// Routes returns the route table: every route the API serves, once. The
// /openapi.json document describes exactly these (a test checks).
//
// Roles follow design §3: health, status and the API description are
// public; reading state is readonly; changing or inspecting the engine is
// developer. POST /scene/validate is developer because it reads project
// files, as load does.
func Routes() []Route {
	return []Route{
		{Method: "GET", Path: "/health", MinRole: RoleGuest, handle: (*Server).health,
			Summary: "Liveness of the process and the engine loop"},
		{Method: "GET", Path: "/status", MinRole: RoleGuest, handle: (*Server).status,
			Summary: "Service status, version and running scene"},
		{Method: "GET", Path: "/openapi.json", MinRole: RoleGuest, handle: (*Server).openAPI,
			Summary: "This API's OpenAPI 3.1 description"},

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
		{Method: "GET", Path: "/debug", MinRole: RoleDeveloper, handle: (*Server).debugInfo,
			Summary: "Engine and Go runtime details"},
		{Method: "POST", Path: "/execute", MinRole: RoleDeveloper, handle: (*Server).execute,
			Summary: "Run one engine console command"},
	}
}
