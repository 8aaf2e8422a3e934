package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// Where the manifests live, relative to this package.
const (
	kubeDir      = "kubernetes"
	templatesDir = "kubernetes/templates"
	namespace    = "spacetime"
)

// kinds maps apiVersion/kind to a new value of its k8s.io/api type. A
// manifest of any other kind is an error.
var kinds = map[string]func() any{
	"v1/Namespace":                           func() any { return &corev1.Namespace{} },
	"v1/ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                              func() any { return &corev1.Secret{} },
	"v1/PersistentVolumeClaim":               func() any { return &corev1.PersistentVolumeClaim{} },
	"v1/Service":                             func() any { return &corev1.Service{} },
	"apps/v1/Deployment":                     func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                    func() any { return &appsv1.StatefulSet{} },
	"networking.k8s.io/v1/Ingress":           func() any { return &networkingv1.Ingress{} },
	"networking.k8s.io/v1/NetworkPolicy":     func() any { return &networkingv1.NetworkPolicy{} },
	"autoscaling/v2/HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"batch/v1/CronJob":                       func() any { return &batchv1.CronJob{} },
	"batch/v1/Job":                           func() any { return &batchv1.Job{} },
	"policy/v1/PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
}

// manifest is one decoded YAML document.
type manifest struct {
	File string // path relative to this package
	Doc  int    // 1-based document index in the file
	Kind string // apiVersion/kind
	Obj  any    // pointer to the k8s.io/api type
	Meta *metav1.ObjectMeta
}

func (m manifest) String() string {
	return fmt.Sprintf("%s#%d %s %s", m.File, m.Doc, m.Kind, m.Meta.Name)
}

// splitDocuments splits a multi-document YAML file on its "---" lines and
// drops documents holding only comments and blank lines.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	var cur []string
	flush := func() {
		for _, l := range cur {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
				docs = append(docs, []byte(strings.Join(cur, "\n")+"\n"))
				break
			}
		}
		cur = nil
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.TrimRight(line, " \t\r") == "---" {
			flush()
			continue
		}
		cur = append(cur, line)
	}
	flush()
	return docs
}

// decodeManifest decodes one YAML document strictly: duplicate keys,
// unknown fields, wrong types, trailing data and unknown kinds are errors.
func decodeManifest(doc []byte) (kind string, obj any, err error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return "", nil, fmt.Errorf("yaml: %w", err)
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return "", nil, fmt.Errorf("type: %w", err)
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return "", nil, errors.New("no apiVersion or kind")
	}
	kind = tm.APIVersion + "/" + tm.Kind
	newObj, ok := kinds[kind]
	if !ok {
		return "", nil, fmt.Errorf("unexpected kind %s", kind)
	}
	obj = newObj()
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return "", nil, fmt.Errorf("%s: %w", kind, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", nil, fmt.Errorf("%s: trailing data after the object", kind)
	}
	return kind, obj, nil
}

// objectMeta returns the ObjectMeta of a decoded manifest.
func objectMeta(obj any) *metav1.ObjectMeta {
	type metaHolder interface{ GetObjectMeta() metav1.Object }
	if h, ok := obj.(metaHolder); ok {
		if m, ok := h.GetObjectMeta().(*metav1.ObjectMeta); ok {
			return m
		}
	}
	panic(fmt.Sprintf("no ObjectMeta in %T", obj))
}

// loadManifests decodes every document of kubernetes/*.yaml and
// kubernetes/templates/*.yaml, failing the test on the first bad one.
func loadManifests(t *testing.T) []manifest {
	t.Helper()
	var files []string
	for _, dir := range []string{kubeDir, templatesDir} {
		for _, ext := range []string{"*.yaml", "*.yml"} {
			m, err := filepath.Glob(filepath.Join(dir, ext))
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, m...)
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatalf("no manifests in %s", kubeDir)
	}
	var out []manifest
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs := splitDocuments(data)
		if len(docs) == 0 {
			t.Fatalf("%s: no documents", f)
		}
		for i, doc := range docs {
			kind, obj, err := decodeManifest(doc)
			if err != nil {
				t.Fatalf("%s, document %d: %v", f, i+1, err)
			}
			out = append(out, manifest{File: filepath.ToSlash(f), Doc: i + 1, Kind: kind, Obj: obj, Meta: objectMeta(obj)})
		}
	}
	return out
}

