package deploy

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime/internal/config"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	Line int
	Cmd  string // upper case: FROM, RUN, COPY...
	Args string
}

// stage is one FROM and what follows it.
type stage struct {
	Base, Name string
	Instrs     []instruction
}

// dockerfile is a parsed Dockerfile: the ARGs before the first FROM, and
// the stages.
type dockerfile struct {
	GlobalArgs map[string]string
	Stages     []stage
}

// parseDockerfile reads the subset of Dockerfile syntax we use: comments,
// backslash continuations, one instruction per logical line.
func parseDockerfile(data string) (*dockerfile, error) {
	df := &dockerfile{GlobalArgs: map[string]string{}}
	var logical []instruction
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(data, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || trimmed == "" {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSpace(strings.TrimSuffix(trimmed, "\\")) + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		logical = append(logical, instruction{Line: start, Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)})
		cur.Reset()
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("line %d: continuation at end of file", start)
	}
	for _, in := range logical {
		switch {
		case in.Cmd == "FROM":
			f := strings.Fields(in.Args)
			st := stage{}
			for len(f) > 0 && strings.HasPrefix(f[0], "--") {
				f = f[1:]
			}
			switch {
			case len(f) == 1:
				st.Base = f[0]
			case len(f) == 3 && strings.EqualFold(f[1], "AS"):
				st.Base, st.Name = f[0], f[2]
			default:
				return nil, fmt.Errorf("line %d: FROM %s", in.Line, in.Args)
			}
			df.Stages = append(df.Stages, st)
		case len(df.Stages) == 0:
			if in.Cmd != "ARG" {
				return nil, fmt.Errorf("line %d: %s before the first FROM", in.Line, in.Cmd)
			}
			k, v, _ := strings.Cut(in.Args, "=")
			df.GlobalArgs[k] = v
		default:
			s := &df.Stages[len(df.Stages)-1]
			s.Instrs = append(s.Instrs, in)
		}
	}
	if len(df.Stages) == 0 {
		return nil, fmt.Errorf("no FROM")
	}
	return df, nil
}

// expand replaces ${NAME} and $NAME of the global ARGs.
func (df *dockerfile) expand(s string) string {
	return os.Expand(s, func(k string) string { return df.GlobalArgs[k] })
}

// find returns a stage's instructions of one kind.
func (s stage) find(cmd string) []instruction {
	var out []instruction
	for _, in := range s.Instrs {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// execForm decodes a JSON-array (exec form) argument.
func execForm(args string) ([]string, error) {
	var out []string
	if !strings.HasPrefix(args, "[") {
		return nil, fmt.Errorf("not exec form: %s", args)
	}
	if err := json.Unmarshal([]byte(args), &out); err != nil {
		return nil, fmt.Errorf("exec form %s: %w", args, err)
	}
	return out, nil
}

func loadDockerfile(t *testing.T) *dockerfile {
	t.Helper()
	df, err := parseDockerfile(readFile(t, "Dockerfile"))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	return df
}

// imageRuntime is what the Dockerfile's last stage runs.
type imageRuntime struct {
	Stage      stage
	User       int64 // uid
	Group      int64 // gid
	Entrypoint []string
	Cmd        []string
	Env        map[string]string
	Healthchk  []string
	Exposed    []string // "8080/tcp"
}

func runtimeOf(t *testing.T, df *dockerfile) imageRuntime {
	t.Helper()
	st := df.Stages[len(df.Stages)-1]
	rt := imageRuntime{Stage: st, Env: map[string]string{}}
	users := st.find("USER")
	if len(users) == 0 {
		t.Fatal("the runtime stage sets no USER: the image would run as root")
	}
	u, g, _ := strings.Cut(users[len(users)-1].Args, ":")
	var err error
	if rt.User, err = strconv.ParseInt(u, 10, 64); err != nil {
		t.Fatalf("USER %s: use a numeric uid, so runAsNonRoot can check it", users[len(users)-1].Args)
	}
	rt.Group = rt.User
	if g != "" {
		if rt.Group, err = strconv.ParseInt(g, 10, 64); err != nil {
			t.Fatalf("USER %s: numeric gid expected", users[len(users)-1].Args)
		}
	}
	for _, kind := range []string{"ENTRYPOINT", "CMD"} {
		ins := st.find(kind)
		if len(ins) == 0 {
			t.Fatalf("no %s in the runtime stage", kind)
		}
		v, err := execForm(ins[len(ins)-1].Args)
		if err != nil {
			t.Fatalf("%s: %v (distroless has no shell: use the exec form)", kind, err)
		}
		if kind == "CMD" {
			rt.Cmd = v
		} else {
			rt.Entrypoint = v
		}
	}
	for _, in := range st.find("ENV") {
		for _, kv := range strings.Fields(in.Args) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("ENV %s: use the KEY=value form", in.Args)
			}
			rt.Env[k] = v
		}
	}
	for _, in := range st.find("EXPOSE") {
		for _, p := range strings.Fields(in.Args) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			rt.Exposed = append(rt.Exposed, strings.ToLower(p))
		}
	}
	hcs := st.find("HEALTHCHECK")
	if len(hcs) == 0 {
		t.Fatal("no HEALTHCHECK in the runtime stage")
	}
	hc := hcs[len(hcs)-1].Args
	fields := strings.Fields(hc)
	i := slices.Index(fields, "CMD")
	if i < 0 {
		t.Fatalf("HEALTHCHECK %s: no CMD", hc)
	}
	for _, opt := range fields[:i] {
		if !strings.HasPrefix(opt, "--") {
			t.Fatalf("HEALTHCHECK %s: %q before CMD", hc, opt)
		}
	}
	if rt.Healthchk, err = execForm(strings.Join(fields[i+1:], " ")); err != nil {
		t.Fatalf("HEALTHCHECK: %v", err)
	}
	return rt
}

