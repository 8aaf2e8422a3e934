package scene

import (
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// MaxPathLen is the longest res:// path accepted, in bytes.
const MaxPathLen = 256

// resPrefix is the scheme of project paths.
const resPrefix = "res://"

// Resolve checks a scene path and returns its canonical form
// "res://dir/name.tscn". It accepts "res://..." and, for convenience, a
// bare relative path ("scenes/menu.tscn"). It refuses, with
// ErrForbiddenPath: ".." segments, absolute paths, and any scheme other
// than res:// (user://, file://, http://, ...); and, with ErrInvalidPath:
// the empty path, paths longer than MaxPathLen, NUL and other control
// characters, invalid UTF-8, backslashes, '%' (no percent-decoding is done,
// so "%2e%2e" is refused rather than guessed at), empty or "." segments,
// and names that do not end in ".tscn".
//
// Resolve does not touch any file system; [Project] adds the checks that
// need one (existence, symlinks).
func Resolve(p string) (string, error) {
	rel, err := resolveRel(p)
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(rel, ".tscn") || strings.HasSuffix(rel, "/.tscn") || rel == ".tscn" {
		return "", fmt.Errorf("%w: %q is not a .tscn scene", ErrInvalidPath, p)
	}
	return resPrefix + rel, nil
}

// ResolveResource is Resolve without the .tscn requirement: it checks the
// path of any project file and returns its canonical res:// form.
func ResolveResource(p string) (string, error) {
	rel, err := resolveRel(p)
	if err != nil {
		return "", err
	}
	return resPrefix + rel, nil
}

// resolveRel checks p and returns it relative to the project root, with
// no leading slash ("dir/name.tscn").
func resolveRel(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("%w: empty path", ErrInvalidPath)
	}
	if len(p) > MaxPathLen {
		return "", fmt.Errorf("%w: path longer than %d bytes", ErrInvalidPath, MaxPathLen)
	}
	if !utf8.ValidString(p) {
		return "", fmt.Errorf("%w: path is not valid UTF-8", ErrInvalidPath)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("%w: control character %U in path", ErrInvalidPath, r)
		}
	}
	if strings.ContainsRune(p, '\\') {
		return "", fmt.Errorf("%w: backslash in path %q", ErrInvalidPath, p)
	}
	if strings.ContainsRune(p, '%') {
		return "", fmt.Errorf("%w: '%%' in path %q (paths are not percent-decoded)", ErrInvalidPath, p)
	}
	rel, hasScheme := strings.CutPrefix(p, resPrefix)
	if !hasScheme {
		if i := strings.Index(p, ":"); i >= 0 {
			return "", fmt.Errorf("%w: %q is outside the project (only res:// paths are allowed)", ErrForbiddenPath, p)
		}
	}
	if strings.HasPrefix(rel, "/") {
		return "", fmt.Errorf("%w: absolute path %q", ErrForbiddenPath, p)
	}
	if rel == "" {
		return "", fmt.Errorf("%w: %q names no file", ErrInvalidPath, p)
	}
	for seg := range strings.SplitSeq(rel, "/") {
		switch seg {
		case "..":
			return "", fmt.Errorf("%w: %q leaves the project root", ErrForbiddenPath, p)
		case "", ".":
			return "", fmt.Errorf("%w: empty or '.' segment in %q", ErrInvalidPath, p)
		}
		if strings.ContainsRune(seg, ':') {
			return "", fmt.Errorf("%w: ':' in path %q", ErrInvalidPath, p)
		}
	}
	return rel, nil
}

// resolveRef resolves a path written in an ext_resource of file from: a
// res:// path, or a path relative to from's directory (Godot allows both).
// The result is a canonical res:// path inside the project.
func resolveRef(from, ref string) (string, error) {
	if strings.HasPrefix(ref, resPrefix) || strings.Contains(ref, ":") || strings.HasPrefix(ref, "/") {
		return ResolveResource(ref)
	}
	dir := path.Dir(strings.TrimPrefix(from, resPrefix))
	if strings.ContainsAny(ref, "\\%\x00") {
		return ResolveResource(ref) // reports the problem
	}
	joined := path.Join(dir, ref)
	if joined == ".." || strings.HasPrefix(joined, "../") {
		return "", fmt.Errorf("%w: %q relative to %s leaves the project root", ErrForbiddenPath, ref, from)
	}
	return ResolveResource(resPrefix + joined)
}
