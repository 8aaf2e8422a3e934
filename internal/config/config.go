// Package config turns defaults, the JSON files of a config directory, the
// environment and command-line flags into one validated Config.
//
// Precedence, lowest first: Defaults; config/<env>.json; then
// security_<env>.json (overlaying the security section) and
// performance_<env>.json (overlaying the performance section) when present;
// then environment variables; then flags. Files are decoded strictly:
// unknown keys, duplicate keys, wrong types and out-of-range values stop the
// start with errors that name the file and the key path, all reported at
// once. Secrets (API_TOKEN, DB_PASSWORD, REDIS_PASSWORD, DISCOVERY_KEY) are
// read only from the environment and never printed.
package config

import (
	"net"
	"strconv"
	"time"

	"github.com/spacetime-vr/spacetime/internal/whitelist"
)

// The environments GODOT_ENV may name.
const (
	EnvProduction  = "production"
	EnvStaging     = "staging"
	EnvDevelopment = "development"
	EnvTest        = "test"
)

// The roles of authorization.default_role, least privileged first.
const (
	RoleGuest     = "guest"
	RoleReadonly  = "readonly"
	RoleDeveloper = "developer"
	RoleAdmin     = "admin"
)

// Environments returns the valid environment names.
func Environments() []string {
	return []string{EnvProduction, EnvStaging, EnvDevelopment, EnvTest}
}

// Config is the whole validated configuration of a spacetime process.
// Fields tagged file:"-" cannot be set from files; Secret fields come only
// from the environment variable named by their env tag.
type Config struct {
	// Environment is production, staging, development or test (GODOT_ENV).
	Environment string `json:"environment" file:"-"`
	// ConfigDir is where the files came from: a directory, or "embedded".
	ConfigDir string `json:"config_dir" file:"-"`

	Runtime      Runtime      `json:"runtime"`
	Security     Security     `json:"security"`
	Networking   Networking   `json:"networking"`
	Database     Database     `json:"database"`
	Cache        Cache        `json:"cache"`
	Monitoring   Monitoring   `json:"monitoring"`
	Logging      Logging      `json:"logging"`
	Performance  Performance  `json:"performance"`
	FeatureFlags FeatureFlags `json:"feature_flags"`

	// APIToken is the bootstrap credential (API_TOKEN); unset means the
	// auth layer generates one.
	APIToken Secret `json:"api_token" env:"API_TOKEN"`
	// HTTPAPIEnv is GODOT_ENABLE_HTTP_API when set, else nil.
	// See HTTPAPIEnabled.
	HTTPAPIEnv *bool `json:"http_api_env,omitempty" file:"-"`

	// SceneWhitelist is the compiled scene_whitelist.json of Environment.
	// Load always sets it; Defaults leaves it nil.
	SceneWhitelist *whitelist.Whitelist `json:"-" file:"-"`
	// Sources records, per dotted key path, which file, variable or flag
	// set the value; keys absent from it hold defaults.
	Sources Sources `json:"-" file:"-"`
}

// HTTPAPIEnabled reports whether the HTTP API should start. A set
// GODOT_ENABLE_HTTP_API decides; otherwise release builds keep the API off
// (the guide's hardening) and other builds follow feature_flags.http_api.
func (c *Config) HTTPAPIEnabled(release bool) bool {
	if c.HTTPAPIEnv != nil {
		return *c.HTTPAPIEnv
	}
	return !release && c.FeatureFlags.HTTPAPI
}

// Runtime says what to run: the project, where to keep data and which
// scene to load at start.
type Runtime struct {
	// Project is the content root that res:// names; "" means the sample
	// project embedded in the binary (--project).
	Project string `json:"project"`
	// DataDir holds the SQLite store, generated secrets and state (--data-dir).
	DataDir string `json:"data_dir"`
	// Scene is loaded at start; it must pass the whitelist (--scene).
	Scene string `json:"scene"`
}

// Security holds authentication, rate limiting, authorization and audit;
// security_<env>.json overlays it.
type Security struct {
	Authentication Authentication `json:"authentication"`
	RateLimiting   RateLimiting   `json:"rate_limiting"`
	Authorization  Authorization  `json:"authorization"`
	Audit          Audit          `json:"audit"`
}

