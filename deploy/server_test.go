package deploy

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	configfiles "github.com/spacetime-vr/spacetime/config"
	"github.com/spacetime-vr/spacetime/internal/api"
	"github.com/spacetime-vr/spacetime/internal/config"
)

// The objects the server is made of.
const (
	serverName      = "spacetime" // Deployment, its container, Service, HPA
	configMapName   = "spacetime-config"
	postgresName    = "spacetime-postgres"
	redisName       = "spacetime-redis"
	backupName      = "spacetime-backup"
	secretsName     = "spacetime-secrets"
	guideHTTPPort   = 8080 // guide, appendix B
	guideTelemPort  = 8081
	guideDiscovPort = 8087
)

// parseServeArgs parses a `spacetime serve` command line (args[0] is
// "serve") with the binary's own flag definitions.
func parseServeArgs(t *testing.T, args []string) config.Flags {
	t.Helper()
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("command line %q does not start with serve", args)
	}
	var f config.Flags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f.Register(fs)
	if err := fs.Parse(args[1:]); err != nil {
		t.Fatalf("serve %q: %v", args[1:], err)
	}
	if fs.NArg() > 0 {
		t.Fatalf("serve %q: unexpected arguments %q", args[1:], fs.Args())
	}
	return f
}

// testSecret stands in for a secret's value: long enough for production
// and no placeholder.
func testSecret(key string) string {
	return "test-value-of-" + key + "-0123456789abcdefghijklmnop"
}

// serverPod is the server's pod as the binary sees it.
type serverPod struct {
	Workload  workload
	Container corev1.Container
	Flags     config.Flags                         // parsed args
	Env       map[string]string                    // literal values, and test values for secrets
	Secrets   map[string]*corev1.SecretKeySelector // env name -> secret reference
	Config    *config.Config                       // what Load makes of the ConfigMap, env and flags
	ConfigMap *corev1.ConfigMap
}

