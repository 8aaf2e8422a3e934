package whitelist

import (
	"errors"
	"fmt"
	"strings"
)

// anyDepth is the pattern segment that matches any number of path segments,
// zero included.
const anyDepth = "**"

// pattern is a compiled wildcard rule: canonical segments after "res://",
// where "**" matches any number of segments and, within one segment, "*"
// matches any run of characters and "?" exactly one character.
type pattern struct {
	src  string
	segs []string
}

// compilePattern checks a wildcard or blacklist pattern and compiles it.
func compilePattern(src string) (pattern, error) {
	segs, err := splitRule(src)
	if err != nil {
		return pattern{}, err
	}
	if len(segs) == 0 {
		return pattern{}, errors.New("matches nothing: no segment after " + Scheme)
	}
	if want := Scheme + strings.Join(segs, "/"); want != src {
		return pattern{}, fmt.Errorf("not canonical: write %q", want)
	}
	for _, s := range segs {
		if s != anyDepth && strings.Contains(s, anyDepth) {
			return pattern{}, fmt.Errorf("%q must be a whole path segment, got %q", anyDepth, s)
		}
		if strings.ContainsAny(s, "[]") {
			return pattern{}, errors.New("character classes ([...]) are not supported")
		}
	}
	return pattern{src: src, segs: segs}, nil
}

// splitRule runs the path checks on a rule and returns its segments, with an
// error that does not repeat the rule (the caller names it).
func splitRule(src string) ([]string, error) {
	segs, why := splitPath(src)
	if why != "" {
		return nil, errors.New(why)
	}
	return segs, nil
}

// match reports whether the canonical segments of a path match p.
// It runs in O(len(p.segs) × len(segs) × segment length), without
// backtracking blow-ups, whatever the number of "**".
func (p pattern) match(segs []string) bool {
	prev := make([]bool, len(segs)+1)
	next := make([]bool, len(segs)+1)
	prev[0] = true
	for _, ps := range p.segs {
		if ps == anyDepth {
			reach := false
			for j := range prev {
				reach = reach || prev[j]
				next[j] = reach
			}
		} else {
			next[0] = false
			for j := 1; j <= len(segs); j++ {
				next[j] = prev[j-1] && matchSegment(ps, segs[j-1])
			}
		}
		prev, next = next, prev
	}
	return prev[len(segs)]
}

// matchSegment matches one path segment against one pattern segment where
// "*" matches any run of characters (never a '/', which segments lack) and
// "?" exactly one character. Every other character matches itself.
func matchSegment(pat, s string) bool {
	pr, sr := []rune(pat), []rune(s)
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(sr) {
		switch {
		case px < len(pr) && pr[px] == '*':
			starP, starS = px, sx
			px++
		case px < len(pr) && (pr[px] == '?' || pr[px] == sr[sx]):
			px++
			sx++
		case starP >= 0:
			starS++
			px, sx = starP+1, starS
		default:
			return false
		}
	}
	for px < len(pr) && pr[px] == '*' {
		px++
	}
	return px == len(pr)
}
