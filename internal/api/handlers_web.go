package api

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

// WebCSP is the Content-Security-Policy of the web client's files: every
// script, style, image and connection from this origin only (the
// telemetry WebSocket included), images also from data: and blob: URLs,
// nothing inline, no plugins, no framing.
const WebCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; worker-src 'self' blob:; font-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Cache-Control of the web client's files: index.html and files whose
// name carries no content hash are revalidated (ETag) on every use;
// hashed files ("app-4XJ2KQ7A.js") never change and are cached for a
// year.
const (
	cacheRevalidate = "no-cache"
	cacheImmutable  = "public, max-age=31536000, immutable"
)

// codeAssetNotFound is the problem code of a missing web client file;
// reasonWebNotBuilt the audit reason of GET / without a built client.
const (
	codeAssetNotFound = "asset_not_found"
	reasonWebNotBuilt = "web_client_not_built"
)

// webFile is one file of the web client, ready to serve.
type webFile struct {
	body      []byte
	gz        []byte // gzip of body; nil when compression does not pay
	etag      string
	ctype     string
	immutable bool
}

// webFiles serves files of an fs.FS, each read, hashed and compressed
// once on first use and kept (the FS is the embedded build: immutable
// and small). Misses are not cached. Safe for concurrent use.
type webFiles struct {
	fsys fs.FS

	mu    sync.Mutex
	files map[string]*webFile
}

func newWebFiles(fsys fs.FS) *webFiles {
	return &webFiles{fsys: fsys, files: make(map[string]*webFile)}
}

// built reports whether the FS holds a built client (index.html).
func (w *webFiles) built() bool {
	if w.fsys == nil {
		return false
	}
	_, err := w.get("index.html")
	return err == nil
}

// get returns the file name (a valid fs path); fs.ErrNotExist for a
// missing file or a directory.
func (w *webFiles) get(name string) (*webFile, error) {
	if w.fsys == nil {
		return nil, fs.ErrNotExist
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if f, ok := w.files[name]; ok {
		return f, nil
	}
	st, err := fs.Stat(w.fsys, name)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fs.ErrNotExist
	}
	body, err := fs.ReadFile(w.fsys, name)
	if err != nil {
		return nil, fmt.Errorf("read web client file %s: %w", name, err)
	}
	sum := sha256.Sum256(body)
	f := &webFile{
		body:      body,
		etag:      `"` + hex.EncodeToString(sum[:12]) + `"`,
		ctype:     contentType(name),
		immutable: hashedName(name),
	}
	if compressible(f.ctype) && len(body) >= 256 {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression) // a valid level: no error
		_, _ = zw.Write(body)                                  // a bytes.Buffer does not fail
		if err := zw.Close(); err == nil && b.Len() < len(body)*9/10 {
			f.gz = b.Bytes()
		}
	}
	w.files[name] = f
	return f, nil
}

// webContentTypes fixes the types of the files a web build holds (the
// system's MIME table varies between machines).
var webContentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json",
	".map":         "application/json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".jpg":         "image/jpeg",
	".jpeg":        "image/jpeg",
	".webp":        "image/webp",
	".ico":         "image/x-icon",
	".woff2":       "font/woff2",
	".wasm":        "application/wasm",
	".txt":         "text/plain; charset=utf-8",
	".glb":         "model/gltf-binary",
	".webmanifest": "application/manifest+json",
}

func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := webContentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.HasPrefix(ctype, "application/json") ||
		ctype == "image/svg+xml" || ctype == "application/wasm" || ctype == "application/manifest+json"
}

