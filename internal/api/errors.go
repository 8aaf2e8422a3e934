package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
)

// Error kinds. Handlers and the adapters behind Sim, Scenes and History
// return errors that wrap one of these (errors.Is); problemFor maps each to
// an HTTP status. An error that wraps none of them is an internal error:
// it is logged with the request id and the client learns nothing of it.
var (
	// ErrInvalid: the request is wrong (a malformed path, a bad command,
	// a bad parameter). 400.
	ErrInvalid = errors.New("api: invalid request")
	// ErrForbidden: the request is well formed but not allowed (a scene
	// outside the whitelist). 403.
	ErrForbidden = errors.New("api: forbidden")
	// ErrNotFound: what the request names does not exist. 404.
	ErrNotFound = errors.New("api: not found")
	// ErrConflict: the request clashes with the current state (another
	// scene load in progress, nothing to reload). 409.
	ErrConflict = errors.New("api: conflict")
	// ErrUnprocessable: the named content exists but cannot be used (a
	// malformed or unbuildable scene). 422.
	ErrUnprocessable = errors.New("api: unprocessable")
	// ErrUnavailable: the service cannot do it now (the engine stopped). 503.
	ErrUnavailable = errors.New("api: unavailable")
	// ErrTimeout: the work did not finish in time (a scene load that
	// outlived the scene load timeout). 504. context.DeadlineExceeded maps
	// the same way.
	ErrTimeout = errors.New("api: timeout")

	// Kinds the HTTP layer itself produces.
	errTooLarge         = errors.New("api: request body too large")
	errUnsupportedMedia = errors.New("api: unsupported media type")
	errMethodNotAllowed = errors.New("api: method not allowed")
)

// Error is an error whose code and detail are safe to show the client. The
// adapters return one when they know better than the handler what to say
// (e.g. an engine command's parse error: Kind ErrInvalid, Detail the
// parser's message); handlers return one to name the stable code. Err, the
// cause, is logged and never shown.
type Error struct {
	Kind   error  // one of the error kinds above
	Code   string // stable machine-readable code, e.g. "scene_not_found"; empty: the kind's default
	Detail string // human-readable, safe to show; empty: the kind's default
	Err    error  // cause, may be nil
}

// Error implements error.
func (e *Error) Error() string {
	msg := e.Code
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the kind and the cause, so errors.Is sees both.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// SceneSyntaxError reports a scene file that cannot be parsed, with the
// position of the fault. It unwraps to ErrUnprocessable (422); the problem
// document carries line and col.
type SceneSyntaxError struct {
	Path      string // res:// path of the file at fault (may be an instanced sub-scene)
	Line, Col int    // 1-based; 0 when unknown
	Msg       string // the parser's message, safe to show
}

// Error implements error: "res://a.tscn:3:7: expected '='".
func (e *SceneSyntaxError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.Path, e.Line, e.Col, e.Msg)
}

// Unwrap returns ErrUnprocessable.
func (e *SceneSyntaxError) Unwrap() error { return ErrUnprocessable }

// kindInfo is what an error kind means in HTTP.
type kindInfo struct {
	kind   error
	status int
	code   string // default code
	title  string // default title and detail
}

// kindOf finds the kind of err. The list is ordered: the first kind err
// wraps decides. Client faults come before server ones, so an
// *Error{Kind: ErrInvalid, Err: <a timeout>} stays a 400. An error of no
// kind is internal (500).
func kindOf(err error) kindInfo {
	kinds := [...]kindInfo{
		{errTooLarge, http.StatusRequestEntityTooLarge, "body_too_large", "Request body too large"},
		{errUnsupportedMedia, http.StatusUnsupportedMediaType, "unsupported_media_type", "Unsupported media type"},
		{errMethodNotAllowed, http.StatusMethodNotAllowed, "method_not_allowed", "Method not allowed"},
		{ErrUnauthenticated, http.StatusUnauthorized, "unauthenticated", "Authentication required"},
		{ErrRateLimited, http.StatusTooManyRequests, codeRateLimited, "Too many requests"},
		{ErrInvalid, http.StatusBadRequest, "invalid_request", "Invalid request"},
		{ErrForbidden, http.StatusForbidden, "forbidden", "Forbidden"},
		{ErrNotFound, http.StatusNotFound, "not_found", "Not found"},
		{ErrConflict, http.StatusConflict, "conflict", "Conflict"},
		{ErrUnprocessable, http.StatusUnprocessableEntity, "unprocessable", "Unprocessable content"},
		{ErrTimeout, http.StatusGatewayTimeout, "timeout", "Timed out"},
		{context.DeadlineExceeded, http.StatusGatewayTimeout, "timeout", "Timed out"},
		{ErrUnavailable, http.StatusServiceUnavailable, "unavailable", "Service unavailable"},
		{context.Canceled, http.StatusServiceUnavailable, "canceled", "Request canceled"},
	}
	for _, k := range kinds {
		if errors.Is(err, k.kind) {
			return k
		}
	}
	return kindInfo{nil, http.StatusInternalServerError, "internal", "Internal server error"}
}

