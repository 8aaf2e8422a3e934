package scene

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Callers classify failures with errors.Is:
// ErrNotFound → 404, ErrForbiddenPath → 403, ErrInvalidPath → 400,
// ErrInvalidScene → 422. ErrNotFound, ErrForbiddenPath and ErrInvalidPath
// only ever describe the path that was asked for; a problem inside a scene
// (a syntax error, an instanced scene that is missing or forbidden, a
// property that fails validation) is ErrInvalidScene.
var (
	// ErrNotFound: the requested scene does not exist in the project.
	ErrNotFound = errors.New("scene: not found")
	// ErrForbiddenPath: the path leaves the project root (.. segments,
	// absolute paths, other schemes such as user://, symlinks pointing out).
	ErrForbiddenPath = errors.New("scene: forbidden path")
	// ErrInvalidPath: the path is malformed (empty, too long, NUL or other
	// control characters, backslashes, percent signs, empty segments, not a
	// .tscn file where a scene is required).
	ErrInvalidPath = errors.New("scene: invalid path")
	// ErrInvalidScene: the scene cannot be used: a syntax error, a broken
	// instance, a failed validation. Every *SyntaxError and *SceneError
	// matches it.
	ErrInvalidScene = errors.New("scene: invalid scene")
)

// SyntaxError is a malformed .tscn file. Line and Col are 1-based; Col
// counts characters (runes), not bytes.
type SyntaxError struct {
	File string // res:// path or the name given to Parse
	Line int
	Col  int
	Msg  string
}

// Error returns "file:line:col: msg".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Unwrap makes every syntax error match ErrInvalidScene.
func (e *SyntaxError) Unwrap() error { return ErrInvalidScene }

// SceneError is a problem with a well-formed scene: a missing or cyclic
// instance, a node whose parent does not exist, a property that fails
// validation. File, Line, Node and Property say where, when known.
type SceneError struct {
	File     string
	Line     int
	Node     string // node path, e.g. "Main/Sun"
	Property string // e.g. "metadata/mass"
	Msg      string
}

// Error returns a message naming the file, line, node and property.
func (e *SceneError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Node != "" {
		fmt.Fprintf(&b, "node %q: ", e.Node)
	}
	if e.Property != "" {
		fmt.Fprintf(&b, "%s: ", e.Property)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap makes every scene error match ErrInvalidScene.
func (e *SceneError) Unwrap() error { return ErrInvalidScene }

// Issue is one error or warning in a report, with JSON field names used by
// the HTTP API.
type Issue struct {
	Message  string `json:"message"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
	Node     string `json:"node,omitempty"`
	Property string `json:"property,omitempty"`
}

// String formats the issue like an error message.
func (i Issue) String() string {
	e := SceneError{File: i.File, Line: i.Line, Node: i.Node, Property: i.Property, Msg: i.Message}
	if i.Column > 0 {
		return (&SyntaxError{File: i.File, Line: i.Line, Col: i.Column, Msg: i.Message}).Error()
	}
	return e.Error()
}

// issuesOf flattens err (possibly an errors.Join of several) into issues.
func issuesOf(err error) []Issue {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []Issue
		for _, e := range j.Unwrap() {
			out = append(out, issuesOf(e)...)
		}
		return out
	}
	var se *SyntaxError
	if errors.As(err, &se) {
		return []Issue{{Message: se.Msg, File: se.File, Line: se.Line, Column: se.Col}}
	}
	var ce *SceneError
	if errors.As(err, &ce) {
		return []Issue{{Message: ce.Msg, File: ce.File, Line: ce.Line, Node: ce.Node, Property: ce.Property}}
	}
	return []Issue{{Message: err.Error()}}
}