// Authentication configures JWTs, their signing-key rotation and sessions.
type Authentication struct {
	Enabled                    bool `json:"enabled"`
	TokenRotationEnabled       bool `json:"token_rotation_enabled"`
	TokenRotationIntervalHours int  `json:"token_rotation_interval_hours"`
	TokenRefreshEnabled        bool `json:"token_refresh_enabled"`
	RequireTokenHeader         bool `json:"require_token_header"`
	AllowLegacyTokens          bool `json:"allow_legacy_tokens"`
	// SessionTimeoutMinutes is the idle timeout of a session.
	SessionTimeoutMinutes int `json:"session_timeout_minutes"`
	// MaxConcurrentSessions is the per-principal session cap.
	MaxConcurrentSessions int `json:"max_concurrent_sessions"`
	// AccessTokenTTLMinutes is the lifetime of an access JWT.
	AccessTokenTTLMinutes int `json:"access_token_ttl_minutes"`
	// RefreshTokenTTLHours is the absolute lifetime of a refresh token.
	RefreshTokenTTLHours int `json:"refresh_token_ttl_hours"`
	// Issuer and Audience are the JWT iss and aud claims.
	Issuer   string `json:"issuer"`
	Audience string `json:"audience"`
}

// TokenRotationInterval returns TokenRotationIntervalHours as a duration.
func (a Authentication) TokenRotationInterval() time.Duration {
	return time.Duration(a.TokenRotationIntervalHours) * time.Hour
}

// SessionTimeout returns SessionTimeoutMinutes as a duration.
func (a Authentication) SessionTimeout() time.Duration {
	return time.Duration(a.SessionTimeoutMinutes) * time.Minute
}

// AccessTokenTTL returns AccessTokenTTLMinutes as a duration.
func (a Authentication) AccessTokenTTL() time.Duration {
	return time.Duration(a.AccessTokenTTLMinutes) * time.Minute
}

// RefreshTokenTTL returns RefreshTokenTTLHours as a duration.
func (a Authentication) RefreshTokenTTL() time.Duration {
	return time.Duration(a.RefreshTokenTTLHours) * time.Hour
}

// RateLimiting configures request limits and bans. A per-endpoint limit of
// 0 disables that route.
type RateLimiting struct {
	Enabled                 bool           `json:"enabled"`
	GlobalRequestsPerMinute int            `json:"global_requests_per_minute"`
	PerEndpointLimits       map[string]int `json:"per_endpoint_limits"`
	// BurstMultiplier sizes the bucket: burst = limit × multiplier (≥ 1).
	BurstMultiplier    float64 `json:"burst_multiplier"`
	BanDurationMinutes int     `json:"ban_duration_minutes"`
	// BanAfterViolations is how many refused requests within one ban
	// window earn a ban; BanDurationMinutes 0 disables bans.
	BanAfterViolations int `json:"ban_after_violations"`
}

// BanDuration returns BanDurationMinutes as a duration.
func (r RateLimiting) BanDuration() time.Duration {
	return time.Duration(r.BanDurationMinutes) * time.Minute
}

// Authorization configures role-based access control.
type Authorization struct {
	RBACEnabled bool `json:"rbac_enabled"`
	// DefaultRole is guest, readonly, developer or admin.
	DefaultRole            string `json:"default_role"`
	EnforcePermissions     bool   `json:"enforce_permissions"`
	RoleInheritanceEnabled bool   `json:"role_inheritance_enabled"`
}

// Audit configures the audit log of API requests.
type Audit struct {
	Enabled bool `json:"enabled"`
	// File is the audit log's name inside logging.directory.
	File          string `json:"file"`
	RetentionDays int    `json:"retention_days"`
}

// Networking holds the three listeners: HTTP API, telemetry, discovery.
type Networking struct {
	HTTP      HTTP      `json:"http"`
	Telemetry Telemetry `json:"telemetry"`
	Discovery Discovery `json:"discovery"`
}

