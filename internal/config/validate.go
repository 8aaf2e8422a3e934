package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/spacetime-vr/spacetime/internal/whitelist"
)

// MinProductionTokenLen is the shortest API_TOKEN accepted in production
// and staging (openssl rand -base64 32 gives 44 characters).
const MinProductionTokenLen = 32

// Validate checks every value and every cross-field rule and reports all
// problems at once, each as a *FieldError naming the file, variable or flag
// that set the value and its key path, e.g.
//
//	config/production.json: performance.godot.physics_fps: 0 out of range [1, 1000]
func (c *Config) Validate() error {
	v := &validator{c: c}

	if !slices.Contains(Environments(), c.Environment) {
		v.add("environment", fmt.Sprintf("%q is not one of %s", c.Environment, strings.Join(Environments(), ", ")))
	}
	prod := c.Environment == EnvProduction
	hardened := prod || c.Environment == EnvStaging

	// runtime
	r := c.Runtime
	if _, err := whitelist.Canonicalize(r.Scene); err != nil {
		v.add("runtime.scene", strings.TrimPrefix(err.Error(), "whitelist: "))
	}
	v.nonEmpty("runtime.data_dir", r.DataDir)

	// security
	a := c.Security.Authentication
	if prod && !a.Enabled {
		v.add("security.authentication.enabled", "authentication cannot be disabled in production")
	}
	v.intRange("security.authentication.token_rotation_interval_hours", a.TokenRotationIntervalHours, 1, 8760)
	v.intRange("security.authentication.session_timeout_minutes", a.SessionTimeoutMinutes, 1, 43200)
	v.intRange("security.authentication.max_concurrent_sessions", a.MaxConcurrentSessions, 1, 10000)
	v.intRange("security.authentication.access_token_ttl_minutes", a.AccessTokenTTLMinutes, 1, 1440)
	v.intRange("security.authentication.refresh_token_ttl_hours", a.RefreshTokenTTLHours, 1, 8760)
	v.nonEmpty("security.authentication.issuer", a.Issuer)
	v.nonEmpty("security.authentication.audience", a.Audience)

	rl := c.Security.RateLimiting
	v.intRange("security.rate_limiting.global_requests_per_minute", rl.GlobalRequestsPerMinute, 1, 10_000_000)
	for _, ep := range sortedKeys(rl.PerEndpointLimits) {
		key := "security.rate_limiting.per_endpoint_limits." + ep
		if !strings.HasPrefix(ep, "/") || strings.ContainsFunc(ep, isSpaceOrControl) {
			v.add(key, fmt.Sprintf("endpoint %q must be a path starting with /", ep))
		}
		v.intRange(key, rl.PerEndpointLimits[ep], 0, 10_000_000)
	}
	v.floatRange("security.rate_limiting.burst_multiplier", rl.BurstMultiplier, 1, 100)
	v.intRange("security.rate_limiting.ban_duration_minutes", rl.BanDurationMinutes, 0, 525600)
	v.intRange("security.rate_limiting.ban_after_violations", rl.BanAfterViolations, 1, 1_000_000)

	az := c.Security.Authorization
	v.oneOf("security.authorization.default_role", az.DefaultRole, RoleGuest, RoleReadonly, RoleDeveloper, RoleAdmin)

	au := c.Security.Audit
	if au.Enabled {
		v.fileName("security.audit.file", au.File)
	}
	v.intRange("security.audit.retention_days", au.RetentionDays, 1, 36500)

	// networking
	h := c.Networking.HTTP
	v.bindAddress("networking.http.bind_address", h.BindAddress)
	v.intRange("networking.http.port", h.Port, 0, 65535)
	v.intRange("networking.http.read_header_timeout_seconds", h.ReadHeaderTimeoutSeconds, 1, 300)
	v.intRange("networking.http.read_timeout_seconds", h.ReadTimeoutSeconds, 1, 3600)
	v.intRange("networking.http.write_timeout_seconds", h.WriteTimeoutSeconds, 1, 3600)
	v.intRange("networking.http.idle_timeout_seconds", h.IdleTimeoutSeconds, 1, 3600)
	v.intRange("networking.http.shutdown_timeout_seconds", h.ShutdownTimeoutSeconds, 1, 600)
	if h.ReadHeaderTimeoutSeconds > h.ReadTimeoutSeconds && h.ReadTimeoutSeconds > 0 {
		v.add("networking.http.read_header_timeout_seconds", fmt.Sprintf("%d exceeds read_timeout_seconds (%d)", h.ReadHeaderTimeoutSeconds, h.ReadTimeoutSeconds))
	}
	if sl := c.Performance.Timeouts.SceneLoadTimeoutSeconds; h.WriteTimeoutSeconds <= sl {
		v.add("networking.http.write_timeout_seconds", fmt.Sprintf("%d must exceed performance.timeouts.scene_load_timeout_seconds (%d), or scene loads are cut off", h.WriteTimeoutSeconds, sl))
	}
	v.int64Range("networking.http.max_body_bytes", h.MaxBodyBytes, 1024, 1<<30)
	v.intRange("networking.http.max_header_bytes", h.MaxHeaderBytes, 4096, 1<<20)
	for i, o := range h.CORSAllowedOrigins {
		v.origin(fmt.Sprintf("networking.http.cors_allowed_origins[%d]", i), o, prod)
	}
	for i, p := range h.TrustedProxies {
		key := fmt.Sprintf("networking.http.trusted_proxies[%d]", i)
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				v.add(key, fmt.Sprintf("%q is neither an IP nor a CIDR", p))
			}
		}
	}
	if (h.TLS.CertFile == "") != (h.TLS.KeyFile == "") {
		v.add("networking.http.tls", "cert_file and key_file must be set together")
	}

	t := c.Networking.Telemetry
	v.bindAddress("networking.telemetry.bind_address", t.BindAddress)
	v.intRange("networking.telemetry.port", t.Port, 0, 65535)
	v.intRange("networking.telemetry.max_subscribers", t.MaxSubscribers, 1, 100_000)
	v.intRange("networking.telemetry.send_queue_frames", t.SendQueueFrames, 1, 4096)
	v.intRange("networking.telemetry.write_timeout_seconds", t.WriteTimeoutSeconds, 1, 300)
	if t.Enabled && t.Port != 0 && t.Port == h.Port && sameBind(t.BindAddress, h.BindAddress) {
		v.add("networking.telemetry.port", fmt.Sprintf("%d is also networking.http.port", t.Port))
	}

	d := c.Networking.Discovery
	if net.ParseIP(d.Address) == nil {
		v.add("networking.discovery.address", fmt.Sprintf("%q is not an IP address", d.Address))
	}
	v.intRange("networking.discovery.port", d.Port, 1, 65535)
	v.intRange("networking.discovery.interval_seconds", d.IntervalSeconds, 1, 3600)

	// database
	db := c.Database
	if db.Host != "" {
		v.nonEmpty("database.name", db.Name)
		v.nonEmpty("database.user", db.User)
	}
	v.intRange("database.port", db.Port, 1, 65535)
	v.oneOf("database.sslmode", db.SSLMode, "disable", "allow", "prefer", "require", "verify-ca", "verify-full")
	v.intRange("database.max_open_conns", db.MaxOpenConns, 1, 1000)
	v.intRange("database.connect_timeout_seconds", db.ConnectTimeoutSeconds, 1, 300)
	v.fileName("database.sqlite_file", db.SQLiteFile)

	// cache
	ca := c.Cache
	v.intRange("cache.port", ca.Port, 1, 65535)
	v.intRange("cache.db", ca.DB, 0, 15)
	v.intRange("cache.pool_size", ca.PoolSize, 1, 10_000)
	v.intRange("cache.dial_timeout_seconds", ca.DialTimeoutSeconds, 1, 300)

	// monitoring
	m := c.Monitoring
	if !strings.HasPrefix(m.MetricsPath, "/") || strings.ContainsFunc(m.MetricsPath, isSpaceOrControl) {
		v.add("monitoring.metrics_path", fmt.Sprintf("%q must be a path starting with /", m.MetricsPath))
	}
	v.intRange("monitoring.health_check_interval_seconds", m.HealthCheckIntervalSeconds, 1, 86400)
	al := m.Alerts
	v.floatRange("monitoring.alerts.min_fps", al.MinFPS, 1, 1000)
	v.intRange("monitoring.alerts.max_memory_mb", al.MaxMemoryMB, 1, 1<<24)
	v.intRange("monitoring.alerts.max_request_latency_ms", al.MaxRequestLatencyMS, 1, 600_000)
	v.intRange("monitoring.alerts.max_scene_load_errors_per_5m", al.MaxSceneLoadErrorsPer5Min, 1, 1_000_000)
	v.intRange("monitoring.alerts.max_rate_limit_violations_per_hour", al.MaxRateLimitViolationsPerHour, 1, 1_000_000)
	v.intRange("monitoring.alerts.max_telemetry_disconnects_per_hour", al.MaxTelemetryDisconnectsPerHour, 1, 1_000_000)

	// logging
	lg := c.Logging
	if _, err := ParseLogLevel(lg.Level.String()); err != nil {
		v.add("logging.level", err.Error())
	}
	v.oneOf("logging.format", lg.Format, "auto", "json", "text")
	v.nonEmpty("logging.directory", lg.Directory)
	if lg.FileEnabled {
		v.fileName("logging.file_name", lg.FileName)
	}
	v.intRange("logging.rotation.max_size_mb", lg.Rotation.MaxSizeMB, 1, 100_000)
	v.intRange("logging.rotation.max_backups", lg.Rotation.MaxBackups, 0, 10_000)
	v.intRange("logging.rotation.max_age_days", lg.Rotation.MaxAgeDays, 0, 36500)

	// performance
	g := c.Performance.Godot
	v.intRange("performance.godot.target_fps", g.TargetFPS, 1, 1000)
	v.intRange("performance.godot.physics_fps", g.PhysicsFPS, 1, 1000)
	v.oneOf("performance.godot.msaa", g.MSAA, "disabled", "2x", "4x", "8x")
	o := c.Performance.Optimization
	v.floatRange("performance.optimization.min_fps_threshold", o.MinFPSThreshold, 1, float64(max(g.TargetFPS, 1)))
	v.intRange("performance.optimization.quality_adjustment_interval_seconds", o.QualityAdjustmentIntervalSeconds, 1, 3600)
	v.intRange("performance.timeouts.scene_load_timeout_seconds", c.Performance.Timeouts.SceneLoadTimeoutSeconds, 1, 600)
	v.intRange("performance.simulation.workers", c.Performance.Simulation.Workers, 0, 1024)
	v.intRange("performance.simulation.max_sub_steps", c.Performance.Simulation.MaxSubSteps, 0, 100_000)

	// feature flags
	if c.FeatureFlags.DevTokenOnStatus && c.Environment != EnvDevelopment {
		v.add("feature_flags.dev_token_on_status", "allowed only in development")
	}

	// secrets
	if tok := c.APIToken.Reveal(); tok != "" {
		if isPlaceholder(tok) {
			v.add("api_token", "is a template placeholder: generate one with openssl rand -base64 32")
		} else if hardened && len(tok) < MinProductionTokenLen {
			v.add("api_token", fmt.Sprintf("shorter than %d characters in %s", MinProductionTokenLen, c.Environment))
		}
	}
	for key, s := range map[string]Secret{
		"database.password":        c.Database.Password,
		"cache.password":           c.Cache.Password,
		"networking.discovery.key": c.Networking.Discovery.Key,
	} {
		if isPlaceholder(s.Reveal()) {
			v.add(key, "is a template placeholder")
		}
	}

	return v.err()
}