// hashedName reports whether a file name carries a content hash as
// esbuild writes it ("[name]-[hash]"): a last dash-separated part of
// 8 or more upper-case letters and digits before the extension.
func hashedName(name string) bool {
	base := path.Base(name)
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	i := strings.LastIndexByte(base, '-')
	if i < 0 {
		return false
	}
	h := base[i+1:]
	if len(h) < 8 {
		return false
	}
	for _, c := range h {
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// webIndex: GET /, the web client's index.html; without a built client
// a 503 page saying how to build it.
func (s *Server) webIndex(w http.ResponseWriter, r *http.Request) error {
	f, err := s.web.get("index.html")
	if errors.Is(err, fs.ErrNotExist) {
		if ri := infoFrom(r.Context()); ri != nil {
			ri.reason = reasonWebNotBuilt
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(notBuiltPage)))
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(notBuiltPage))
		return nil
	}
	if err != nil {
		return err
	}
	s.serveWebFile(w, r, f)
	return nil
}

// webAsset: GET /assets/{path...}, one file of the web client.
func (s *Server) webAsset(w http.ResponseWriter, r *http.Request) error {
	name := "assets/" + r.PathValue("path")
	notFound := func() error {
		detail := "the web client has no file " + name
		if !s.web.built() {
			detail = "the web client is not built (see GET /)"
		}
		return apiError(ErrNotFound, codeAssetNotFound, detail, nil)
	}
	if !fs.ValidPath(name) || hiddenPath(name) {
		return notFound()
	}
	f, err := s.web.get(name)
	if errors.Is(err, fs.ErrNotExist) {
		return notFound()
	}
	if err != nil {
		return err
	}
	s.serveWebFile(w, r, f)
	return nil
}

// hiddenPath reports whether a path has an element starting with a dot
// (never served).
func hiddenPath(name string) bool {
	for _, el := range strings.Split(name, "/") {
		if strings.HasPrefix(el, ".") {
			return true
		}
	}
	return false
}

// serveWebFile answers with f: the web client's CSP and caching, its
// ETag (304 when the client has it), gzip when the client accepts it.
func (s *Server) serveWebFile(w http.ResponseWriter, r *http.Request, f *webFile) {
	h := w.Header()
	h.Set("Content-Security-Policy", WebCSP)
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if f.immutable {
		h.Set("Cache-Control", cacheImmutable)
	} else {
		h.Set("Cache-Control", cacheRevalidate)
	}
	// A strong ETag names one representation: the gzip body gets its own.
	gz := f.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding"))
	etag := f.etag
	if gz {
		etag = strings.TrimSuffix(etag, `"`) + `-gz"`
	}
	h.Set("ETag", etag)
	if f.gz != nil {
		h.Set("Vary", "Accept-Encoding")
	}
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if gz {
		body = f.gz
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Type", f.ctype)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// etagMatch reports whether an If-None-Match header lists etag (weak
// comparison, as RFC 9110 wants for If-None-Match) or is "*".
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header accepts gzip
// (listed without q=0, or "*" without q=0 and gzip not refused).
func acceptsGzip(header string) bool {
	star := false
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		refused := false
		if q, ok := strings.CutPrefix(strings.ReplaceAll(strings.TrimSpace(params), " ", ""), "q="); ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				refused = true
			}
		}
		switch coding {
		case "gzip", "x-gzip":
			return !refused
		case "*":
			star = !refused
		}
	}
	return star
}

// notBuiltPage is GET / of a binary built without the web client.
const notBuiltPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SpaceTime: the web client is not built</title>
</head>
<body>
<main>
<h1>The web client is not built</h1>
<p>This <code>spacetime</code> binary was built without its web client (the WebXR viewer and the dashboard).
The HTTP API works as usual: see <a href="/health">/health</a> and <a href="/openapi.json">/openapi.json</a>.</p>
<p>To build the client and a binary that serves it, run from the repository root:</p>
<pre><code>make run</code></pre>
<p>or build the client yourself (Node.js 18 or newer with npm), then the binary:</p>
<pre><code>npm --prefix web ci
npm --prefix web run build
go build -o bin/spacetime ./cmd/spacetime</code></pre>
</main>
</body>
</html>
`
