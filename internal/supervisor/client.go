package supervisor

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// maxBody bounds what the supervisor reads of a child's answer.
const maxBody = 1 << 20

// apiClient calls the child's API, with an access token when it has one:
// the Token exchanged at POST /auth/token, or (development, no Token) the
// jwt_token of GET /status. A 401 drops the access token and the request
// is tried once more with a fresh one (a restarted child may not know the
// previous child's sessions).
type apiClient struct {
	base   *url.URL
	apiKey string
	tr     *http.Transport
	http   *http.Client

	mu     sync.Mutex
	access string // guarded by mu
}

func newAPIClient(base *url.URL, apiKey string, roots *x509.CertPool) *apiClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = childTLS(roots)
	tr.Proxy = nil // the child is ours: never through an HTTP proxy
	tr.MaxIdleConnsPerHost = 4
	return &apiClient{base: base, apiKey: apiKey, tr: tr, http: &http.Client{
		Transport: tr,
		// A redirect is not followed: the child's API does not redirect.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// reset forgets the connections of a previous child.
func (c *apiClient) reset() { c.tr.CloseIdleConnections() }

func (c *apiClient) close() { c.tr.CloseIdleConnections() }

func (c *apiClient) url(path string) string {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath = ""
	return u.String()
}

// apiError is a non-2xx answer of the child.
type apiError struct {
	method, path string
	status       int
	code, detail string // from a problem+json body, when there is one
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, http.StatusText(e.status))
	if e.code != "" {
		s += " " + e.code
	}
	if e.detail != "" {
		s += ": " + e.detail
	}
	return s
}

// send does one request and returns the status and body.
func (c *apiClient) send(ctx context.Context, method, path string, body any, token string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path), rd)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", ServerName)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	return resp.StatusCode, b, nil
}

// errorOf turns a non-2xx answer into an *apiError.
func errorOf(method, path string, status int, body []byte) error {
	e := &apiError{method: method, path: path, status: status}
	var p struct {
		Code   string `json:"code"`
		Detail string `json:"detail"`
	}
	if json.Unmarshal(body, &p) == nil {
		e.code, e.detail = p.Code, p.Detail
	}
	return e
}

// call does an authenticated request and decodes a 2xx JSON answer into
// out (when not nil).
func (c *apiClient) call(ctx context.Context, method, path string, body, out any) error {
	for try := 0; ; try++ {
		tok, err := c.token(ctx)
		if err != nil {
			return err
		}
		status, b, err := c.send(ctx, method, path, body, tok)
		if err != nil {
			return err
		}
		if status == http.StatusUnauthorized && try == 0 {
			c.mu.Lock()
			c.access = ""
			c.mu.Unlock()
			if c.apiKey != "" || tok != "" {
				continue // a fresh token may do
			}
		}
		if status < 200 || status > 299 {
			return errorOf(method, path, status, b)
		}
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
		return nil
	}
}

// token returns the access token to send, getting one when needed; ""
// when the supervisor has no credential.
func (c *apiClient) token(ctx context.Context) (string, error) {
	c.mu.Lock()
	tok := c.access
	c.mu.Unlock()
	if tok != "" {
		return tok, nil
	}
	if c.apiKey != "" {
		status, b, err := c.send(ctx, http.MethodPost, "/auth/token", map[string]string{"api_key": c.apiKey}, "")
		if err != nil {
			return "", fmt.Errorf("exchange API_TOKEN: %w", err)
		}
		if status != http.StatusOK {
			return "", fmt.Errorf("exchange API_TOKEN: %w", errorOf(http.MethodPost, "/auth/token", status, b))
		}
		var g struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal(b, &g); err != nil || g.AccessToken == "" {
			return "", fmt.Errorf("exchange API_TOKEN: POST /auth/token: no access_token in the answer")
		}
		tok = g.AccessToken
	} else {
		// Development hands loopback clients a token on /status; elsewhere
		// there is none and requests go without a credential.
		status, b, err := c.send(ctx, http.MethodGet, "/status", nil, "")
		if err != nil {
			return "", err
		}
		var st struct {
			JWT string `json:"jwt_token"`
		}
		if status == http.StatusOK && json.Unmarshal(b, &st) == nil {
			tok = st.JWT
		}
		if tok == "" {
			return "", nil
		}
	}
	c.mu.Lock()
	c.access = tok
	c.mu.Unlock()
	return tok, nil
}

// health asks GET /health (public). reachable reports that the API
// answered at all; err is nil for a 200, and for a 429: a child that
// rate-limits or bans the probe's address (which proxied clients share,
// as they all come from the supervisor) is alive, and restarting it for
// that would let any client make the supervisor kill it.
func (c *apiClient) health(ctx context.Context) (reachable bool, err error) {
	status, b, err := c.send(ctx, http.MethodGet, "/health", nil, "")
	if err != nil {
		return status != 0, err
	}
	if status != http.StatusOK && status != http.StatusTooManyRequests {
		return true, errorOf(http.MethodGet, "/health", status, b)
	}
	return true, nil
}

// loadScene is POST /scene/load; it returns the canonical path the child
// loaded.
func (c *apiClient) loadScene(ctx context.Context, scene string) (string, error) {
	var out struct {
		ScenePath string `json:"scene_path"`
	}
	if err := c.call(ctx, http.MethodPost, "/scene/load", map[string]string{"scene_path": scene}, &out); err != nil {
		return "", err
	}
	if out.ScenePath == "" {
		out.ScenePath = scene
	}
	return out.ScenePath, nil
}

// playerPresent is GET /state/player: true on 200, false on 404 (no
// player in the scene), an error otherwise.
func (c *apiClient) playerPresent(ctx context.Context) (bool, error) {
	err := c.call(ctx, http.MethodGet, "/state/player", nil, nil)
	var ae *apiError
	if errors.As(err, &ae) && ae.status == http.StatusNotFound {
		return false, nil
	}
	return err == nil, err
}

// sceneState is GET /scene and GET /state/player: the running scene's
// path ("" when none) and whether the player exists.
func (c *apiClient) sceneState(ctx context.Context) (string, bool, error) {
	var sc struct {
		ScenePath string `json:"scene_path"`
	}
	if err := c.call(ctx, http.MethodGet, "/scene", nil, &sc); err != nil {
		return "", false, err
	}
	if sc.ScenePath == "" {
		return "", false, errors.New("no scene is running (GET /scene)")
	}
	present, err := c.playerPresent(ctx)
	if err == nil && !present {
		err = fmt.Errorf("scene %s has no player (GET /state/player)", sc.ScenePath)
	}
	return sc.ScenePath, present, err
}

// childTLS is the client TLS configuration towards the child: roots (nil:
// the system's), TLS 1.2 or newer, as serve offers.
func childTLS(roots *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
}