// objectsOf returns the manifests of type T.
func objectsOf[T any](ms []manifest) []*T {
	var out []*T
	for _, m := range ms {
		if o, ok := m.Obj.(*T); ok {
			out = append(out, o)
		}
	}
	return out
}

// named returns the manifest of type T called name, failing the test when
// there is none.
func named[T any](t *testing.T, ms []manifest, name string) *T {
	t.Helper()
	for _, m := range ms {
		if o, ok := m.Obj.(*T); ok && m.Meta.Name == name {
			return o
		}
	}
	var zero T
	t.Fatalf("no %T named %q in the manifests", zero, name)
	return nil
}

// workload is a pod template and who owns it.
type workload struct {
	Kind, Name string
	Template   *corev1.PodTemplateSpec
	Selector   *metav1.LabelSelector // nil for a CronJob or Job (generated)
}

// runsOnce reports whether the workload's pods are batch pods, which no
// Service should select.
func (w workload) runsOnce() bool { return w.Kind == "CronJob" || w.Kind == "Job" }

// workloads returns the Deployments, StatefulSets, CronJobs and Jobs.
func workloads(ms []manifest) []workload {
	var out []workload
	for _, m := range ms {
		switch o := m.Obj.(type) {
		case *appsv1.Deployment:
			out = append(out, workload{"Deployment", o.Name, &o.Spec.Template, o.Spec.Selector})
		case *appsv1.StatefulSet:
			out = append(out, workload{"StatefulSet", o.Name, &o.Spec.Template, o.Spec.Selector})
		case *batchv1.CronJob:
			out = append(out, workload{"CronJob", o.Name, &o.Spec.JobTemplate.Spec.Template, nil})
		case *batchv1.Job:
			out = append(out, workload{"Job", o.Name, &o.Spec.Template, nil})
		}
	}
	return out
}

// selects reports whether a label selector matches a pod's labels.
func selects(t *testing.T, sel *metav1.LabelSelector, podLabels map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatalf("bad selector %v: %v", sel, err)
	}
	return s.Matches(labels.Set(podLabels))
}

// containerPort finds the port of c that a Service targetPort or probe
// port names: by name, or by number.
func containerPort(c corev1.Container, name string, number int32, proto corev1.Protocol) (corev1.ContainerPort, bool) {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	for _, p := range c.Ports {
		pp := p.Protocol
		if pp == "" {
			pp = corev1.ProtocolTCP
		}
		if pp != proto {
			continue
		}
		if (name != "" && p.Name == name) || (name == "" && p.ContainerPort == number) {
			return p, true
		}
	}
	return corev1.ContainerPort{}, false
}

// container returns the container called name of a pod template.
func container(t *testing.T, w workload, name string) corev1.Container {
	t.Helper()
	for _, c := range w.Template.Spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("%s %s has no container %q", w.Kind, w.Name, name)
	return corev1.Container{}
}

// findWorkload returns the workload of the given kind and name.
func findWorkload(t *testing.T, ms []manifest, kind, name string) workload {
	t.Helper()
	for _, w := range workloads(ms) {
		if w.Kind == kind && w.Name == name {
			return w
		}
	}
	t.Fatalf("no %s %q in the manifests", kind, name)
	return workload{}
}