// The Dockerfile builds what the issue asks: web assets, then a static
// release binary, then a minimal non-root image with a HEALTHCHECK that
// runs `spacetime health`, on the binary's ports.
func TestDockerfile(t *testing.T) {
	df := loadDockerfile(t)
	if len(df.Stages) < 3 {
		t.Fatalf("%d stages, want web assets, build and runtime", len(df.Stages))
	}

	web := df.Stages[0]
	t.Run("web stage", func(t *testing.T) {
		if web.Name == "" || !strings.HasPrefix(df.expand(web.Base), "node:") {
			t.Errorf("first stage %q AS %q: want a named node: stage", df.expand(web.Base), web.Name)
		}
		var runs []string
		for _, in := range web.find("RUN") {
			runs = append(runs, in.Args)
		}
		all := strings.Join(runs, "\n")
		ci, build := strings.Index(all, "npm ci"), strings.Index(all, "npm run build")
		if ci < 0 || build < ci {
			t.Errorf("the web stage does not run npm ci, then npm run build: %q", runs)
		}
		wd := web.find("WORKDIR")
		if len(wd) == 0 || path.Base(wd[0].Args) != "web" {
			t.Errorf("the web stage does not work in a web/ directory")
		}
		for _, in := range web.find("COPY") {
			for _, f := range strings.Fields(in.Args) {
				if strings.HasPrefix(f, "web/") && !strings.HasSuffix(f, "/") {
					if _, err := os.Stat(filepath.Join("..", f)); err != nil {
						t.Errorf("COPY %s: %v", f, err)
					}
				}
			}
		}
	})

	var build stage
	t.Run("build stage", func(t *testing.T) {
		for _, st := range df.Stages[1 : len(df.Stages)-1] {
			for _, in := range st.find("RUN") {
				if strings.Contains(in.Args, "go build") {
					build = st
				}
			}
		}
		if build.Name == "" {
			t.Fatal("no named stage runs go build")
		}
		if !strings.HasPrefix(df.expand(build.Base), "golang:") {
			t.Errorf("the build stage starts FROM %s, want golang:", df.expand(build.Base))
		}
		goVersion := regexp.MustCompile(`(?m)^go (\S+)`).FindStringSubmatch(readFile(t, filepath.Join("..", "go.mod")))
		if goVersion == nil || !strings.HasPrefix(df.expand(build.Base), "golang:"+goVersion[1]) {
			t.Errorf("build image %s does not match go.mod's go %v", df.expand(build.Base), goVersion)
		}
		var gb string
		for _, in := range build.find("RUN") {
			if strings.Contains(in.Args, "go build") {
				gb = in.Args
			}
		}
		for _, want := range []string{"CGO_ENABLED=0", "-tags release", "./cmd/spacetime", "-trimpath"} {
			if !strings.Contains(gb, want) {
				t.Errorf("go build lacks %s: %s", want, gb)
			}
		}
		fromWeb := false
		for _, in := range build.find("COPY") {
			if strings.Contains(in.Args, "--from="+web.Name) && strings.Contains(in.Args, "web/dist") {
				fromWeb = true
			}
		}
		if !fromWeb {
			t.Errorf("the build stage does not copy web/dist from the %s stage", web.Name)
		}
	})

	rt := runtimeOf(t, df)
	t.Run("runtime stage", func(t *testing.T) {
		base := df.expand(rt.Stage.Base)
		if !strings.Contains(base, "distroless/static") && base != "scratch" {
			t.Errorf("runtime base %s: want distroless static or scratch (a static binary needs nothing else)", base)
		}
		if rt.User == 0 || rt.Group == 0 {
			t.Errorf("USER %d:%d is root", rt.User, rt.Group)
		}
		if len(rt.Stage.find("RUN")) > 0 {
			t.Error("RUN in the runtime stage: distroless has no shell")
		}
		copied := false
		for _, in := range rt.Stage.find("COPY") {
			if strings.Contains(in.Args, "--from="+build.Name) && strings.HasSuffix(in.Args, " /spacetime") {
				copied = true
			}
		}
		if !copied {
			t.Errorf("the binary is not copied from %s to /spacetime", build.Name)
		}
		if !slices.Equal(rt.Entrypoint, []string{"/spacetime"}) {
			t.Errorf("ENTRYPOINT %q, want [\"/spacetime\"]", rt.Entrypoint)
		}
		for k := range rt.Env {
			if !slices.Contains(config.EnvVars(), k) {
				t.Errorf("ENV %s is not a variable the binary reads", k)
			}
		}
	})

	t.Run("CMD and ports", func(t *testing.T) {
		flags := parseServeArgs(t, rt.Cmd)
		cfg, err := config.Load(config.Options{Getenv: func(k string) string { return rt.Env[k] }, Flags: flags, WorkDir: t.TempDir()})
		if err != nil {
			t.Fatalf("the image's CMD and ENV do not load: %v", err)
		}
		want := []string{
			fmt.Sprintf("%d/tcp", cfg.Networking.HTTP.Port),
			fmt.Sprintf("%d/tcp", cfg.Networking.Telemetry.Port),
			fmt.Sprintf("%d/udp", cfg.Networking.Discovery.Port),
		}
		got := slices.Sorted(slices.Values(rt.Exposed))
		if !slices.Equal(got, want) || cfg.Networking.HTTP.Port != guideHTTPPort || cfg.Networking.Telemetry.Port != guideTelemPort || cfg.Networking.Discovery.Port != guideDiscovPort {
			t.Errorf("EXPOSE %v, the binary %v: want 8080/tcp 8081/tcp 8087/udp in both", got, want)
		}
		for _, b := range []string{cfg.Networking.HTTP.BindAddress, cfg.Networking.Telemetry.BindAddress} {
			if b != "0.0.0.0" && b != "" && b != "::" {
				t.Errorf("CMD binds %s: unreachable from outside the container", b)
			}
		}
		for _, dir := range []string{cfg.Runtime.DataDir, cfg.Logging.Directory} {
			owned := false
			for _, in := range rt.Stage.find("COPY") {
				if strings.Contains(in.Args, fmt.Sprintf("--chown=%d:%d", rt.User, rt.Group)) && strings.HasSuffix(in.Args, " "+dir) {
					owned = true
				}
			}
			if !owned {
				t.Errorf("%s is not created owned by %d:%d: the non-root user could not write it", dir, rt.User, rt.Group)
			}
		}

		// HEALTHCHECK: spacetime health against the CMD's own ports.
		hc := rt.Healthchk
		if len(hc) < 2 || hc[0] != rt.Entrypoint[0] || hc[1] != "health" {
			t.Fatalf("HEALTHCHECK %q does not run %s health", hc, rt.Entrypoint[0])
		}
		h := parseHealthArgs(t, hc[2:])
		for flag, c := range map[string]struct {
			url  string
			port int
		}{"--url": {h.URL, cfg.Networking.HTTP.Port}, "--telemetry-url": {h.TelemetryURL, cfg.Networking.Telemetry.Port}} {
			u, err := url.Parse(c.url)
			if c.url == "" || err != nil || u.Port() != strconv.Itoa(c.port) || !isLoopback(u.Hostname()) {
				t.Errorf("HEALTHCHECK %s %q: want a loopback URL on port %d", flag, c.url, c.port)
			}
		}
		if h.Flags.DataDir != flags.DataDir || h.Flags.LogDir != flags.LogDir || h.Flags.ConfigDir != flags.ConfigDir {
			t.Errorf("HEALTHCHECK reads --data-dir %q --log-dir %q --config-dir %q, the server %q %q %q: health must look where serve keeps its data",
				h.Flags.DataDir, h.Flags.LogDir, h.Flags.ConfigDir, flags.DataDir, flags.LogDir, flags.ConfigDir)
		}
	})

	t.Run("deployment runs the image's user", func(t *testing.T) {
		w := findWorkload(t, loadManifests(t), "Deployment", serverName)
		sc := w.Template.Spec.SecurityContext
		if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != rt.User || sc.RunAsGroup == nil || *sc.RunAsGroup != rt.Group || sc.FSGroup == nil || *sc.FSGroup != rt.Group {
			t.Errorf("the Deployment's pod securityContext %+v does not run as the image's %d:%d (fsGroup too)", sc, rt.User, rt.Group)
		}
	})
}