// Problem is an RFC 9457 problem document, the body of every error
// response (Content-Type application/problem+json).
type Problem struct {
	Type      string `json:"type"`     // "urn:spacetime:problem:" + Code
	Title     string `json:"title"`    // short, fixed per code
	Status    int    `json:"status"`   // the HTTP status
	Detail    string `json:"detail"`   // this occurrence, safe to show
	Instance  string `json:"instance"` // the request path
	Code      string `json:"code"`     // stable machine-readable code
	RequestID string `json:"request_id,omitempty"`
	// Line and Col locate a scene syntax error (code "scene_malformed").
	Line int `json:"line,omitempty"`
	Col  int `json:"col,omitempty"`
}

// problemTypePrefix makes a problem type URI from a code.
const problemTypePrefix = "urn:spacetime:problem:"

// problemFor maps an error to the problem the client sees and the status.
// It is the only place where error kinds become HTTP. It never shows the
// text of an error unless it is a *SceneSyntaxError or an *Error's Detail.
func problemFor(err error) (Problem, kindInfo) {
	k := kindOf(err)
	p := Problem{Status: k.status, Code: k.code, Title: k.title, Detail: k.title}

	var se *SceneSyntaxError
	if errors.As(err, &se) {
		p.Code, p.Title = codeSceneMalformed, titleOf(codeSceneMalformed)
		p.Detail = se.Error()
		p.Line, p.Col = se.Line, se.Col
	}
	var ae *Error
	if errors.As(err, &ae) {
		if ae.Code != "" {
			p.Code = ae.Code
			if t := titleOf(ae.Code); t != "" {
				p.Title = t
			}
		}
		if ae.Detail != "" {
			p.Detail = ae.Detail
		}
	}
	p.Type = problemTypePrefix + p.Code
	return p, k
}

// Stable codes that handlers use beyond the kinds' defaults.
const (
	codeSceneNotFound  = "scene_not_found"
	codeSceneForbidden = "scene_forbidden"
	codeSceneMalformed = "scene_malformed"
	codeSceneInvalid   = "scene_invalid"
	codeInvalidPath    = "invalid_path"
	codeMalformedJSON  = "malformed_json"
	codeInvalidParam   = "invalid_parameter"
	codeBadCommand     = "bad_command"
	codeNoPlayer       = "no_player"
	codeNoScene        = "no_scene"
	codeLoadInProgress = "load_in_progress"
	codeRouteNotFound  = "not_found"
	codeTimeout        = "timeout"
)

// titleOf is the fixed title of a code that has its own, else "".
func titleOf(code string) string {
	switch code {
	case codeSceneNotFound:
		return "Scene not found"
	case codeSceneForbidden:
		return "Scene not allowed"
	case codeSceneMalformed:
		return "Scene file malformed"
	case codeSceneInvalid:
		return "Scene cannot be built"
	case codeInvalidPath:
		return "Invalid scene path"
	case codeMalformedJSON:
		return "Malformed JSON body"
	case codeInvalidParam:
		return "Invalid parameter"
	case codeBadCommand:
		return "Command rejected"
	case codeNoPlayer:
		return "No player"
	case codeNoScene:
		return "No scene"
	case codeLoadInProgress:
		return "Scene load in progress"
	case codeNoCredentials:
		return "Credential required"
	case codeRoleTooLow:
		return "Role too low"
	case codeBanned:
		return "Client banned"
	case codeNoSession:
		return "No session"
	}
	return ""
}

// apiError is the short form handlers use to return an *Error.
func apiError(kind error, code, detail string, cause error) error {
	return &Error{Kind: kind, Code: code, Detail: detail, Err: cause}
}

// writeError answers a request with the problem document for err and logs
// it: server faults at Error level with the full error, client faults at
// Debug. The log line carries the request id the client also sees.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p, k := problemFor(err)
	p.Instance = r.URL.Path
	p.RequestID = RequestID(r.Context())
	if ri := infoFrom(r.Context()); ri != nil && ri.code == "" {
		ri.code = p.Code
	}

	level, msg := slog.LevelDebug, "request refused"
	if p.Status >= 500 && k.kind != context.Canceled {
		level, msg = slog.LevelError, "request failed"
	}
	s.log.LogAttrs(r.Context(), level, msg,
		slog.String("request_id", p.RequestID),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", p.Status),
		slog.String("code", p.Code),
		slog.String("error", err.Error()),
	)
	writeProblem(w, p)
}

// writeProblem writes p as application/problem+json.
func writeProblem(w http.ResponseWriter, p Problem) {
	body, err := json.Marshal(p)
	if err != nil { // cannot happen: Problem has only strings and ints
		body = []byte(`{"status":500,"code":"internal"}`)
	}
	body = append(body, '\n')
	h := w.Header()
	if p.Status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
		h.Set("WWW-Authenticate", wwwAuthenticate) // RFC 9110: every 401 carries a challenge
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}
