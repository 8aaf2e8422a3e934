package metrics

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// UnmatchedRoute is the route label of requests that matched no route
// (answered 404 or 405): the raw path is never a label value, so a
// scanner cannot blow up the number of series.
const UnmatchedRoute = "unmatched"

// Middleware records every request in spacetime_http_request_duration_seconds
// by route, method and status code, and counts it in
// spacetime_http_requests_in_flight while it runs.
//
// routeOf names the route of a request: the route's pattern (e.g.
// "/scene/load"), never the raw path. It is called after the handler
// returns, so routing done inside the wrapped handler is visible; ""
// means no route matched and is recorded as UnmatchedRoute. A nil routeOf
// uses r.Pattern, which http.ServeMux sets when it is the handler wrapped
// directly (without its method: "GET /scene" gives "/scene"). Methods outside the standard ones are recorded as "OTHER".
//
// The ResponseWriter the handler sees keeps http.Flusher and http.Hijacker
// working (and Unwrap for http.ResponseController), so server-sent
// streams and WebSocket upgrades pass through. A hijacked request is
// recorded with status 101 and the time until the hijack. A handler that
// panics before writing a status is recorded as 500 and the panic goes on
// to the recovery middleware outside.
func (m *Metrics) Middleware(routeOf func(*http.Request) string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			m.httpInFlight.Inc()
			rw := &responseWriter{ResponseWriter: w}
			completed := false
			defer func() {
				m.httpInFlight.Dec()
				end := rw.hijackedAt
				if end.IsZero() {
					end = time.Now()
				}
				status := rw.status
				switch {
				case status != 0:
				case !rw.hijackedAt.IsZero():
					status = http.StatusSwitchingProtocols
				case completed:
					status = http.StatusOK // net/http's implicit status
				default:
					status = http.StatusInternalServerError // panicked
				}
				var route string
				if routeOf != nil {
					route = routeOf(r)
				} else {
					route = patternRoute(r.Pattern)
				}
				if route == "" {
					route = UnmatchedRoute
				}
				m.httpDuration.WithLabelValues(route, methodLabel(r.Method), statusLabel(status)).
					Observe(end.Sub(start).Seconds())
			}()
			next.ServeHTTP(rw, r)
			completed = true
		})
	}
}

// patternRoute is a ServeMux pattern without its method.
func patternRoute(p string) string {
	if i := strings.IndexByte(p, ' '); i >= 0 {
		return strings.TrimLeft(p[i+1:], " \t")
	}
	return p
}

// methodLabel bounds the method label to the standard methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions,
		http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// statusLabel formats the common codes without allocating.
func statusLabel(code int) string {
	switch code {
	case 200:
		return "200"
	case 201:
		return "201"
	case 204:
		return "204"
	case 400:
		return "400"
	case 401:
		return "401"
	case 403:
		return "403"
	case 404:
		return "404"
	case 429:
		return "429"
	case 500:
		return "500"
	}
	return strconv.Itoa(code)
}

// responseWriter remembers the status a handler sends.
type responseWriter struct {
	http.ResponseWriter
	status     int       // the final status; 0 until sent
	hijackedAt time.Time // zero unless hijacked
}

var (
	_ http.Flusher  = (*responseWriter)(nil)
	_ http.Hijacker = (*responseWriter)(nil)
)

// WriteHeader implements http.ResponseWriter. Informational codes (1xx
// other than 101) may precede the final one and are not recorded.
func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush implements http.Flusher; it does nothing when the underlying
// writer cannot flush.
func (w *responseWriter) Flush() {
	if err := http.NewResponseController(w.ResponseWriter).Flush(); err == nil && w.status == 0 {
		w.status = http.StatusOK
	}
}

// Hijack implements http.Hijacker through the underlying writer (or the
// writers it unwraps to); http.ErrNotSupported when none can.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijackedAt = time.Now()
	}
	return c, rw, err
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