// loadServerPod builds the server's configuration the way the pod does:
// the ConfigMap's files in a directory standing for the mount, the
// container's environment (secrets replaced by test values) and its
// flags, through config.Load.
func loadServerPod(t *testing.T, ms []manifest) serverPod {
	t.Helper()
	w := findWorkload(t, ms, "Deployment", serverName)
	c := container(t, w, serverName)
	p := serverPod{Workload: w, Container: c, Env: map[string]string{}, Secrets: map[string]*corev1.SecretKeySelector{}}
	if len(c.Command) > 0 {
		t.Fatalf("container %s overrides the image's entrypoint with %q", c.Name, c.Command)
	}
	p.Flags = parseServeArgs(t, c.Args)
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			p.Env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			p.Secrets[e.Name] = e.ValueFrom.SecretKeyRef
			p.Env[e.Name] = testSecret(e.Name)
		default:
			t.Fatalf("env %s: only values and secretKeyRefs are expected", e.Name)
		}
	}
	p.ConfigMap = named[corev1.ConfigMap](t, ms, configMapName)
	dir := t.TempDir()
	for k, v := range p.ConfigMap.Data {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	flags := p.Flags
	if flags.ConfigDir == "" {
		t.Fatal("the server's args set no --config-dir: it would read the embedded files, not the ConfigMap")
	}
	flags.ConfigDir = dir
	cfg, err := config.Load(config.Options{Getenv: func(k string) string { return p.Env[k] }, Flags: flags, Embedded: configfiles.FS, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatalf("the server's pod configuration does not load:\n%v", err)
	}
	p.Config = cfg
	return p
}

// embeddedDefaults loads the configuration a bare binary has in an
// environment: the embedded files, no flags.
func embeddedDefaults(t *testing.T, env string) *config.Config {
	t.Helper()
	cfg, err := config.Load(config.Options{Getenv: func(k string) string {
		if k == "GODOT_ENV" {
			return env
		}
		return ""
	}, Embedded: configfiles.FS, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatalf("embedded %s config: %v", env, err)
	}
	return cfg
}

// The binary's default ports are the guide's, in every environment.
func TestBinaryDefaultPorts(t *testing.T) {
	for _, env := range config.Environments() {
		cfg := embeddedDefaults(t, env)
		got := []int{cfg.Networking.HTTP.Port, cfg.Networking.Telemetry.Port, cfg.Networking.Discovery.Port}
		if want := []int{guideHTTPPort, guideTelemPort, guideDiscovPort}; !slices.Equal(got, want) {
			t.Errorf("%s: ports %v, want %v", env, got, want)
		}
	}
}

func TestServerPodMatchesBinary(t *testing.T) {
	ms := loadManifests(t)
	p := loadServerPod(t, ms)
	cfg := p.Config

	if cfg.Environment != config.EnvProduction {
		t.Errorf("environment %q, want production", cfg.Environment)
	}
	if !cfg.HTTPAPIEnabled(true) {
		t.Error("a release build would keep the HTTP API off: set GODOT_ENABLE_HTTP_API=true (guide section 9, issue 1)")
	}
	readable := config.EnvVars()
	for _, e := range p.Container.Env {
		if !slices.Contains(readable, e.Name) {
			t.Errorf("env %s is not a variable the binary reads (config.EnvVars: %v)", e.Name, readable)
		}
	}
	// Service links would add variables such as REDIS_PORT=tcp://10.0.0.7:6379
	// for a Service named redis, which the binary reads as a port.
	if sl := p.Workload.Template.Spec.EnableServiceLinks; sl == nil || *sl {
		t.Error("enableServiceLinks is not false: Kubernetes would add *_PORT and *_HOST variables the binary may read")
	}
	for _, name := range []string{"API_TOKEN", "DB_PASSWORD", "REDIS_PASSWORD", "DISCOVERY_KEY"} {
		if _, literal := p.Env[name]; literal && p.Secrets[name] == nil {
			t.Errorf("env %s is a secret and must come from a secretKeyRef", name)
		}
	}

	defaults := embeddedDefaults(t, config.EnvProduction)
	ports := []struct {
		name  string
		proto corev1.Protocol
		got   int // from the configuration the pod loads
		def   int // the binary's default
		bind  string
	}{
		{"http", corev1.ProtocolTCP, cfg.Networking.HTTP.Port, defaults.Networking.HTTP.Port, cfg.Networking.HTTP.BindAddress},
		{"telemetry", corev1.ProtocolTCP, cfg.Networking.Telemetry.Port, defaults.Networking.Telemetry.Port, cfg.Networking.Telemetry.BindAddress},
		{"discovery", corev1.ProtocolUDP, cfg.Networking.Discovery.Port, defaults.Networking.Discovery.Port, ""},
	}
	for _, pt := range ports {
		cp, ok := containerPort(p.Container, pt.name, 0, pt.proto)
		if !ok {
			t.Errorf("no %s container port named %q", pt.proto, pt.name)
			continue
		}
		if int(cp.ContainerPort) != pt.got || pt.got != pt.def {
			t.Errorf("port %s: containerPort %d, the pod's configuration %d, the binary's default %d: all must agree", pt.name, cp.ContainerPort, pt.got, pt.def)
		}
		if pt.bind != "" && pt.bind != "0.0.0.0" && pt.bind != "::" {
			t.Errorf("port %s binds %s: unreachable from outside the pod", pt.name, pt.bind)
		}
	}
	if !cfg.Networking.Telemetry.Enabled {
		t.Error("telemetry is disabled: no /metrics for the prometheus.io annotations")
	}
	ann := p.Workload.Template.Annotations
	if ann["prometheus.io/port"] != strconv.Itoa(cfg.Networking.Telemetry.Port) || ann["prometheus.io/path"] != cfg.Monitoring.MetricsPath {
		t.Errorf("prometheus.io annotations %v do not name the telemetry port %d and path %s", ann, cfg.Networking.Telemetry.Port, cfg.Monitoring.MetricsPath)
	}

	// Mounts: the config dir is the ConfigMap, read-only; the data and log
	// dirs are writable volumes (the root file system is read-only).
	mount := func(path string) (corev1.VolumeMount, corev1.Volume, bool) {
		for _, vm := range p.Container.VolumeMounts {
			if filepath.Clean(vm.MountPath) == filepath.Clean(path) {
				for _, v := range p.Workload.Template.Spec.Volumes {
					if v.Name == vm.Name {
						return vm, v, true
					}
				}
			}
		}
		return corev1.VolumeMount{}, corev1.Volume{}, false
	}
	vm, v, ok := mount(p.Flags.ConfigDir)
	switch {
	case !ok:
		t.Errorf("--config-dir %s is no volume mount", p.Flags.ConfigDir)
	case v.ConfigMap == nil || v.ConfigMap.Name != configMapName:
		t.Errorf("--config-dir %s is not the ConfigMap %s", p.Flags.ConfigDir, configMapName)
	case !vm.ReadOnly:
		t.Errorf("the config mount %s is writable", vm.MountPath)
	default:
		have := map[string]bool{}
		for k := range p.ConfigMap.Data {
			have[k] = true
		}
		if len(v.ConfigMap.Items) > 0 {
			have = map[string]bool{}
			for _, it := range v.ConfigMap.Items {
				have[it.Path] = true
			}
		}
		env := cfg.Environment
		for _, f := range []string{env + ".json", "security_" + env + ".json", "performance_" + env + ".json", config.WhitelistFile} {
			if !have[f] {
				t.Errorf("the config mount has no %s for GODOT_ENV=%s", f, env)
			}
		}
	}
	for _, dir := range []struct{ flag, path string }{{"--data-dir", cfg.Runtime.DataDir}, {"--log-dir", cfg.Logging.Directory}} {
		if !filepath.IsAbs(dir.path) {
			t.Errorf("%s %q is not absolute", dir.flag, dir.path)
			continue
		}
		vm, _, ok := mount(dir.path)
		if !ok || vm.ReadOnly {
			t.Errorf("%s %s is not a writable volume mount (the root file system is read-only)", dir.flag, dir.path)
		}
	}
}

// Every probe asks a GET route of the API that needs no token and exists in
// production, on the API port.
func TestProbesUseAPIRoutes(t *testing.T) {
	ms := loadManifests(t)
	p := loadServerPod(t, ms)
	routes := map[string]api.Route{}
	for _, r := range api.Routes() {
		if r.Method == "GET" {
			routes[r.Path] = r
		}
	}
	probes := map[string]*corev1.Probe{
		"startupProbe":   p.Container.StartupProbe,
		"livenessProbe":  p.Container.LivenessProbe,
		"readinessProbe": p.Container.ReadinessProbe,
	}
	for _, name := range []string{"livenessProbe", "readinessProbe"} {
		if probes[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	if p.Container.LivenessProbe != nil && p.Container.LivenessProbe.HTTPGet != nil && p.Container.LivenessProbe.HTTPGet.Path != "/health" {
		t.Errorf("livenessProbe asks %s, want /health", p.Container.LivenessProbe.HTTPGet.Path)
	}
	for name, pr := range probes {
		if pr == nil {
			continue
		}
		if pr.HTTPGet == nil {
			t.Errorf("%s is not an httpGet probe", name)
			continue
		}
		r, ok := routes[pr.HTTPGet.Path]
		switch {
		case !ok:
			t.Errorf("%s: GET %s is not a route of the API", name, pr.HTTPGet.Path)
		case r.MinRole != api.RoleGuest:
			t.Errorf("%s: GET %s needs role %s; probes carry no token", name, r.Path, r.MinRole)
		case r.OffInProduction:
			t.Errorf("%s: GET %s is off in production", name, r.Path)
		}
		if pr.HTTPGet.Scheme != "" && pr.HTTPGet.Scheme != corev1.URISchemeHTTP {
			t.Errorf("%s: scheme %s; the pod serves plain HTTP behind the ingress", name, pr.HTTPGet.Scheme)
		}
		cp, ok := containerPort(p.Container, pr.HTTPGet.Port.StrVal, pr.HTTPGet.Port.IntVal, corev1.ProtocolTCP)
		if !ok || int(cp.ContainerPort) != p.Config.Networking.HTTP.Port {
			t.Errorf("%s: port %s is not the API port %d", name, pr.HTTPGet.Port.String(), p.Config.Networking.HTTP.Port)
		}
	}
}

// serviceFor returns the Service called name and the workload it selects,
// failing the test unless there is exactly one such workload.
func serviceFor(t *testing.T, ms []manifest, name string) (*corev1.Service, workload) {
	t.Helper()
	svc := named[corev1.Service](t, ms, name)
	var found []workload
	for _, w := range workloads(ms) {
		if !w.runsOnce() && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(w.Template.Labels)) {
			found = append(found, w)
		}
	}
	if len(found) != 1 {
		t.Fatalf("service %s selects %d workloads, want 1", name, len(found))
	}
	return svc, found[0]
}

// servicePort returns the port of svc called by number.
func servicePort(svc *corev1.Service, port int) (corev1.ServicePort, bool) {
	for _, p := range svc.Spec.Ports {
		if int(p.Port) == port {
			return p, true
		}
	}
	return corev1.ServicePort{}, false
}

// envOf returns a container's variables: values and secret references.
func envOf(c corev1.Container) (map[string]string, map[string]corev1.SecretKeySelector) {
	vals, refs := map[string]string{}, map[string]corev1.SecretKeySelector{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			refs[e.Name] = *e.ValueFrom.SecretKeyRef
			continue
		}
		vals[e.Name] = e.Value
	}
	return vals, refs
}

// The server, PostgreSQL, Redis and the backup job agree on hosts, ports,
// users, database names, TLS and which secret keys hold the passwords.
func TestBackingServicesAgree(t *testing.T) {
	ms := loadManifests(t)
	p := loadServerPod(t, ms)
	cfg := p.Config

	t.Run("postgres", func(t *testing.T) {
		if cfg.Database.Driver() != "postgres" {
			t.Fatalf("the server uses %s, not PostgreSQL: set DB_HOST", cfg.Database.Driver())
		}
		svc, w := serviceFor(t, ms, cfg.Database.Host)
		if w.Name != postgresName {
			t.Errorf("DB_HOST %s selects %s, want %s", cfg.Database.Host, w.Name, postgresName)
		}
		if _, ok := servicePort(svc, cfg.Database.Port); !ok {
			t.Errorf("service %s has no port %d (database.port)", svc.Name, cfg.Database.Port)
		}
		pg := container(t, w, "postgres")
		vals, refs := envOf(pg)
		if vals["POSTGRES_USER"] != cfg.Database.User || vals["POSTGRES_DB"] != cfg.Database.Name {
			t.Errorf("PostgreSQL creates user %q database %q; the server uses %q and %q", vals["POSTGRES_USER"], vals["POSTGRES_DB"], cfg.Database.User, cfg.Database.Name)
		}
		if refs["POSTGRES_PASSWORD"] != *p.Secrets["DB_PASSWORD"] {
			t.Errorf("POSTGRES_PASSWORD comes from %v, the server's DB_PASSWORD from %v", refs["POSTGRES_PASSWORD"], p.Secrets["DB_PASSWORD"])
		}
		if _, ok := containerPort(pg, "", int32(cfg.Database.Port), corev1.ProtocolTCP); !ok {
			t.Errorf("PostgreSQL does not listen on %d", cfg.Database.Port)
		}
		args := strings.Join(pg.Args, " ")
		switch cfg.Database.SSLMode {
		case "require", "verify-ca", "verify-full":
			for _, want := range []string{"ssl=on", "ssl_cert_file=", "ssl_key_file="} {
				if !strings.Contains(args, want) {
					t.Errorf("database.sslmode is %s but PostgreSQL's args %q lack %s", cfg.Database.SSLMode, args, want)
				}
			}
		}
	})

	t.Run("redis", func(t *testing.T) {
		if !cfg.Cache.Enabled() {
			t.Fatal("the server does not use Redis: set REDIS_HOST (shared limits across replicas)")
		}
		svc, w := serviceFor(t, ms, cfg.Cache.Host)
		if w.Name != redisName {
			t.Errorf("REDIS_HOST %s selects %s, want %s", cfg.Cache.Host, w.Name, redisName)
		}
		if _, ok := servicePort(svc, cfg.Cache.Port); !ok {
			t.Errorf("service %s has no port %d (cache.port)", svc.Name, cfg.Cache.Port)
		}
		rc := container(t, w, "redis")
		_, refs := envOf(rc)
		if refs["REDIS_PASSWORD"] != *p.Secrets["REDIS_PASSWORD"] {
			t.Errorf("Redis's REDIS_PASSWORD comes from %v, the server's from %v", refs["REDIS_PASSWORD"], p.Secrets["REDIS_PASSWORD"])
		}
		i := slices.Index(rc.Args, "--requirepass")
		if i < 0 || i+1 >= len(rc.Args) || rc.Args[i+1] != "$(REDIS_PASSWORD)" {
			t.Errorf("Redis args %q do not set --requirepass $(REDIS_PASSWORD)", rc.Args)
		}
		if _, ok := containerPort(rc, "", int32(cfg.Cache.Port), corev1.ProtocolTCP); !ok {
			t.Errorf("Redis does not listen on %d", cfg.Cache.Port)
		}
	})

	t.Run("backup", func(t *testing.T) {
		cj := named[batchv1.CronJob](t, ms, backupName)
		w := findWorkload(t, ms, "CronJob", backupName)
		if len(w.Template.Spec.Containers) != 1 {
			t.Fatalf("%d containers, want 1", len(w.Template.Spec.Containers))
		}
		c := w.Template.Spec.Containers[0]
		script := strings.Join(append(slices.Clone(c.Command), c.Args...), " ")
		if !strings.Contains(script, "pg_dump") {
			t.Errorf("the backup does not run pg_dump: %q", script)
		}
		vals, refs := envOf(c)
		want := map[string]string{
			"PGHOST":     cfg.Database.Host,
			"PGPORT":     strconv.Itoa(cfg.Database.Port),
			"PGUSER":     cfg.Database.User,
			"PGDATABASE": cfg.Database.Name,
			"PGSSLMODE":  cfg.Database.SSLMode,
		}
		for k, v := range want {
			if vals[k] != v {
				t.Errorf("%s = %q, the server uses %q", k, vals[k], v)
			}
		}
		if refs["PGPASSWORD"] != *p.Secrets["DB_PASSWORD"] {
			t.Errorf("PGPASSWORD comes from %v, the server's DB_PASSWORD from %v", refs["PGPASSWORD"], p.Secrets["DB_PASSWORD"])
		}
		if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
			t.Errorf("concurrencyPolicy %q: two dumps must not overlap", cj.Spec.ConcurrencyPolicy)
		}
		pgImage := container(t, findWorkload(t, ms, "StatefulSet", postgresName), "postgres").Image
		if c.Image != pgImage {
			t.Errorf("backup image %s differs from the database's %s (pg_dump must not be older than the server)", c.Image, pgImage)
		}
		backups := false
		for _, vm := range c.VolumeMounts {
			if vm.MountPath == "/backups" && !vm.ReadOnly {
				for _, v := range w.Template.Spec.Volumes {
					backups = backups || (v.Name == vm.Name && v.PersistentVolumeClaim != nil)
				}
			}
		}
		if !backups {
			t.Error("/backups is not a writable persistent volume")
		}

		// The restore job reads the same database with the same secret.
		rw := findWorkload(t, ms, "Job", "spacetime-restore")
		rc := rw.Template.Spec.Containers[0]
		rvals, rrefs := envOf(rc)
		for k, v := range want {
			if rvals[k] != v {
				t.Errorf("restore job: %s = %q, the server uses %q", k, rvals[k], v)
			}
		}
		if rrefs["PGPASSWORD"] != *p.Secrets["DB_PASSWORD"] || rc.Image != c.Image {
			t.Errorf("restore job: PGPASSWORD %v image %s, want the backup's %v and %s", rrefs["PGPASSWORD"], rc.Image, p.Secrets["DB_PASSWORD"], c.Image)
		}
		if !labels.SelectorFromSet(w.Template.Labels).Matches(labels.Set(rw.Template.Labels)) {
			t.Errorf("restore job labels %v lack the backup's %v (the network policy admits those)", rw.Template.Labels, w.Template.Labels)
		}
	})
}

// The ingress serves the API port over TLS for every host, including the
// /telemetry WebSocket route.
func TestIngressRoutesToAPI(t *testing.T) {
	ms := loadManifests(t)
	p := loadServerPod(t, ms)
	ings := objectsOf[networkingv1.Ingress](ms)
	if len(ings) == 0 {
		t.Fatal("no ingress")
	}
	telemetryRoute := slices.ContainsFunc(api.Routes(), func(r api.Route) bool { return r.Method == "GET" && r.Path == "/telemetry" })
	if !telemetryRoute {
		t.Fatal("GET /telemetry is not an API route: the ingress cannot carry the WebSocket")
	}
	for _, ing := range ings {
		if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName == "" {
			t.Errorf("ingress %s: no ingressClassName", ing.Name)
		}
		tlsHosts := map[string]bool{}
		for _, tls := range ing.Spec.TLS {
			if tls.SecretName == "" {
				t.Errorf("ingress %s: TLS entry without a secret", ing.Name)
			}
			for _, h := range tls.Hosts {
				tlsHosts[h] = true
			}
		}
		coversTelemetry := false
		for _, rule := range ing.Spec.Rules {
			if !tlsHosts[rule.Host] {
				t.Errorf("ingress %s: host %q is not covered by TLS", ing.Name, rule.Host)
			}
			if rule.HTTP == nil {
				continue
			}
			for _, path := range rule.HTTP.Paths {
				b := path.Backend.Service
				if b == nil {
					t.Errorf("ingress %s: path %s has no service backend", ing.Name, path.Path)
					continue
				}
				svc, w := serviceFor(t, ms, b.Name)
				var sp corev1.ServicePort
				found := false
				for _, x := range svc.Spec.Ports {
					if (b.Port.Name != "" && x.Name == b.Port.Name) || (b.Port.Name == "" && x.Port == b.Port.Number) {
						sp, found = x, true
					}
				}
				if !found {
					t.Errorf("ingress %s: service %s has no port %v", ing.Name, b.Name, b.Port)
					continue
				}
				cp, ok := containerPort(container(t, w, serverName), sp.TargetPort.StrVal, sp.TargetPort.IntVal, sp.Protocol)
				if !ok || int(cp.ContainerPort) != p.Config.Networking.HTTP.Port {
					t.Errorf("ingress %s: path %s reaches container port %d, want only the API port %d", ing.Name, path.Path, cp.ContainerPort, p.Config.Networking.HTTP.Port)
				}
				pt := networkingv1.PathTypeImplementationSpecific
				if path.PathType != nil {
					pt = *path.PathType
				}
				if path.Path == "/telemetry" || (pt == networkingv1.PathTypePrefix && path.Path == "/") {
					coversTelemetry = true
				}
			}
		}
		if !coversTelemetry {
			t.Errorf("ingress %s: no path carries /telemetry to the API", ing.Name)
		}
		if v, err := strconv.Atoi(ing.Annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]); err != nil || v < 3600 {
			t.Errorf("ingress %s: proxy-read-timeout %q would cut idle telemetry WebSockets; want at least 3600", ing.Name, ing.Annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"])
		}
	}
}

func TestHPA(t *testing.T) {
	ms := loadManifests(t)
	hpas := objectsOf[autoscalingv2.HorizontalPodAutoscaler](ms)
	if len(hpas) == 0 {
		t.Fatal("no HorizontalPodAutoscaler")
	}
	for _, h := range hpas {
		ref := h.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" {
			t.Errorf("%s scales %s %s, want an apps/v1 Deployment", h.Name, ref.APIVersion, ref.Kind)
			continue
		}
		d := named[appsv1.Deployment](t, ms, ref.Name)
		minR := int32(1)
		if h.Spec.MinReplicas != nil {
			minR = *h.Spec.MinReplicas
		}
		if minR < 2 || h.Spec.MaxReplicas < minR {
			t.Errorf("%s: replicas %d..%d, want at least 2 and max >= min", h.Name, minR, h.Spec.MaxReplicas)
		}
		if d.Spec.Replicas != nil && (*d.Spec.Replicas < minR || *d.Spec.Replicas > h.Spec.MaxReplicas) {
			t.Errorf("deployment %s has %d replicas, outside the HPA's %d..%d", d.Name, *d.Spec.Replicas, minR, h.Spec.MaxReplicas)
		}
		for _, m := range h.Spec.Metrics {
			if m.Type != autoscalingv2.ResourceMetricSourceType || m.Resource == nil {
				continue
			}
			for _, c := range d.Spec.Template.Spec.Containers {
				if _, ok := c.Resources.Requests[m.Resource.Name]; !ok {
					t.Errorf("%s scales on %s utilization but container %s requests no %s", h.Name, m.Resource.Name, c.Name, m.Resource.Name)
				}
			}
		}
	}
	d := named[appsv1.Deployment](t, ms, serverName)
	if s := d.Spec.Strategy.RollingUpdate; s == nil || s.MaxUnavailable == nil || intstr.ValueOrDefault(s.MaxUnavailable, intstr.FromInt(1)).IntValue() != 0 {
		t.Errorf("rolling update may take replicas down before new ones are ready: %+v", d.Spec.Strategy)
	}
	if d.Spec.RevisionHistoryLimit == nil || *d.Spec.RevisionHistoryLimit < 2 {
		t.Error("revisionHistoryLimit below 2 leaves nothing to roll back to")
	}
}
