package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// TestBuildIsComplete checks, when the client is built, that index.html
// references its scripts and styles under /assets/ (absolute, or relative
// to / where it is served) and that every one of them is in the build. Without a build there is nothing to check but
// that Assets works.
func TestBuildIsComplete(t *testing.T) {
	fsys := Assets()
	if _, err := fs.Stat(fsys, ".gitkeep"); err != nil {
		t.Fatalf("Assets() lacks the placeholder .gitkeep: %v", err)
	}
	if !Built() {
		if _, err := fs.Stat(fsys, "index.html"); err == nil {
			t.Fatal("Built() is false but index.html exists")
		}
		t.Skip("the web client is not built (make web, or npm --prefix web ci && npm --prefix web run build)")
	}
	index, err := fs.ReadFile(fsys, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`\b(?:src|href)="([^"]*)"`).FindAllStringSubmatch(string(index), -1)
	var scripts int
	for _, m := range refs {
		ref := m[1]
		if strings.HasPrefix(ref, "#") || strings.HasPrefix(ref, "data:") {
			continue
		}
		// index.html is served at / only, so "assets/x" is "/assets/x".
		file, ok := strings.CutPrefix(ref, "/")
		if !ok && !strings.Contains(ref, ":") {
			ok = true
		}
		if !ok || !strings.HasPrefix(file, "assets/") {
			t.Errorf("index.html references %s, outside /assets/", ref)
			continue
		}
		if _, err := fs.Stat(fsys, file); err != nil {
			t.Errorf("index.html references %s, which the build lacks", ref)
		}
		if regexp.MustCompile(`\.m?js$`).MatchString(ref) {
			scripts++
		}
	}
	if scripts == 0 {
		t.Errorf("index.html loads no script from /assets/:\n%s", index)
	}
	if regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).Match(index) {
		t.Error("index.html references another origin; the client must load nothing from outside")
	}
}
