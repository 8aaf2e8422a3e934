package scene

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spacetime-vr/spacetime/internal/engine"
)

// ValidationResult is the answer of POST /scene/validate and of
// `spacetime scene validate`: whether the scene can be loaded, every error
// and warning found, and a summary.
type ValidationResult struct {
	Valid    bool      `json:"valid"`
	Errors   []Issue   `json:"errors"`
	Warnings []Issue   `json:"warnings"`
	Info     SceneInfo `json:"scene_info"`
}

// SceneInfo summarises a scene. Fields that could not be worked out (for a
// file that does not parse) are left empty.
type SceneInfo struct {
	Path         string `json:"path"`
	Name         string `json:"name"`
	Format       int    `json:"format,omitempty"`
	RootName     string `json:"root_name,omitempty"`
	RootType     string `json:"root_type,omitempty"`
	NodeCount    int    `json:"node_count"`
	ExtResources int    `json:"ext_resources"`
	SubResources int    `json:"sub_resources"`
	// Instances are the scenes inlined into this one, sorted.
	Instances []string       `json:"instances"`
	NodeTypes map[string]int `json:"node_types,omitempty"`
	Bodies    []string       `json:"bodies"`
	Belts     []string       `json:"belts"`
	Particles int            `json:"particles"`
	HasPlayer bool           `json:"has_player"`
	Player    string         `json:"player,omitempty"`
	// Epoch is the start time in seconds from J2000.
	Epoch        float64        `json:"epoch"`
	IgnoredTypes map[string]int `json:"ignored_types,omitempty"`
}

// Validate checks the scene at scenePath all the way to an engine spec.
// Problems of the scene are reported in the result; the error is for the
// path itself (ErrInvalidPath, ErrForbiddenPath, ErrNotFound) or I/O.
func (p *Project) Validate(scenePath string) (ValidationResult, error) {
	res, err := Resolve(scenePath)
	if err != nil {
		return ValidationResult{}, err
	}
	data, err := p.read(res)
	if err != nil {
		if errors.Is(err, ErrInvalidScene) { // too large
			r := newResult(res)
			r.Errors = append(r.Errors, Issue{File: res, Message: err.Error()})
			return r, nil
		}
		return ValidationResult{}, fmt.Errorf("validate scene: %w", err)
	}
	return p.ValidateSource(res, data)
}

func newResult(res string) ValidationResult {
	return ValidationResult{
		Errors:   []Issue{},
		Warnings: []Issue{},
		Info: SceneInfo{Path: res, Name: strings.TrimSuffix(path.Base(res), ".tscn"),
			Instances: []string{}, Bodies: []string{}, Belts: []string{}},
	}
}

// ValidateSource is Validate for scene text src, as if stored at scenePath.
func (p *Project) ValidateSource(scenePath string, src []byte) (ValidationResult, error) {
	res, err := Resolve(scenePath)
	if err != nil {
		return ValidationResult{}, err
	}
	r := newResult(res)
	if _, _, _, err := p.loadAndBuild(res, src, &r); err != nil {
		r.Errors = append(r.Errors, issuesOf(err)...)
	}
	r.Valid = len(r.Errors) == 0
	return r, nil
}

// loadAndBuild parses, instances and builds src, filling r's summary as it
// goes.
func (p *Project) loadAndBuild(res string, src []byte, r *ValidationResult) (*engine.Spec, *BuildReport, *Tree, error) {
	f, err := Parse(res, src)
	if err != nil {
		return nil, nil, nil, err
	}
	r.Info.Format = f.Format
	r.Info.ExtResources = len(f.ExtResources)
	r.Info.SubResources = len(f.SubResources)
	if len(f.Nodes) > 0 {
		r.Info.RootName, r.Info.RootType = f.Nodes[0].Name, f.Nodes[0].Type
	}
	tree, err := p.loadParsed(res, f)
	if err != nil {
		r.Warnings = append(r.Warnings, f.Warnings...)
		return nil, nil, nil, err
	}
	r.Warnings = append(r.Warnings, tree.Warnings...)
	r.Info.NodeCount = tree.Len()
	r.Info.NodeTypes = tree.Types()
	if r.Info.RootType == "" {
		r.Info.RootType = tree.Root.Type
	}
	seen := map[string]bool{}
	tree.Walk(func(n *Node) bool {
		if n.Inlined && !seen[n.Instance] {
			seen[n.Instance] = true
			r.Info.Instances = append(r.Info.Instances, n.Instance)
		}
		return true
	})
	slices.Sort(r.Info.Instances)
	spec, rep, err := Build(tree)
	if rep != nil {
		r.Warnings = append(r.Warnings, rep.Warnings...)
		for _, b := range rep.Bodies {
			r.Info.Bodies = append(r.Info.Bodies, b.Name)
		}
		for _, b := range rep.Belts {
			r.Info.Belts = append(r.Info.Belts, b.Name)
		}
		r.Info.Particles = rep.Particles
		if rep.Player != nil {
			r.Info.HasPlayer, r.Info.Player = true, rep.Player.Name
		}
		r.Info.IgnoredTypes = rep.IgnoredTypes
	}
	if spec != nil {
		r.Info.Epoch = spec.Epoch
	}
	return spec, rep, tree, err
}

// ValidateFile validates a scene file on disk, for the CLI. projectDir is
// the project root that the scene's res:// paths name; "" means the
// file's own directory. A file inside projectDir is validated at its
// res:// path there (with the project's symlink checks); a file elsewhere
// is read directly and validated as res://<its name>.
func ValidateFile(file, projectDir string) (ValidationResult, error) {
	absFile, err := filepath.Abs(file)
	if err != nil {
		return ValidationResult{}, fmt.Errorf("validate %s: %w", file, err)
	}
	if projectDir == "" {
		projectDir = filepath.Dir(absFile)
	}
	absProj, err := filepath.Abs(projectDir)
	if err != nil {
		return ValidationResult{}, fmt.Errorf("validate %s: %w", file, err)
	}
	proj, err := OpenProject(absProj)
	if err != nil {
		return ValidationResult{}, fmt.Errorf("validate %s: %w", file, err)
	}
	defer proj.Close()
	if rel, err := filepath.Rel(absProj, absFile); err == nil && filepath.IsLocal(rel) {
		return proj.Validate(resPrefix + filepath.ToSlash(rel))
	}
	data, err := readLimited(absFile)
	if err != nil {
		return ValidationResult{}, fmt.Errorf("validate %s: %w", file, err)
	}
	return proj.ValidateSource(resPrefix+filepath.Base(absFile), data)
}

func readLimited(name string) ([]byte, error) {
	info, err := os.Stat(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		return nil, err
	}
	if info.Size() > MaxFileSize {
		return nil, fmt.Errorf("%w: file is %d bytes, over the %d-byte limit", ErrInvalidScene, info.Size(), MaxFileSize)
	}
	return os.ReadFile(name)
}

// LoadSpec loads the scene at scenePath and builds its engine spec: what
// POST /scene/load needs. Errors are those of Load and Build.
func (p *Project) LoadSpec(scenePath string) (*engine.Spec, *BuildReport, error) {
	tree, err := p.Load(scenePath)
	if err != nil {
		return nil, nil, err
	}
	spec, rep, err := Build(tree)
	if err != nil {
		return nil, rep, fmt.Errorf("build %s: %w", tree.Path, err)
	}
	rep.Warnings = append(slices.Clone(tree.Warnings), rep.Warnings...)
	return spec, rep, nil
}