// HTTP configures the API server.
type HTTP struct {
	// BindAddress is an IP, "localhost" or "" (all interfaces).
	BindAddress string `json:"bind_address"`
	// Port 0 picks a free port (tests).
	Port                     int   `json:"port"`
	ReadHeaderTimeoutSeconds int   `json:"read_header_timeout_seconds"`
	ReadTimeoutSeconds       int   `json:"read_timeout_seconds"`
	WriteTimeoutSeconds      int   `json:"write_timeout_seconds"`
	IdleTimeoutSeconds       int   `json:"idle_timeout_seconds"`
	ShutdownTimeoutSeconds   int   `json:"shutdown_timeout_seconds"`
	MaxBodyBytes             int64 `json:"max_body_bytes"`
	MaxHeaderBytes           int   `json:"max_header_bytes"`
	// CORSAllowedOrigins lists origins ("https://host[:port]"); empty
	// means no cross-origin access.
	CORSAllowedOrigins []string `json:"cors_allowed_origins"`
	// TrustedProxies lists IPs or CIDRs whose X-Forwarded-For is believed.
	TrustedProxies []string `json:"trusted_proxies"`
	TLS            TLS      `json:"tls"`
}

// Addr returns the listen address host:port.
func (h HTTP) Addr() string { return net.JoinHostPort(h.BindAddress, strconv.Itoa(h.Port)) }

// ReadHeaderTimeout returns ReadHeaderTimeoutSeconds as a duration.
func (h HTTP) ReadHeaderTimeout() time.Duration { return seconds(h.ReadHeaderTimeoutSeconds) }

// ReadTimeout returns ReadTimeoutSeconds as a duration.
func (h HTTP) ReadTimeout() time.Duration { return seconds(h.ReadTimeoutSeconds) }

// WriteTimeout returns WriteTimeoutSeconds as a duration.
func (h HTTP) WriteTimeout() time.Duration { return seconds(h.WriteTimeoutSeconds) }

// IdleTimeout returns IdleTimeoutSeconds as a duration.
func (h HTTP) IdleTimeout() time.Duration { return seconds(h.IdleTimeoutSeconds) }

// ShutdownTimeout returns ShutdownTimeoutSeconds as a duration.
func (h HTTP) ShutdownTimeout() time.Duration { return seconds(h.ShutdownTimeoutSeconds) }

// TLS names the certificate and key files; both empty means plain HTTP.
type TLS struct {
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
}

// Enabled reports whether TLS is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" }

// Telemetry configures the WebSocket stream and /metrics listener.
type Telemetry struct {
	Enabled     bool   `json:"enabled"`
	BindAddress string `json:"bind_address"`
	Port        int    `json:"port"`
	// MaxSubscribers caps concurrent WebSocket clients.
	MaxSubscribers int `json:"max_subscribers"`
	// SendQueueFrames is each subscriber's queue; a full queue drops the
	// slow consumer.
	SendQueueFrames     int `json:"send_queue_frames"`
	WriteTimeoutSeconds int `json:"write_timeout_seconds"`
}

// Addr returns the listen address host:port.
func (t Telemetry) Addr() string { return net.JoinHostPort(t.BindAddress, strconv.Itoa(t.Port)) }

// WriteTimeout returns WriteTimeoutSeconds as a duration.
func (t Telemetry) WriteTimeout() time.Duration { return seconds(t.WriteTimeoutSeconds) }

// Discovery configures the UDP beacon.
type Discovery struct {
	Enabled bool `json:"enabled"`
	// Address is the destination IP (broadcast by default).
	Address         string `json:"address"`
	Port            int    `json:"port"`
	IntervalSeconds int    `json:"interval_seconds"`
	// Key signs beacons (DISCOVERY_KEY); unset leaves the choice to the
	// discovery package.
	Key Secret `json:"key" env:"DISCOVERY_KEY"`
}

// Addr returns the destination address host:port.
func (d Discovery) Addr() string { return net.JoinHostPort(d.Address, strconv.Itoa(d.Port)) }

// Interval returns IntervalSeconds as a duration.
func (d Discovery) Interval() time.Duration { return seconds(d.IntervalSeconds) }

