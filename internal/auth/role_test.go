package auth

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/spacetime-vr/spacetime/internal/config"
)

func TestParseRole(t *testing.T) {
	tests := []struct {
		in      string
		want    Role
		wantErr bool
	}{
		{in: "guest", want: RoleGuest},
		{in: "readonly", want: RoleReadonly},
		{in: "developer", want: RoleDeveloper},
		{in: "admin", want: RoleAdmin},
		{in: "Admin", wantErr: true},
		{in: "", wantErr: true},
		{in: "root", wantErr: true},
		{in: "default", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRole(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidRole) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("ParseRole(%q) error = %v, want ErrInvalidRole", tt.in, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRole(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func TestRoleMatchesConfigNames(t *testing.T) {
	want := []string{config.RoleGuest, config.RoleReadonly, config.RoleDeveloper, config.RoleAdmin}
	for i, r := range Roles() {
		if int(r) != i || r.String() != want[i] {
			t.Errorf("role %d = %d %q, want %d %q", i, int(r), r, i, want[i])
		}
	}
}

func TestRoleJSON(t *testing.T) {
	b, err := json.Marshal(struct{ R Role }{RoleDeveloper})
	if err != nil || string(b) != `{"R":"developer"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var got struct{ R Role }
	if err := json.Unmarshal([]byte(`{"R":"readonly"}`), &got); err != nil || got.R != RoleReadonly {
		t.Fatalf("Unmarshal = %v, %v", got.R, err)
	}
	if err := json.Unmarshal([]byte(`{"R":"superuser"}`), &got); err == nil {
		t.Fatal("Unmarshal of an unknown role succeeded")
	}
	if _, err := json.Marshal(struct{ R Role }{RoleDefault}); err == nil {
		t.Fatal("Marshal of RoleDefault succeeded")
	}
}

func TestRoleAllows(t *testing.T) {
	g, r, d, a := RoleGuest, RoleReadonly, RoleDeveloper, RoleAdmin
	tests := []struct {
		name    string
		role    Role
		min     Role
		inherit bool
		want    bool
	}{
		{"inherit guest→guest", g, g, true, true},
		{"inherit guest→readonly", g, r, true, false},
		{"inherit readonly→guest", r, g, true, true},
		{"inherit readonly→readonly", r, r, true, true},
		{"inherit readonly→developer", r, d, true, false},
		{"inherit developer→readonly", d, r, true, true},
		{"inherit developer→admin", d, a, true, false},
		{"inherit admin→developer", a, d, true, true},
		{"inherit admin→admin", a, a, true, true},
		{"flat guest→guest", g, g, false, true},
		{"flat readonly→guest (public)", r, g, false, true},
		{"flat readonly→readonly", r, r, false, true},
		{"flat developer→readonly", d, r, false, false},
		{"flat developer→developer", d, d, false, true},
		{"flat developer→admin", d, a, false, false},
		{"flat readonly→developer", r, d, false, false},
		{"flat admin→readonly", a, r, false, true},
		{"flat admin→developer", a, d, false, true},
		{"invalid role", Role(7), g, true, false},
		{"RoleDefault", RoleDefault, g, true, false},
		{"invalid min", a, Role(9), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.role.Allows(tt.min, tt.inherit); got != tt.want {
				t.Errorf("%v.Allows(%v, %t) = %t, want %t", tt.role, tt.min, tt.inherit, got, tt.want)
			}
		})
	}
}
