package catalog

import (
	"context"
	"errors"
	"testing"

	"github.com/spacetime-vr/spacetime/content"
	"github.com/spacetime-vr/spacetime/internal/api"
	"github.com/spacetime-vr/spacetime/internal/scene"
	"github.com/spacetime-vr/spacetime/internal/whitelist"

	configfiles "github.com/spacetime-vr/spacetime/config"
)

func newCatalog(t *testing.T, env string) *Catalog {
	t.Helper()
	data, err := configfiles.FS.ReadFile("scene_whitelist.json")
	if err != nil {
		t.Fatal(err)
	}
	wl, err := whitelist.New(data, env)
	if err != nil {
		t.Fatal(err)
	}
	return New(scene.NewProject("embedded", content.FS), wl)
}

func TestCheckMapsWhitelistErrors(t *testing.T) {
	c := newCatalog(t, "production")
	tests := []struct {
		name     string
		path     string
		wantKind error
		wantCode string
	}{
		{"allowed", "res://vr_main.tscn", nil, ""},
		{"not whitelisted", "res://tests/debug.tscn", api.ErrForbidden, "scene_forbidden"},
		{"traversal", "res://../etc/passwd.tscn", api.ErrInvalid, "invalid_path"},
		{"wrong scheme", "user://x.tscn", api.ErrInvalid, "invalid_path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Check(tc.path)
			if tc.wantKind == nil {
				if err != nil || got != tc.path {
					t.Fatalf("Check(%q) = %q, %v; want it allowed", tc.path, got, err)
				}
				return
			}
			var ae *api.Error
			if !errors.Is(err, tc.wantKind) || !errors.As(err, &ae) || ae.Code != tc.wantCode {
				t.Fatalf("Check(%q) error = %v, want kind %v code %s", tc.path, err, tc.wantKind, tc.wantCode)
			}
		})
	}
}

func TestBuildMapsSceneErrors(t *testing.T) {
	c := newCatalog(t, "test")
	ctx := context.Background()
	if spec, err := c.Build(ctx, "res://vr_main.tscn"); err != nil || len(spec.Bodies) != 10 {
		t.Fatalf("Build(vr_main) = %v, %v; want 10 bodies", spec, err)
	}
	_, err := c.Build(ctx, "res://tests/broken/malformed.tscn")
	var se *api.SceneSyntaxError
	if !errors.As(err, &se) || se.Line != 15 || se.Col != 18 {
		t.Errorf("malformed: %v, want a SceneSyntaxError at 15:18", err)
	}
	if _, err := c.Build(ctx, "res://missing.tscn"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("missing: %v, want ErrNotFound", err)
	}
	if _, err := c.Build(ctx, "res://tests/broken/cycle_a.tscn"); !errors.Is(err, api.ErrUnprocessable) {
		t.Errorf("cycle: %v, want ErrUnprocessable", err)
	}
}

func TestListMarksAllowed(t *testing.T) {
	c := newCatalog(t, "staging")
	entries, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"res://vr_main.tscn":                    true,
		"res://scenes/menu.tscn":                true,
		"res://tests/integration/two_body.tscn": true,
		"res://tests/debug.tscn":                false,
		"res://tests/broken/malformed.tscn":     false,
	}
	seen := 0
	for _, e := range entries {
		if w, ok := want[e.Path]; ok {
			seen++
			if e.Allowed != w {
				t.Errorf("%s allowed = %v, want %v in staging", e.Path, e.Allowed, w)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("List found %d of the %d expected scenes: %+v", seen, len(want), entries)
	}
}

func TestValidateReportsInsideResult(t *testing.T) {
	c := newCatalog(t, "test")
	v, err := c.Validate(context.Background(), "res://tests/broken/unclosed_call.tscn")
	if err != nil {
		t.Fatal(err)
	}
	if v.Valid || len(v.Errors) == 0 || v.Errors[0].Line != 7 || v.Errors[0].Col != 1 {
		t.Errorf("unclosed_call validation = %+v, want invalid at 7:1", v)
	}
	v, err = c.Validate(context.Background(), "res://vr_main.tscn")
	if err != nil || !v.Valid || v.SceneInfo == nil || v.SceneInfo.Particles < 20000 || !v.SceneInfo.HasPlayer {
		t.Errorf("vr_main validation = %+v, %v", v, err)
	}
}
