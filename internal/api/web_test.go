package api_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/spacetime-vr/spacetime/internal/api"
)

// webBuild is a small client build as web/build.mjs writes it.
func webBuild() fstest.MapFS {
	js := []byte("// app\n" + strings.Repeat("console.log('spacetime');\n", 200))
	return fstest.MapFS{
		"index.html":              {Data: []byte(`<!doctype html><html><head><link rel="stylesheet" href="/assets/app-4XJ2KQ7A.css"></head><body><script type="module" src="/assets/app.js"></script></body></html>`)},
		"assets/app.js":           {Data: js},
		"assets/app-4XJ2KQ7A.css": {Data: []byte("body{margin:0}")},
		"assets/img/logo.png":     {Data: []byte("\x89PNG\r\n\x1a\n....")},
		"assets/.secret":          {Data: []byte("not for you")},
		"assets/.dir/x.js":        {Data: []byte("hidden")},
		".gitkeep":                {Data: nil},
	}
}

func withWeb(fsys fstest.MapFS) func(*api.Options) {
	return func(o *api.Options) {
		if fsys != nil {
			o.Web = fsys
		}
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

func TestWebIndex(t *testing.T) {
	build := webBuild()
	h := newHarness(t, withWeb(build))

	r := h.do("GET", "/", "", "Accept-Encoding", "identity")
	if r.status != 200 || !bytes.Equal(r.body, build["index.html"].Data) {
		t.Fatalf("GET / = %d %q, want 200 and index.html", r.status, r.body)
	}
	for k, want := range map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Content-Security-Policy": api.WebCSP,
		"Cache-Control":           "no-cache",
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// The policy allows nothing but this origin (and data:/blob: images,
	// ws:/wss: connections), nothing inline.
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "*"} {
		if strings.Contains(api.WebCSP, bad) {
			t.Errorf("CSP %q allows %s", api.WebCSP, bad)
		}
	}
	etag := r.header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) {
		t.Fatalf("ETag = %q", etag)
	}
	if r := h.do("GET", "/", "", "If-None-Match", etag); r.status != http.StatusNotModified || len(r.body) != 0 {
		t.Errorf("GET / with its ETag = %d (%d bytes), want 304", r.status, len(r.body))
	}
	if r := h.do("GET", "/", "", "If-None-Match", `W/`+etag+`, "other"`); r.status != http.StatusNotModified {
		t.Errorf("GET / with a list holding its weak ETag = %d, want 304", r.status)
	}
	if r := h.do("GET", "/", "", "If-None-Match", `"stale"`); r.status != 200 {
		t.Errorf("GET / with another ETag = %d, want 200", r.status)
	}
	if r := h.do("HEAD", "/", ""); r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Length") == "" {
		t.Errorf("HEAD / = %d, %d bytes, Content-Length %q", r.status, len(r.body), r.header.Get("Content-Length"))
	}
	// The root route is the root only.
	problem(t, h.do("GET", "/index.html", ""), http.StatusNotFound, "not_found")
	problem(t, h.do("GET", "/nope", ""), http.StatusNotFound, "not_found")
	problem(t, h.do("POST", "/", "{}"), http.StatusMethodNotAllowed, "method_not_allowed")
}

