package deploy

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	configfiles "github.com/spacetime-vr/spacetime/config"
	"github.com/spacetime-vr/spacetime/internal/config"
)

// unitFile is a parsed systemd unit: section -> key -> values in order.
type unitFile map[string]map[string][]string

// parseUnit reads systemd's unit syntax: sections, Key=Value, comments
// (# and ;) and backslash continuations.
func parseUnit(data string) (unitFile, error) {
	u := unitFile{}
	section := ""
	var cur strings.Builder
	for i, line := range strings.Split(data, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") || strings.HasPrefix(t, ";") {
			continue
		}
		if strings.HasSuffix(t, "\\") {
			cur.WriteString(strings.TrimSpace(strings.TrimSuffix(t, "\\")) + " ")
			continue
		}
		cur.WriteString(t)
		l := strings.TrimSpace(cur.String())
		cur.Reset()
		if strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") {
			section = l[1 : len(l)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok || section == "" {
			return nil, fmt.Errorf("line %d: %q is no Key=Value in a section", i+1, l)
		}
		k = strings.TrimSpace(k)
		u[section][k] = append(u[section][k], strings.TrimSpace(v))
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("continuation at end of file")
	}
	return u, nil
}

// last is the effective value of a single-valued key ("" when unset).
func (u unitFile) last(section, key string) (string, bool) {
	v := u[section][key]
	if len(v) == 0 {
		return "", false
	}
	return v[len(v)-1], true
}

