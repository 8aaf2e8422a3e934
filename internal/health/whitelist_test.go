package health

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	configfiles "github.com/spacetime-vr/spacetime/config"
	"github.com/spacetime-vr/spacetime/internal/config"
)

// configDirWith copies the shipped config files to a directory and
// replaces scene_whitelist.json with whitelist (unless it is "").
func configDirWith(t *testing.T, whitelist string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := fs.ReadDir(configfiles.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := fs.ReadFile(configfiles.FS, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if whitelist != "" {
		if err := os.WriteFile(filepath.Join(dir, config.WhitelistFile), []byte(whitelist), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// whitelistFile is a scene_whitelist.json whose production and
// development sections are the given JSON objects.
func whitelistFile(production, development string) string {
	const only = `{"description":"x","scenes":["res://vr_main.tscn"],"directories":[],"wildcards":[]}`
	return `{"description":"test","environments":{"production":` + production + `,"staging":` + only +
		`,"test":` + only + `,"development":` + development + `},"blacklist":{"patterns":[],"exact":[]}}`
}

func TestHealthWhitelist(t *testing.T) {
	tests := []struct {
		name      string
		whitelist string // "" keeps the shipped file
		env       string
		loadCfg   bool
		want      Status
		summary   string
	}{
		{name: "shipped rules", loadCfg: true, env: "development", want: Pass, summary: "development rules compile"},
		{name: "shipped production", loadCfg: false, env: "production", want: Pass, summary: "production rules compile"},
		{name: "not JSON", whitelist: `{"environments":`, env: "development", want: Fail, summary: "invalid whitelist file"},
		{name: "unknown key", whitelist: `{"environments":{},"blacklist":{},"extra":1}`, env: "development", want: Fail, summary: "unknown field"},
		{name: "a bad rule",
			whitelist: whitelistFile(`{"description":"p","scenes":["res://vr_main.tscn"],"directories":[],"wildcards":[]}`,
				`{"description":"d","scenes":["/etc/passwd"],"directories":[],"wildcards":[]}`),
			env: "development", want: Fail, summary: "/etc/passwd"},
		{name: "no rules for the environment",
			whitelist: `{"description":"x","environments":{"development":{"description":"d","scenes":["res://vr_main.tscn"],"directories":[],"wildcards":[]}},"blacklist":{"patterns":[],"exact":[]}}`,
			env:       "production", want: Fail, summary: "has no rules for production"},
		{name: "production allows test scenes",
			whitelist: whitelistFile(`{"description":"p","scenes":["res://vr_main.tscn"],"directories":[],"wildcards":["res://**/*.tscn"]}`,
				`{"description":"d","scenes":["res://vr_main.tscn"],"directories":[],"wildcards":[]}`),
			env: "production", want: Warn, summary: "production allows test scenes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := configDirWith(t, tc.whitelist)
			var cfg *config.Config
			if tc.loadCfg {
				cfg = loadConfig(t, map[string]string{"GODOT_ENV": tc.env}, config.Flags{ConfigDir: dir})
			}
			opts := offlineOptions(t, cfg)
			opts.ConfigDir, opts.Environment = dir, tc.env
			r := runCheck(t, opts, checkWhitelist)
			wantStatus(t, r, tc.want)
			if !strings.Contains(r.Summary, tc.summary) {
				t.Errorf("summary %q lacks %q", r.Summary, tc.summary)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		opts := offlineOptions(t, nil)
		opts.ConfigDir = t.TempDir()
		r := runCheck(t, opts, checkWhitelist)
		wantStatus(t, r, Fail)
	})
}

func TestHealthResolveConfigDir(t *testing.T) {
	work := t.TempDir()
	if got := ResolveConfigDir("", work); got != config.EmbeddedDir {
		t.Errorf("no ./config: %q, want embedded", got)
	}
	if err := os.Mkdir(filepath.Join(work, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, want := ResolveConfigDir("", work), filepath.Join(work, "config"); got != want {
		t.Errorf("with ./config: %q, want %q", got, want)
	}
	if got := ResolveConfigDir("/etc/spacetime", work); got != "/etc/spacetime" {
		t.Errorf("flag: %q", got)
	}
}