func TestWebAssets(t *testing.T) {
	build := webBuild()
	h := newHarness(t, withWeb(build))

	r := h.do("GET", "/assets/app.js", "", "Accept-Encoding", "br, gzip;q=0.8")
	if r.status != 200 || r.header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("GET /assets/app.js (gzip accepted) = %d, Content-Encoding %q", r.status, r.header.Get("Content-Encoding"))
	}
	if got := gunzip(t, r.body); !bytes.Equal(got, build["assets/app.js"].Data) {
		t.Error("the gzipped script differs from the file")
	}
	if len(r.body) >= len(build["assets/app.js"].Data) {
		t.Errorf("gzip did not shrink the script: %d bytes", len(r.body))
	}
	// Each representation has its own strong ETag.
	plain := h.do("GET", "/assets/app.js", "", "Accept-Encoding", "identity")
	if gzTag, tag := r.header.Get("ETag"), plain.header.Get("ETag"); gzTag == "" || gzTag == tag {
		t.Errorf("ETag of the gzip body %q, of the plain body %q: want two different tags", gzTag, tag)
	}
	if again := h.do("GET", "/assets/app.js", "", "Accept-Encoding", "gzip", "If-None-Match", r.header.Get("ETag")); again.status != 304 {
		t.Errorf("GET with the gzip body's ETag = %d, want 304", again.status)
	}
	for k, want := range map[string]string{
		"Content-Type":            "text/javascript; charset=utf-8",
		"Content-Security-Policy": api.WebCSP,
		"Cache-Control":           "no-cache", // no hash in the name
		"Vary":                    "Accept-Encoding",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("app.js %s = %q, want %q", k, got, want)
		}
	}

	for _, ae := range []string{"identity", "gzip;q=0", "br", "*;q=0", ""} {
		r := h.do("GET", "/assets/app.js", "", "Accept-Encoding", ae)
		if r.status != 200 || r.header.Get("Content-Encoding") != "" || !bytes.Equal(r.body, build["assets/app.js"].Data) {
			t.Errorf("Accept-Encoding %q: %d, Content-Encoding %q, %d bytes; want the plain file", ae, r.status, r.header.Get("Content-Encoding"), len(r.body))
		}
	}
	if r := h.do("GET", "/assets/app.js", "", "Accept-Encoding", "*"); r.header.Get("Content-Encoding") != "gzip" {
		t.Error(`Accept-Encoding "*" did not get gzip`)
	}

	r = h.do("GET", "/assets/app-4XJ2KQ7A.css", "")
	if r.status != 200 || r.header.Get("Content-Type") != "text/css; charset=utf-8" || string(r.body) != "body{margin:0}" {
		t.Errorf("hashed css = %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
	}
	if got := r.header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Errorf("hashed css Cache-Control = %q, want immutable for a year", got)
	}
	if r.header.Get("Content-Encoding") != "" {
		t.Error("a tiny file was gzipped")
	}

	r = h.do("GET", "/assets/img/logo.png", "", "Accept-Encoding", "gzip")
	if r.status != 200 || r.header.Get("Content-Type") != "image/png" || r.header.Get("Content-Encoding") != "" {
		t.Errorf("png = %d %q, Content-Encoding %q", r.status, r.header.Get("Content-Type"), r.header.Get("Content-Encoding"))
	}

	for _, p := range []string{"/assets/missing.js", "/assets/img", "/assets/.secret", "/assets/.dir/x.js", "/assets/"} {
		r := h.do("GET", p, "")
		pr := problem(t, r, http.StatusNotFound, "asset_not_found")
		if strings.Contains(string(r.body), "not for you") || !strings.Contains(pr.Detail, "no file") {
			t.Errorf("GET %s: %s", p, r.body)
		}
		if got := r.header.Get("Content-Security-Policy"); got != "default-src 'none'; frame-ancestors 'none'" {
			t.Errorf("GET %s: CSP %q, want the API's", p, got)
		}
	}
}

func TestWebNotBuilt(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"no web FS":          nil,
		"FS without a build": {".gitkeep": {}},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withWeb(fsys))
			r := h.do("GET", "/", "")
			if r.status != http.StatusServiceUnavailable || r.header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Fatalf("GET / = %d %q, want 503 text/html", r.status, r.header.Get("Content-Type"))
			}
			for _, want := range []string{"not built", "make run", "npm --prefix web ci", "npm --prefix web run build", "go build"} {
				if !strings.Contains(string(r.body), want) {
					t.Errorf("the page does not say %q:\n%s", want, r.body)
				}
			}
			if got := r.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store (a later build must show)", got)
			}
			if got := r.header.Get("Content-Security-Policy"); got != "default-src 'none'; frame-ancestors 'none'" {
				t.Errorf("CSP = %q", got)
			}
			pr := problem(t, h.do("GET", "/assets/app.js", ""), http.StatusNotFound, "asset_not_found")
			if !strings.Contains(pr.Detail, "not built") {
				t.Errorf("detail %q does not say the client is not built", pr.Detail)
			}
		})
	}
}

// TestVRWithHeadsetMatchesDocument checks a /state/vr answer with poses
// against the document's schema (the default harness reports only the
// desktop fallback).
func TestVRWithHeadsetMatchesDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	h := newHarness(t, func(o *api.Options) { o.VR = headsetVR{} })
	r := h.do("GET", "/state/vr", "")
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatal(err)
	}
	for _, p := range checkSchema(doc, documentedSchema(t, doc, "GET", "/state/vr", r.status), v, "$") {
		t.Error(p)
	}
}
