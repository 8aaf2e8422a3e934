package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/api"
	"github.com/spacetime-vr/spacetime/internal/engine"
)

func TestLoadScene(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		wantStatus  int
		wantCode    string // problem code; "" for success
		wantHistory string // status of the history entry; "" for none
		wantDetail  string // part of the problem detail
	}{
		{name: "ok", body: `{"scene_path":"res://vr_main.tscn"}`, wantStatus: 200, wantHistory: "loaded"},
		{name: "ok non-canonical path", body: `{"scene_path":"res://scenes/./menu.tscn"}`, wantStatus: 200, wantHistory: "loaded"},
		{name: "traversal", body: `{"scene_path":"res://../etc/passwd.tscn"}`, wantStatus: 400, wantCode: "invalid_path"},
		{name: "not res", body: `{"scene_path":"/etc/passwd"}`, wantStatus: 400, wantCode: "invalid_path"},
		{name: "empty path", body: `{"scene_path":""}`, wantStatus: 400, wantCode: "invalid_path"},
		{name: "no path", body: `{}`, wantStatus: 400, wantCode: "invalid_path"},
		{name: "outside whitelist", body: `{"scene_path":"res://tests/debug.tscn"}`, wantStatus: 403, wantCode: "scene_forbidden"},
		{name: "missing", body: `{"scene_path":"res://scenes/missing.tscn"}`, wantStatus: 404, wantCode: "scene_not_found",
			wantHistory: "failed", wantDetail: "res://scenes/missing.tscn"},
		{name: "malformed", body: `{"scene_path":"res://scenes/broken.tscn"}`, wantStatus: 422, wantCode: "scene_malformed",
			wantHistory: "failed", wantDetail: "expected '=' after key"},
		{name: "unbuildable", body: `{"scene_path":"res://scenes/unbuildable.tscn"}`, wantStatus: 422, wantCode: "scene_invalid",
			wantHistory: "failed", wantDetail: "belt_inner must be less than belt_outer"},
		{name: "engine refuses", body: `{"scene_path":"res://scenes/refused.tscn"}`, wantStatus: 422, wantCode: "scene_invalid",
			wantHistory: "failed", wantDetail: "world has no bodies"},
		{name: "timeout", body: `{"scene_path":"res://scenes/slow.tscn"}`, wantStatus: 504, wantCode: "timeout",
			wantHistory: "failed", wantDetail: "did not finish"},
		{name: "internal", body: `{"scene_path":"res://scenes/internal.tscn"}`, wantStatus: 500, wantCode: "internal",
			wantHistory: "failed"},
		{name: "malformed json", body: `{"scene_path":`, wantStatus: 400, wantCode: "malformed_json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.do("POST", "/scene/load", tt.body)
			hist := h.history()

			if tt.wantCode == "" {
				if r.status != tt.wantStatus {
					t.Fatalf("status = %d, want %d: %s", r.status, tt.wantStatus, r.body)
				}
				var req struct {
					ScenePath string `json:"scene_path"`
				}
				_ = json.Unmarshal([]byte(tt.body), &req)
				want := strings.Replace(req.ScenePath, "/./", "/", 1)
				got := decode[map[string]any](t, r)
				if got["scene_path"] != want || got["status"] != "loaded" || got["scene_name"] == "" {
					t.Errorf("body = %v, want scene_path %s, status loaded, a scene_name", got, want)
				}
				if _, ok := got["load_time_ms"].(float64); !ok {
					t.Errorf("load_time_ms missing: %v", got)
				}
				if cur := h.currentScene(); cur != want {
					t.Errorf("running scene = %s, want %s", cur, want)
				}
			} else {
				p := problem(t, r, tt.wantStatus, tt.wantCode)
				if !strings.Contains(p.Detail, tt.wantDetail) {
					t.Errorf("detail = %q, want it to contain %q", p.Detail, tt.wantDetail)
				}
				if strings.Contains(string(r.body), secretDir) || strings.Contains(string(r.body), "disk on fire") {
					t.Errorf("problem leaks a server-side error: %s", r.body)
				}
				if cur := h.currentScene(); cur != sceneMenu {
					t.Errorf("after a failed load the running scene = %s, want the previous %s", cur, sceneMenu)
				}
			}

			switch {
			case tt.wantHistory == "" && len(hist) != 0:
				t.Errorf("history = %+v, want no entry", hist)
			case tt.wantHistory != "" && len(hist) != 1:
				t.Errorf("history has %d entries, want 1", len(hist))
			case tt.wantHistory != "":
				e := hist[0]
				if e.Status != tt.wantHistory {
					t.Errorf("history status = %q, want %q", e.Status, tt.wantHistory)
				}
				if (e.Error == "") != (tt.wantHistory == "loaded") || (e.ErrorCode != tt.wantCode) {
					t.Errorf("history error = %q (%q), want code %q", e.Error, e.ErrorCode, tt.wantCode)
				}
				if strings.Contains(e.Error, secretDir) {
					t.Errorf("history error leaks a server path: %q", e.Error)
				}
			}
		})
	}
}

