package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime/internal/engine"
)

// Scene status words, in GET /scene and GET /state/scene.
const (
	sceneRunning = "running"
	scenePaused  = "paused"
	sceneNone    = "none"
)

func sceneStatus(snap *engine.Snapshot) string {
	switch {
	case snap.Scene.Path == "":
		return sceneNone
	case snap.Paused:
		return scenePaused
	}
	return sceneRunning
}

type sceneResponse struct {
	SceneName string     `json:"scene_name"`
	ScenePath string     `json:"scene_path"`
	Status    string     `json:"status"` // running, paused, none
	LoadedAt  *time.Time `json:"loaded_at,omitempty"`
}

// currentScene: GET /scene. With no scene loaded the name and path are ""
// and the status "none".
func (s *Server) currentScene(w http.ResponseWriter, r *http.Request) error {
	snap := s.opts.Sim.Snapshot()
	resp := sceneResponse{
		SceneName: snap.Scene.Name,
		ScenePath: snap.Scene.Path,
		Status:    sceneStatus(snap),
	}
	if !snap.Scene.LoadedAt.IsZero() {
		t := snap.Scene.LoadedAt
		resp.LoadedAt = &t
	}
	return writeJSON(w, http.StatusOK, resp)
}

type sceneListEntry struct {
	ScenePath string `json:"scene_path"`
	Allowed   bool   `json:"allowed"`
	Current   bool   `json:"current"`
}

type sceneListResponse struct {
	Scenes      []sceneListEntry `json:"scenes"`
	Current     string           `json:"current"` // "" when none
	Environment string           `json:"environment"`
}

// listScenes: GET /scenes.
func (s *Server) listScenes(w http.ResponseWriter, r *http.Request) error {
	entries, err := s.opts.Scenes.List(r.Context())
	if err != nil {
		return fmt.Errorf("list scenes: %w", err)
	}
	current := s.opts.Sim.Snapshot().Scene.Path
	resp := sceneListResponse{
		Scenes:      make([]sceneListEntry, 0, len(entries)),
		Current:     current,
		Environment: s.opts.Environment,
	}
	for _, e := range entries {
		resp.Scenes = append(resp.Scenes, sceneListEntry{
			ScenePath: e.Path, Allowed: e.Allowed, Current: current != "" && e.Path == current,
		})
	}
	return writeJSON(w, http.StatusOK, resp)
}

// History limits of GET /scene/history?limit=N.
const (
	defaultHistoryLimit = 100
	maxHistoryLimit     = 1000
)

// sceneHistory: GET /scene/history[?limit=N], the last N attempts (default
// 100, at most 1000), oldest first.
func (s *Server) sceneHistory(w http.ResponseWriter, r *http.Request) error {
	limit := defaultHistoryLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxHistoryLimit {
			return apiError(ErrInvalid, codeInvalidParam,
				fmt.Sprintf("limit must be an integer from 1 to %d", maxHistoryLimit), err)
		}
		limit = n
	}
	entries, err := s.opts.History.List(r.Context(), limit)
	if err != nil {
		return fmt.Errorf("list history: %w", err)
	}
	if entries == nil {
		entries = []HistoryEntry{}
	}
	return writeJSON(w, http.StatusOK, entries)
}

// scenePathRequest is the body of POST /scene/load and /scene/validate.
type scenePathRequest struct {
	ScenePath string `json:"scene_path"`
}

func decodeScenePath(r *http.Request) (string, error) {
	var req scenePathRequest
	if err := decodeJSON(r, &req, false); err != nil {
		return "", err
	}
	if strings.TrimSpace(req.ScenePath) == "" {
		return "", apiError(ErrInvalid, codeInvalidPath, "scene_path is required, e.g. \"res://vr_main.tscn\"", nil)
	}
	return req.ScenePath, nil
}

// checkScene applies the path rules and the whitelist.
func (s *Server) checkScene(p string) (string, error) {
	canonical, err := s.opts.Scenes.Check(p)
	if err != nil {
		return "", sceneError(p, err)
	}
	return canonical, nil
}

type validateResponse struct {
	ScenePath string `json:"scene_path"`
	Validation
}

// validateScene: POST /scene/validate. A scene outside the whitelist is
// refused with 403, as a load would be: validation reads project files,
// and the whitelist is what decides which ones the API may touch. A scene
// with problems is still a 200, with valid false and the errors listed.
func (s *Server) validateScene(w http.ResponseWriter, r *http.Request) error {
	p, err := decodeScenePath(r)
	if err != nil {
		return err
	}
	noteScene(r, p)
	canonical, err := s.checkScene(p)
	if err != nil {
		return err
	}
	noteScene(r, canonical)
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.SceneLoadTimeout)
	defer cancel()
	v, err := s.opts.Scenes.Validate(ctx, canonical)
	if err != nil {
		return s.loadError(r.Context(), canonical, "validation", err)
	}
	if v.Errors == nil {
		v.Errors = []Issue{}
	}
	if v.Warnings == nil {
		v.Warnings = []Issue{}
	}
	if len(v.Errors) > 0 {
		v.Valid = false
	}
	return writeJSON(w, http.StatusOK, validateResponse{ScenePath: canonical, Validation: v})
}

type loadResponse struct {
	ScenePath  string  `json:"scene_path"`
	SceneName  string  `json:"scene_name"`
	LoadTimeMS float64 `json:"load_time_ms"`
	Status     string  `json:"status"` // "loaded"
}