type validator struct {
	c    *Config
	errs []*FieldError
}

// fieldError ties msg to the full key path, naming where the value came from.
func (c *Config) fieldError(key, msg string) *FieldError {
	fe := &FieldError{Key: key, Msg: msg, fullKey: key}
	if src, ok := c.Sources.Lookup(key); ok {
		fe.Origin, fe.Key = src.Origin, src.Key
	}
	return fe
}

func (v *validator) add(key, msg string) { v.errs = append(v.errs, v.c.fieldError(key, msg)) }

// err joins the problems in a stable order: by origin, then key.
func (v *validator) err() error {
	sort.SliceStable(v.errs, func(i, j int) bool {
		a, b := v.errs[i], v.errs[j]
		if a.Origin != b.Origin {
			return a.Origin < b.Origin
		}
		return a.Key < b.Key
	})
	errs := make([]error, len(v.errs))
	for i, e := range v.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

func (v *validator) intRange(key string, n, lo, hi int) {
	if n < lo || n > hi {
		v.add(key, fmt.Sprintf("%d out of range [%d, %d]", n, lo, hi))
	}
}

func (v *validator) int64Range(key string, n, lo, hi int64) {
	if n < lo || n > hi {
		v.add(key, fmt.Sprintf("%d out of range [%d, %d]", n, lo, hi))
	}
}

func (v *validator) floatRange(key string, f, lo, hi float64) {
	if !(f >= lo && f <= hi) {
		v.add(key, fmt.Sprintf("%g out of range [%g, %g]", f, lo, hi))
	}
}

func (v *validator) oneOf(key, s string, allowed ...string) {
	if !slices.Contains(allowed, s) {
		v.add(key, fmt.Sprintf("%q is not one of %s", s, strings.Join(allowed, ", ")))
	}
}

func (v *validator) nonEmpty(key, s string) {
	if strings.TrimSpace(s) == "" {
		v.add(key, "must not be empty")
	}
}

// fileName accepts a plain relative file name: no directory part.
func (v *validator) fileName(key, s string) {
	if s == "" || s == "." || s == ".." || strings.ContainsAny(s, `/\`) || strings.ContainsFunc(s, isSpaceOrControl) || filepath.IsAbs(s) {
		v.add(key, fmt.Sprintf("%q must be a plain file name", s))
	}
}

func (v *validator) bindAddress(key, s string) {
	if s != "" && s != "localhost" && net.ParseIP(s) == nil {
		v.add(key, fmt.Sprintf("%q is not an IP address, localhost or empty (all interfaces)", s))
	}
}

func (v *validator) origin(key, s string, prod bool) {
	if s == "*" {
		if prod {
			v.add(key, `"*" is not allowed in production`)
		}
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		v.add(key, fmt.Sprintf("%q is not an origin like https://example.com[:port]", s))
	}
}

func sameBind(a, b string) bool {
	unspecified := func(s string) bool { return s == "" || s == "0.0.0.0" || s == "::" }
	return a == b || unspecified(a) || unspecified(b)
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// isPlaceholder reports whether s looks like a template value the guide's
// manifests ship with; such secrets are refused in every environment.
func isPlaceholder(s string) bool {
	u := strings.ToUpper(s)
	for _, p := range []string{"REPLACE_WITH", "CHANGEME", "CHANGE_ME", "<SECRET>"} {
		if strings.Contains(u, p) {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
