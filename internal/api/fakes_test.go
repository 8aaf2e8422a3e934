package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/api"
	"github.com/spacetime-vr/spacetime/internal/buildinfo"
	"github.com/spacetime-vr/spacetime/internal/engine"
)

// fakeClock is an injected clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeSim is a Sim whose Load swaps the snapshot for one built from the
// spec, as the engine does once the new world has ticked. Hooks let a test
// delay or refuse a load, answer commands, or panic.
type fakeSim struct {
	clock *fakeClock

	mu       sync.Mutex
	snap     *engine.Snapshot
	loadHook func(ctx context.Context, spec *engine.Spec) error // runs before the swap; an error refuses it
	execHook func(ctx context.Context, line string) (string, error)
	panicMsg string // Snapshot panics with it when set
}

var _ api.Sim = (*fakeSim)(nil)

func (f *fakeSim) Snapshot() *engine.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panicMsg != "" {
		panic(f.panicMsg)
	}
	return f.snap
}

func (f *fakeSim) setSnapshot(s *engine.Snapshot) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snap = s
}

func (f *fakeSim) setPanic(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.panicMsg = msg
}

func (f *fakeSim) Load(ctx context.Context, spec *engine.Spec) error {
	f.mu.Lock()
	hook := f.loadHook
	f.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, spec); err != nil {
			return fmt.Errorf("engine load: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("engine load: %w", err)
	}
	f.setSnapshot(snapshotOf(spec, f.clock.Now()))
	return nil
}

func (f *fakeSim) Exec(ctx context.Context, line string) (string, error) {
	f.mu.Lock()
	hook := f.execHook
	f.mu.Unlock()
	if hook == nil {
		return "ok: " + line, nil
	}
	return hook(ctx, line)
}

// snapshotOf is the first snapshot of a world built from spec.
func snapshotOf(spec *engine.Spec, now time.Time) *engine.Snapshot {
	s := &engine.Snapshot{
		Tick:         1,
		SimTime:      spec.Epoch,
		WallTime:     now,
		TimeScale:    max(spec.TimeScale, 1),
		SpeedOfLight: engine.SpeedOfLight,
		Scene:        engine.SceneInfo{Name: spec.Name, Path: spec.Path, LoadedAt: now, Epoch: spec.Epoch},
		Perf:         engine.Perf{PhysicsFPS: 90, FPS: 90, Ticks: 1},
	}
	for _, b := range spec.Bodies {
		s.Bodies = append(s.Bodies, engine.BodyState{Name: b.Name, GM: b.GM, Radius: b.Radius, Pos: b.Pos, Vel: b.Vel})
	}
	s.ParticleCount = spec.Particles.Len()
	s.ParticleGroups = spec.Particles.Groups
	if p := spec.Player; p != nil {
		s.Player = &engine.PlayerState{
			Name: p.Name, Pos: p.Pos, Vel: p.Vel, Attitude: engine.QuatIdentity,
			Status: engine.PlayerFlying, Lorentz: 1, Gamma: 1,
		}
	}
	return s
}

// fakeScene is one scene file of the fake project.
type fakeScene struct {
	spec       *engine.Spec // what Build returns
	err        error        // what Build returns instead
	validation api.Validation
}

// fakeScenes is a project: files by canonical path, and a whitelist. Check
// follows the rules the real adapter has: res:// .tscn paths, no "..".
type fakeScenes struct {
	files   map[string]fakeScene
	allowed map[string]bool
}

var _ api.Scenes = (*fakeScenes)(nil)

