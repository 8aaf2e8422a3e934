package supervisor

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// newProxy returns the /godot/* reverse proxy to the child's API (the
// prefix is stripped before it). Methods, headers (Authorization
// included), bodies and status codes pass through; responses stream
// (every write is flushed) and WebSocket upgrades pass through. The
// child sees X-Forwarded-For/-Host/-Proto; its rate limits see the
// client only when the supervisor's address is among its trusted
// proxies.
// proxyHeaderTimeout bounds the wait for the child's answer to a proxied
// request (WebSocket upgrades are answered at once).
const proxyHeaderTimeout = 2 * time.Minute

func newProxy(target *url.URL, roots *x509.CertPool, log *slog.Logger) *httputil.ReverseProxy {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = childTLS(roots)
	// A hung child must not hold proxied requests forever; the longest
	// legitimate wait is a scene load (30 s by default).
	tr.ResponseHeaderTimeout = proxyHeaderTimeout
	tr.Proxy = nil // the child is ours: never through an HTTP proxy
	plog := log.With("component", "proxy")
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport:     tr,
		FlushInterval: -1,
		ErrorLog:      slog.NewLogLogger(plog.Handler(), slog.LevelWarn),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
				return // the client left
			}
			plog.Warn("child API unreachable", "method", r.Method, "path", r.URL.Path, "error", err)
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusBadGateway)
			_ = json.NewEncoder(w).Encode(map[string]any{
				"type":   "about:blank",
				"title":  http.StatusText(http.StatusBadGateway),
				"status": http.StatusBadGateway,
				"code":   "child_unreachable",
				"detail": "the supervised child's API did not answer; see the supervisor's /health",
			})
		},
	}
}
