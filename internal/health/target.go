package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spacetime-vr/spacetime/internal/buildinfo"
	"github.com/spacetime-vr/spacetime/internal/config"
)

// Options describe the deployment to check and how.
type Options struct {
	// APIURL is the server's API base URL, e.g. http://127.0.0.1:8080.
	APIURL string
	// TelemetryURL is the telemetry port's base URL, e.g.
	// http://127.0.0.1:8081 (the stream is at /telemetry, metrics at
	// monitoring.metrics_path).
	TelemetryURL string
	// Credential is the API_TOKEN or an API key, exchanged at /auth/token
	// for an access token (an access token is used as is); "" sends none,
	// which only development accepts.
	Credential string
	// CredentialSource says where Credential came from, e.g. "env
	// API_TOKEN"; it is reported, the credential never is.
	CredentialSource string
	// Timeout bounds each check (DefaultTimeout when 0).
	Timeout time.Duration
	// Config is the configuration serve would read; nil when it did not
	// load, and ConfigErr says why.
	Config    *config.Config
	ConfigErr error
	// ConfigDir is the config directory the configuration comes from, or
	// config.EmbeddedDir; the whitelist check reads its
	// scene_whitelist.json itself, so it reports even when Config is nil.
	ConfigDir string
	// Environment is GODOT_ENV's environment, used when Config is nil.
	Environment string
	// Executable is the path of this binary ("" asks os.Executable).
	Executable string
	// Build describes this binary (buildinfo.Read()).
	Build buildinfo.Info
	// Now is the clock (time.Now when nil), for certificate expiry.
	Now func() time.Time
}

// Target is what the checks share: the options, one HTTP client, the
// access token (obtained once) and the server's /status and /health
// answers (fetched once). Safe for concurrent use by the checks.
type Target struct {
	opts   Options
	ctx    context.Context
	tr     *http.Transport
	client *http.Client
	base   *url.URL
	// baseErr says why APIURL is unusable (base is nil then).
	baseErr error

	tokenOnce sync.Once
	token     string
	tokenErr  error
	session   bool // token is an access token from /auth/token: log out at Close

	statusOnce sync.Once
	status     *serverStatus
	statusErr  error

	healthOnce sync.Once
	healthz    *serverHealth
	healthDur  time.Duration
	healthErr  error
}

// NewTarget prepares the shared state of a run; ctx bounds the fetches
// it makes once for all checks. Close it when done.
func NewTarget(ctx context.Context, opts Options) *Target {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	t := &Target{opts: opts, ctx: ctx}
	t.tr = &http.Transport{
		Proxy:               nil, // the checks talk to the deployment itself, never through a proxy
		DialContext:         (&net.Dialer{Timeout: opts.Timeout}).DialContext,
		TLSClientConfig:     clientTLS(opts.Config),
		TLSHandshakeTimeout: opts.Timeout,
		MaxIdleConnsPerHost: 4,
	}
	t.client = &http.Client{
		Transport: t.tr,
		Timeout:   opts.Timeout,
		// A redirect is an answer worth reporting, not following.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.base, t.baseErr = parseBase(opts.APIURL, "--url")
	return t
}

// parseBase checks an http(s) base URL.
func parseBase(raw, what string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", what, raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%s %q: scheme must be http or https", what, raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%s %q has no host", what, raw)
	}
	return u, nil
}

// clientTLS trusts the system roots plus the configured certificate, so
// a self-signed certificate of the deployment verifies.
func clientTLS(cfg *config.Config) *tls.Config {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if cfg != nil && cfg.Networking.HTTP.TLS.Enabled() {
		if pem, err := os.ReadFile(cfg.Networking.HTTP.TLS.CertFile); err == nil {
			pool.AppendCertsFromPEM(pem)
		}
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// Close ends the session the run logged in with and closes idle
// connections.
func (t *Target) Close() {
	if t.session && t.token != "" {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), t.opts.Timeout)
		resp, err := t.do(ctx, http.MethodPost, "/auth/logout", nil, t.token)
		if err == nil {
			drain(resp)
		}
		cancel()
	}
	t.tr.CloseIdleConnections()
}

