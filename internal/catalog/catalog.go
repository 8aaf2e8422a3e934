// Package catalog is the set of scenes an operator may load: a project's
// scene files seen through the environment's whitelist. It adapts the scene
// and whitelist packages to the HTTP API's Scenes interface and maps their
// errors onto the API's error kinds.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/spacetime-vr/spacetime/internal/api"
	"github.com/spacetime-vr/spacetime/internal/engine"
	"github.com/spacetime-vr/spacetime/internal/scene"
	"github.com/spacetime-vr/spacetime/internal/whitelist"
)

// Catalog implements api.Scenes over a project and a whitelist. It is safe
// for concurrent use (both parts are).
type Catalog struct {
	project *scene.Project
	rules   *whitelist.Whitelist
}

var _ api.Scenes = (*Catalog)(nil)

// New returns the catalog of project under rules.
func New(project *scene.Project, rules *whitelist.Whitelist) *Catalog {
	return &Catalog{project: project, rules: rules}
}

// List returns every scene file of the project, sorted, each marked with
// whether the whitelist lets it load.
func (c *Catalog) List(_ context.Context) ([]api.SceneEntry, error) {
	paths, err := c.project.List()
	if err != nil {
		return nil, fmt.Errorf("list scenes of %s: %w", c.project.Name(), err)
	}
	sort.Strings(paths)
	out := make([]api.SceneEntry, 0, len(paths))
	for _, p := range paths {
		out = append(out, api.SceneEntry{Path: p, Allowed: c.rules.Allowed(p)})
	}
	return out, nil
}

// Check applies the path rules of both the whitelist and the project
// resolver, then the whitelist itself, and returns the canonical path.
func (c *Catalog) Check(path string) (string, error) {
	canonical, err := c.rules.Check(path)
	switch {
	case errors.Is(err, whitelist.ErrInvalidPath):
		return "", &api.Error{Kind: api.ErrInvalid, Code: "invalid_path", Detail: err.Error(), Err: err}
	case errors.Is(err, whitelist.ErrNotAllowed):
		return "", &api.Error{Kind: api.ErrForbidden, Code: "scene_forbidden",
			Detail: fmt.Sprintf("scene %s is not allowed in the %s environment", canonical, c.rules.Environment()), Err: err}
	case err != nil:
		return "", fmt.Errorf("check scene path: %w", err)
	}
	if _, err := scene.Resolve(canonical); err != nil {
		return "", mapSceneErr(canonical, err)
	}
	return canonical, nil
}

// Build parses and instances the scene at path and builds its engine spec.
func (c *Catalog) Build(_ context.Context, path string) (*engine.Spec, error) {
	spec, _, err := c.project.LoadSpec(path)
	if err != nil {
		return nil, mapSceneErr(path, err)
	}
	return spec, nil
}

// Validate checks the scene at path without loading it.
func (c *Catalog) Validate(_ context.Context, path string) (api.Validation, error) {
	r, err := c.project.Validate(path)
	if err != nil {
		return api.Validation{}, mapSceneErr(path, err)
	}
	v := api.Validation{
		Valid:    r.Valid,
		Errors:   issues(path, r.Errors),
		Warnings: issues(path, r.Warnings),
	}
	if r.Info.NodeCount > 0 {
		v.SceneInfo = &api.SceneSummary{
			Name:           r.Info.Name,
			Nodes:          r.Info.NodeCount,
			Bodies:         len(r.Info.Bodies),
			Particles:      r.Info.Particles,
			ParticleGroups: len(r.Info.Belts),
			HasPlayer:      r.Info.HasPlayer,
			Ignored:        sortedKeys(r.Info.IgnoredTypes),
		}
	}
	return v, nil
}

// mapSceneErr turns an error of the scene package into the API's kinds.
// Messages name res:// paths only, never paths on disk.
func mapSceneErr(path string, err error) error {
	var se *scene.SyntaxError
	var ce *scene.SceneError
	switch {
	case errors.As(err, &se):
		return &api.SceneSyntaxError{Path: se.File, Line: se.Line, Col: se.Col, Msg: se.Msg}
	case errors.Is(err, scene.ErrNotFound):
		return &api.Error{Kind: api.ErrNotFound, Code: "scene_not_found", Detail: fmt.Sprintf("scene %s does not exist", path), Err: err}
	case errors.Is(err, scene.ErrInvalidPath):
		return &api.Error{Kind: api.ErrInvalid, Code: "invalid_path", Detail: fmt.Sprintf("invalid scene path %q", path), Err: err}
	case errors.Is(err, scene.ErrForbiddenPath):
		return &api.Error{Kind: api.ErrForbidden, Code: "scene_forbidden", Detail: fmt.Sprintf("scene path %q leaves the project", path), Err: err}
	case errors.As(err, &ce):
		return &api.Error{Kind: api.ErrUnprocessable, Code: "scene_invalid", Detail: ce.Error(), Err: err}
	case errors.Is(err, scene.ErrInvalidScene):
		return &api.Error{Kind: api.ErrUnprocessable, Code: "scene_invalid", Detail: fmt.Sprintf("scene %s cannot be loaded", path), Err: err}
	}
	return fmt.Errorf("scene %s: %w", path, err)
}

func issues(path string, in []scene.Issue) []api.Issue {
	out := make([]api.Issue, 0, len(in))
	for _, i := range in {
		is := api.Issue{Message: i.Message, Line: i.Line, Col: i.Column, Node: i.Node}
		if i.Property != "" {
			is.Message = i.Property + ": " + i.Message
		}
		if i.File != "" && i.File != path {
			is.Path = i.File
		}
		out = append(out, is)
	}
	return out
}

func sortedKeys(m map[string]int) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
