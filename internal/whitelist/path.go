package whitelist

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// Scheme is the prefix every scene path and every rule carries.
	Scheme = "res://"
	// SceneExt is the only extension a scene path may end in (case-sensitive).
	SceneExt = ".tscn"
	// MaxPathLen is the longest accepted path, in bytes, before canonicalization.
	MaxPathLen = 256
)

// Canonicalize checks that p is an acceptable scene path and returns its
// canonical form, or an error wrapping ErrInvalidPath.
//
// A scene path starts with "res://" (case-sensitive), is at most MaxPathLen
// bytes long, is valid UTF-8 without NUL, control characters or backslashes,
// has no ".." segment, and its last segment is a non-empty name ending in
// ".tscn" (case-sensitive: "x.TSCN" and "x.tscn.bak" are refused). The
// canonical form collapses repeated slashes and drops "." segments, so
// "res://a//./b.tscn" becomes "res://a/b.tscn". Nothing is ever
// percent-decoded: "%2e%2e" is a literal segment name, and whoever opens
// the file must open that literal name too.
func Canonicalize(p string) (string, error) {
	segs, why := splitPath(p)
	if why != "" {
		return "", invalid(p, why)
	}
	if len(segs) == 0 {
		return "", invalid(p, "no file name")
	}
	last := segs[len(segs)-1]
	if !strings.HasSuffix(last, SceneExt) {
		return "", invalid(p, "not a "+SceneExt+" file")
	}
	if last == SceneExt {
		return "", invalid(p, "empty file name")
	}
	return Scheme + strings.Join(segs, "/"), nil
}

// splitPath runs the checks shared by scene paths and rules and returns the
// canonical segments after "res://", or a non-empty reason for refusing p.
func splitPath(p string) (segs []string, why string) {
	if len(p) > MaxPathLen {
		return nil, fmt.Sprintf("longer than %d bytes", MaxPathLen)
	}
	if !utf8.ValidString(p) {
		return nil, "not valid UTF-8"
	}
	for _, r := range p {
		switch {
		case r == 0:
			return nil, "contains NUL"
		case r == '\\':
			return nil, "contains a backslash"
		case unicode.IsControl(r):
			return nil, "contains a control character"
		}
	}
	rest, ok := strings.CutPrefix(p, Scheme)
	if !ok {
		return nil, "not a " + Scheme + " path"
	}
	for seg := range strings.SplitSeq(rest, "/") {
		switch seg {
		case "", ".":
			continue
		case "..":
			return nil, `contains a ".." segment`
		}
		segs = append(segs, seg)
	}
	return segs, ""
}

// invalid builds an ErrInvalidPath error quoting at most the first 80 bytes of p.
func invalid(p, why string) error {
	return fmt.Errorf("%w: %q: %s", ErrInvalidPath, shorten(p), why)
}

// shorten cuts p to 80 bytes for error messages.
func shorten(p string) string {
	if len(p) > 80 {
		return p[:80] + "..."
	}
	return p
}
