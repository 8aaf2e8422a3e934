package whitelist

import (
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	configfiles "github.com/spacetime-vr/spacetime/config"
)

// shipped builds the whitelist of env from config/scene_whitelist.json.
func shipped(t testing.TB, env string) *Whitelist {
	t.Helper()
	data, err := fs.ReadFile(configfiles.FS, "scene_whitelist.json")
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(data, env)
	if err != nil {
		t.Fatalf("New(shipped, %q): %v", env, err)
	}
	return w
}

// outcome names what Check should say.
type outcome int

const (
	allowed outcome = iota
	notAllowed
	blacklisted
	invalidPath
)

func (o outcome) String() string {
	return [...]string{"allowed", "not allowed", "blacklisted", "invalid"}[o]
}

func outcomeOf(err error) outcome {
	switch {
	case err == nil:
		return allowed
	case errors.Is(err, ErrBlacklisted):
		return blacklisted
	case errors.Is(err, ErrNotAllowed):
		return notAllowed
	case errors.Is(err, ErrInvalidPath):
		return invalidPath
	}
	return -1
}

type checkCase struct {
	path string
	want outcome
}

func runChecks(t *testing.T, w *Whitelist, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			_, err := w.Check(tc.path)
			if got := outcomeOf(err); got != tc.want {
				t.Errorf("Check(%q) in %s = %v (%v), want %v", tc.path, w.Environment(), got, err, tc.want)
			}
			if got, want := w.Allowed(tc.path), tc.want == allowed; got != want {
				t.Errorf("Allowed(%q) = %v, want %v", tc.path, got, want)
			}
		})
	}
}

func TestGuideProduction(t *testing.T) {
	runChecks(t, shipped(t, "production"), []checkCase{
		{"res://vr_main.tscn", allowed},
		{"res://tests/debug.tscn", notAllowed},
		{"res://scenes/menu.tscn", notAllowed},
		{"res://tests/integration/a.tscn", notAllowed},
		{"res://vr_main2.tscn", notAllowed},
		{"res://addons/x.tscn", blacklisted},
	})
}

func TestGuideStaging(t *testing.T) {
	runChecks(t, shipped(t, "staging"), []checkCase{
		{"res://vr_main.tscn", allowed},
		{"res://scenes/menu.tscn", allowed},
		{"res://tests/integration/a.tscn", allowed},
		{"res://tests/integration/x/y/z.tscn", allowed},
		{"res://tests/debug.tscn", notAllowed},
		{"res://tests/integration.tscn", notAllowed},
		{"res://tests/integrationX/a.tscn", notAllowed},
		{"res://scenes/other.tscn", notAllowed},
		{"res://tests/integration/../../secret.tscn", invalidPath},
		{"res://tests/integration/.hidden/a.tscn", blacklisted},
	})
}

func TestDevelopmentAndTest(t *testing.T) {
	for _, env := range []string{"development", "test"} {
		t.Run(env, func(t *testing.T) {
			runChecks(t, shipped(t, env), []checkCase{
				{"res://vr_main.tscn", allowed},
				{"res://tests/debug.tscn", allowed},
				{"res://a/b/c/d/e.tscn", allowed},
				{"res://addons/plugin/x.tscn", blacklisted},
				{"res://.godot/imported/x.tscn", blacklisted},
				{"res://private/x.tscn", blacklisted},
				{"res://scenes/.secret.tscn", blacklisted},
				{"res://x.tscn.bak", invalidPath},
			})
		})
	}
}

