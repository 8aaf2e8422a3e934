package config

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	configfiles "github.com/spacetime-vr/spacetime/config"
	"github.com/spacetime-vr/spacetime/internal/whitelist"
)

// EmbeddedDir is Config.ConfigDir when the files embedded in the binary
// were used.
const EmbeddedDir = "embedded"

// WhitelistFile is the name of the scene whitelist in a config directory.
const WhitelistFile = "scene_whitelist.json"

// Flags holds the serve command's configuration flags; an empty field means
// the flag was not given. The caller parses the command line (see Register).
type Flags struct {
	HTTPAddr      string // --http-addr host:port
	TelemetryAddr string // --telemetry-addr host:port
	DiscoveryAddr string // --discovery-addr host:port or "off"
	Project       string // --project DIR ("" = embedded sample)
	ConfigDir     string // --config-dir DIR
	DataDir       string // --data-dir DIR
	LogDir        string // --log-dir DIR
	Scene         string // --scene res://...
	TLSCert       string // --tls-cert FILE (PEM)
	TLSKey        string // --tls-key FILE (PEM)
}

// Register defines the flags on fs, bound to f. Defaults are documented in
// the usage text and applied by Load, so an unset flag never overrides a
// file or variable.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.HTTPAddr, "http-addr", "", "HTTP API listen `host:port` (default from config: 127.0.0.1:8080)")
	fs.StringVar(&f.TelemetryAddr, "telemetry-addr", "", "telemetry and /metrics listen `host:port` (default from config: 127.0.0.1:8081)")
	fs.StringVar(&f.DiscoveryAddr, "discovery-addr", "", "discovery beacon destination `host:port`, or off (default from config: 255.255.255.255:8087)")
	fs.StringVar(&f.Project, "project", "", "project `dir` that res:// names (default: the embedded sample project)")
	fs.StringVar(&f.ConfigDir, "config-dir", "", "config `dir` (default: ./config if it exists, else the embedded files)")
	fs.StringVar(&f.DataDir, "data-dir", "", "data `dir` for the store and generated secrets (default from config: data)")
	fs.StringVar(&f.LogDir, "log-dir", "", "log `dir` for log files and the audit log (default from config: logs)")
	fs.StringVar(&f.Scene, "scene", "", "scene loaded at start (default from config: res://vr_main.tscn)")
	fs.StringVar(&f.TLSCert, "tls-cert", "", "serve the HTTP API over TLS with this PEM certificate `file` (with --tls-key)")
	fs.StringVar(&f.TLSKey, "tls-key", "", "PEM private key `file` of --tls-cert")
}

// Options are Load's inputs.
type Options struct {
	// Getenv reads environment variables (os.Getenv in main, a map in
	// tests); nil reads none.
	Getenv func(string) string
	// Flags are the parsed flag values.
	Flags Flags
	// Embedded is the fallback config directory; nil means the files
	// shipped in the binary (configfiles.FS).
	Embedded fs.FS
	// WorkDir is where "./config" is looked for when Flags.ConfigDir is
	// empty; "" means the current directory.
	WorkDir string
}

// ParseEnvironment validates a GODOT_ENV value: production, staging,
// development or test, in any case, surrounding spaces ignored; "" means
// development.
func ParseEnvironment(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	if e == "" {
		return EnvDevelopment, nil
	}
	for _, v := range Environments() {
		if e == v {
			return e, nil
		}
	}
	return "", fmt.Errorf("invalid environment %q: want production, staging, development or test", s)
}

