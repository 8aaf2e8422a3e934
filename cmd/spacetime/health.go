package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spacetime-vr/spacetime/internal/auth"
	"github.com/spacetime-vr/spacetime/internal/buildinfo"
	"github.com/spacetime-vr/spacetime/internal/config"
	"github.com/spacetime-vr/spacetime/internal/health"
)

// runHealth is `spacetime health`, the guide's system_health_check.py: it
// reads the configuration serve would read (same flags, files and
// variables), checks this binary, the server at --url and its telemetry
// port, the ports, the store, the backends, the whitelist, the running
// scene and the TLS material, and prints one [PASS]/[FAIL]/[WARN] line
// per check and the guide's summary (--json: a JSON document). It exits 1
// when a check fails; warnings do not fail.
func runHealth(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "health", "health [--url URL] [--telemetry-url URL] [--verbose] [--json] [--timeout D] [serve's config flags]")
	apiURL := fs.String("url", "", "API base `URL` to check (default: from the configuration's networking.http, http://127.0.0.1:8080)")
	telURL := fs.String("telemetry-url", "", "telemetry port base `URL` (default: from the configuration's networking.telemetry, http://127.0.0.1:8081)")
	verbose := fs.Bool("verbose", false, "print what each check looked at under it")
	asJSON := fs.Bool("json", false, "print the result as JSON (for CI/CD)")
	timeout := fs.Duration("timeout", health.DefaultTimeout, "how long each check may take")
	var flags config.Flags
	flags.Register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("health: unexpected arguments %q: %w", fs.Args(), errUsage)
	}
	if *timeout <= 0 {
		return fmt.Errorf("health: --timeout must be positive, got %s: %w", *timeout, errUsage)
	}

	cfg, cfgErr := config.Load(config.Options{Getenv: env.getenv, Flags: flags, WorkDir: env.workDir})
	cfgDir := health.ResolveConfigDir(flags.ConfigDir, env.workDir)
	if cfg != nil {
		cfgDir = cfg.ConfigDir
	}
	envName, _ := config.ParseEnvironment(env.getenv("GODOT_ENV"))
	cred, credFrom := healthCredential(env, cfg, flags)
	if *apiURL == "" {
		*apiURL = defaultAPIURL(cfg)
	}
	if *telURL == "" {
		*telURL = defaultTelemetryURL(cfg)
	}

	rep := health.Run(ctx, health.Options{
		APIURL:           *apiURL,
		TelemetryURL:     *telURL,
		Credential:       cred,
		CredentialSource: credFrom,
		Timeout:          *timeout,
		Config:           cfg,
		ConfigErr:        cfgErr,
		ConfigDir:        cfgDir,
		Environment:      envName,
		Build:            buildinfo.Read(),
	}, nil)
	var err error
	if *asJSON {
		err = health.WriteJSON(env.stdout, rep)
	} else {
		err = health.WriteText(env.stdout, rep, *verbose)
	}
	if err != nil {
		return fmt.Errorf("health: write the report: %w", err)
	}
	if !rep.Healthy {
		return exitError{code: 1, msg: fmt.Sprintf("health: %d of %d checks failed", rep.Summary.Failed, len(rep.Checks))}
	}
	return nil
}

// healthCredential finds the credential for authenticated routes, as the
// telemetry command does: SPACETIME_TOKEN, then API_TOKEN, then the token
// serve generated in the data directory (when this user may read it).
func healthCredential(env *environment, cfg *config.Config, flags config.Flags) (cred, from string) {
	if v := env.getenv("SPACETIME_TOKEN"); v != "" {
		return v, "env SPACETIME_TOKEN"
	}
	if v := env.getenv("API_TOKEN"); v != "" {
		return v, "env API_TOKEN"
	}
	dataDir := flags.DataDir
	if cfg != nil {
		dataDir = cfg.Runtime.DataDir
	}
	if dataDir == "" {
		dataDir = config.Defaults().Runtime.DataDir
	}
	p := filepath.Join(dataDir, auth.BootstrapFile)
	if b, err := os.ReadFile(p); err == nil {
		if tok := strings.TrimSpace(string(b)); tok != "" {
			return tok, "file " + p
		}
	}
	return "", ""
}

// defaultAPIURL is the API as the configuration places it: a wildcard
// bind address is reached on loopback.
func defaultAPIURL(cfg *config.Config) string {
	if cfg == nil {
		return "http://127.0.0.1:8080"
	}
	h := cfg.Networking.HTTP
	scheme := "http"
	if h.TLS.Enabled() {
		scheme = "https"
	}
	return scheme + "://" + reachable(h.BindAddress, h.Port, 8080)
}

// defaultTelemetryURL is the telemetry port as the configuration places it.
func defaultTelemetryURL(cfg *config.Config) string {
	if cfg == nil {
		return "http://127.0.0.1:8081"
	}
	t := cfg.Networking.Telemetry
	return "http://" + reachable(t.BindAddress, t.Port, 8081)
}

// reachable turns a bind address into one a local client dials.
func reachable(bind string, port, fallback int) string {
	if port == 0 {
		port = fallback
	}
	host := bind
	if ip := net.ParseIP(bind); bind == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}