func TestManifestsDecodeStrictly(t *testing.T) {
	ms := loadManifests(t)
	count := map[string]int{}
	seen := map[string]string{}
	for _, m := range ms {
		count[m.Kind]++
		key := m.Kind + " " + m.Meta.Namespace + "/" + m.Meta.Name
		if prev, dup := seen[key]; dup {
			t.Errorf("%s: %s already defined in %s", m, key, prev)
		}
		seen[key] = m.String()
		if m.Meta.Name == "" {
			t.Errorf("%s: no metadata.name", m)
		}
		if m.Meta.Labels["app.kubernetes.io/part-of"] != "spacetime" {
			t.Errorf("%s: no label app.kubernetes.io/part-of: spacetime", m)
		}
		if m.Kind == "v1/Namespace" {
			if m.Meta.Name != namespace {
				t.Errorf("%s: namespace %q, want %q", m, m.Meta.Name, namespace)
			}
			continue
		}
		if m.Meta.Namespace != namespace {
			t.Errorf("%s: in namespace %q, want %q", m, m.Meta.Namespace, namespace)
		}
	}
	// The guide's appendix C set.
	for kind, min := range map[string]int{
		"v1/Namespace": 1, "v1/ConfigMap": 3, "v1/Secret": 1, "v1/PersistentVolumeClaim": 1,
		"v1/Service": 3, "apps/v1/Deployment": 1, "apps/v1/StatefulSet": 2,
		"networking.k8s.io/v1/Ingress": 1, "networking.k8s.io/v1/NetworkPolicy": 1,
		"autoscaling/v2/HorizontalPodAutoscaler": 1, "batch/v1/CronJob": 1,
	} {
		if count[kind] < min {
			t.Errorf("%d %s manifests, want at least %d", count[kind], kind, min)
		}
	}
	t.Logf("%d manifests: %v", len(ms), count)
}

