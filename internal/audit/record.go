package audit

import (
	"math"
	"time"
	"unicode/utf8"
)

// Anonymous is the principal of a request that presented no valid
// credential.
const Anonymous = "anonymous"

// Reasons for a denial, as written in Record.Reason. The field is free
// text; these are the values the security middleware uses.
const (
	ReasonNoToken        = "no_token"        // no credential presented
	ReasonBadToken       = "bad_token"       // malformed credential
	ReasonBadSignature   = "bad_signature"   // JWT signature did not verify
	ReasonTokenExpired   = "token_expired"   // JWT past exp
	ReasonRevoked        = "revoked"         // session or key revoked
	ReasonBadCredentials = "bad_credentials" // unknown or wrong API key
	ReasonRoleTooLow     = "role_too_low"    // route needs a higher role
	ReasonRateLimited    = "rate_limited"    // limiter refused
	ReasonBanned         = "banned"          // client is banned
	ReasonSceneForbidden = "scene_forbidden" // scene not on the whitelist
)

// Field length caps, in bytes. Longer values are cut at a UTF-8 boundary
// when the Logger normalizes a record, so no client can bloat the log.
const (
	MaxRequestIDLen = 128
	MaxPrincipalLen = 128
	MaxRoleLen      = 32
	MaxClientLen    = 128
	MaxMethodLen    = 16
	MaxRouteLen     = 256
	MaxPathLen      = 1024
	MaxScenePathLen = 512
	MaxReasonLen    = 64
	MaxUserAgentLen = 256
)

// Record is one audited request: who (principal, role, client), what
// (method, route, path, scene), the result (status, reason) and when.
// It has no field for headers, tokens or bodies, on purpose: secrets cannot
// reach the audit log through it.
//
// Time is when the outcome was known (the end of the request); leave it
// zero and Logger.Record stamps it from the Logger's clock. The JSON
// encoding writes it in UTC, RFC 3339 with nanoseconds.
type Record struct {
	Time time.Time `json:"time"` // first: queries read it without decoding the line
	// ID identifies the record once, so a sink that is retried after an
	// unclear failure (the write may have landed) stores it only once. The
	// Logger sets it when it is empty.
	ID        string `json:"id,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Principal is the authenticated principal's id; "" is written as
	// Anonymous.
	Principal string `json:"principal"`
	Role      string `json:"role,omitempty"`
	// ClientAddr is the client's IP (after trusted-proxy resolution).
	ClientAddr string `json:"client_addr,omitempty"`
	Method     string `json:"method"`
	// Route is the matched route pattern ("POST /scene/load"), not the raw
	// URL; "" when no route matched.
	Route string `json:"route,omitempty"`
	// Path is the request's URL path, without the query string.
	Path string `json:"path,omitempty"`
	// ScenePath is the scene a scene operation named ("res://...").
	ScenePath string `json:"scene_path,omitempty"`
	Status    int    `json:"status"`
	// DurationMS is the handling time in milliseconds (see Millis).
	DurationMS float64 `json:"duration_ms"`
	// Reason says why a request was denied (see the Reason constants).
	Reason    string `json:"reason,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

// Millis converts a duration to the float milliseconds of
// Record.DurationMS.
func Millis(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}

// StatusClass returns the class of an HTTP status: 4 for 404.
func StatusClass(status int) int { return status / 100 }

// normalize makes r safe to encode: UTC time (stamped from now when zero
// or not encodable), Anonymous for an empty principal, capped fields, a
// finite non-negative duration rounded to the microsecond.
func (r *Record) normalize(now func() time.Time) {
	if y := r.Time.Year(); r.Time.IsZero() || y < 0 || y > 9999 {
		r.Time = now()
	}
	r.Time = r.Time.UTC()
	if r.Principal == "" {
		r.Principal = Anonymous
	}
	r.RequestID = truncate(r.RequestID, MaxRequestIDLen)
	r.Principal = truncate(r.Principal, MaxPrincipalLen)
	r.Role = truncate(r.Role, MaxRoleLen)
	r.ClientAddr = truncate(r.ClientAddr, MaxClientLen)
	r.Method = truncate(r.Method, MaxMethodLen)
	r.Route = truncate(r.Route, MaxRouteLen)
	r.Path = truncate(r.Path, MaxPathLen)
	r.ScenePath = truncate(r.ScenePath, MaxScenePathLen)
	r.Reason = truncate(r.Reason, MaxReasonLen)
	r.UserAgent = truncate(r.UserAgent, MaxUserAgentLen)
	d := r.DurationMS
	if math.IsNaN(d) || math.IsInf(d, 0) || d < 0 {
		d = 0
	}
	r.DurationMS = math.Round(d*1000) / 1000
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
// Invalid bytes are left for the JSON encoder, which replaces them.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut > n-utf8.UTFMax && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
