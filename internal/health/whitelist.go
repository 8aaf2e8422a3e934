package health

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	configfiles "github.com/spacetime-vr/spacetime/config"
	"github.com/spacetime-vr/spacetime/internal/config"
	"github.com/spacetime-vr/spacetime/internal/whitelist"
)

// ResolveConfigDir names the config directory serve would use, by
// config.Load's rule: flagDir when given, else workDir/config when it is
// a directory ("" workDir: the current directory), else
// config.EmbeddedDir.
func ResolveConfigDir(flagDir, workDir string) string {
	if flagDir != "" {
		return flagDir
	}
	if workDir == "" {
		workDir = "."
	}
	d := filepath.Join(workDir, "config")
	if st, err := os.Stat(d); err == nil && st.IsDir() {
		return d
	}
	return config.EmbeddedDir
}

// readWhitelist reads scene_whitelist.json of a config directory (the
// embedded files for config.EmbeddedDir).
func readWhitelist(dir string) ([]byte, string, error) {
	if dir == "" || dir == config.EmbeddedDir {
		b, err := fs.ReadFile(configfiles.FS, config.WhitelistFile)
		return b, "embedded:config/" + config.WhitelistFile, err
	}
	p := filepath.Join(dir, config.WhitelistFile)
	b, err := os.ReadFile(p)
	return b, p, err
}

// probeTestScene is a scene path production should never allow.
const probeTestScene = "res://tests/health_probe.tscn"

// checkWhitelist: scene_whitelist.json compiles, has the environment in
// force, allows the configured start scene and the scene the server is
// running; production allowing test scenes is a warning.
func checkWhitelist(ctx context.Context, t *Target) Result {
	data, origin, err := readWhitelist(t.opts.ConfigDir)
	if err != nil {
		return fail(fmt.Sprintf("%s: %v", origin, err))
	}
	env, from := t.environment()
	detail := []string{detailf("file", "%s", origin), detailf("environment", "%s (from %s)", env, from)}
	wl, err := whitelist.New(data, env)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), "\n", "; ")
		if errors.Is(err, whitelist.ErrUnknownEnvironment) {
			return fail(fmt.Sprintf("%s has no rules for %s: every scene would be refused", origin, env), detail...)
		}
		return fail(fmt.Sprintf("%s: %s", origin, msg), detail...)
	}
	rules := wl.Rules()
	detail = append(detail, detailf("rules", "%d scenes, %d directories, %d wildcards; blacklist %d patterns, %d exact",
		len(rules.Scenes), len(rules.Directories), len(rules.Wildcards), len(rules.Blacklist.Patterns), len(rules.Blacklist.Exact)))
	var fails, warns []string
	var missing []string
	for _, e := range config.Environments() {
		if _, err := whitelist.New(data, e); errors.Is(err, whitelist.ErrUnknownEnvironment) {
			missing = append(missing, e)
		}
	}
	if len(missing) > 0 {
		warns = append(warns, fmt.Sprintf("no rules for %s: serve refuses to start there", strings.Join(missing, ", ")))
	}
	judge := func(what, scene string) {
		d, err := wl.Decide(scene)
		switch {
		case err != nil && d.Path == "":
			fails = append(fails, fmt.Sprintf("%s %s is not a valid scene path: %v", what, scene, err))
		case !d.Allowed:
			fails = append(fails, fmt.Sprintf("%s %s is not allowed in %s (%s)", what, d.Path, env, d.Rule))
		default:
			detail = append(detail, detailf(what, "%s allowed by %s", d.Path, d.Rule))
		}
	}
	if cfg := t.opts.Config; cfg != nil {
		judge("start scene", cfg.Runtime.Scene)
	}
	if st, err := t.serverStatus(); err == nil && st.Scene != "" {
		judge("running scene", st.Scene)
	}
	if prod, err := whitelist.New(data, config.EnvProduction); err == nil {
		if d, _ := prod.Decide(probeTestScene); d.Allowed {
			warns = append(warns, fmt.Sprintf("production allows test scenes such as %s (%s)", probeTestScene, d.Rule))
		}
	}
	switch {
	case len(fails) > 0:
		return fail(strings.Join(fails, "; "), detail...)
	case len(warns) > 0:
		return warn(strings.Join(warns, "; "), detail...)
	}
	return pass(fmt.Sprintf("%s rules compile and allow the scenes in use", env), detail...)
}