// Load builds the Config: Defaults, then <env>.json (required),
// security_<env>.json and performance_<env>.json (optional), then the
// environment, then opts.Flags; then validates it and compiles the scene
// whitelist of the environment (scene_whitelist.json, required), checking
// that runtime.scene passes it. Every problem found is reported in one
// error (see FieldError); the Config is returned only when there is none.
//
// The config directory is Flags.ConfigDir when given, else ./config when
// it exists, else the embedded files.
func Load(opts Options) (*Config, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	env, err := ParseEnvironment(getenv("GODOT_ENV"))
	if err != nil {
		return nil, &FieldError{Origin: "env GODOT_ENV", Msg: err.Error()}
	}
	c := Defaults()
	c.Environment = env
	if getenv("GODOT_ENV") != "" {
		c.Sources["environment"] = Source{Origin: "env GODOT_ENV", Key: "environment"}
	}

	fsys, dir, err := configDir(opts)
	if err != nil {
		return nil, err
	}
	c.ConfigDir = dir
	var errs []error
	files := []struct {
		name     string
		prefix   string
		dst      any
		required bool
	}{
		{env + ".json", "", c, true},
		{"security_" + env + ".json", "security", &c.Security, false},
		{"performance_" + env + ".json", "performance", &c.Performance, false},
	}
	for _, f := range files {
		origin := displayName(dir, f.name)
		data, err := fs.ReadFile(fsys, f.name)
		if errors.Is(err, fs.ErrNotExist) && !f.required {
			continue
		}
		if err != nil {
			errs = append(errs, &FieldError{Origin: origin, Msg: readError(err)})
			continue
		}
		obj, err := parseJSON(data, origin)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, decodeInto(obj, f.dst, origin, f.prefix, c.Sources))
	}
	wlOrigin := displayName(dir, WhitelistFile)
	wlData, err := fs.ReadFile(fsys, WhitelistFile)
	if err != nil {
		errs = append(errs, &FieldError{Origin: wlOrigin, Msg: readError(err)})
	}

	errs = append(errs, applyEnv(c, getenv), applyFlags(c, opts.Flags))
	verr := c.Validate()
	errs = append(errs, verr)

	if wlData != nil {
		wl, err := whitelist.New(wlData, env)
		if err != nil {
			errs = append(errs, &FieldError{Origin: wlOrigin, Msg: err.Error()})
		} else {
			c.SceneWhitelist = wl
			if verr == nil || !hasKeyError(verr, "runtime.scene") {
				if _, err := wl.Check(c.Runtime.Scene); err != nil {
					errs = append(errs, c.fieldError("runtime.scene", err.Error()))
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// hasKeyError reports whether a joined validation error has a problem with
// the full key path key.
func hasKeyError(err error, key string) bool {
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return false
	}
	for _, e := range joined.Unwrap() {
		var fe *FieldError
		if errors.As(e, &fe) && fe.fullKey == key {
			return true
		}
	}
	return false
}

func readError(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "missing"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// configDir picks the config directory and the name shown for it.
func configDir(opts Options) (fs.FS, string, error) {
	if d := opts.Flags.ConfigDir; d != "" {
		st, err := os.Stat(d)
		if err != nil {
			return nil, "", &FieldError{Origin: "flag --config-dir", Msg: err.Error()}
		}
		if !st.IsDir() {
			return nil, "", &FieldError{Origin: "flag --config-dir", Msg: d + " is not a directory"}
		}
		return os.DirFS(d), d, nil
	}
	work := opts.WorkDir
	if work == "" {
		work = "."
	}
	d := filepath.Join(work, "config")
	if st, err := os.Stat(d); err == nil && st.IsDir() {
		return os.DirFS(d), d, nil
	}
	if opts.Embedded != nil {
		return opts.Embedded, EmbeddedDir, nil
	}
	return configfiles.FS, EmbeddedDir, nil
}

// displayName is how a file is named in errors and Sources.
func displayName(dir, name string) string {
	if dir == EmbeddedDir {
		return "embedded:" + path.Join("config", name)
	}
	return filepath.Join(dir, name)
}

// EnvVars returns the names of every environment variable Load reads,
// sorted: GODOT_ENV and the ones applyEnv maps onto the Config. Deployment
// manifests may set only these (a test in deploy checks); a test here
// checks the list against what Load really asks for.
func EnvVars() []string {
	return []string{
		"API_TOKEN",
		"DB_HOST",
		"DB_NAME",
		"DB_PASSWORD",
		"DB_PORT",
		"DB_SSLMODE",
		"DB_USER",
		"DISCOVERY_KEY",
		"GODOT_ENABLE_HTTP_API",
		"GODOT_ENV",
		"GODOT_LOG_LEVEL",
		"REDIS_DB",
		"REDIS_HOST",
		"REDIS_PASSWORD",
		"REDIS_PORT",
	}
}

// applyEnv applies the environment variables the guide defines (plus
// DISCOVERY_KEY). Empty values count as unset. EnvVars lists them.
func applyEnv(c *Config, getenv func(string) string) error {
	var errs []error
	set := func(name, key string, apply func(v string) error) {
		v := getenv(name)
		if v == "" {
			return
		}
		origin := "env " + name
		if err := apply(v); err != nil {
			errs = append(errs, &FieldError{Origin: origin, Key: key, Msg: err.Error(), fullKey: key})
			return
		}
		c.Sources[key] = Source{Origin: origin, Key: key}
	}
	str := func(dst *string) func(string) error {
		return func(v string) error { *dst = strings.TrimSpace(v); return nil }
	}
	secret := func(dst *Secret) func(string) error {
		return func(v string) error { *dst = NewSecret(v); return nil }
	}
	integer := func(dst *int) func(string) error {
		return func(v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("want integer, got %q", v)
			}
			*dst = n
			return nil
		}
	}

	set("GODOT_LOG_LEVEL", "logging.level", func(v string) error {
		l, err := ParseLogLevel(v)
		if err == nil {
			c.Logging.Level = LogLevel(l)
		}
		return err
	})
	set("GODOT_ENABLE_HTTP_API", "http_api_env", func(v string) error {
		b, err := parseBool(v)
		if err == nil {
			c.HTTPAPIEnv = &b
		}
		return err
	})
	set("API_TOKEN", "api_token", secret(&c.APIToken))
	set("DB_HOST", "database.host", str(&c.Database.Host))
	set("DB_PORT", "database.port", integer(&c.Database.Port))
	set("DB_NAME", "database.name", str(&c.Database.Name))
	set("DB_USER", "database.user", str(&c.Database.User))
	set("DB_PASSWORD", "database.password", secret(&c.Database.Password))
	set("DB_SSLMODE", "database.sslmode", str(&c.Database.SSLMode))
	set("REDIS_HOST", "cache.host", str(&c.Cache.Host))
	set("REDIS_PORT", "cache.port", integer(&c.Cache.Port))
	set("REDIS_PASSWORD", "cache.password", secret(&c.Cache.Password))
	set("REDIS_DB", "cache.db", integer(&c.Cache.DB))
	set("DISCOVERY_KEY", "networking.discovery.key", secret(&c.Networking.Discovery.Key))
	return errors.Join(errs...)
}

// parseBool accepts true/false, 1/0, yes/no, on/off in any case.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on", "t", "y":
		return true, nil
	case "false", "0", "no", "off", "f", "n":
		return false, nil
	}
	return false, fmt.Errorf("want a boolean (true/false), got %q", v)
}

// applyFlags applies the serve flags; they win over everything.
func applyFlags(c *Config, f Flags) error {
	var errs []error
	mark := func(flagName string, keys ...string) {
		for _, k := range keys {
			c.Sources[k] = Source{Origin: "flag --" + flagName, Key: k}
		}
	}
	addr := func(flagName, v, hostKey, portKey string, host *string, port *int) bool {
		h, p, err := splitAddr(v)
		if err != nil {
			errs = append(errs, &FieldError{Origin: "flag --" + flagName, Msg: err.Error()})
			return false
		}
		*host, *port = h, p
		mark(flagName, hostKey, portKey)
		return true
	}
	if v := f.HTTPAddr; v != "" {
		h := &c.Networking.HTTP
		addr("http-addr", v, "networking.http.bind_address", "networking.http.port", &h.BindAddress, &h.Port)
	}
	if v := f.TelemetryAddr; v != "" {
		t := &c.Networking.Telemetry
		addr("telemetry-addr", v, "networking.telemetry.bind_address", "networking.telemetry.port", &t.BindAddress, &t.Port)
	}
	if v := f.DiscoveryAddr; v != "" {
		d := &c.Networking.Discovery
		if strings.EqualFold(strings.TrimSpace(v), "off") {
			d.Enabled = false
			mark("discovery-addr", "networking.discovery.enabled")
		} else if addr("discovery-addr", v, "networking.discovery.address", "networking.discovery.port", &d.Address, &d.Port) {
			d.Enabled = true
			mark("discovery-addr", "networking.discovery.enabled")
		}
	}
	str := func(flagName, v, key string, dst *string) {
		if v != "" {
			*dst = v
			mark(flagName, key)
		}
	}
	str("project", f.Project, "runtime.project", &c.Runtime.Project)
	str("data-dir", f.DataDir, "runtime.data_dir", &c.Runtime.DataDir)
	str("log-dir", f.LogDir, "logging.directory", &c.Logging.Directory)
	str("scene", f.Scene, "runtime.scene", &c.Runtime.Scene)
	str("tls-cert", f.TLSCert, "networking.http.tls.cert_file", &c.Networking.HTTP.TLS.CertFile)
	str("tls-key", f.TLSKey, "networking.http.tls.key_file", &c.Networking.HTTP.TLS.KeyFile)
	return errors.Join(errs...)
}

// splitAddr splits host:port with a numeric port.
func splitAddr(v string) (string, int, error) {
	h, p, err := net.SplitHostPort(strings.TrimSpace(v))
	if err != nil {
		return "", 0, fmt.Errorf("want host:port, got %q", v)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("want a numeric port in %q", v)
	}
	return h, n, nil
}