// The decoder refuses what kubectl might silently accept or misread.
func TestDecodeManifestIsStrict(t *testing.T) {
	good := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: b\n"
	if _, _, err := decodeManifest([]byte(good)); err != nil {
		t.Fatalf("good manifest: %v", err)
	}
	tests := []struct {
		name, doc, want string
	}{
		{"unknown field", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replica: 2\n", `unknown field "replica"`},
		{"unknown field in metadata", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  label: {a: b}\n", `unknown field "label"`},
		{"duplicate key", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: b\n  a: c\n", `key "a" already set`},
		{"wrong type", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicas: two\n", "cannot unmarshal"},
		{"unknown kind", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n", "unexpected kind v1/Pod"},
		{"unknown version", "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: x\n", "unexpected kind"},
		{"no kind", "metadata:\n  name: x\n", "no apiVersion or kind"},
		{"not yaml", "apiVersion: v1\nkind: [\n", "yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decodeManifest([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestSplitDocuments(t *testing.T) {
	in := "# header only\n---\na: 1\n---   \n# comment\n\n---\nb: 2\n# trailing\n"
	got := splitDocuments([]byte(in))
	want := []string{"a: 1\n", "b: 2\n# trailing\n\n"}
	if len(got) != len(want) {
		t.Fatalf("splitDocuments = %q, want %q", got, want)
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("document %d = %q, want %q", i, got[i], want[i])
		}
	}
}

// Every Service selects pods that have the ports it targets, and every
// StatefulSet's serviceName is a headless Service selecting its pods.
func TestServicesSelectPods(t *testing.T) {
	ms := loadManifests(t)
	ws := workloads(ms)
	for _, svc := range objectsOf[corev1.Service](ms) {
		t.Run(svc.Name, func(t *testing.T) {
			if len(svc.Spec.Selector) == 0 {
				t.Fatal("no selector")
			}
			if svc.Spec.Type != "" && svc.Spec.Type != corev1.ServiceTypeClusterIP {
				t.Errorf("type %s: every Service stays inside the cluster (the API goes out through the Ingress)", svc.Spec.Type)
			}
			var matched []workload
			for _, w := range ws {
				if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(w.Template.Labels)) {
					matched = append(matched, w)
				}
			}
			if len(matched) == 0 {
				t.Fatalf("selector %v matches no pod template", svc.Spec.Selector)
			}
			for _, w := range matched {
				if w.runsOnce() {
					t.Errorf("selects the pods of %s %s", w.Kind, w.Name)
				}
				for _, p := range svc.Spec.Ports {
					found := false
					for _, c := range w.Template.Spec.Containers {
						if _, ok := containerPort(c, p.TargetPort.StrVal, p.TargetPort.IntVal, p.Protocol); ok {
							found = true
						}
					}
					if !found {
						t.Errorf("port %s: targetPort %s/%s is no container port of %s %s", p.Name, p.TargetPort.String(), p.Protocol, w.Kind, w.Name)
					}
				}
			}
		})
	}
	for _, w := range ws {
		if w.Selector == nil {
			continue
		}
		if !selects(t, w.Selector, w.Template.Labels) {
			t.Errorf("%s %s: selector %v does not match its own template's labels %v", w.Kind, w.Name, w.Selector, w.Template.Labels)
		}
	}
	for _, sts := range objectsOf[appsv1.StatefulSet](ms) {
		svc := named[corev1.Service](t, ms, sts.Spec.ServiceName)
		if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("StatefulSet %s: service %s is not headless", sts.Name, svc.Name)
		}
		if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(sts.Spec.Template.Labels)) {
			t.Errorf("StatefulSet %s: service %s does not select its pods", sts.Name, svc.Name)
		}
	}
	for _, pdb := range objectsOf[policyv1.PodDisruptionBudget](ms) {
		n := 0
		for _, w := range ws {
			if !w.runsOnce() && selects(t, pdb.Spec.Selector, w.Template.Labels) {
				n++
			}
		}
		if n == 0 {
			t.Errorf("PodDisruptionBudget %s selects no workload", pdb.Name)
		}
	}
}

// Every pod meets the "restricted" Pod Security Standard the namespace
// enforces, and sets requests and limits.
func TestPodSecurity(t *testing.T) {
	ms := loadManifests(t)
	ns := named[corev1.Namespace](t, ms, namespace)
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace does not enforce the restricted pod security standard: %v", ns.Labels)
	}
	for _, w := range workloads(ms) {
		t.Run(w.Kind+"/"+w.Name, func(t *testing.T) {
			spec := w.Template.Spec
			psc := spec.SecurityContext
			if psc == nil {
				psc = &corev1.PodSecurityContext{}
			}
			if spec.HostNetwork || spec.HostPID || spec.HostIPC {
				t.Error("shares a host namespace")
			}
			if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
				t.Error("automountServiceAccountToken is not false (no workload talks to the Kubernetes API)")
			}
			for _, v := range spec.Volumes {
				if v.HostPath != nil {
					t.Errorf("volume %s is a hostPath", v.Name)
				}
			}
			all := append(slices.Clone(spec.InitContainers), spec.Containers...)
			for _, c := range all {
				csc := c.SecurityContext
				if csc == nil {
					t.Errorf("container %s: no securityContext", c.Name)
					continue
				}
				if !boolOr(csc.RunAsNonRoot, psc.RunAsNonRoot) {
					t.Errorf("container %s: runAsNonRoot is not true", c.Name)
				}
				if uid := int64Or(csc.RunAsUser, psc.RunAsUser); uid == nil || *uid == 0 {
					t.Errorf("container %s: runAsUser is unset or root; set the image's non-root uid", c.Name)
				}
				if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
					t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
				}
				if csc.Privileged != nil && *csc.Privileged {
					t.Errorf("container %s: privileged", c.Name)
				}
				if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
					t.Errorf("container %s: readOnlyRootFilesystem is not true", c.Name)
				}
				if csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") {
					t.Errorf("container %s: capabilities do not drop ALL", c.Name)
				} else if len(csc.Capabilities.Add) > 0 {
					t.Errorf("container %s: adds capabilities %v", c.Name, csc.Capabilities.Add)
				}
				sp := csc.SeccompProfile
				if sp == nil {
					sp = psc.SeccompProfile
				}
				if sp == nil || sp.Type != corev1.SeccompProfileTypeRuntimeDefault {
					t.Errorf("container %s: seccomp profile is not RuntimeDefault", c.Name)
				}
				for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
					req, hasReq := c.Resources.Requests[res]
					lim, hasLim := c.Resources.Limits[res]
					if !hasReq || !hasLim {
						t.Errorf("container %s: no %s request and limit", c.Name, res)
						continue
					}
					if req.Cmp(lim) > 0 {
						t.Errorf("container %s: %s request %s above the limit %s", c.Name, res, req.String(), lim.String())
					}
				}
				if c.Image == "" || strings.HasSuffix(c.Image, ":latest") || !strings.Contains(c.Image, ":") {
					t.Errorf("container %s: image %q has no pinned tag", c.Name, c.Image)
				}
			}
		})
	}
}