// Database configures the store: PostgreSQL when Host is set, else SQLite
// under the data directory.
type Database struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Name     string `json:"name"`
	User     string `json:"user"`
	Password Secret `json:"password" env:"DB_PASSWORD"`
	// SSLMode is a libpq sslmode: disable, allow, prefer, require,
	// verify-ca or verify-full.
	SSLMode               string `json:"sslmode"`
	MaxOpenConns          int    `json:"max_open_conns"`
	ConnectTimeoutSeconds int    `json:"connect_timeout_seconds"`
	// SQLiteFile is the SQLite database's name inside the data directory.
	SQLiteFile string `json:"sqlite_file"`
}

// Driver returns "postgres" when Host is set, else "sqlite".
func (d Database) Driver() string {
	if d.Host != "" {
		return "postgres"
	}
	return "sqlite"
}

// ConnectTimeout returns ConnectTimeoutSeconds as a duration.
func (d Database) ConnectTimeout() time.Duration { return seconds(d.ConnectTimeoutSeconds) }

// Cache configures Redis, used for limits, bans and revocations when Host
// is set; otherwise they stay in memory.
type Cache struct {
	Host               string `json:"host"`
	Port               int    `json:"port"`
	DB                 int    `json:"db"`
	Password           Secret `json:"password" env:"REDIS_PASSWORD"`
	KeyPrefix          string `json:"key_prefix"`
	PoolSize           int    `json:"pool_size"`
	DialTimeoutSeconds int    `json:"dial_timeout_seconds"`
}

// Enabled reports whether Redis is configured.
func (c Cache) Enabled() bool { return c.Host != "" }

// Addr returns host:port.
func (c Cache) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// DialTimeout returns DialTimeoutSeconds as a duration.
func (c Cache) DialTimeout() time.Duration { return seconds(c.DialTimeoutSeconds) }

// Monitoring configures metrics, profiling, health checks and the alert
// thresholds the health checks and shipped Prometheus rules use.
type Monitoring struct {
	// MetricsEnabled serves Prometheus metrics on the telemetry listener.
	MetricsEnabled bool   `json:"metrics_enabled"`
	MetricsPath    string `json:"metrics_path"`
	// PprofEnabled mounts net/http/pprof on the admin-only mux.
	PprofEnabled               bool   `json:"pprof_enabled"`
	HealthCheckIntervalSeconds int    `json:"health_check_interval_seconds"`
	Alerts                     Alerts `json:"alerts"`
}

// HealthCheckInterval returns HealthCheckIntervalSeconds as a duration.
func (m Monitoring) HealthCheckInterval() time.Duration {
	return seconds(m.HealthCheckIntervalSeconds)
}

// Alerts holds the guide's alert thresholds (section 8).
type Alerts struct {
	MinFPS                         float64 `json:"min_fps"`
	MaxMemoryMB                    int     `json:"max_memory_mb"`
	MaxRequestLatencyMS            int     `json:"max_request_latency_ms"`
	MaxSceneLoadErrorsPer5Min      int     `json:"max_scene_load_errors_per_5m"`
	MaxRateLimitViolationsPerHour  int     `json:"max_rate_limit_violations_per_hour"`
	MaxTelemetryDisconnectsPerHour int     `json:"max_telemetry_disconnects_per_hour"`
}

// Logging configures the process log.
type Logging struct {
	// Level is ERROR, WARN, INFO or DEBUG (GODOT_LOG_LEVEL).
	Level LogLevel `json:"level"`
	// Format is "json", "text" or "auto" (JSON in production and staging).
	Format string `json:"format"`
	// Directory holds log files and the audit log (--log-dir).
	Directory string `json:"directory"`
	// FileEnabled also writes the process log to Directory/FileName.
	FileEnabled bool     `json:"file_enabled"`
	FileName    string   `json:"file_name"`
	Rotation    Rotation `json:"rotation"`
}

// JSON reports whether the log should be JSON in environment env.
func (l Logging) JSON(env string) bool {
	switch l.Format {
	case "json":
		return true
	case "text":
		return false
	}
	return jsonEnv(env)
}