func TestLoadSceneSyntaxErrorPosition(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/scene/load", `{"scene_path":"res://scenes/broken.tscn"}`)
	p := problem(t, r, http.StatusUnprocessableEntity, "scene_malformed")
	if p.Line != 12 || p.Col != 5 {
		t.Errorf("line, col = %d, %d, want 12, 5", p.Line, p.Col)
	}
	if want := "res://scenes/broken.tscn:12:5: expected '=' after key"; p.Detail != want {
		t.Errorf("detail = %q, want %q", p.Detail, want)
	}
}

func TestLoadInternalErrorIsLoggedWithRequestID(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/scene/load", `{"scene_path":"res://scenes/internal.tscn"}`, "X-Request-ID", "req-internal-1")
	p := problem(t, r, http.StatusInternalServerError, "internal")
	if p.RequestID != "req-internal-1" {
		t.Errorf("request_id = %q", p.RequestID)
	}
	logs := h.logs.String()
	var found bool
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"request failed"`) && strings.Contains(line, "req-internal-1") && strings.Contains(line, "disk on fire") {
			found = true
		}
	}
	if !found {
		t.Errorf("no error log line with the request id and the cause; logs:\n%s", logs)
	}
}

func TestLoadTimeComesFromTheClock(t *testing.T) {
	h := newHarness(t)
	h.sim.loadHook = func(context.Context, *engine.Spec) error {
		h.clock.Advance(250 * time.Millisecond)
		return nil
	}
	r := h.do("POST", "/scene/load", `{"scene_path":"res://vr_main.tscn"}`)
	got := decode[map[string]any](t, r)
	if got["load_time_ms"] != 250.0 {
		t.Errorf("load_time_ms = %v, want 250", got["load_time_ms"])
	}
	hist := h.history()
	if len(hist) != 1 {
		t.Fatalf("history = %+v", hist)
	}
	want := api.HistoryEntry{ScenePath: sceneMain, LoadedAt: t0.Add(250 * time.Millisecond), LoadTimeMS: 250, Status: "loaded"}
	if hist[0] != want {
		t.Errorf("history entry = %+v, want %+v", hist[0], want)
	}
}

func TestLoadWhileLoadingConflicts(t *testing.T) {
	h := newHarness(t)
	started, release := make(chan struct{}), make(chan struct{})
	h.sim.loadHook = func(ctx context.Context, spec *engine.Spec) error {
		if spec.Path == sceneMain {
			close(started)
			<-release
		}
		return nil
	}
	// The first load blocks in the engine until the second request is done.
	var wg sync.WaitGroup
	var first response
	wg.Add(1)
	go func() {
		defer wg.Done()
		first = h.doNoFatal("POST", "/scene/load", `{"scene_path":"res://vr_main.tscn"}`)
	}()
	<-started
	second := h.do("POST", "/scene/load", `{"scene_path":"res://scenes/menu.tscn"}`)
	close(release)
	wg.Wait()

	problem(t, second, http.StatusConflict, "load_in_progress")
	if first.status != http.StatusOK {
		t.Errorf("first load: %d %s", first.status, first.body)
	}
	if hist := h.history(); len(hist) != 1 || hist[0].ScenePath != sceneMain {
		t.Errorf("history = %+v, want only the first load", hist)
	}
}

func TestLoadTimeoutAllowsLongerConfiguredTimeout(t *testing.T) {
	// A load that takes longer than a short timeout but less than the
	// configured one succeeds: the option is honoured.
	h := newHarness(t, func(o *api.Options) { o.SceneLoadTimeout = time.Hour })
	h.sim.loadHook = func(ctx context.Context, spec *engine.Spec) error {
		if _, ok := ctx.Deadline(); !ok {
			return fmt.Errorf("no deadline on the load context")
		}
		d, _ := ctx.Deadline()
		if time.Until(d) < 30*time.Minute {
			return fmt.Errorf("deadline %v is not the configured hour", time.Until(d))
		}
		return nil
	}
	r := h.do("POST", "/scene/load", `{"scene_path":"res://vr_main.tscn"}`)
	if r.status != http.StatusOK {
		t.Errorf("status = %d: %s", r.status, r.body)
	}
}

func TestReloadScene(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		noScene    bool
		wantStatus int
		wantCode   string
	}{
		{name: "no body", wantStatus: 200},
		{name: "empty object", body: `{}`, wantStatus: 200},
		{name: "unknown field", body: `{"scene_path":"res://vr_main.tscn"}`, wantStatus: 400, wantCode: "malformed_json"},
		{name: "no scene running", noScene: true, wantStatus: 409, wantCode: "no_scene"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if tt.noScene {
				h.sim.setSnapshot(&engine.Snapshot{WallTime: t0})
			}
			var loaded []string
			h.sim.loadHook = func(_ context.Context, spec *engine.Spec) error {
				loaded = append(loaded, spec.Path)
				return nil
			}
			r := h.do("POST", "/scene/reload", tt.body)
			if tt.wantCode != "" {
				problem(t, r, tt.wantStatus, tt.wantCode)
				if len(loaded) != 0 {
					t.Errorf("engine loads = %v, want none", loaded)
				}
				return
			}
			got := decode[map[string]any](t, r)
			if r.status != tt.wantStatus || got["scene_path"] != sceneMenu || got["status"] != "loaded" {
				t.Errorf("reload: %d %v", r.status, got)
			}
			if len(loaded) != 1 || loaded[0] != sceneMenu {
				t.Errorf("engine loads = %v, want [%s] (built again from source)", loaded, sceneMenu)
			}
			if hist := h.history(); len(hist) != 1 || hist[0].ScenePath != sceneMenu || hist[0].Status != "loaded" {
				t.Errorf("history = %+v", hist)
			}
		})
	}
}

func TestReloadRespectsWhitelist(t *testing.T) {
	h := newHarness(t)
	h.sim.setSnapshot(snapshotOf(h.scenes.files[sceneDebug].spec, t0))
	r := h.do("POST", "/scene/reload", "")
	problem(t, r, http.StatusForbidden, "scene_forbidden")
}

func TestSceneHistory(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{sceneMain, sceneMissing, sceneMenu} {
		h.clock.Advance(time.Second)
		h.do("POST", "/scene/load", `{"scene_path":"`+p+`"}`)
	}
	r := h.do("GET", "/scene/history", "")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	got := decode[[]map[string]any](t, r)
	want := []struct {
		path, status string
		at           time.Time
	}{
		{sceneMain, "loaded", t0.Add(1 * time.Second)},
		{sceneMissing, "failed", t0.Add(2 * time.Second)},
		{sceneMenu, "loaded", t0.Add(3 * time.Second)},
	}
	if len(got) != len(want) {
		t.Fatalf("history has %d entries, want %d: %s", len(got), len(want), r.body)
	}
	for i, w := range want {
		e := got[i]
		if e["scene_path"] != w.path || e["status"] != w.status || e["loaded_at"] != w.at.Format(time.RFC3339Nano) {
			t.Errorf("entry %d = %v, want %s %s at %v", i, e, w.path, w.status, w.at)
		}
		if _, ok := e["load_time_ms"].(float64); !ok {
			t.Errorf("entry %d has no load_time_ms", i)
		}
		if _, hasErr := e["error"]; hasErr != (w.status == "failed") {
			t.Errorf("entry %d: error present = %v", i, hasErr)
		}
	}

	last := decode[[]map[string]any](t, h.do("GET", "/scene/history?limit=1", ""))
	if len(last) != 1 || last[0]["scene_path"] != sceneMenu {
		t.Errorf("limit=1 = %v, want the latest entry", last)
	}
	for _, bad := range []string{"0", "-1", "x", "1001"} {
		problem(t, h.do("GET", "/scene/history?limit="+bad, ""), http.StatusBadRequest, "invalid_parameter")
	}
}

func TestSceneHistoryEmptyIsArray(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/scene/history", "")
	if strings.TrimSpace(string(r.body)) != "[]" {
		t.Errorf("body = %s, want []", r.body)
	}
}

func TestValidateScene(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantCode   string
		wantValid  bool
		wantErrors int
	}{
		{name: "valid", path: sceneMain, wantStatus: 200, wantValid: true},
		{name: "with errors", path: sceneBroken, wantStatus: 200, wantValid: false, wantErrors: 1},
		{name: "outside whitelist", path: sceneDebug, wantStatus: 403, wantCode: "scene_forbidden"},
		{name: "missing", path: sceneMissing, wantStatus: 404, wantCode: "scene_not_found"},
		{name: "invalid path", path: "vr_main.tscn", wantStatus: 400, wantCode: "invalid_path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.do("POST", "/scene/validate", `{"scene_path":"`+tt.path+`"}`)
			if tt.wantCode != "" {
				problem(t, r, tt.wantStatus, tt.wantCode)
				return
			}
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d: %s", r.status, r.body)
			}
			got := decode[validation](t, r)
			if got.ScenePath != tt.path || got.Valid != tt.wantValid || len(got.Errors) != tt.wantErrors {
				t.Errorf("got %+v, want valid %v with %d errors", got, tt.wantValid, tt.wantErrors)
			}
			if got.Errors == nil || got.Warnings == nil {
				t.Errorf("errors and warnings must be arrays, not null: %s", r.body)
			}
			if tt.wantErrors > 0 && (got.Errors[0].Line != 12 || got.Errors[0].Col != 5) {
				t.Errorf("error position = %d:%d, want 12:5", got.Errors[0].Line, got.Errors[0].Col)
			}
			if cur := h.currentScene(); cur != sceneMenu {
				t.Errorf("validation changed the running scene to %s", cur)
			}
			if len(h.history()) != 0 {
				t.Errorf("validation wrote history")
			}
		})
	}
}

// validation is the body of POST /scene/validate.
type validation struct {
	ScenePath string          `json:"scene_path"`
	Valid     bool            `json:"valid"`
	Errors    []api.Issue     `json:"errors"`
	Warnings  []api.Issue     `json:"warnings"`
	SceneInfo json.RawMessage `json:"scene_info"`
}

func TestCurrentScene(t *testing.T) {
	tests := []struct {
		name string
		snap *engine.Snapshot
		want map[string]any
	}{
		{name: "running", snap: snapshotOf(mainSpec(), t0),
			want: map[string]any{"scene_name": "vr_main", "scene_path": sceneMain, "status": "running", "loaded_at": t0.Format(time.RFC3339Nano)}},
		{name: "paused", snap: func() *engine.Snapshot { s := snapshotOf(mainSpec(), t0); s.Paused = true; return s }(),
			want: map[string]any{"scene_name": "vr_main", "scene_path": sceneMain, "status": "paused", "loaded_at": t0.Format(time.RFC3339Nano)}},
		{name: "none", snap: &engine.Snapshot{WallTime: t0},
			want: map[string]any{"scene_name": "", "scene_path": "", "status": "none"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.sim.setSnapshot(tt.snap)
			got := decode[map[string]any](t, h.do("GET", "/scene", ""))
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("GET /scene = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestListScenes(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/scenes", "")
	var got struct {
		Scenes []struct {
			ScenePath string `json:"scene_path"`
			Allowed   bool   `json:"allowed"`
			Current   bool   `json:"current"`
		} `json:"scenes"`
		Current     string `json:"current"`
		Environment string `json:"environment"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatalf("decode: %v: %s", err, r.body)
	}
	if got.Current != sceneMenu || got.Environment != "staging" {
		t.Errorf("current = %q, environment = %q", got.Current, got.Environment)
	}
	entries, _ := h.scenes.List(context.Background())
	if len(got.Scenes) != len(entries) {
		t.Fatalf("%d scenes, want %d", len(got.Scenes), len(entries))
	}
	for i, e := range entries {
		g := got.Scenes[i]
		if g.ScenePath != e.Path || g.Allowed != e.Allowed || g.Current != (e.Path == sceneMenu) {
			t.Errorf("scene %d = %+v, want %+v current=%v", i, g, e, e.Path == sceneMenu)
		}
	}
}