func boolOr(a, b *bool) bool {
	if a != nil {
		return *a
	}
	return b != nil && *b
}

func int64Or(a, b *int64) *int64 {
	if a != nil {
		return a
	}
	return b
}

// operatorSecrets are the secrets the README tells the operator to create
// with kubectl instead of a template (TLS material).
var operatorSecrets = []string{"spacetime-tls", "spacetime-postgres-tls"}

// Every secret, ConfigMap and volume claim a workload or the ingress names
// exists, with the keys it reads.
func TestReferencesResolve(t *testing.T) {
	ms := loadManifests(t)
	readme, err := os.ReadFile(filepath.Join(kubeDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	secretKeys := func(name string) (map[string]bool, bool) {
		for _, s := range objectsOf[corev1.Secret](ms) {
			if s.Name == name {
				keys := map[string]bool{}
				for k := range s.StringData {
					keys[k] = true
				}
				for k := range s.Data {
					keys[k] = true
				}
				return keys, true
			}
		}
		return nil, false
	}
	checkSecret := func(where, name, key string) {
		t.Helper()
		keys, ok := secretKeys(name)
		if !ok {
			if !slices.Contains(operatorSecrets, name) {
				t.Errorf("%s: secret %q is neither templated nor one the README has you create", where, name)
			} else if !strings.Contains(string(readme), "create secret tls "+name) {
				t.Errorf("%s: README.md does not show `kubectl create secret tls %s`", where, name)
			}
			return
		}
		if key != "" && !keys[key] {
			t.Errorf("%s: secret %s has no key %q", where, name, key)
		}
	}
	configMapKeys := func(name string) (map[string]bool, bool) {
		for _, c := range objectsOf[corev1.ConfigMap](ms) {
			if c.Name == name {
				keys := map[string]bool{}
				for k := range c.Data {
					keys[k] = true
				}
				return keys, true
			}
		}
		return nil, false
	}
	claims := map[string]bool{}
	for _, p := range objectsOf[corev1.PersistentVolumeClaim](ms) {
		claims[p.Name] = true
	}
	for _, w := range workloads(ms) {
		spec := w.Template.Spec
		where := w.Kind + " " + w.Name
		for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				if r := e.ValueFrom.SecretKeyRef; r != nil {
					checkSecret(where+" env "+e.Name, r.Name, r.Key)
				}
				if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
					keys, ok := configMapKeys(r.Name)
					if !ok || !keys[r.Key] {
						t.Errorf("%s env %s: no key %q in ConfigMap %q", where, e.Name, r.Key, r.Name)
					}
				}
			}
			for _, ef := range c.EnvFrom {
				t.Errorf("%s: envFrom %v: name each variable instead, so the tests can check it", where, ef)
			}
			mounted := map[string]bool{}
			for _, vm := range c.VolumeMounts {
				mounted[vm.Name] = true
			}
			for _, v := range spec.Volumes {
				if !mounted[v.Name] {
					continue
				}
				switch {
				case v.Secret != nil:
					checkSecret(where+" volume "+v.Name, v.Secret.SecretName, "")
				case v.ConfigMap != nil:
					keys, ok := configMapKeys(v.ConfigMap.Name)
					if !ok {
						t.Errorf("%s volume %s: no ConfigMap %q", where, v.Name, v.ConfigMap.Name)
						continue
					}
					for _, it := range v.ConfigMap.Items {
						if !keys[it.Key] {
							t.Errorf("%s volume %s: ConfigMap %s has no key %q", where, v.Name, v.ConfigMap.Name, it.Key)
						}
					}
				case v.PersistentVolumeClaim != nil:
					if !claims[v.PersistentVolumeClaim.ClaimName] {
						t.Errorf("%s volume %s: no PersistentVolumeClaim %q", where, v.Name, v.PersistentVolumeClaim.ClaimName)
					}
				}
			}
			for _, vm := range c.VolumeMounts {
				ok := slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == vm.Name })
				if w.Kind == "StatefulSet" {
					for _, sts := range objectsOf[appsv1.StatefulSet](ms) {
						if sts.Name == w.Name {
							ok = ok || slices.ContainsFunc(sts.Spec.VolumeClaimTemplates, func(p corev1.PersistentVolumeClaim) bool { return p.Name == vm.Name })
						}
					}
				}
				if !ok {
					t.Errorf("%s container %s mounts volume %q, which the pod does not have", where, c.Name, vm.Name)
				}
			}
		}
	}
	for _, ing := range objectsOf[networkingv1.Ingress](ms) {
		for _, tls := range ing.Spec.TLS {
			checkSecret("Ingress "+ing.Name, tls.SecretName, "")
		}
	}
}