// Rotation configures log file rotation.
type Rotation struct {
	MaxSizeMB  int  `json:"max_size_mb"`
	MaxBackups int  `json:"max_backups"`
	MaxAgeDays int  `json:"max_age_days"`
	Compress   bool `json:"compress"`
}

// Performance holds frame rates, quality control, timeouts and simulation
// tuning; performance_<env>.json overlays it.
type Performance struct {
	Godot        Godot        `json:"godot"`
	Optimization Optimization `json:"optimization"`
	Timeouts     Timeouts     `json:"timeouts"`
	Simulation   Simulation   `json:"simulation"`
}

// Godot holds the guide's frame settings: TargetFPS is the rate published
// to clients, PhysicsFPS the engine's fixed tick rate. The rendering fields
// are passed to the WebXR client.
type Godot struct {
	TargetFPS    int    `json:"target_fps"`
	PhysicsFPS   int    `json:"physics_fps"`
	VsyncEnabled bool   `json:"vsync_enabled"`
	MSAA         string `json:"msaa"`
	FXAAEnabled  bool   `json:"fxaa_enabled"`
	TAAEnabled   bool   `json:"taa_enabled"`
}

// Optimization configures the dynamic quality controller.
type Optimization struct {
	DynamicQualityEnabled            bool    `json:"dynamic_quality_enabled"`
	MinFPSThreshold                  float64 `json:"min_fps_threshold"`
	QualityAdjustmentIntervalSeconds int     `json:"quality_adjustment_interval_seconds"`
	LODEnabled                       bool    `json:"lod_enabled"`
	OcclusionCullingEnabled          bool    `json:"occlusion_culling_enabled"`
}

// QualityAdjustmentInterval returns QualityAdjustmentIntervalSeconds as a duration.
func (o Optimization) QualityAdjustmentInterval() time.Duration {
	return seconds(o.QualityAdjustmentIntervalSeconds)
}

// Timeouts holds operation timeouts.
type Timeouts struct {
	SceneLoadTimeoutSeconds int `json:"scene_load_timeout_seconds"`
}

// SceneLoad returns SceneLoadTimeoutSeconds as a duration.
func (t Timeouts) SceneLoad() time.Duration { return seconds(t.SceneLoadTimeoutSeconds) }

// Simulation tunes the engine loop.
type Simulation struct {
	// Workers is the number of particle goroutines; 0 means one per CPU.
	Workers int `json:"workers"`
	// MaxSubSteps caps sub-steps per tick under time warp; 0 means the
	// engine's default.
	MaxSubSteps int `json:"max_sub_steps"`
}