func TestSystemdUnit(t *testing.T) {
	raw := readFile(t, filepath.Join("systemd", "spacetime.service"))
	u, err := parseUnit(raw)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(raw, "\n") {
		l := strings.ToLower(strings.TrimSpace(line))
		if !strings.HasPrefix(l, "#") && (strings.Contains(l, "xvfb") || strings.Contains(l, "display")) {
			t.Errorf("line %d: %q: the server is headless, no X server or DISPLAY", i+1, line)
		}
	}
	svc := "Service"
	if u[svc] == nil {
		t.Fatal("no [Service] section")
	}
	if user, _ := u.last(svc, "User"); user == "" || user == "root" || user == "0" {
		t.Errorf("User=%q: want a dedicated user", user)
	}
	if g, _ := u.last(svc, "Group"); g == "" || g == "root" || g == "0" {
		t.Errorf("Group=%q: want a dedicated group", g)
	}
	if v, _ := u.last(svc, "DynamicUser"); v == "yes" {
		t.Error("DynamicUser: the guide's layout needs a fixed user owning /opt/spacetime")
	}
	want := map[string][]string{
		"NoNewPrivileges":        {"yes", "true"},
		"ProtectSystem":          {"strict"},
		"ProtectHome":            {"yes", "true", "read-only", "tmpfs"},
		"PrivateTmp":             {"yes", "true"},
		"PrivateDevices":         {"yes", "true"},
		"ProtectKernelTunables":  {"yes", "true"},
		"ProtectKernelModules":   {"yes", "true"},
		"ProtectControlGroups":   {"yes", "true"},
		"RestrictSUIDSGID":       {"yes", "true"},
		"RestrictNamespaces":     {"yes", "true"},
		"LockPersonality":        {"yes", "true"},
		"MemoryDenyWriteExecute": {"yes", "true"},
		"CapabilityBoundingSet":  {""},
		"AmbientCapabilities":    {""},
	}
	for k, allowed := range want {
		v, ok := u.last(svc, k)
		if !ok || !slices.Contains(allowed, v) {
			t.Errorf("%s=%q (set: %v), want one of %q", k, v, ok, allowed)
		}
	}
	if v, _ := u.last(svc, "Restart"); v != "always" && v != "on-failure" {
		t.Errorf("Restart=%q: want always or on-failure", v)
	}

	// ExecStart: the binary's serve flags, and the variables the binary reads.
	exec, _ := u.last(svc, "ExecStart")
	args := strings.Fields(exec)
	if len(args) < 2 || filepath.Base(args[0]) != "spacetime" || !filepath.IsAbs(args[0]) {
		t.Fatalf("ExecStart=%q: want an absolute path to spacetime serve", exec)
	}
	flags := parseServeArgs(t, args[1:])
	env := map[string]string{}
	for _, e := range u[svc]["Environment"] {
		for _, kv := range strings.Fields(e) {
			k, v, ok := strings.Cut(strings.Trim(kv, `"`), "=")
			if !ok {
				t.Errorf("Environment=%s: want KEY=value", e)
				continue
			}
			env[k] = v
			if !slices.Contains(config.EnvVars(), k) {
				t.Errorf("Environment %s is not a variable the binary reads", k)
			}
			if slices.Contains([]string{"API_TOKEN", "DB_PASSWORD", "REDIS_PASSWORD", "DISCOVERY_KEY"}, k) {
				t.Errorf("Environment %s: secrets go in the EnvironmentFile (mode 0600), not the unit", k)
			}
		}
	}
	if _, ok := u.last(svc, "EnvironmentFile"); !ok {
		t.Error("no EnvironmentFile for the secrets")
	}
	loadFlags := flags
	loadFlags.ConfigDir = filepath.Join("..", "config") // installed as /etc/spacetime/config
	cfg, err := config.Load(config.Options{Getenv: func(k string) string { return env[k] }, Flags: loadFlags, Embedded: configfiles.FS, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatalf("the unit's configuration does not load: %v", err)
	}
	if cfg.Environment != config.EnvProduction || !cfg.HTTPAPIEnabled(true) {
		t.Errorf("environment %s, API enabled in a release build %v: want production with the API on", cfg.Environment, cfg.HTTPAPIEnabled(true))
	}
	if cfg.Networking.HTTP.Port != guideHTTPPort || cfg.Networking.Telemetry.Port != guideTelemPort || cfg.Networking.Discovery.Port != guideDiscovPort {
		t.Errorf("ports %d/%d/%d, want the guide's 8080/8081/8087", cfg.Networking.HTTP.Port, cfg.Networking.Telemetry.Port, cfg.Networking.Discovery.Port)
	}

	// Writable paths: exactly the data and log dirs, which systemd creates.
	dataDir, logDir := cfg.Runtime.DataDir, cfg.Logging.Directory
	var rw []string
	for _, v := range u[svc]["ReadWritePaths"] {
		rw = append(rw, strings.Fields(v)...)
	}
	slices.Sort(rw)
	if wantRW := slices.Sorted(slices.Values([]string{dataDir, logDir})); !slices.Equal(rw, wantRW) {
		t.Errorf("ReadWritePaths %v, want exactly the data and log dirs %v", rw, wantRW)
	}
	for _, d := range []struct{ key, base, dir string }{{"StateDirectory", "/var/lib", dataDir}, {"LogsDirectory", "/var/log", logDir}} {
		v, _ := u.last(svc, d.key)
		if filepath.Join(d.base, v) != d.dir {
			t.Errorf("%s=%q creates %s, but the flag says %s", d.key, v, filepath.Join(d.base, v), d.dir)
		}
	}
	if wd, _ := u.last(svc, "WorkingDirectory"); wd != dataDir {
		t.Errorf("WorkingDirectory=%q, want the data dir %s (./config must not be found by accident)", wd, dataDir)
	}
	if flags.ConfigDir == "" {
		t.Error("ExecStart sets no --config-dir: the unit would run on the embedded files")
	}
}

func TestParseUnit(t *testing.T) {
	u, err := parseUnit("# c\n[A]\nK=1\n; c\nK=2\nL=a \\\n  b\nEmpty=\n")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := u.last("A", "K"); v != "2" {
		t.Errorf("K = %q, want the last value 2", v)
	}
	if v, _ := u.last("A", "L"); v != "a b" {
		t.Errorf("L = %q, want %q", v, "a b")
	}
	if v, ok := u.last("A", "Empty"); !ok || v != "" {
		t.Errorf("Empty = %q, %v; want set and empty", v, ok)
	}
	for _, bad := range []string{"K=1\n", "[A]\nnot a pair\n", "[A]\nK=a \\\n"} {
		if _, err := parseUnit(bad); err == nil {
			t.Errorf("%q parsed without error", bad)
		}
	}
}