// The secret template holds placeholders only, and the binary refuses
// each of them: applying it unedited cannot start an insecure server.
func TestSecretTemplateHoldsPlaceholders(t *testing.T) {
	ms := loadManifests(t)
	secrets := objectsOf[corev1.Secret](ms)
	if len(secrets) == 0 {
		t.Fatal("no secret template")
	}
	for _, s := range secrets {
		if len(s.Data) > 0 {
			t.Errorf("secret %s: data holds values; a template uses stringData placeholders", s.Name)
		}
		for k, v := range s.StringData {
			if !strings.HasPrefix(v, "REPLACE_WITH") {
				t.Errorf("secret %s: %s = %q is not a REPLACE_WITH placeholder", s.Name, k, v)
			}
		}
	}
	files, err := filepath.Glob(filepath.Join(kubeDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range splitDocuments(data) {
			if kind, _, _ := decodeManifest(doc); kind == "v1/Secret" {
				t.Errorf("%s holds a Secret: keep templates in %s, so applying the directory never overwrites real secrets", f, templatesDir)
			}
		}
	}
}

// The syntax rules the API server would enforce on names, labels and
// ports (k8s.io/apimachinery/pkg/util/validation), which decoding alone
// does not check.
func TestManifestFieldSyntax(t *testing.T) {
	ms := loadManifests(t)
	check := func(where string, errs []string) {
		t.Helper()
		for _, e := range errs {
			t.Errorf("%s: %s", where, e)
		}
	}
	checkLabels := func(where string, l map[string]string) {
		t.Helper()
		for k, v := range l {
			check(where+" label key "+k, validation.IsQualifiedName(k))
			check(where+" label "+k+" value "+v, validation.IsValidLabelValue(v))
		}
	}
	for _, m := range ms {
		check(m.String()+" name", validation.IsDNS1123Subdomain(m.Meta.Name))
		checkLabels(m.String(), m.Meta.Labels)
		for k := range m.Meta.Annotations {
			check(m.String()+" annotation "+k, validation.IsQualifiedName(k))
		}
		if svc, ok := m.Obj.(*corev1.Service); ok {
			check(m.String()+" name", validation.IsDNS1035Label(svc.Name))
			for _, p := range svc.Spec.Ports {
				check(m.String()+" port name", validation.IsValidPortName(p.Name))
				if p.TargetPort.StrVal != "" {
					check(m.String()+" targetPort", validation.IsValidPortName(p.TargetPort.StrVal))
				}
			}
		}
	}
	for _, w := range workloads(ms) {
		where := w.Kind + " " + w.Name
		checkLabels(where+" template", w.Template.Labels)
		for _, v := range w.Template.Spec.Volumes {
			check(where+" volume", validation.IsDNS1123Label(v.Name))
		}
		for _, c := range append(slices.Clone(w.Template.Spec.InitContainers), w.Template.Spec.Containers...) {
			check(where+" container", validation.IsDNS1123Label(c.Name))
			for _, p := range c.Ports {
				if p.Name != "" {
					check(where+" container port", validation.IsValidPortName(p.Name))
				}
			}
			for _, e := range c.Env {
				check(where+" env", validation.IsEnvVarName(e.Name))
			}
		}
	}
}