// loadScene: POST /scene/load {"scene_path": "res://..."}.
func (s *Server) loadScene(w http.ResponseWriter, r *http.Request) error {
	p, err := decodeScenePath(r)
	if err != nil {
		return err
	}
	return s.load(w, r, p)
}

// reloadScene: POST /scene/reload, the running scene again from its
// source. The body is empty or {}. 409 no_scene when none runs.
func (s *Server) reloadScene(w http.ResponseWriter, r *http.Request) error {
	var req struct{}
	if err := decodeJSON(r, &req, true); err != nil {
		return err
	}
	current := s.opts.Sim.Snapshot().Scene.Path
	if current == "" {
		return apiError(ErrConflict, codeNoScene, "no scene is running; load one with POST /scene/load", nil)
	}
	return s.load(w, r, current)
}

// load is the flow of /scene/load and /scene/reload: check the path and the
// whitelist, then (one load at a time) build the spec and swap it in,
// within the scene load timeout. Every attempt that gets past the checks
// leaves a history entry; a request refused because another load is
// running (409) is not an attempt. On failure the previous scene keeps
// running (Sim's contract).
func (s *Server) load(w http.ResponseWriter, r *http.Request, p string) error {
	noteScene(r, p)
	canonical, err := s.checkScene(p)
	if err != nil {
		return err
	}
	noteScene(r, canonical)
	select {
	case s.loading <- struct{}{}:
		defer func() { <-s.loading }()
	default:
		return apiError(ErrConflict, codeLoadInProgress,
			"another scene load is in progress; retry when it has finished", nil)
	}

	start := s.now()
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.SceneLoadTimeout)
	spec, err := s.opts.Scenes.Build(ctx, canonical)
	if err == nil {
		err = s.opts.Sim.Load(ctx, spec)
	}
	cancel()
	end := s.now()
	elapsed := msOf(end.Sub(start))
	if err != nil {
		err = s.loadError(r.Context(), canonical, "load", err)
	}

	entry := HistoryEntry{ScenePath: canonical, LoadedAt: end, LoadTimeMS: elapsed, Status: HistoryLoaded}
	if err != nil {
		p, _ := problemFor(err)
		entry.Status, entry.Error, entry.ErrorCode = HistoryFailed, p.Detail, p.Code
	}
	// The entry is written even when the client has gone away.
	hctx, hcancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	if herr := s.opts.History.Append(hctx, entry); herr != nil {
		s.log.Error("scene history append failed", "request_id", RequestID(r.Context()),
			"scene_path", canonical, "error", herr)
	}
	hcancel()
	if err != nil {
		return err
	}

	name := spec.Name
	if name == "" {
		name = strings.TrimSuffix(path.Base(canonical), path.Ext(canonical))
	}
	s.log.Info("scene loaded", "request_id", RequestID(r.Context()), "scene_path", canonical,
		"load_time_ms", elapsed)
	return writeJSON(w, http.StatusOK, loadResponse{
		ScenePath: canonical, SceneName: name, LoadTimeMS: elapsed, Status: HistoryLoaded,
	})
}

// loadError names a failure of building, validating or loading a scene.
// reqCtx is the request's own context: when it has ended, the client left
// (canceled); otherwise a deadline is the scene load timeout.
func (s *Server) loadError(reqCtx context.Context, p, what string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
		if reqCtx.Err() != nil {
			return fmt.Errorf("%s %s: %w", what, p, reqCtx.Err())
		}
		return apiError(ErrTimeout, codeTimeout,
			fmt.Sprintf("scene %s: %s did not finish within %v", p, what, s.opts.SceneLoadTimeout), err)
	}
	return sceneError(p, err)
}

// sceneError gives a scene error its stable code and a detail that is safe
// to show: the adapter's *Error Detail when it has one, else a fixed
// sentence naming the requested path. Syntax errors keep their position.
func sceneError(p string, err error) error {
	var se *SceneSyntaxError
	switch {
	case errors.As(err, &se): // problemFor reports it with its position
		return fmt.Errorf("scene %s: %w", p, err)
	case errors.Is(err, ErrInvalid):
		return apiError(ErrInvalid, codeInvalidPath,
			safeDetail(err, fmt.Sprintf("%q is not a valid scene path; use res://<path>.tscn", p)), err)
	case errors.Is(err, ErrForbidden):
		return apiError(ErrForbidden, codeSceneForbidden,
			safeDetail(err, fmt.Sprintf("scene %s is not allowed in this environment", p)), err)
	case errors.Is(err, ErrNotFound):
		return apiError(ErrNotFound, codeSceneNotFound,
			safeDetail(err, fmt.Sprintf("scene %s does not exist", p)), err)
	case errors.Is(err, ErrUnprocessable):
		return apiError(ErrUnprocessable, codeSceneInvalid,
			safeDetail(err, fmt.Sprintf("scene %s cannot be built", p)), err)
	}
	return fmt.Errorf("scene %s: %w", p, err)
}

// noteScene records the scene a request names, for its audit record.
func noteScene(r *http.Request, p string) {
	if ri := infoFrom(r.Context()); ri != nil {
		ri.scenePath = p
	}
}

// safeDetail returns the Detail of the first *Error in err's chain that
// has one, else def.
func safeDetail(err error, def string) string {
	var ae *Error
	if errors.As(err, &ae) && ae.Detail != "" {
		return ae.Detail
	}
	return def
}
