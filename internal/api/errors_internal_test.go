package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
)

// TestProblemFor is the error-kind mapping table.
func TestProblemFor(t *testing.T) {
	syntax := &SceneSyntaxError{Path: "res://a.tscn", Line: 3, Col: 7, Msg: "expected '='"}
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantDetail string
		wantLine   int
	}{
		{"invalid", fmt.Errorf("x: %w", ErrInvalid), 400, "invalid_request", "Invalid request", 0},
		{"forbidden", fmt.Errorf("x: %w", ErrForbidden), 403, "forbidden", "Forbidden", 0},
		{"not found", fmt.Errorf("open /secret: %w", ErrNotFound), 404, "not_found", "Not found", 0},
		{"conflict", ErrConflict, 409, "conflict", "Conflict", 0},
		{"unprocessable", ErrUnprocessable, 422, "unprocessable", "Unprocessable content", 0},
		{"syntax", fmt.Errorf("load: %w", syntax), 422, "scene_malformed", "res://a.tscn:3:7: expected '='", 3},
		{"syntax under an Error keeps position", &Error{Kind: ErrUnprocessable, Code: "scene_malformed", Err: syntax},
			422, "scene_malformed", "res://a.tscn:3:7: expected '='", 3},
		{"timeout", ErrTimeout, 504, "timeout", "Timed out", 0},
		{"deadline", fmt.Errorf("load: %w", context.DeadlineExceeded), 504, "timeout", "Timed out", 0},
		{"unavailable", ErrUnavailable, 503, "unavailable", "Service unavailable", 0},
		{"canceled", context.Canceled, 503, "canceled", "Request canceled", 0},
		{"too large", tooLarge(10), 413, "body_too_large", "request body exceeds 10 bytes", 0},
		{"unsupported", &Error{Kind: errUnsupportedMedia}, 415, "unsupported_media_type", "Unsupported media type", 0},
		{"method", &Error{Kind: errMethodNotAllowed}, 405, "method_not_allowed", "Method not allowed", 0},
		{"internal hides text", errors.New("db password=hunter2"), 500, "internal", "Internal server error", 0},
		{"safe detail", &Error{Kind: ErrInvalid, Code: "bad_command", Detail: "unknown command"}, 400, "bad_command", "unknown command", 0},
		{"client fault beats its cause", &Error{Kind: ErrInvalid, Err: context.DeadlineExceeded}, 400, "invalid_request", "Invalid request", 0},
		{"wrapped Error", fmt.Errorf("ctx: %w", &Error{Kind: ErrNotFound, Code: "no_player", Detail: "none"}), 404, "no_player", "none", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := problemFor(tt.err)
			if p.Status != tt.wantStatus || p.Code != tt.wantCode || p.Detail != tt.wantDetail || p.Line != tt.wantLine {
				t.Errorf("problemFor = %d %q %q line %d, want %d %q %q line %d",
					p.Status, p.Code, p.Detail, p.Line, tt.wantStatus, tt.wantCode, tt.wantDetail, tt.wantLine)
			}
			if p.Type != "urn:spacetime:problem:"+p.Code || p.Title == "" {
				t.Errorf("type %q title %q", p.Type, p.Title)
			}
			if http.StatusText(p.Status) == "" {
				t.Errorf("status %d is not a standard one", p.Status)
			}
		})
	}
}

func TestSimDate(t *testing.T) {
	tests := []struct {
		name string
		t    float64
		want string
	}{
		{"J2000", 0, "2000-01-01T11:58:55.816Z"},
		{"one day", 86400, "2000-01-02T11:58:55.816Z"},
		{"fraction", 0.25, "2000-01-01T11:58:56.066Z"},
		{"before", -86400.5, "1999-12-31T11:58:55.316Z"},
		{"far future", 3.15576e10, "3000-01-08T11:58:55.816Z"},
		{"NaN", nan(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := simDate(tt.t); got != tt.want {
				t.Errorf("simDate(%v) = %q, want %q", tt.t, got, tt.want)
			}
		})
	}
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}