func TestCanonicalize(t *testing.T) {
	long := "res://" + strings.Repeat("a/", 122) + "x.tscn" // 256 bytes
	tests := []struct {
		in   string
		want string // "" means invalid
	}{
		{"res://vr_main.tscn", "res://vr_main.tscn"},
		{"res://a//b.tscn", "res://a/b.tscn"},
		{"res:///a.tscn", "res://a.tscn"},
		{"res://./a/./b.tscn", "res://a/b.tscn"},
		{"res://a/b/.//c.tscn", "res://a/b/c.tscn"},
		{"res://tests/integration/%2e%2e/x.tscn", "res://tests/integration/%2e%2e/x.tscn"},
		{"res://ünï cödé.tscn", "res://ünï cödé.tscn"},
		{long, long},
		{long + "x", ""},
		{"res://tests/integration/../../secret.tscn", ""},
		{"res://../x.tscn", ""},
		{"res://a/..", ""},
		{`res://a\b.tscn`, ""},
		{"res://a\x00b.tscn", ""},
		{"res://a\nb.tscn", ""},
		{"res://a\u0085b.tscn", ""},
		{"res://\xff.tscn", ""},
		{"user://x.tscn", ""},
		{"RES://x.tscn", ""},
		{"/etc/passwd", ""},
		{"res://x.tscn.bak", ""},
		{"res://x.TSCN", ""},
		{"res://x.tres", ""},
		{"res://.tscn", ""},
		{"res://", ""},
		{"res://x.tscn/", "res://x.tscn"},
		{"", ""},
	}
	for _, tc := range tests {
		got, err := Canonicalize(tc.in)
		if tc.want == "" {
			if err == nil || !errors.Is(err, ErrInvalidPath) {
				t.Errorf("Canonicalize(%q) = %q, %v; want ErrInvalidPath", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Canonicalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestTraversal runs the attacks of the brief against staging, the
// environment with directory and wildcard rules to escape from.
func TestTraversal(t *testing.T) {
	w := shipped(t, "staging")
	tests := []checkCase{
		{"res://tests/integration/../../secret.tscn", invalidPath},
		{"res://tests/integration/..", invalidPath},
		{`res://a\b.tscn`, invalidPath},
		{`res://tests\integration\a.tscn`, invalidPath},
		{"res://tests/integration/a\x00.tscn", invalidPath},
		{"user://x.tscn", invalidPath},
		{"/etc/passwd", invalidPath},
		{"file:///etc/passwd", invalidPath},
		{"res://" + strings.Repeat("a", 251), invalidPath},
		{"res://tests/integration/" + strings.Repeat("a", 228) + ".tscn", invalidPath}, // 257 bytes
		{"res://x.tscn.bak", invalidPath},
		{"res://x.TSCN", invalidPath},
		{"res://vr_main.tscn\x00.png", invalidPath},
		// '%' is literal: %2e%2e is a directory named "%2e%2e" inside
		// tests/integration, so staging allows it there and nowhere else.
		{"res://tests/integration/%2e%2e/x.tscn", allowed},
		{"res://tests/%2e%2e/x.tscn", notAllowed},
		{"res://tests/integration/%2e%2e/%2e%2e/secret.tscn", allowed},
		{"res://%2e%2e/vr_main.tscn", notAllowed},
		{"res://vr_main%2etscn", invalidPath},
		// Canonical forms of allowed paths are allowed.
		{"res://tests//integration/./a.tscn", allowed},
		{"res:///vr_main.tscn", allowed},
	}
	runChecks(t, w, tests)
	// In production, nothing but vr_main, whatever the encoding.
	p := shipped(t, "production")
	for _, path := range []string{"res://tests/integration/%2e%2e/x.tscn", "res://%76r_main.tscn", "res://vr_main.tscn/."} {
		c, err := p.Check(path)
		if err != nil && path == "res://vr_main.tscn/." {
			t.Errorf("Check(%q) = %v, want allowed as res://vr_main.tscn", path, err)
		}
		if err == nil && c != "res://vr_main.tscn" {
			t.Errorf("Check(%q) allowed %q", path, c)
		}
	}
}

func TestCheckReturnsCanonical(t *testing.T) {
	w := shipped(t, "staging")
	tests := []struct {
		in, want string
		err      error
	}{
		{"res://tests//integration/./a.tscn", "res://tests/integration/a.tscn", nil},
		{"res://tests//debug.tscn", "res://tests/debug.tscn", ErrNotAllowed},
		{"res://../x.tscn", "", ErrInvalidPath},
	}
	for _, tc := range tests {
		got, err := w.Check(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("Check(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

const ruleFile = `{
  "environments": {
    "e": {
      "description": "rules under test",
      "scenes": ["res://addons/allowed_by_scene.tscn", "res://exact.tscn", "res://denied_exact.tscn"],
      "directories": ["res://dir/", "res://addons/"],
      "wildcards": ["res://w/*.tscn", "res://deep/**/end.tscn", "res://q/?.tscn", "res://mid/**/x/**/y.tscn"]
    }
  },
  "blacklist": {
    "patterns": ["res://addons/**", "res://dir/secret/*.tscn"],
    "exact": ["res://denied_exact.tscn", "res://w/bad.tscn"]
  }
}`

func TestRules(t *testing.T) {
	w, err := New([]byte(ruleFile), "e")
	if err != nil {
		t.Fatal(err)
	}
	runChecks(t, w, []checkCase{
		// blacklist beats scenes, directories and wildcards
		{"res://addons/allowed_by_scene.tscn", blacklisted},
		{"res://addons/a/b.tscn", blacklisted},
		{"res://denied_exact.tscn", blacklisted},
		{"res://w/bad.tscn", blacklisted},
		{"res://dir/secret/x.tscn", blacklisted},
		{"res://dir/secret/deeper/x.tscn", allowed}, // "*" stays in one segment
		// exact
		{"res://exact.tscn", allowed},
		{"res://exact2.tscn", notAllowed},
		// directories: any depth
		{"res://dir/a.tscn", allowed},
		{"res://dir/a/b/c.tscn", allowed},
		{"res://dirx/a.tscn", notAllowed},
		// "*" does not cross "/"
		{"res://w/a.tscn", allowed},
		{"res://w/.tscn", invalidPath},
		{"res://w/a/b.tscn", notAllowed},
		// "**" crosses "/", zero segments included
		{"res://deep/end.tscn", allowed},
		{"res://deep/a/end.tscn", allowed},
		{"res://deep/a/b/c/end.tscn", allowed},
		{"res://deep/a/b/c/end2.tscn", notAllowed},
		{"res://mid/x/y.tscn", allowed},
		{"res://mid/a/x/b/c/y.tscn", allowed},
		{"res://mid/a/b/y.tscn", notAllowed},
		// "?" is exactly one character
		{"res://q/a.tscn", allowed},
		{"res://q/ab.tscn", notAllowed},
		{"res://q/.tscn", invalidPath},
	})
	// "?.tscn" matches a one-character name plus ".tscn".
	if !w.Allowed("res://q/ü.tscn") || w.Allowed("res://q/ab.tscn") {
		t.Error(`"?" does not match exactly one character`)
	}
	d, err := w.Decide("res://deep/a/end.tscn")
	if err != nil || d.Rule != `wildcard "res://deep/**/end.tscn"` {
		t.Errorf("Decide = %+v, %v; want the deep wildcard", d, err)
	}
	d, _ = w.Decide("res://addons/allowed_by_scene.tscn")
	if d.Allowed || d.Rule != `blacklist pattern "res://addons/**"` {
		t.Errorf("Decide = %+v; want the addons blacklist pattern", d)
	}
}

func TestMatchSegment(t *testing.T) {
	tests := []struct {
		pat, s string
		want   bool
	}{
		{"*", "", true},
		{"*", "abc", true},
		{"*.tscn", "a.tscn", true},
		{"*.tscn", "a.tscnx", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false},
		{"a*b", "abab", true},
		{"?", "ü", true},
		{"?", "", false},
		{"??", "a", false},
		{"a?c", "abc", true},
		{"*a*a*a*a*b", strings.Repeat("a", 100), false},
		{"abc", "abc", true},
		{"abc", "abd", false},
	}
	for _, tc := range tests {
		if got := matchSegment(tc.pat, tc.s); got != tc.want {
			t.Errorf("matchSegment(%q, %q) = %v, want %v", tc.pat, tc.s, got, tc.want)
		}
	}
}

func TestUnknownEnvironment(t *testing.T) {
	data, err := fs.ReadFile(configfiles.FS, "scene_whitelist.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"", "prod", "Production", "qa"} {
		if _, err := New(data, env); !errors.Is(err, ErrUnknownEnvironment) {
			t.Errorf("New(%q) error = %v, want ErrUnknownEnvironment", env, err)
		}
	}
}

func TestInvalidFile(t *testing.T) {
	env := func(field, entry string) string {
		return `{"environments": {"e": {"` + field + `": [` + entry + `]}}}`
	}
	tests := []struct {
		name string
		data string
		want string
	}{
		{"not json", `{`, "unexpected EOF"},
		{"unknown key", `{"environments": {"e": {"scenez": []}}}`, `unknown field "scenez"`},
		{"trailing", `{"environments": {"e": {}}} x`, "data after the top-level object"},
		{"no environments", `{"environments": {}}`, "no environments"},
		{"scene not res", env("scenes", `"user://a.tscn"`), `environment "e": scenes[0] "user://a.tscn": not a res:// path`},
		{"scene not tscn", env("scenes", `"res://a.tres"`), `environment "e": scenes[0] "res://a.tres": not a .tscn scene path`},
		{"scene traversal", env("scenes", `"res://a/../b.tscn"`), `environment "e": scenes[0] "res://a/../b.tscn": contains a ".." segment`},
		{"scene not canonical", env("scenes", `"res://a//b.tscn"`), `scenes[0] "res://a//b.tscn": not canonical: write "res://a/b.tscn"`},
		{"dir without slash", env("directories", `"res://tests"`), `directories[0] "res://tests": a directory must end with "/"`},
		{"dir pattern", env("directories", `"res://te*/"`), `directories[0] "res://te*/": a directory is a literal prefix`},
		{"dir not canonical", env("directories", `"res://a//b/"`), `not canonical: write "res://a/b/"`},
		{"dir backslash", env("directories", `"res://a\\b/"`), `contains a backslash`},
		{"wildcard partial **", env("wildcards", `"res://a/**x/*.tscn"`), `wildcards[0] "res://a/**x/*.tscn": "**" must be a whole path segment`},
		{"wildcard class", env("wildcards", `"res://a/[ab].tscn"`), `character classes`},
		{"wildcard empty", env("wildcards", `"res://"`), `matches nothing`},
		{"wildcard traversal", env("wildcards", `"res://a/../**"`), `contains a ".." segment`},
		{"wildcard not res", env("wildcards", `"**/*.tscn"`), `not a res:// path`},
		{"blacklist pattern", `{"environments": {"e": {}}, "blacklist": {"patterns": ["/etc/**"]}}`, `blacklist.patterns[0] "/etc/**": not a res:// path`},
		{"blacklist exact", `{"environments": {"e": {}}, "blacklist": {"exact": ["res://x"]}}`, `blacklist.exact[0] "res://x": not a .tscn scene path`},
		{"other environment", `{"environments": {"e": {}, "f": {"scenes": ["bad"]}}}`, `environment "f": scenes[0] "bad"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New([]byte(tc.data), "e")
			if err == nil || !errors.Is(err, ErrInvalidFile) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New error = %v, want ErrInvalidFile containing %q", err, tc.want)
			}
		})
	}
	// Every problem is reported at once.
	_, err := New([]byte(`{"environments": {"a": {"scenes": ["x"]}, "b": {"wildcards": ["y"]}}}`), "a")
	if err == nil || !strings.Contains(err.Error(), `environment "a"`) || !strings.Contains(err.Error(), `environment "b"`) {
		t.Errorf("New error = %v, want both environments named", err)
	}
}

func TestRulesAccessors(t *testing.T) {
	w := shipped(t, "staging")
	got := w.Rules()
	want := Rules{
		Environment: "staging",
		Description: "Staging environment - production + debug scenes",
		Scenes:      []string{"res://vr_main.tscn", "res://scenes/menu.tscn"},
		Directories: []string{"res://tests/integration/"},
		Wildcards:   []string{"res://tests/integration/**/*.tscn"},
		Blacklist:   got.Blacklist,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Rules() = %+v, want %+v", got, want)
	}
	if len(got.Blacklist.Patterns) == 0 || !reflect.DeepEqual(got.Blacklist.Exact, []string{}) {
		t.Errorf("Blacklist = %+v, want patterns and an empty exact list", got.Blacklist)
	}
	got.Scenes[0] = "res://mutated.tscn"
	if w.Rules().Scenes[0] != "res://vr_main.tscn" {
		t.Error("Rules() shares its slices with the Whitelist")
	}
}

func TestErrBlacklistedIsNotAllowed(t *testing.T) {
	if !errors.Is(ErrBlacklisted, ErrNotAllowed) {
		t.Error("ErrBlacklisted is not ErrNotAllowed")
	}
	if errors.Is(ErrNotAllowed, ErrBlacklisted) || errors.Is(ErrInvalidPath, ErrNotAllowed) {
		t.Error("sentinels overlap")
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"res://vr_main.tscn", "res://tests/integration/a.tscn", "res://tests/integration/../../secret.tscn",
		"res://tests/integration/%2e%2e/x.tscn", `res://a\b.tscn`, "res://a\x00.tscn", "user://x.tscn",
		"/etc/passwd", "res://x.tscn.bak", "res://x.TSCN", "res://addons/x.tscn", "res:////./a//b.tscn",
		"res://tests/integration/x/y/z.tscn", "res://.hidden/a.tscn",
	} {
		f.Add(s)
	}
	data, err := fs.ReadFile(configfiles.FS, "scene_whitelist.json")
	if err != nil {
		f.Fatal(err)
	}
	var lists []*Whitelist
	for _, env := range []string{"production", "staging", "development", "test"} {
		w, err := New(data, env)
		if err != nil {
			f.Fatal(err)
		}
		lists = append(lists, w)
	}
	f.Fuzz(func(t *testing.T, p string) {
		for _, w := range lists {
			c, err := w.Check(p)
			if err != nil {
				if outcomeOf(err) < notAllowed {
					t.Fatalf("Check(%q) error %v wraps no sentinel", p, err)
				}
				continue
			}
			if !strings.HasPrefix(c, Scheme) || !strings.HasSuffix(c, SceneExt) || len(c) > MaxPathLen {
				t.Fatalf("Check(%q) allowed non-scene %q", p, c)
			}
			for _, seg := range strings.Split(strings.TrimPrefix(c, Scheme), "/") {
				if seg == ".." || seg == "." || seg == "" {
					t.Fatalf("Check(%q) allowed non-canonical %q", p, c)
				}
			}
			if strings.ContainsAny(c, "\\\x00") {
				t.Fatalf("Check(%q) allowed %q", p, c)
			}
			if again, err := Canonicalize(c); err != nil || again != c {
				t.Fatalf("canonical %q of %q is not a fixed point: %q, %v", c, p, again, err)
			}
			if w.Environment() == "production" && c != "res://vr_main.tscn" {
				t.Fatalf("production allowed %q (from %q)", c, p)
			}
		}
	})
}

func BenchmarkCheck(b *testing.B) {
	w := shipped(b, "staging")
	for b.Loop() {
		if _, err := w.Check("res://tests/integration/x/y/z.tscn"); err != nil {
			b.Fatal(err)
		}
	}
}
