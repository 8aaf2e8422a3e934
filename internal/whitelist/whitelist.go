// Package whitelist decides which Godot scenes may be loaded in an
// environment, from the rules of config/scene_whitelist.json.
//
// A path is first made canonical (see Canonicalize); an invalid path is
// refused with ErrInvalidPath. The blacklist (exact paths, then patterns) is
// checked next and wins over everything; then the environment's exact
// scenes, directories (a canonical prefix ending in "/", matching any depth
// below it) and wildcards ("**" matches any number of whole segments, zero
// included; "*" any run of characters within one segment; "?" one
// character). Anything else is refused with ErrNotAllowed: default deny.
//
// A Whitelist is immutable once built and safe for concurrent use.
package whitelist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// sentinel is an error value that can name a parent sentinel, so that
// ErrBlacklisted is also ErrNotAllowed for errors.Is.
type sentinel struct {
	msg    string
	parent error
}

func (e *sentinel) Error() string { return e.msg }
func (e *sentinel) Unwrap() error { return e.parent }

var (
	// ErrInvalidPath is returned for a path that is not an acceptable,
	// canonicalizable res:// scene path (an HTTP API maps it to 400).
	ErrInvalidPath = errors.New("whitelist: invalid scene path")
	// ErrNotAllowed is returned for a valid path the environment does not
	// allow (an HTTP API maps it to 403).
	ErrNotAllowed = errors.New("whitelist: scene not allowed")
	// ErrBlacklisted is returned for a path the blacklist refuses; it
	// wraps ErrNotAllowed.
	ErrBlacklisted error = &sentinel{msg: "whitelist: scene blacklisted", parent: ErrNotAllowed}
	// ErrUnknownEnvironment is returned by New when the file has no
	// section for the requested environment.
	ErrUnknownEnvironment = errors.New("whitelist: unknown environment")
	// ErrInvalidFile is returned by New when the file is not valid JSON of
	// the expected shape or one of its rules is not sane.
	ErrInvalidFile = errors.New("whitelist: invalid whitelist file")
)

// Rules is the rule set in force for one environment, as written in the
// file (for GET /scenes and for operators).
type Rules struct {
	Environment string    `json:"environment"`
	Description string    `json:"description"`
	Scenes      []string  `json:"scenes"`
	Directories []string  `json:"directories"`
	Wildcards   []string  `json:"wildcards"`
	Blacklist   Blacklist `json:"blacklist"`
}

// Blacklist lists what is refused in every environment, checked before any
// allow rule: exact canonical paths and wildcard patterns.
type Blacklist struct {
	Patterns []string `json:"patterns"`
	Exact    []string `json:"exact"`
}

// Decision is what the whitelist decided for one path and the rule that
// decided it.
type Decision struct {
	// Path is the canonical path, or "" when the path is invalid.
	Path string `json:"path"`
	// Allowed reports whether the scene may be loaded.
	Allowed bool `json:"allowed"`
	// Rule names the deciding rule, e.g. `wildcard "res://tests/**/*.tscn"`,
	// `blacklist pattern "res://addons/**"` or "default deny".
	Rule string `json:"rule"`
}

// Whitelist is the compiled rule set of one environment.
type Whitelist struct {
	rules         Rules
	scenes        map[string]struct{}
	dirs          []string
	wildcards     []pattern
	blackExact    map[string]struct{}
	blackPatterns []pattern
}

// file is the JSON shape of scene_whitelist.json.
type file struct {
	Description  string                 `json:"description"`
	Environments map[string]environment `json:"environments"`
	Blacklist    Blacklist              `json:"blacklist"`
}

type environment struct {
	Description string   `json:"description"`
	Scenes      []string `json:"scenes"`
	Directories []string `json:"directories"`
	Wildcards   []string `json:"wildcards"`
}

