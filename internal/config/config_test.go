package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	configfiles "github.com/spacetime-vr/spacetime/config"
)

// envMap returns a getenv reading m.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// load runs Load on the embedded files with the given variables, from a
// work directory without ./config.
func load(t *testing.T, env map[string]string, flags Flags) (*Config, error) {
	t.Helper()
	return Load(Options{Getenv: envMap(env), Flags: flags, Embedded: configfiles.FS, WorkDir: t.TempDir()})
}

// mustLoad is load that fails the test on error.
func mustLoad(t *testing.T, env map[string]string, flags Flags) *Config {
	t.Helper()
	c, err := load(t, env, flags)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// writeConfigDir writes a config directory holding the shipped whitelist and
// files, then overwrites (or, with content "", removes) the given files.
func writeConfigDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	shipped, err := fs.Glob(configfiles.FS, "*.json")
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]string{}
	for _, name := range shipped {
		b, err := fs.ReadFile(configfiles.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		all[name] = string(b)
	}
	maps.Copy(all, files)
	for name, content := range all {
		if content == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestDefaultsValidate(t *testing.T) {
	if err := Defaults().Validate(); err != nil {
		t.Fatalf("Defaults().Validate() = %v, want nil", err)
	}
}

func TestLoadShippedFiles(t *testing.T) {
	for _, env := range Environments() {
		t.Run("embedded/"+env, func(t *testing.T) {
			c := mustLoad(t, map[string]string{"GODOT_ENV": env}, Flags{})
			if got := c.Environment; got != env {
				t.Errorf("Environment = %q, want %q", got, env)
			}
			if got := c.ConfigDir; got != EmbeddedDir {
				t.Errorf("ConfigDir = %q, want %q", got, EmbeddedDir)
			}
			if c.SceneWhitelist == nil || c.SceneWhitelist.Environment() != env {
				t.Fatalf("SceneWhitelist not built for %s", env)
			}
			if !c.SceneWhitelist.Allowed(c.Runtime.Scene) {
				t.Errorf("start scene %q not allowed in %s", c.Runtime.Scene, env)
			}
			src, ok := c.Sources.Lookup("security.rate_limiting.per_endpoint_limits./scene")
			want := Source{Origin: "embedded:config/security_" + env + ".json", Key: "rate_limiting.per_endpoint_limits./scene"}
			if !ok || src != want {
				t.Errorf("source of /scene limit = %+v, %v; want %+v", src, ok, want)
			}
		})
		t.Run("dir/"+env, func(t *testing.T) {
			dir := filepath.Join("..", "..", "config")
			c, err := Load(Options{Getenv: envMap(map[string]string{"GODOT_ENV": env}), Flags: Flags{ConfigDir: dir}})
			if err != nil {
				t.Fatalf("Load(%s): %v", dir, err)
			}
			if got := c.ConfigDir; got != dir {
				t.Errorf("ConfigDir = %q, want %q", got, dir)
			}
		})
	}
}

// TestEmbeddedMatchesDirectory guards against a stale embed: the binary
// must carry exactly the files in config/.
func TestEmbeddedMatchesDirectory(t *testing.T) {
	disk, err := filepath.Glob(filepath.Join("..", "..", "config", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range disk {
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fs.ReadFile(configfiles.FS, filepath.Base(p))
		if err != nil {
			t.Fatalf("embedded %s: %v", filepath.Base(p), err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("embedded %s differs from the file on disk", filepath.Base(p))
		}
	}
	if len(disk) < 13 {
		t.Errorf("found %d config files, want at least 13", len(disk))
	}
}

// TestProductionMatchesGuide pins the values the deployment guide gives
// (sections 2, 5 and 9).
func TestProductionMatchesGuide(t *testing.T) {
	c := mustLoad(t, map[string]string{"GODOT_ENV": "production"}, Flags{})
	wantSec := Security{
		Authentication: Authentication{
			Enabled: true, TokenRotationEnabled: true, TokenRotationIntervalHours: 72,
			TokenRefreshEnabled: true, RequireTokenHeader: true, AllowLegacyTokens: false,
			SessionTimeoutMinutes: 120, MaxConcurrentSessions: 3,
			AccessTokenTTLMinutes: 15, RefreshTokenTTLHours: 24, Issuer: "spacetime", Audience: "spacetime-api",
		},
		RateLimiting: RateLimiting{
			Enabled: true, GlobalRequestsPerMinute: 300,
			PerEndpointLimits: map[string]int{
				"/scene": 10, "/scene/reload": 5, "/scene/load": 10, "/debug": 0,
				"/execute": 0, "/admin": 5, "/status": 100, "/health": 200,
			},
			BurstMultiplier: 1.2, BanDurationMinutes: 60, BanAfterViolations: 10,
		},
		Authorization: Authorization{RBACEnabled: true, DefaultRole: "readonly", EnforcePermissions: true, RoleInheritanceEnabled: true},
		Audit:         Audit{Enabled: true, File: "audit_production.log", RetentionDays: 90},
	}
	if !reflect.DeepEqual(c.Security, wantSec) {
		t.Errorf("Security = %+v\nwant %+v", c.Security, wantSec)
	}
	wantPerf := Performance{
		Godot:        Godot{TargetFPS: 90, PhysicsFPS: 90, VsyncEnabled: true, MSAA: "2x", FXAAEnabled: true, TAAEnabled: false},
		Optimization: Optimization{DynamicQualityEnabled: true, MinFPSThreshold: 85, QualityAdjustmentIntervalSeconds: 10, LODEnabled: true, OcclusionCullingEnabled: true},
		Timeouts:     Timeouts{SceneLoadTimeoutSeconds: 30},
	}
	if !reflect.DeepEqual(c.Performance, wantPerf) {
		t.Errorf("Performance = %+v\nwant %+v", c.Performance, wantPerf)
	}
	for _, tc := range []struct{ name, got, want string }{
		{"http", c.Networking.HTTP.Addr(), "127.0.0.1:8080"},
		{"telemetry", c.Networking.Telemetry.Addr(), "127.0.0.1:8081"},
		{"discovery", c.Networking.Discovery.Addr(), "255.255.255.255:8087"},
		{"level", c.Logging.Level.String(), "INFO"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if got, want := c.Networking.HTTP.MaxBodyBytes, int64(1<<20); got != want {
		t.Errorf("MaxBodyBytes = %d, want %d", got, want)
	}
	if got := c.Networking.Discovery.Interval().Seconds(); got != 2 {
		t.Errorf("discovery interval = %vs, want 2s", got)
	}
	if !c.Logging.JSON(c.Environment) {
		t.Error("production logs are not JSON")
	}
	wl := c.SceneWhitelist.Rules()
	if want := []string{"res://vr_main.tscn"}; !reflect.DeepEqual(wl.Scenes, want) || len(wl.Directories)+len(wl.Wildcards) != 0 {
		t.Errorf("production whitelist = %+v, want only %v", wl, want)
	}
}

func TestEnvOverrides(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name  string
		env   map[string]string
		check func(c *Config) (got, want any)
	}{
		{"default environment", map[string]string{}, func(c *Config) (any, any) { return c.Environment, "development" }},
		{"environment any case", map[string]string{"GODOT_ENV": " Staging "}, func(c *Config) (any, any) { return c.Environment, "staging" }},
		{"http api unset", map[string]string{}, func(c *Config) (any, any) { return c.HTTPAPIEnv, (*bool)(nil) }},
		{"http api true", map[string]string{"GODOT_ENABLE_HTTP_API": "true"}, func(c *Config) (any, any) { return c.HTTPAPIEnv, &yes }},
		{"http api FALSE", map[string]string{"GODOT_ENABLE_HTTP_API": "FALSE"}, func(c *Config) (any, any) { return c.HTTPAPIEnv, &no }},
		{"db host", map[string]string{"DB_HOST": "postgres.example.com"}, func(c *Config) (any, any) { return c.Database.Host, "postgres.example.com" }},
		{"db driver", map[string]string{"DB_HOST": "db"}, func(c *Config) (any, any) { return c.Database.Driver(), "postgres" }},
		{"db port", map[string]string{"DB_PORT": "6543"}, func(c *Config) (any, any) { return c.Database.Port, 6543 }},
		{"db name", map[string]string{"DB_NAME": "st"}, func(c *Config) (any, any) { return c.Database.Name, "st" }},
		{"db user", map[string]string{"DB_USER": "u"}, func(c *Config) (any, any) { return c.Database.User, "u" }},
		{"db sslmode", map[string]string{"DB_SSLMODE": "verify-full"}, func(c *Config) (any, any) { return c.Database.SSLMode, "verify-full" }},
		{"db password", map[string]string{"DB_PASSWORD": "pw"}, func(c *Config) (any, any) { return c.Database.Password.Reveal(), "pw" }},
		{"redis host", map[string]string{"REDIS_HOST": "redis"}, func(c *Config) (any, any) { return c.Cache.Addr(), "redis:6379" }},
		{"redis port", map[string]string{"REDIS_PORT": "6380"}, func(c *Config) (any, any) { return c.Cache.Port, 6380 }},
		{"redis db", map[string]string{"REDIS_DB": "3"}, func(c *Config) (any, any) { return c.Cache.DB, 3 }},
		{"redis password", map[string]string{"REDIS_PASSWORD": "rpw"}, func(c *Config) (any, any) { return c.Cache.Password.Reveal(), "rpw" }},
		{"api token", map[string]string{"API_TOKEN": "tok"}, func(c *Config) (any, any) { return c.APIToken.Reveal(), "tok" }},
		{"discovery key", map[string]string{"DISCOVERY_KEY": "k"}, func(c *Config) (any, any) { return c.Networking.Discovery.Key.Reveal(), "k" }},
		{"grafana ignored", map[string]string{"GRAFANA_ADMIN_PASSWORD": "x"}, func(c *Config) (any, any) { return c.Environment, "development" }},
		{"env source", map[string]string{"DB_PORT": "6543"}, func(c *Config) (any, any) {
			s, _ := c.Sources.Lookup("database.port")
			return s, Source{Origin: "env DB_PORT", Key: "database.port"}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustLoad(t, tc.env, Flags{})
			got, want := tc.check(c)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %#v, want %#v", got, want)
			}
		})
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"invalid GODOT_ENV", map[string]string{"GODOT_ENV": "prod"}, []string{`env GODOT_ENV: invalid environment "prod"`}},
		{"invalid log level", map[string]string{"GODOT_LOG_LEVEL": "LOUD"}, []string{`env GODOT_LOG_LEVEL: logging.level: invalid log level "LOUD"`}},
		{"invalid bool", map[string]string{"GODOT_ENABLE_HTTP_API": "maybe"}, []string{`env GODOT_ENABLE_HTTP_API: http_api_env: want a boolean`}},
		{"non-numeric port", map[string]string{"DB_PORT": "abc"}, []string{`env DB_PORT: database.port: want integer, got "abc"`}},
		{"port out of range", map[string]string{"REDIS_PORT": "70000"}, []string{`env REDIS_PORT: cache.port: 70000 out of range [1, 65535]`}},
		{"redis db out of range", map[string]string{"REDIS_DB": "16"}, []string{`env REDIS_DB: cache.db: 16 out of range [0, 15]`}},
		{"bad sslmode", map[string]string{"DB_SSLMODE": "sometimes"}, []string{`env DB_SSLMODE: database.sslmode: "sometimes" is not one of`}},
		{"placeholder token", map[string]string{"API_TOKEN": "REPLACE_WITH_SECURE_TOKEN"}, []string{`env API_TOKEN: api_token: is a template placeholder`}},
		{"short token in production", map[string]string{"GODOT_ENV": "production", "API_TOKEN": "short"}, []string{`env API_TOKEN: api_token: shorter than 32`}},
		{"all at once", map[string]string{"DB_PORT": "x", "REDIS_PORT": "y"}, []string{"env DB_PORT", "env REDIS_PORT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.env, Flags{})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestLogLevelAnyCase(t *testing.T) {
	tests := []struct {
		in   string
		want slog.Level
	}{
		{"ERROR", slog.LevelError}, {"error", slog.LevelError},
		{"WARN", slog.LevelWarn}, {"warn", slog.LevelWarn}, {"Warning", slog.LevelWarn},
		{"info", slog.LevelInfo}, {" Info ", slog.LevelInfo},
		{"DeBuG", slog.LevelDebug},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			c := mustLoad(t, map[string]string{"GODOT_LOG_LEVEL": tc.in}, Flags{})
			if got := c.Logging.Level.Level(); got != tc.want {
				t.Errorf("level = %v, want %v", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"LOUD", "INFO+2", "-4", "trace"} {
		if _, err := ParseLogLevel(bad); err == nil {
			t.Errorf("ParseLogLevel(%q) succeeded, want an error", bad)
		}
	}
}

func TestFileErrors(t *testing.T) {
	tests := []struct {
		name  string
		env   string
		files map[string]string
		want  []string // substrings; "DIR" is replaced by the config dir
	}{
		{
			name:  "out of range",
			files: map[string]string{"production.json": `{"performance": {"godot": {"physics_fps": 0}}}`, "performance_production.json": ""},
			want:  []string{"DIR/production.json: performance.godot.physics_fps: 0 out of range [1, 1000]"},
		},
		{
			name:  "conflict between files",
			files: map[string]string{"production.json": `{"performance": {"godot": {"physics_fps": 60}}}`},
			want:  []string{"DIR/performance_production.json: godot.physics_fps: 90 conflicts with 60 set by DIR/production.json: performance.godot.physics_fps; set it in one file"},
		},
		{
			name:  "conflicting map",
			files: map[string]string{"production.json": `{"security": {"rate_limiting": {"per_endpoint_limits": {"/scene": 1}}}}`},
			want:  []string{`DIR/security_production.json: rate_limiting.per_endpoint_limits: {`, `conflicts with {"/scene":1} set by DIR/production.json: security.rate_limiting.per_endpoint_limits`},
		},
		{
			name:  "out of range in performance file",
			files: map[string]string{"performance_production.json": `{"godot": {"target_fps": 5000}}`},
			want:  []string{"DIR/performance_production.json: godot.target_fps: 5000 out of range [1, 1000]"},
		},
		{
			name:  "wrong type in map",
			files: map[string]string{"security_production.json": `{"rate_limiting": {"per_endpoint_limits": {"/scene": "10"}}}`},
			want:  []string{"DIR/security_production.json: rate_limiting.per_endpoint_limits./scene: want number, got string"},
		},
		{
			name:  "wrong type scalar",
			files: map[string]string{"production.json": `{"feature_flags": {"http_api": "yes"}}`},
			want:  []string{"DIR/production.json: feature_flags.http_api: want boolean, got string"},
		},
		{
			name:  "fraction for integer",
			files: map[string]string{"production.json": `{"networking": {"http": {"port": 80.5}}}`},
			want:  []string{"DIR/production.json: networking.http.port: want integer, got 80.5"},
		},
		{
			name:  "huge integer",
			files: map[string]string{"production.json": `{"networking": {"http": {"port": 1e30}}}`},
			want:  []string{"DIR/production.json: networking.http.port: 1e30 out of range for an integer"},
		},
		{
			name:  "unknown key",
			files: map[string]string{"production.json": `{"networking": {"http": {"bogus": 1}}}`},
			want:  []string{`DIR/production.json: unknown key "networking.http.bogus"`},
		},
		{
			name:  "unknown section",
			files: map[string]string{"production.json": `{"foo": {"bar": 1}}`},
			want:  []string{`DIR/production.json: unknown key "foo"`},
		},
		{
			name:  "unknown key in security file",
			files: map[string]string{"security_production.json": `{"authentication": {"enabeld": true}}`},
			want:  []string{`DIR/security_production.json: unknown key "authentication.enabeld"`},
		},
		{
			name:  "internal field is not a file key",
			files: map[string]string{"production.json": `{"environment": "development"}`},
			want:  []string{`DIR/production.json: unknown key "environment"`},
		},
		{
			name:  "duplicate key",
			files: map[string]string{"production.json": `{"logging": {"level": "INFO", "level": "DEBUG"}}`},
			want:  []string{`DIR/production.json: duplicate key "logging.level"`},
		},
		{
			name:  "syntax error",
			files: map[string]string{"production.json": "{\n  \"logging\": {\n    \"level\": INFO\n  }\n}"},
			want:  []string{"DIR/production.json: line 3, column 14: invalid character 'I' looking for beginning of value"},
		},
		{
			name:  "truncated",
			files: map[string]string{"production.json": `{"logging": {`},
			want:  []string{"DIR/production.json: line 1, column 13: unexpected end of JSON input"},
		},
		{
			name:  "trailing data",
			files: map[string]string{"production.json": `{} {}`},
			want:  []string{"DIR/production.json: line 1, column 4: invalid character '{' after top-level value"},
		},
		{
			name:  "not an object",
			files: map[string]string{"production.json": `[]`},
			want:  []string{"DIR/production.json: want a JSON object at the top level, got array"},
		},
		{
			name:  "null value",
			files: map[string]string{"production.json": `{"runtime": {"scene": null}}`},
			want:  []string{"DIR/production.json: runtime.scene: want string, got null"},
		},
		{
			name:  "secret in a file",
			files: map[string]string{"production.json": `{"database": {"password": "hunter2"}}`},
			want:  []string{"DIR/production.json: database.password: secrets are not read from files: set DB_PASSWORD in the environment"},
		},
		{
			name:  "bad log level in file",
			files: map[string]string{"production.json": `{"logging": {"level": "LOUD"}}`},
			want:  []string{`DIR/production.json: logging.level: invalid log level "LOUD"`},
		},
		{
			name:  "bad enum",
			files: map[string]string{"security_production.json": `{"authorization": {"default_role": "root"}}`},
			want:  []string{`DIR/security_production.json: authorization.default_role: "root" is not one of guest, readonly, developer, admin`},
		},
		{
			name:  "bad msaa",
			files: map[string]string{"performance_production.json": `{"godot": {"msaa": "16x"}}`},
			want:  []string{`DIR/performance_production.json: godot.msaa: "16x" is not one of`},
		},
		{
			name:  "bad endpoint key",
			files: map[string]string{"security_production.json": `{"rate_limiting": {"per_endpoint_limits": {"scene": 1}}}`},
			want:  []string{`DIR/security_production.json: rate_limiting.per_endpoint_limits.scene: endpoint "scene" must be a path starting with /`},
		},
		{
			name:  "negative endpoint limit",
			files: map[string]string{"security_production.json": `{"rate_limiting": {"per_endpoint_limits": {"/scene": -1}}}`},
			want:  []string{`DIR/security_production.json: rate_limiting.per_endpoint_limits./scene: -1 out of range`},
		},
		{
			name:  "write timeout shorter than scene load",
			files: map[string]string{"production.json": `{"performance": {"timeouts": {"scene_load_timeout_seconds": 200}}}`},
			want:  []string{"networking.http.write_timeout_seconds: 120 must exceed performance.timeouts.scene_load_timeout_seconds (200)"},
		},
		{
			name:  "cors wildcard in production",
			files: map[string]string{"production.json": `{"networking": {"http": {"cors_allowed_origins": ["*"]}}}`},
			want:  []string{`DIR/production.json: networking.http.cors_allowed_origins[0]: "*" is not allowed in production`},
		},
		{
			name:  "bad origin",
			env:   "development",
			files: map[string]string{"development.json": `{"networking": {"http": {"cors_allowed_origins": ["https://ok.example", "example.com/path"]}}}`},
			want:  []string{`DIR/development.json: networking.http.cors_allowed_origins[1]: "example.com/path" is not an origin`},
		},
		{
			name:  "dev token outside development",
			env:   "staging",
			files: map[string]string{"staging.json": `{"feature_flags": {"dev_token_on_status": true}}`},
			want:  []string{"DIR/staging.json: feature_flags.dev_token_on_status: allowed only in development"},
		},
		{
			name:  "auth off in production",
			files: map[string]string{"security_production.json": `{"authentication": {"enabled": false}}`},
			want:  []string{"DIR/security_production.json: authentication.enabled: authentication cannot be disabled in production"},
		},
		{
			name:  "same port twice",
			files: map[string]string{"production.json": `{"networking": {"telemetry": {"port": 8080}}}`},
			want:  []string{"DIR/production.json: networking.telemetry.port: 8080 is also networking.http.port"},
		},
		{
			name:  "scene not in whitelist",
			files: map[string]string{"production.json": `{"runtime": {"scene": "res://scenes/menu.tscn"}}`},
			want:  []string{`DIR/production.json: runtime.scene: whitelist: scene not allowed: "res://scenes/menu.tscn" in environment "production"`},
		},
		{
			name:  "scene not a scene path",
			files: map[string]string{"production.json": `{"runtime": {"scene": "/etc/passwd"}}`},
			want:  []string{`DIR/production.json: runtime.scene: invalid scene path: "/etc/passwd"`},
		},
		{
			name:  "missing env file",
			files: map[string]string{"production.json": ""},
			want:  []string{"DIR/production.json: missing"},
		},
		{
			name:  "missing whitelist",
			files: map[string]string{"scene_whitelist.json": ""},
			want:  []string{"DIR/scene_whitelist.json: missing"},
		},
		{
			name:  "broken whitelist",
			files: map[string]string{"scene_whitelist.json": `{"environments": {"production": {"scenes": ["res://a/../b.tscn"]}}}`},
			want:  []string{`DIR/scene_whitelist.json: whitelist: invalid whitelist file: environment "production": scenes[0]`},
		},
		{
			name: "every problem at once",
			files: map[string]string{
				"production.json":             `{"performance": {"godot": {"target_fps": 90, "physics_fps": 0}}, "nope": 1}`,
				"security_production.json":    `{"rate_limiting": {"burst_multiplier": 0.5}}`,
				"performance_production.json": `{"optimization": {"min_fps_threshold": "85"}}`,
			},
			want: []string{
				"DIR/production.json: performance.godot.physics_fps: 0 out of range [1, 1000]",
				`DIR/production.json: unknown key "nope"`,
				"DIR/security_production.json: rate_limiting.burst_multiplier: 0.5 out of range [1, 100]",
				"DIR/performance_production.json: optimization.min_fps_threshold: want number, got string",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.env
			if env == "" {
				env = "production"
			}
			dir := writeConfigDir(t, tc.files)
			c, err := Load(Options{Getenv: envMap(map[string]string{"GODOT_ENV": env}), Flags: Flags{ConfigDir: dir}})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if c != nil {
				t.Error("Load returned a Config with its error")
			}
			for _, w := range tc.want {
				w = strings.ReplaceAll(w, "DIR/", dir+string(filepath.Separator))
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\ndoes not contain:\n%s", err, w)
				}
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error has no *FieldError: %v", err)
			}
		})
	}
}

func TestFileOverridesLayer(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{
		"production.json":             `{"performance": {"godot": {"target_fps": 100}}}`,
		"performance_production.json": `{"godot": {"physics_fps": 120}}`,
	})
	c, err := Load(Options{Getenv: envMap(map[string]string{"GODOT_ENV": "production"}), Flags: Flags{ConfigDir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	// target_fps only in production.json; physics_fps only in the
	// performance file; everything else keeps its default.
	if got, want := c.Performance.Godot, (Godot{TargetFPS: 100, PhysicsFPS: 120, VsyncEnabled: true, MSAA: "2x", FXAAEnabled: true}); got != want {
		t.Errorf("Godot = %+v, want %+v", got, want)
	}
	src, _ := c.Sources.Lookup("performance.godot.physics_fps")
	if want := (Source{Origin: filepath.Join(dir, "performance_production.json"), Key: "godot.physics_fps"}); src != want {
		t.Errorf("source = %+v, want %+v", src, want)
	}
	if _, ok := c.Sources.Lookup("performance.godot.msaa"); ok {
		t.Error("msaa has a source, want none (default)")
	}
	// The optional files may be absent.
	dir = writeConfigDir(t, map[string]string{"security_production.json": "", "performance_production.json": ""})
	if _, err := Load(Options{Getenv: envMap(map[string]string{"GODOT_ENV": "production"}), Flags: Flags{ConfigDir: dir}}); err != nil {
		t.Errorf("Load without optional files: %v", err)
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name  string
		env   string
		flags Flags
		check func(c *Config) (got, want any)
	}{
		{"http addr", "", Flags{HTTPAddr: "0.0.0.0:9000"}, func(c *Config) (any, any) { return c.Networking.HTTP.Addr(), "0.0.0.0:9000" }},
		{"port 0", "", Flags{HTTPAddr: "127.0.0.1:0", TelemetryAddr: "127.0.0.1:0"}, func(c *Config) (any, any) { return c.Networking.Telemetry.Port, 0 }},
		{"telemetry addr", "", Flags{TelemetryAddr: "[::1]:9001"}, func(c *Config) (any, any) { return c.Networking.Telemetry.Addr(), "[::1]:9001" }},
		{"discovery off", "", Flags{DiscoveryAddr: "off"}, func(c *Config) (any, any) { return c.Networking.Discovery.Enabled, false }},
		{"discovery addr", "test", Flags{DiscoveryAddr: "127.0.0.1:9999"}, func(c *Config) (any, any) {
			d := c.Networking.Discovery
			return fmt.Sprintf("%v %v", d.Enabled, d.Addr()), "true 127.0.0.1:9999"
		}},
		{"project", "", Flags{Project: "/srv/game"}, func(c *Config) (any, any) { return c.Runtime.Project, "/srv/game" }},
		{"data dir", "", Flags{DataDir: "/var/lib/st"}, func(c *Config) (any, any) { return c.Runtime.DataDir, "/var/lib/st" }},
		{"log dir", "", Flags{LogDir: "/var/log/st"}, func(c *Config) (any, any) { return c.Logging.Directory, "/var/log/st" }},
		{"scene", "staging", Flags{Scene: "res://scenes/menu.tscn"}, func(c *Config) (any, any) { return c.Runtime.Scene, "res://scenes/menu.tscn" }},
		{"tls", "", Flags{TLSCert: "/etc/st/cert.pem", TLSKey: "/etc/st/key.pem"}, func(c *Config) (any, any) {
			s, _ := c.Sources.Lookup("networking.http.tls.key_file")
			return fmt.Sprint(c.Networking.HTTP.TLS, " ", s.Origin), "{/etc/st/cert.pem /etc/st/key.pem} flag --tls-key"
		}},
		{"flag beats env", "", Flags{HTTPAddr: "127.0.0.1:1"}, func(c *Config) (any, any) {
			s, _ := c.Sources.Lookup("networking.http.port")
			return s.Origin, "flag --http-addr"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustLoad(t, map[string]string{"GODOT_ENV": tc.env}, tc.flags)
			got, want := tc.check(c)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %#v, want %#v", got, want)
			}
		})
	}

	errTests := []struct {
		name  string
		env   string
		flags Flags
		want  string
	}{
		{"bad addr", "", Flags{HTTPAddr: "localhost"}, `flag --http-addr: want host:port, got "localhost"`},
		{"bad port", "", Flags{TelemetryAddr: "127.0.0.1:http"}, `flag --telemetry-addr: want a numeric port`},
		{"port range", "", Flags{HTTPAddr: "127.0.0.1:70000"}, `flag --http-addr: networking.http.port: 70000 out of range [0, 65535]`},
		{"bad bind", "", Flags{HTTPAddr: "example.com:80"}, `flag --http-addr: networking.http.bind_address: "example.com" is not an IP address`},
		{"scene denied", "production", Flags{Scene: "res://tests/debug.tscn"}, `flag --scene: runtime.scene: whitelist: scene not allowed`},
		{"scene invalid", "", Flags{Scene: "res://x.tscn.bak"}, `flag --scene: runtime.scene: invalid scene path`},
		{"no config dir", "", Flags{ConfigDir: "/nonexistent/spacetime"}, `flag --config-dir:`},
		{"tls cert without key", "", Flags{TLSCert: "/etc/st/cert.pem"}, `networking.http.tls: cert_file and key_file must be set together`},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, map[string]string{"GODOT_ENV": tc.env}, tc.flags)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestFlagsRegister(t *testing.T) {
	var f Flags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	f.Register(fs)
	args := []string{
		"--http-addr", "a:1", "--telemetry-addr", "b:2", "--discovery-addr", "off", "--project", "p",
		"--config-dir", "c", "--data-dir", "d", "--log-dir", "l", "--scene", "res://s.tscn",
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	want := Flags{HTTPAddr: "a:1", TelemetryAddr: "b:2", DiscoveryAddr: "off", Project: "p", ConfigDir: "c", DataDir: "d", LogDir: "l", Scene: "res://s.tscn"}
	if f != want {
		t.Errorf("parsed %+v, want %+v", f, want)
	}
}

func TestConfigDirChoice(t *testing.T) {
	// A ./config directory next to the process wins over the embedded files.
	work := t.TempDir()
	src := writeConfigDir(t, map[string]string{"development.json": `{"logging": {"level": "ERROR"}}`})
	if err := os.Rename(src, filepath.Join(work, "config")); err != nil {
		t.Fatal(err)
	}
	c, err := Load(Options{Getenv: envMap(nil), WorkDir: work})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.ConfigDir, filepath.Join(work, "config"); got != want {
		t.Errorf("ConfigDir = %q, want %q", got, want)
	}
	if got := c.Logging.Level.String(); got != "ERROR" {
		t.Errorf("level = %s, want ERROR from ./config", got)
	}

	// Without one, the Embedded FS is used.
	mem := fstest.MapFS{
		"development.json":     {Data: []byte(`{"logging": {"level": "DEBUG"}}`)},
		"scene_whitelist.json": {Data: mustRead(t, configfiles.FS, "scene_whitelist.json")},
	}
	c, err = Load(Options{Embedded: mem, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if c.ConfigDir != EmbeddedDir || c.Logging.Level.String() != "DEBUG" {
		t.Errorf("ConfigDir %q level %s, want embedded DEBUG", c.ConfigDir, c.Logging.Level)
	}
}

func mustRead(t *testing.T, fsys fs.FS, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHTTPAPIEnabled(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name    string
		env     *bool
		flag    bool
		release bool
		want    bool
	}{
		{"dev build, flag on", nil, true, false, true},
		{"dev build, flag off", nil, false, false, false},
		{"release build, unset", nil, true, true, false},
		{"release build, env true", &yes, false, true, true},
		{"dev build, env false", &no, true, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			c.HTTPAPIEnv, c.FeatureFlags.HTTPAPI = tc.env, tc.flag
			if got := c.HTTPAPIEnabled(tc.release); got != tc.want {
				t.Errorf("HTTPAPIEnabled(%v) = %v, want %v", tc.release, got, tc.want)
			}
		})
	}
}

func TestValidateWithoutSources(t *testing.T) {
	c := Defaults()
	c.Performance.Godot.PhysicsFPS = 0
	c.Cache.DB = -1
	err := c.Validate()
	for _, w := range []string{
		"performance.godot.physics_fps: 0 out of range [1, 1000]",
		"cache.db: -1 out of range [0, 15]",
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() = %v, want it to contain %q", err, w)
		}
	}
}

func TestSecretsRedacted(t *testing.T) {
	secrets := map[string]string{
		"API_TOKEN":      "tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0XYZ",
		"DB_PASSWORD":    "db-pw-S3cr3t",
		"REDIS_PASSWORD": "redis-pw-S3cr3t",
		"DISCOVERY_KEY":  "disc-key-S3cr3t",
		"GODOT_ENV":      "production",
	}
	c := mustLoad(t, secrets, Flags{})
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var logText, logJSON bytes.Buffer
	NewLogger(slog.LevelInfo, "development", &logText).Info("config", "cfg", c, "db", c.Database, "token", c.APIToken)
	NewLogger(slog.LevelInfo, "production", &logJSON).Info("config", "cfg", c, "db", c.Database, "token", c.APIToken)
	outputs := map[string]string{
		"json":     string(js),
		"Sprint":   fmt.Sprint(c.APIToken, c.Database.Password),
		"slog txt": logText.String(),
		"slog js":  logJSON.String(),
	}
	// Every verb, on the whole Config, a section and the secret itself
	// (vet rightly objects to some of these, hence the variable format).
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q", "%T%v"} {
		for name, v := range map[string]any{"cfg": c, "*cfg": *c, "db": c.Database, "cache": c.Cache, "token": c.APIToken, "disc": c.Networking.Discovery} {
			outputs[verb+" "+name] = fmt.Sprintf(verb, v)
		}
	}
	for name, out := range outputs {
		for k, s := range secrets {
			if k != "GODOT_ENV" && strings.Contains(out, s) {
				t.Errorf("%s output reveals %s: %s", name, k, out)
			}
		}
	}
	if !strings.Contains(string(js), `"api_token":"[redacted]"`) {
		t.Errorf("JSON does not show the redacted token: %s", js)
	}
	if got := c.APIToken.Reveal(); got != secrets["API_TOKEN"] {
		t.Errorf("Reveal() = %q, want the token", got)
	}
	var unset Secret
	if unset.IsSet() || unset.String() != "" || unset.Reveal() != "" {
		t.Errorf("zero Secret = %q set=%v, want unset and empty", unset.String(), unset.IsSet())
	}
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		env  string
		json bool
	}{
		{"production", true}, {"staging", true}, {"development", false}, {"test", false},
	}
	for _, tc := range tests {
		t.Run(tc.env, func(t *testing.T) {
			var buf bytes.Buffer
			log := NewLogger(slog.LevelWarn, tc.env, &buf)
			log.Info("hidden")
			log.Warn("shown", "k", 1)
			out := buf.String()
			if strings.Contains(out, "hidden") || !strings.Contains(out, "shown") {
				t.Errorf("level filtering wrong: %q", out)
			}
			var m map[string]any
			isJSON := json.Unmarshal(buf.Bytes(), &m) == nil
			if isJSON != tc.json {
				t.Errorf("JSON = %v, want %v: %q", isJSON, tc.json, out)
			}
		})
	}
	// logging.format overrides the environment's choice.
	c := Defaults()
	c.Environment = EnvProduction
	c.Logging.Format = "text"
	var buf bytes.Buffer
	c.Logger(&buf).Info("x")
	if strings.HasPrefix(buf.String(), "{") {
		t.Errorf("format text ignored: %q", buf.String())
	}
}

func TestParseEnvironment(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "development", true},
		{"production", "production", true},
		{"PRODUCTION", "production", true},
		{"test", "test", true},
		{"prod", "", false},
		{"dev", "", false},
		{"production;rm", "", false},
	}
	for _, tc := range tests {
		got, err := ParseEnvironment(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseEnvironment(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestSourcesLookup(t *testing.T) {
	s := Sources{
		"networking.http.cors_allowed_origins": {Origin: "f.json", Key: "networking.http.cors_allowed_origins"},
		"security.rate_limiting":               {Origin: "s.json", Key: "rate_limiting"},
	}
	tests := []struct {
		path string
		want Source
		ok   bool
	}{
		{"networking.http.cors_allowed_origins[2]", Source{"f.json", "networking.http.cors_allowed_origins[2]"}, true},
		{"security.rate_limiting.per_endpoint_limits./x", Source{"s.json", "rate_limiting.per_endpoint_limits./x"}, true},
		{"logging.level", Source{}, false},
	}
	for _, tc := range tests {
		got, ok := s.Lookup(tc.path)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v, %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
}