// healthArgs is a parsed `spacetime health` command line.
type healthArgs struct {
	URL, TelemetryURL string
	Flags             config.Flags
}

// parseHealthArgs parses the flags of `spacetime health`: its own and
// serve's configuration flags (the run tests execute the real command).
func parseHealthArgs(t *testing.T, args []string) healthArgs {
	t.Helper()
	var h healthArgs
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&h.URL, "url", "", "")
	fs.StringVar(&h.TelemetryURL, "telemetry-url", "", "")
	fs.Bool("verbose", false, "")
	fs.Bool("json", false, "")
	fs.Duration("timeout", 0, "")
	h.Flags.Register(fs)
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		t.Fatalf("health %q: %v %q", args, err, fs.Args())
	}
	return h
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func TestParseDockerfile(t *testing.T) {
	df, err := parseDockerfile("ARG V=1\n# c\nFROM a:${V} AS one\nRUN x \\\n  # inside\n  y\nFROM b\nUSER 10:20\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(df.Stages) != 2 || df.Stages[0].Name != "one" || df.expand(df.Stages[0].Base) != "a:1" {
		t.Fatalf("stages %+v", df.Stages)
	}
	if got := df.Stages[0].Instrs[0].Args; got != "x y" {
		t.Errorf("continuation joined as %q, want %q", got, "x y")
	}
	for _, bad := range []string{"RUN x\n", "FROM a b c d\n", "FROM a\nRUN x \\\n", ""} {
		if _, err := parseDockerfile(bad); err == nil {
			t.Errorf("%q parsed without error", bad)
		}
	}
}

// The build context keeps what the stages copy and drops what they build.
func TestDockerignore(t *testing.T) {
	var patterns []string
	for _, l := range strings.Split(readFile(t, filepath.Join("..", ".dockerignore")), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "!") {
			t.Fatalf("negated pattern %q: extend this test before using one", l)
		}
		patterns = append(patterns, strings.Trim(l, "/"))
	}
	excluded := func(p string) bool {
		for _, pat := range patterns {
			pat = strings.TrimPrefix(pat, "**/")
			if ok, _ := path.Match(pat, p); ok || strings.HasPrefix(p, pat+"/") {
				return true
			}
		}
		return false
	}
	for _, keep := range []string{"go.mod", "go.sum", "cmd/spacetime/main.go", "internal/api/routes.go", "config/production.json", "content/vr_main.tscn", "web/package.json", "web/package-lock.json", ".git/HEAD"} {
		if excluded(keep) {
			t.Errorf(".dockerignore drops %s, which the build needs", keep)
		}
	}
	for _, drop := range []string{"web/node_modules/three/package.json", "web/dist/index.html", "bin/spacetime", "data/spacetime.db"} {
		if !excluded(drop) {
			t.Errorf(".dockerignore keeps %s in the build context", drop)
		}
	}
}