// New parses scene_whitelist.json and builds the whitelist of env. Every
// environment and the blacklist are validated, so a mistake in any of them
// is reported (all at once, naming the environment and the entry) even when
// another environment is requested. An env the file lacks yields
// ErrUnknownEnvironment.
func New(data []byte, env string) (*Whitelist, error) {
	var f file
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidFile, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the top-level object", ErrInvalidFile)
	}
	if len(f.Environments) == 0 {
		return nil, fmt.Errorf("%w: no environments", ErrInvalidFile)
	}

	var errs []error
	blackExact, err := compileScenes(f.Blacklist.Exact, "blacklist.exact")
	errs = append(errs, err)
	blackPatterns, err := compilePatterns(f.Blacklist.Patterns, "blacklist.patterns")
	errs = append(errs, err)

	names := make([]string, 0, len(f.Environments))
	for name := range f.Environments {
		names = append(names, name)
	}
	sort.Strings(names)
	var w *Whitelist
	for _, name := range names {
		e := f.Environments[name]
		where := fmt.Sprintf("environment %q: ", name)
		scenes, err := compileScenes(e.Scenes, where+"scenes")
		errs = append(errs, err)
		dirs, err := compileDirs(e.Directories, where+"directories")
		errs = append(errs, err)
		wild, err := compilePatterns(e.Wildcards, where+"wildcards")
		errs = append(errs, err)
		if name == env {
			w = &Whitelist{
				rules: Rules{
					Environment: name,
					Description: e.Description,
					Scenes:      orEmpty(e.Scenes),
					Directories: orEmpty(e.Directories),
					Wildcards:   orEmpty(e.Wildcards),
					Blacklist: Blacklist{
						Patterns: orEmpty(f.Blacklist.Patterns),
						Exact:    orEmpty(f.Blacklist.Exact),
					},
				},
				scenes:        scenes,
				dirs:          dirs,
				wildcards:     wild,
				blackExact:    blackExact,
				blackPatterns: blackPatterns,
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if w == nil {
		return nil, fmt.Errorf("%w %q: the file defines %s", ErrUnknownEnvironment, env, strings.Join(names, ", "))
	}
	return w, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

func ruleError(where string, i int, src string, err error) error {
	return fmt.Errorf("%w: %s[%d] %q: %w", ErrInvalidFile, where, i, shorten(src), err)
}

func compileScenes(list []string, where string) (map[string]struct{}, error) {
	out := make(map[string]struct{}, len(list))
	var errs []error
	for i, s := range list {
		c, err := Canonicalize(s)
		switch {
		case err != nil:
			_, why := splitPath(s)
			if why == "" {
				why = "not a " + SceneExt + " scene path"
			}
			errs = append(errs, ruleError(where, i, s, errors.New(why)))
		case c != s:
			errs = append(errs, ruleError(where, i, s, fmt.Errorf("not canonical: write %q", c)))
		default:
			out[c] = struct{}{}
		}
	}
	return out, errors.Join(errs...)
}

func compileDirs(list []string, where string) ([]string, error) {
	out := make([]string, 0, len(list))
	var errs []error
	for i, d := range list {
		segs, err := splitRule(d)
		switch {
		case err != nil:
			errs = append(errs, ruleError(where, i, d, err))
		case !strings.HasSuffix(d, "/"):
			errs = append(errs, ruleError(where, i, d, errors.New(`a directory must end with "/"`)))
		case strings.ContainsAny(d, "*?"):
			errs = append(errs, ruleError(where, i, d, errors.New("a directory is a literal prefix: put patterns in wildcards")))
		default:
			want := Scheme
			if len(segs) > 0 {
				want += strings.Join(segs, "/") + "/"
			}
			if want != d {
				errs = append(errs, ruleError(where, i, d, fmt.Errorf("not canonical: write %q", want)))
				continue
			}
			out = append(out, d)
		}
	}
	return out, errors.Join(errs...)
}

func compilePatterns(list []string, where string) ([]pattern, error) {
	out := make([]pattern, 0, len(list))
	var errs []error
	for i, s := range list {
		p, err := compilePattern(s)
		if err != nil {
			errs = append(errs, ruleError(where, i, s, err))
			continue
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}

// Environment returns the name of the environment whose rules are in force.
func (w *Whitelist) Environment() string { return w.rules.Environment }

// Rules returns a copy of the rules in force.
func (w *Whitelist) Rules() Rules {
	r := w.rules
	r.Scenes = slices.Clone(r.Scenes)
	r.Directories = slices.Clone(r.Directories)
	r.Wildcards = slices.Clone(r.Wildcards)
	r.Blacklist.Patterns = slices.Clone(r.Blacklist.Patterns)
	r.Blacklist.Exact = slices.Clone(r.Blacklist.Exact)
	return r
}

// Check returns the canonical form of path when the scene may be loaded.
// Otherwise the error wraps ErrInvalidPath (canonical is then ""),
// ErrBlacklisted (which is also ErrNotAllowed) or ErrNotAllowed; canonical
// is still returned for a refused valid path, for audit records.
func (w *Whitelist) Check(path string) (canonical string, err error) {
	d, err := w.Decide(path)
	return d.Path, err
}

// Allowed reports whether path may be loaded.
func (w *Whitelist) Allowed(path string) bool {
	_, err := w.Check(path)
	return err == nil
}

// Decide is Check with the deciding rule named. The error is nil exactly
// when Decision.Allowed is true.
func (w *Whitelist) Decide(path string) (Decision, error) {
	c, err := Canonicalize(path)
	if err != nil {
		return Decision{Rule: "invalid path"}, err
	}
	d := Decision{Path: c}
	if _, ok := w.blackExact[c]; ok {
		d.Rule = fmt.Sprintf("blacklist exact %q", c)
		return d, fmt.Errorf("%w: %q", ErrBlacklisted, c)
	}
	segs := strings.Split(strings.TrimPrefix(c, Scheme), "/")
	for _, p := range w.blackPatterns {
		if p.match(segs) {
			d.Rule = fmt.Sprintf("blacklist pattern %q", p.src)
			return d, fmt.Errorf("%w: %q matches %q", ErrBlacklisted, c, p.src)
		}
	}
	d.Allowed = true
	if _, ok := w.scenes[c]; ok {
		d.Rule = fmt.Sprintf("scene %q", c)
		return d, nil
	}
	for _, dir := range w.dirs {
		if strings.HasPrefix(c, dir) {
			d.Rule = fmt.Sprintf("directory %q", dir)
			return d, nil
		}
	}
	for _, p := range w.wildcards {
		if p.match(segs) {
			d.Rule = fmt.Sprintf("wildcard %q", p.src)
			return d, nil
		}
	}
	d.Allowed = false
	d.Rule = "default deny"
	return d, fmt.Errorf("%w: %q in environment %q", ErrNotAllowed, c, w.rules.Environment)
}