func (f *fakeScenes) List(context.Context) ([]api.SceneEntry, error) {
	var paths []string
	for p := range f.files {
		paths = append(paths, p)
	}
	for p := range f.allowed {
		if _, ok := f.files[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	out := make([]api.SceneEntry, 0, len(paths))
	for _, p := range paths {
		out = append(out, api.SceneEntry{Path: p, Allowed: f.allowed[p]})
	}
	return out, nil
}

func (f *fakeScenes) Check(p string) (string, error) {
	if !strings.HasPrefix(p, "res://") || !strings.HasSuffix(p, ".tscn") || strings.Contains(p, "..") {
		return "", fmt.Errorf("whitelist: %q: %w", p, api.ErrInvalid)
	}
	canonical := "res://" + path.Clean(strings.TrimPrefix(p, "res://"))
	if !f.allowed[canonical] {
		return "", fmt.Errorf("whitelist: %s: %w", canonical, api.ErrForbidden)
	}
	return canonical, nil
}

// secretDir stands for a server-side path that must never reach a client.
const secretDir = "/srv/secret-project-root"

func (f *fakeScenes) Build(_ context.Context, p string) (*engine.Spec, error) {
	file, ok := f.files[p]
	if !ok {
		return nil, fmt.Errorf("open %s/%s: %w", secretDir, strings.TrimPrefix(p, "res://"), api.ErrNotFound)
	}
	if file.err != nil {
		return nil, file.err
	}
	return file.spec, nil
}

func (f *fakeScenes) Validate(_ context.Context, p string) (api.Validation, error) {
	file, ok := f.files[p]
	if !ok {
		return api.Validation{}, fmt.Errorf("open %s/%s: %w", secretDir, strings.TrimPrefix(p, "res://"), api.ErrNotFound)
	}
	return file.validation, nil
}

// The fake project's scenes.
const (
	sceneMain        = "res://vr_main.tscn"
	sceneMenu        = "res://scenes/menu.tscn"
	sceneDebug       = "res://tests/debug.tscn" // exists, not whitelisted
	sceneBroken      = "res://scenes/broken.tscn"
	sceneMissing     = "res://scenes/missing.tscn" // whitelisted, no file
	sceneUnbuildable = "res://scenes/unbuildable.tscn"
	sceneSlow        = "res://scenes/slow.tscn" // the fake engine never finishes loading it
	sceneRefused     = "res://scenes/refused.tscn"
	sceneInternal    = "res://scenes/internal.tscn" // Build fails with an error of no kind
)

func mainSpec() *engine.Spec {
	return &engine.Spec{
		Name: "vr_main", Path: sceneMain, Epoch: 86400, TimeScale: 1,
		Bodies: []engine.BodySpec{
			{Name: "Sun", GM: 1.32712440018e20, Radius: 6.957e8},
			{Name: "Earth", GM: 3.986004418e14, Radius: 6.371e6,
				Pos: engine.Vec3{X: 1.496e11}, Vel: engine.Vec3{Y: 29780}},
		},
		Particles: engine.ParticleSpec{
			X: make([]float64, 5), Y: make([]float64, 5), Z: make([]float64, 5),
			VX: make([]float64, 5), VY: make([]float64, 5), VZ: make([]float64, 5),
			Groups: []engine.ParticleGroup{{Name: "Belt", Start: 0, Count: 5}},
		},
		Player: &engine.PlayerSpec{Name: "XROrigin3D", Pos: engine.Vec3{X: 1.5e11, Y: 1e7}},
	}
}

func newFakeScenes() *fakeScenes {
	return &fakeScenes{
		files: map[string]fakeScene{
			sceneMain: {spec: mainSpec(), validation: api.Validation{
				Valid:     true,
				SceneInfo: &api.SceneSummary{Name: "vr_main", Nodes: 9, Bodies: 2, Particles: 5, ParticleGroups: 1, HasPlayer: true},
			}},
			sceneMenu:  {spec: &engine.Spec{Name: "menu", Path: sceneMenu}},
			sceneDebug: {spec: &engine.Spec{Name: "debug", Path: sceneDebug}},
			sceneBroken: {
				err: &api.SceneSyntaxError{Path: sceneBroken, Line: 12, Col: 5, Msg: "expected '=' after key"},
				validation: api.Validation{
					Errors:   []api.Issue{{Message: "expected '=' after key", Line: 12, Col: 5}},
					Warnings: []api.Issue{{Message: "unknown node type Foo kept", Node: "Root/Foo"}},
				},
			},
			sceneUnbuildable: {err: fmt.Errorf("build scene: %w", &api.Error{
				Kind: api.ErrUnprocessable, Detail: "node Belt: belt_inner must be less than belt_outer"})},
			sceneSlow:     {spec: &engine.Spec{Name: "slow", Path: sceneSlow}},
			sceneRefused:  {spec: &engine.Spec{Name: "refused", Path: sceneRefused}},
			sceneInternal: {err: fmt.Errorf("read %s/internal.tscn: disk on fire", secretDir)},
		},
		allowed: map[string]bool{
			sceneMain: true, sceneMenu: true, sceneBroken: true, sceneMissing: true,
			sceneUnbuildable: true, sceneSlow: true, sceneRefused: true, sceneInternal: true,
		},
	}
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is a Server with fakes behind a real listener.
type harness struct {
	t      *testing.T
	clock  *fakeClock
	sim    *fakeSim
	scenes *fakeScenes
	hist   *api.MemoryHistory
	logs   *syncBuffer
	srv    *api.Server
	ts     *httptest.Server
}

// t0 is the fake clock's start.
var t0 = time.Date(2031, 5, 4, 12, 0, 0, 0, time.UTC)

// newHarness starts a server running sceneMenu, its engine ticking at the
// clock's time. mods adjust the options before New.
func newHarness(t *testing.T, mods ...func(*api.Options)) *harness {
	t.Helper()
	h := &harness{t: t, clock: &fakeClock{t: t0}, scenes: newFakeScenes(), hist: api.NewMemoryHistory(0), logs: &syncBuffer{}}
	h.sim = &fakeSim{clock: h.clock, snap: snapshotOf(h.scenes.files[sceneMenu].spec, t0)}
	h.sim.loadHook = func(ctx context.Context, spec *engine.Spec) error {
		switch spec.Path {
		case sceneSlow:
			<-ctx.Done()
			return ctx.Err()
		case sceneRefused:
			return &api.Error{Kind: api.ErrUnprocessable, Detail: "world has no bodies"}
		}
		return nil
	}
	opts := api.Options{
		Sim:              h.sim,
		Scenes:           h.scenes,
		History:          h.hist,
		Logger:           slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Build:            buildinfo.Info{Version: "1.2.3", Commit: "abc123", BuildMode: "debug", GoVersion: "go1.26", Platform: "linux/amd64"},
		Environment:      "staging",
		Now:              h.clock.Now,
		StartTime:        t0.Add(-120 * time.Second),
		SceneLoadTimeout: 20 * time.Millisecond,
	}
	for _, m := range mods {
		m(&opts)
	}
	srv, err := api.New(opts)
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	h.srv = srv
	h.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(h.ts.Close)
	return h
}

// response is what a request got.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request; body "" sends none. hdr are key, value pairs; a JSON
// body gets Content-Type application/json unless hdr sets one.
func (h *harness) do(method, target, body string, hdr ...string) response {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.ts.URL+target, rd)
	if err != nil {
		h.t.Fatalf("new request: %v", err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return h.send(req)
}

func (h *harness) send(req *http.Request) response {
	h.t.Helper()
	r, err := h.trySend(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) trySend(req *http.Request) (response, error) {
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("read body: %w", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// doNoFatal is do for goroutines other than the test's: a failure is a
// response with status 0 and the error as its body.
func (h *harness) doNoFatal(method, target, body string) response {
	req, err := http.NewRequest(method, h.ts.URL+target, strings.NewReader(body))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		var r response
		if r, err = h.trySend(req); err == nil {
			return r
		}
	}
	return response{body: []byte(err.Error())}
}

// decode unmarshals a response body, failing the test on error.
func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %T from %q: %v", v, r.body, err)
	}
	return v
}

// problem checks that r is a problem document with the status and code
// and returns it.
func problem(t *testing.T, r response, status int, code string) api.Problem {
	t.Helper()
	if r.status != status {
		t.Errorf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	if got := r.header.Get("Content-Type"); got != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", got)
	}
	p := decode[api.Problem](t, r)
	if p.Code != code {
		t.Errorf("code = %q, want %q (detail %q)", p.Code, code, p.Detail)
	}
	if p.Status != r.status {
		t.Errorf("problem status = %d, response status %d", p.Status, r.status)
	}
	if p.Type != "urn:spacetime:problem:"+p.Code || p.Title == "" || p.Detail == "" || p.Instance == "" {
		t.Errorf("incomplete problem: %+v", p)
	}
	if p.RequestID == "" || p.RequestID != r.header.Get("X-Request-ID") {
		t.Errorf("request_id = %q, X-Request-ID %q", p.RequestID, r.header.Get("X-Request-ID"))
	}
	return p
}

// currentScene is the path GET /scene reports.
func (h *harness) currentScene() string {
	h.t.Helper()
	r := h.do("GET", "/scene", "")
	return decode[map[string]any](h.t, r)["scene_path"].(string)
}

// history returns the scene history.
func (h *harness) history() []api.HistoryEntry {
	h.t.Helper()
	got, err := h.hist.List(context.Background(), 0)
	if err != nil {
		h.t.Fatalf("history: %v", err)
	}
	return got
}
