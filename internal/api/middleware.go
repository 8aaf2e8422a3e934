package api

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"time"
)

// requestInfo is what the middleware learns about one request. requestID
// creates it; later layers fill it in; accessLog reports it.
type requestInfo struct {
	id     string
	route  *Route // nil when no route matched
	status int    // first status written; 0 until then
	bytes  int64
	code   string // problem code of an error answer

	// Filled in by the security layer (middleware_security.go).
	identified   bool      // principal is set
	principal    Principal // the caller (anonymous without a credential)
	authErr      error     // a presented credential that did not authenticate
	client       netip.Addr
	clientSet    bool
	reason       string // audit reason beyond the problem code
	scenePath    string // the scene a scene route named
	loggedIn     string // the principal a /auth route logged in
	loggedInRole string
}

type ctxKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(ctxKey{}).(*requestInfo)
	return ri
}

// RequestID returns the request's id ("" outside the stack).
func RequestID(ctx context.Context) string {
	if ri := infoFrom(ctx); ri != nil {
		return ri.id
	}
	return ""
}

// RouteFromContext returns the route the request matched. It is known to
// every middleware of Options.Middleware; false for a request that matches
// no route (it will be answered 404 or 405).
func RouteFromContext(ctx context.Context) (Route, bool) {
	if ri := infoFrom(ctx); ri != nil && ri.route != nil {
		return *ri.route, true
	}
	return Route{}, false
}

// maxRequestIDLen bounds a client-supplied X-Request-ID.
const maxRequestIDLen = 64

// saneRequestID reports whether a client's X-Request-ID may be reused:
// 1 to 64 characters from [A-Za-z0-9._:-], so it cannot forge log lines
// or headers.
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == '-', c == ':':
		default:
			return false
		}
	}
	return true
}

// requestID gives every request an id: the client's X-Request-ID when sane,
// else a random one. The response echoes it in X-Request-ID.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !saneRequestID(id) {
			id = rand.Text()
		}
		w.Header().Set("X-Request-ID", id)
		ri := &requestInfo{id: id}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, ri)))
	})
}

// securityHeaders sets the headers every API response carries, errors
// included. The CSP fits JSON answers; a page-serving handler (the WebXR
// client) must set its own.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Cache-Control", "no-store")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// trackingWriter records the status and size of a response in its
// requestInfo.
type trackingWriter struct {
	http.ResponseWriter
	ri *requestInfo
}

func (t *trackingWriter) WriteHeader(code int) {
	if t.ri.status == 0 {
		t.ri.status = code
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	if t.ri.status == 0 {
		t.ri.status = http.StatusOK
	}
	n, err := t.ResponseWriter.Write(b)
	t.ri.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// accessLog writes one Info line per request: method, route pattern (not
// the raw path, so logs group by route), status, duration, bytes, id.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := infoFrom(r.Context())
		start := time.Now()
		next.ServeHTTP(&trackingWriter{ResponseWriter: w, ri: ri}, r)
		route := "unmatched"
		if ri.route != nil {
			route = ri.route.Pattern()
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "http request",
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", ri.status),
			slog.Duration("duration", time.Since(start)),
			slog.Int64("bytes", ri.bytes),
			slog.String("request_id", ri.id),
		)
	})
}

// recoverPanics turns a handler's panic into a 500 problem (when nothing
// was written yet) and an Error log line with the stack. The server keeps
// serving. http.ErrAbortHandler passes through, as net/http intends.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			ri := infoFrom(r.Context())
			s.log.LogAttrs(r.Context(), slog.LevelError, "panic in handler",
				slog.String("request_id", ri.id),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("panic", fmt.Sprint(p)),
				slog.String("stack", string(debug.Stack())),
			)
			if ri.status == 0 {
				s.writeError(w, r, fmt.Errorf("panic: %v", p))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// matchRoute finds the route the mux will choose and records it in the
// request's info, so later middleware (RouteFromContext) and the access
// log know it before the mux runs.
func (s *Server) matchRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := s.mux.Handler(r); pattern != "" {
			infoFrom(r.Context()).route = s.byPat[pattern]
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody refuses a declared Content-Length over the limit at once and
// caps what a handler can read to the limit (decodeJSON turns the cap into
// a 413 problem).
func (s *Server) limitBody(next http.Handler) http.Handler {
	limit := s.opts.MaxBodyBytes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			s.writeError(w, r, tooLarge(limit))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}

func tooLarge(limit int64) error {
	return apiError(errTooLarge, "", "request body exceeds "+strconv.FormatInt(limit, 10)+" bytes", nil)
}

// problemMux serves mux and turns its plain-text 404 and 405 answers into
// problem documents; the 405's Allow header stays. Requests that match a
// route go to the mux untouched.
func (s *Server) problemMux(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if infoFrom(r.Context()).route != nil {
			mux.ServeHTTP(w, r)
			return
		}
		pw := &problemWriter{ResponseWriter: w, s: s, r: r}
		mux.ServeHTTP(pw, r)
	})
}

// problemWriter replaces a 404 or 405 answer by a problem document and
// discards the mux's text. Other answers (the mux's path-cleaning
// redirects) pass through.
type problemWriter struct {
	http.ResponseWriter
	s        *Server
	r        *http.Request
	replaced bool
}

func (p *problemWriter) WriteHeader(code int) {
	var err error
	switch code {
	case http.StatusNotFound:
		err = apiError(ErrNotFound, codeRouteNotFound, "no route for "+p.r.Method+" "+p.r.URL.Path, nil)
	case http.StatusMethodNotAllowed:
		err = apiError(errMethodNotAllowed, "",
			p.r.Method+" is not allowed here; allowed: "+p.Header().Get("Allow"), nil)
	default:
		p.ResponseWriter.WriteHeader(code)
		return
	}
	p.replaced = true
	h := p.Header()
	h.Del("Content-Length")
	p.s.writeError(p.ResponseWriter, p.r, err)
}

func (p *problemWriter) Write(b []byte) (int, error) {
	if p.replaced {
		return len(b), nil
	}
	return p.ResponseWriter.Write(b)
}