// FeatureFlags switches optional features.
type FeatureFlags struct {
	// HTTPAPI enables the API in non-release builds (see HTTPAPIEnabled).
	HTTPAPI bool `json:"http_api"`
	// WebXRClient serves the embedded WebXR client.
	WebXRClient bool `json:"webxr_client"`
	// Dashboard serves the embedded operator dashboard.
	Dashboard bool `json:"dashboard"`
	// OpenAPIDocument serves /openapi.json.
	OpenAPIDocument bool `json:"openapi_document"`
	// DevTokenOnStatus adds a jwt_token to /status for loopback clients;
	// allowed only in development.
	DevTokenOnStatus bool `json:"dev_token_on_status"`
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

// jsonEnv reports whether env logs JSON by default.
func jsonEnv(env string) bool { return env == EnvProduction || env == EnvStaging }

// Defaults returns the built-in configuration: the development environment
// with the guide's ports and limits. Every file and variable layers on it.
func Defaults() *Config {
	return &Config{
		Environment: EnvDevelopment,
		ConfigDir:   "",
		Runtime: Runtime{
			Project: "",
			DataDir: "data",
			Scene:   "res://vr_main.tscn",
		},
		Security: Security{
			Authentication: Authentication{
				Enabled:                    true,
				TokenRotationEnabled:       true,
				TokenRotationIntervalHours: 72,
				TokenRefreshEnabled:        true,
				RequireTokenHeader:         true,
				AllowLegacyTokens:          false,
				SessionTimeoutMinutes:      120,
				MaxConcurrentSessions:      3,
				AccessTokenTTLMinutes:      15,
				RefreshTokenTTLHours:       24,
				Issuer:                     "spacetime",
				Audience:                   "spacetime-api",
			},
			RateLimiting: RateLimiting{
				Enabled:                 true,
				GlobalRequestsPerMinute: 300,
				PerEndpointLimits: map[string]int{
					"/scene":        10,
					"/scene/reload": 5,
					"/scene/load":   10,
					"/debug":        0,
					"/execute":      0,
					"/admin":        5,
					"/status":       100,
					"/health":       200,
				},
				BurstMultiplier:    1.2,
				BanDurationMinutes: 60,
				BanAfterViolations: 10,
			},
			Authorization: Authorization{
				RBACEnabled:            true,
				DefaultRole:            RoleReadonly,
				EnforcePermissions:     true,
				RoleInheritanceEnabled: true,
			},
			Audit: Audit{
				Enabled:       true,
				File:          "audit.log",
				RetentionDays: 90,
			},
		},
		Networking: Networking{
			HTTP: HTTP{
				BindAddress:              "127.0.0.1",
				Port:                     8080,
				ReadHeaderTimeoutSeconds: 5,
				ReadTimeoutSeconds:       15,
				WriteTimeoutSeconds:      120,
				IdleTimeoutSeconds:       120,
				ShutdownTimeoutSeconds:   15,
				MaxBodyBytes:             1 << 20,
				MaxHeaderBytes:           64 << 10,
				CORSAllowedOrigins:       []string{},
				TrustedProxies:           []string{},
			},
			Telemetry: Telemetry{
				Enabled:             true,
				BindAddress:         "127.0.0.1",
				Port:                8081,
				MaxSubscribers:      500,
				SendQueueFrames:     16,
				WriteTimeoutSeconds: 5,
			},
			Discovery: Discovery{
				Enabled:         true,
				Address:         "255.255.255.255",
				Port:            8087,
				IntervalSeconds: 2,
			},
		},
		Database: Database{
			Port:                  5432,
			Name:                  "spacetime",
			User:                  "spacetime",
			SSLMode:               "prefer",
			MaxOpenConns:          10,
			ConnectTimeoutSeconds: 5,
			SQLiteFile:            "spacetime.db",
		},
		Cache: Cache{
			Port:               6379,
			DB:                 0,
			KeyPrefix:          "spacetime:",
			PoolSize:           10,
			DialTimeoutSeconds: 2,
		},
		Monitoring: Monitoring{
			MetricsEnabled:             true,
			MetricsPath:                "/metrics",
			PprofEnabled:               false,
			HealthCheckIntervalSeconds: 60,
			Alerts: Alerts{
				MinFPS:                         85,
				MaxMemoryMB:                    12000,
				MaxRequestLatencyMS:            500,
				MaxSceneLoadErrorsPer5Min:      3,
				MaxRateLimitViolationsPerHour:  50,
				MaxTelemetryDisconnectsPerHour: 10,
			},
		},
		Logging: Logging{
			Level:       LogLevel(0), // INFO
			Format:      "auto",
			Directory:   "logs",
			FileEnabled: false,
			FileName:    "spacetime.log",
			Rotation: Rotation{
				MaxSizeMB:  100,
				MaxBackups: 10,
				MaxAgeDays: 30,
				Compress:   true,
			},
		},
		Performance: Performance{
			Godot: Godot{
				TargetFPS:    90,
				PhysicsFPS:   90,
				VsyncEnabled: true,
				MSAA:         "2x",
				FXAAEnabled:  true,
				TAAEnabled:   false,
			},
			Optimization: Optimization{
				DynamicQualityEnabled:            true,
				MinFPSThreshold:                  85,
				QualityAdjustmentIntervalSeconds: 10,
				LODEnabled:                       true,
				OcclusionCullingEnabled:          true,
			},
			Timeouts: Timeouts{SceneLoadTimeoutSeconds: 30},
		},
		FeatureFlags: FeatureFlags{
			HTTPAPI:         true,
			WebXRClient:     true,
			Dashboard:       true,
			OpenAPIDocument: true,
		},
		Sources: Sources{},
	}
}