// endpoint returns the API URL of path.
func (t *Target) endpoint(path string) (string, error) {
	if t.base == nil {
		return "", t.baseErr
	}
	return t.base.String() + path, nil
}

// do sends one request to the API with an optional bearer token and JSON
// body.
func (t *Target) do(ctx context.Context, method, path string, body any, token string) (*http.Response, error) {
	u, err := t.endpoint(path)
	if err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "spacetime-health")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, unwrapURLError(err))
	}
	return resp, nil
}

// unwrapURLError drops url.Error's repetition of the method and URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("no answer in time: %w", ue.Err)
		}
		return ue.Err
	}
	return err
}

// drain reads and closes a body so the connection is reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
}

// maxBody bounds what a check reads of one answer.
const maxBody = 4 << 20

// HTTPError is an answer with an unexpected status, with the problem's
// code and detail when the body is application/problem+json.
type HTTPError struct {
	Method, URL string
	StatusCode  int
	Code        string
	Detail      string
}

// Error returns e.g. "GET http://h/state/player: HTTP 404 no_player: the
// running scene has no player".
func (e *HTTPError) Error() string {
	s := fmt.Sprintf("%s %s: HTTP %d", e.Method, e.URL, e.StatusCode)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unauthorized reports whether the answer refused the credential.
func (e *HTTPError) Unauthorized() bool {
	return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
}

// getJSON GETs path (with the access token when auth) and decodes a 200
// answer into out; another status is an *HTTPError.
func (t *Target) getJSON(ctx context.Context, path string, auth bool, out any) error {
	token := ""
	var tokErr error
	if auth {
		token, tokErr = t.accessToken()
	}
	resp, err := t.do(ctx, http.MethodGet, path, nil, token)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("GET %s: read: %w", resp.Request.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		he := &HTTPError{Method: http.MethodGet, URL: resp.Request.URL.String(), StatusCode: resp.StatusCode}
		var p struct {
			Code   string `json:"code"`
			Detail string `json:"detail"`
		}
		if json.Unmarshal(data, &p) == nil {
			he.Code, he.Detail = p.Code, p.Detail
		}
		if he.Unauthorized() && tokErr != nil {
			return fmt.Errorf("%w (no access token: %w)", he, tokErr)
		}
		return he
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("GET %s: the answer is not the JSON expected: %w", resp.Request.URL, err)
	}
	return nil
}

// accessToken returns the bearer token for authenticated routes,
// exchanging the credential at /auth/token on first use. "" with a nil
// error means there is no credential.
func (t *Target) accessToken() (string, error) {
	t.tokenOnce.Do(func() {
		cred := t.opts.Credential
		if cred == "" {
			t.tokenErr = errors.New("no credential: set API_TOKEN (development alone answers without one)")
			return
		}
		if looksLikeJWT(cred) {
			t.token = cred
			return
		}
		ctx, cancel := context.WithTimeout(t.ctx, t.opts.Timeout)
		defer cancel()
		resp, err := t.do(ctx, http.MethodPost, "/auth/token", map[string]string{"api_key": cred}, "")
		if err != nil {
			t.tokenErr = fmt.Errorf("exchange the credential at /auth/token: %w", err)
			return
		}
		defer resp.Body.Close()
		var g struct {
			AccessToken string `json:"access_token"`
			Code        string `json:"code"`
			Detail      string `json:"detail"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&g)
		if resp.StatusCode != http.StatusOK || g.AccessToken == "" {
			t.tokenErr = fmt.Errorf("POST /auth/token refused the credential from %s: HTTP %d %s %s",
				orDefault(t.opts.CredentialSource, "the command line"), resp.StatusCode, g.Code, g.Detail)
			return
		}
		t.token, t.session = g.AccessToken, true
	})
	return t.token, t.tokenErr
}

// looksLikeJWT reports whether s has the shape of a compact JWS.
func looksLikeJWT(s string) bool {
	return strings.HasPrefix(s, "eyJ") && strings.Count(s, ".") == 2
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// serverStatus is the part of GET /status the checks read.
type serverStatus struct {
	Status        string `json:"status"`
	Version       string `json:"version"`
	UptimeSeconds int64  `json:"uptime_seconds"`
	Telemetry     string `json:"telemetry"`
	Scene         string `json:"scene"`
	Environment   string `json:"environment"`
	Build         struct {
		Commit    string `json:"commit"`
		BuildMode string `json:"build_mode"`
	} `json:"build"`
	RateLimiter string `json:"rate_limiter"`
}

// serverStatus fetches GET /status once.
func (t *Target) serverStatus() (*serverStatus, error) {
	t.statusOnce.Do(func() {
		ctx, cancel := context.WithTimeout(t.ctx, t.opts.Timeout)
		defer cancel()
		var st serverStatus
		if err := t.getJSON(ctx, "/status", false, &st); err != nil {
			t.statusErr = err
			return
		}
		if st.Version == "" || st.Environment == "" {
			t.statusErr = errors.New("GET /status: the answer has no version or environment: not a SpaceTime server")
			return
		}
		t.status = &st
	})
	return t.status, t.statusErr
}

// serverHealth is GET /health's answer.
type serverHealth struct {
	Status        string  `json:"status"`
	Engine        string  `json:"engine"`
	LastTickAgeMS float64 `json:"last_tick_age_ms"`
	httpStatus    int
}

// serverHealth fetches GET /health once, timing it. A 503 is an answer
// (the engine is not ticking), not an error.
func (t *Target) serverHealth() (*serverHealth, time.Duration, error) {
	t.healthOnce.Do(func() {
		ctx, cancel := context.WithTimeout(t.ctx, t.opts.Timeout)
		defer cancel()
		start := time.Now()
		resp, err := t.do(ctx, http.MethodGet, "/health", nil, "")
		if err != nil {
			t.healthErr = err
			return
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		t.healthDur = time.Since(start)
		if err != nil {
			t.healthErr = fmt.Errorf("GET %s: read: %w", resp.Request.URL, err)
			return
		}
		var h serverHealth
		if json.Unmarshal(data, &h) != nil || h.Status == "" || h.Engine == "" {
			t.healthErr = fmt.Errorf("GET %s: HTTP %d with %s: not a SpaceTime /health answer",
				resp.Request.URL, resp.StatusCode, snippet(data))
			return
		}
		h.httpStatus = resp.StatusCode
		t.healthz = &h
	})
	return t.healthz, t.healthDur, t.healthErr
}

// snippet quotes the start of a body for an error.
func snippet(b []byte) string {
	const n = 80
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "..."
	}
	if s == "" {
		return "an empty body"
	}
	return fmt.Sprintf("%q", s)
}

// config returns the loaded configuration, or a warning result saying a
// check cannot run without it.
func (t *Target) config() (*config.Config, *Result) {
	if t.opts.Config != nil {
		return t.opts.Config, nil
	}
	r := warn("not checked: the configuration did not load (see Configuration Valid)")
	return nil, &r
}

// environment is the environment whose rules apply: the server's when it
// answers, else the configuration's, else GODOT_ENV's.
func (t *Target) environment() (env, from string) {
	if st, err := t.serverStatus(); err == nil {
		return st.Environment, "the server's /status"
	}
	if t.opts.Config != nil {
		return t.opts.Config.Environment, "the configuration"
	}
	if t.opts.Environment != "" {
		return t.opts.Environment, "GODOT_ENV"
	}
	return config.EnvDevelopment, "the default"
}

// apiPort is the port of the API URL.
func (t *Target) apiPort() int {
	if t.base == nil {
		return 0
	}
	return portOfURL(t.base)
}

// portOfURL returns u's port, or the scheme's default.
func portOfURL(u *url.URL) int {
	if p := u.Port(); p != "" {
		var n int
		if _, err := fmt.Sscanf(p, "%d", &n); err == nil {
			return n
		}
		return 0
	}
	if u.Scheme == "https" || u.Scheme == "wss" {
		return 443
	}
	return 80
}
