package auth

import (
	"fmt"
	"log/slog"
)

// Role is a caller's role. The four roles are ordered, least privileged
// first, with the same names, order and numeric values as api.Role and
// config's default_role: guest(0) < readonly(1) < developer(2) < admin(3).
// A value outside that range (such as RoleDefault) allows nothing.
type Role int

// The roles, least first.
const (
	RoleGuest Role = iota
	RoleReadonly
	RoleDeveloper
	RoleAdmin
)

// RoleDefault asks Mint for the configured authorization.default_role. It
// is not a role: it allows nothing and never appears in a Principal.
const RoleDefault Role = -1

// Roles returns the four roles, least first.
func Roles() []Role { return []Role{RoleGuest, RoleReadonly, RoleDeveloper, RoleAdmin} }

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool { return r >= RoleGuest && r <= RoleAdmin }

// String returns the role's name as the configuration files spell it
// ("guest", "readonly", "developer", "admin"), "default" for RoleDefault
// and "Role(n)" otherwise.
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
	case RoleDefault:
		return "default"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// ParseRole returns the role named s ("guest", "readonly", "developer",
// "admin"; exact, lower case). Any other string is an error wrapping
// ErrInvalidRole.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles() {
		if r.String() == s {
			return r, nil
		}
	}
	return RoleDefault, fmt.Errorf("%w: %q is not guest, readonly, developer or admin", ErrInvalidRole, s)
}

// MarshalText encodes a valid role as its name, so JSON shows "admin".
func (r Role) MarshalText() ([]byte, error) {
	if !r.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrInvalidRole, int(r))
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

// LogValue logs the role's name.
func (r Role) LogValue() slog.Value { return slog.StringValue(r.String()) }

// Allows reports whether a caller with role r may call a route whose least
// role is min.
//
// With inheritance (authorization.role_inheritance_enabled, the default)
// roles are ordered: r allows every route whose least role is r or below.
//
// Without inheritance each role allows exactly the routes of its own level,
// with two explicit exceptions: public routes (least role guest: /health,
// /status, /openapi.json) stay open to every role, and admin keeps full
// access (the guide: "admin - Full access to all endpoints"). So readonly
// may call guest and readonly routes, developer guest and developer routes
// (not readonly ones), admin everything.
//
// An invalid r or min allows nothing.
func (r Role) Allows(min Role, inheritance bool) bool {
	if !r.Valid() || !min.Valid() {
		return false
	}
	if inheritance {
		return r >= min
	}
	return r == min || min == RoleGuest || r == RoleAdmin
}
