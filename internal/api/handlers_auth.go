package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Handlers of the /auth and /admin routes. They call the interfaces of
// SecurityOptions; the adapters in cmd map the errors of internal/auth,
// internal/ratelimit and internal/audit onto this package's kinds, with
// stable codes, so these handlers pass errors through.

// codeNotConfigured: the part of the security layer a route needs is not
// wired (only in tests and bare setups).
const codeNotConfigured = "not_configured"

func notConfigured(what string) error {
	return apiError(ErrUnavailable, codeNotConfigured, what+" is not configured on this server", nil)
}

// noteLogin records who a /auth route logged in, for the audit record.
func noteLogin(r *http.Request, g TokenGrant) {
	if ri := infoFrom(r.Context()); ri != nil && g.Principal != "" {
		ri.loggedIn, ri.loggedInRole = g.Principal, g.Role.String()
	}
}

type tokenRequest struct {
	APIKey string `json:"api_key"`
}

// authToken: POST /auth/token {"api_key": K}. 200 with the tokens; 401
// api_key_invalid or api_key_revoked.
func (s *Server) authToken(w http.ResponseWriter, r *http.Request) error {
	sess := s.opts.Security.Sessions
	if sess == nil {
		return notConfigured("authentication")
	}
	var req tokenRequest
	if err := decodeJSON(r, &req, false); err != nil {
		return err
	}
	if req.APIKey == "" {
		return apiError(ErrInvalid, codeInvalidParam, `api_key is required: {"api_key": "<API key or API_TOKEN>"}`, nil)
	}
	g, err := sess.Exchange(req.APIKey)
	if err != nil {
		return err
	}
	noteLogin(r, g)
	return writeJSON(w, http.StatusOK, g)
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// authRefresh: POST /auth/refresh {"refresh_token": R}. 200 with new
// tokens of the same session; the presented refresh token is used up, and
// presenting it again (401 refresh_reuse) ends the session.
func (s *Server) authRefresh(w http.ResponseWriter, r *http.Request) error {
	sess := s.opts.Security.Sessions
	if sess == nil {
		return notConfigured("authentication")
	}
	var req refreshRequest
	if err := decodeJSON(r, &req, false); err != nil {
		return err
	}
	if req.RefreshToken == "" {
		return apiError(ErrInvalid, codeInvalidParam, `refresh_token is required: {"refresh_token": "<token>"}`, nil)
	}
	g, err := sess.Refresh(req.RefreshToken)
	if err != nil {
		return err
	}
	noteLogin(r, g)
	return writeJSON(w, http.StatusOK, g)
}

// authLogout: POST /auth/logout ends a session: the one of the refresh
// token in the body ({"refresh_token": R}, for a client whose access
// token expired), else the one of the bearer access token. 204.
func (s *Server) authLogout(w http.ResponseWriter, r *http.Request) error {
	sess := s.opts.Security.Sessions
	if sess == nil {
		return notConfigured("authentication")
	}
	var req refreshRequest
	if err := decodeJSON(r, &req, true); err != nil {
		return err
	}
	ri := infoFrom(r.Context())
	var err error
	switch {
	case req.RefreshToken != "":
		err = sess.LogoutRefresh(req.RefreshToken)
	case ri.authErr != nil:
		w.Header().Set("WWW-Authenticate", wwwAuthenticate+`, error="invalid_token"`)
		return ri.authErr
	case ri.identified && ri.principal.SessionID != "":
		err = sess.Logout(ri.principal.SessionID)
	case ri.identified && !ri.principal.Anonymous():
		return apiError(ErrInvalid, codeNoSession, "this credential has no session to end; only access tokens from /auth/token do", nil)
	default:
		w.Header().Set("WWW-Authenticate", wwwAuthenticate)
		return apiError(ErrUnauthenticated, codeNoCredentials,
			`send the access token as Authorization: Bearer <token>, or {"refresh_token": "<token>"}`, nil)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type sessionsResponse struct {
	Sessions []SessionInfo `json:"sessions"`
}

// adminSessions: GET /admin/sessions, the live sessions, oldest first.
func (s *Server) adminSessions(w http.ResponseWriter, r *http.Request) error {
	adm := s.opts.Security.Admin
	if adm == nil {
		return notConfigured("session administration")
	}
	list, err := adm.Sessions()
	if err != nil {
		return err
	}
	if list == nil {
		list = []SessionInfo{}
	}
	return writeJSON(w, http.StatusOK, sessionsResponse{Sessions: list})
}

// adminRevokeSession: DELETE /admin/sessions/{id}. 204; 404
// session_not_found.
func (s *Server) adminRevokeSession(w http.ResponseWriter, r *http.Request) error {
	adm := s.opts.Security.Admin
	if adm == nil {
		return notConfigured("session administration")
	}
	if err := adm.RevokeSession(r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type revokedResponse struct {
	ID            string   `json:"id"`
	EndedSessions []string `json:"ended_sessions"`
}

// adminRevokePrincipal: DELETE /admin/principals/{id}/sessions ends every
// live session of a principal (an API key id, "bootstrap",
// "development"). 200 with the ended sessions, possibly none.
func (s *Server) adminRevokePrincipal(w http.ResponseWriter, r *http.Request) error {
	adm := s.opts.Security.Admin
	if adm == nil {
		return notConfigured("session administration")
	}
	id := r.PathValue("id")
	ended, err := adm.RevokePrincipal(id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, revokedResponse{ID: id, EndedSessions: nonNil(ended)})
}

type keysResponse struct {
	Keys []KeyInfo `json:"keys"`
}

// adminKeys: GET /admin/keys, every API key without its secret.
func (s *Server) adminKeys(w http.ResponseWriter, r *http.Request) error {
	adm := s.opts.Security.Admin
	if adm == nil {
		return notConfigured("key administration")
	}
	list, err := adm.Keys()
	if err != nil {
		return err
	}
	if list == nil {
		list = []KeyInfo{}
	}
	return writeJSON(w, http.StatusOK, keysResponse{Keys: list})
}

type mintRequest struct {
	Name string `json:"name"`
	// Role is guest, readonly, developer or admin; "" for the configured
	// default_role.
	Role string `json:"role"`
}

type mintResponse struct {
	// APIKey is the raw key: shown in this answer only, stored hashed.
	APIKey string  `json:"api_key"`
	Key    KeyInfo `json:"key"`
}

// adminMintKey: POST /admin/keys {"name": N, "role": R}. 201 with the raw
// key, which is never shown again; 400 invalid_role or invalid_name.
func (s *Server) adminMintKey(w http.ResponseWriter, r *http.Request) error {
	adm := s.opts.Security.Admin
	if adm == nil {
		return notConfigured("key administration")
	}
	var req mintRequest
	if err := decodeJSON(r, &req, false); err != nil {
		return err
	}
	raw, info, err := adm.MintKey(req.Role, req.Name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, mintResponse{APIKey: raw, Key: info})
}

// adminRevokeKey: DELETE /admin/keys/{id} revokes the key and ends its
// sessions. 200 with the ended sessions; 404 key_not_found.
func (s *Server) adminRevokeKey(w http.ResponseWriter, r *http.Request) error {
	adm := s.opts.Security.Admin
	if adm == nil {
		return notConfigured("key administration")
	}
	id := r.PathValue("id")
	ended, err := adm.RevokeKey(id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, revokedResponse{ID: id, EndedSessions: nonNil(ended)})
}

// adminRotate: POST /admin/keys/rotate makes a new signing key current.
// Tokens signed by the previous key stay valid until they expire. 201
// with the new key's description.
func (s *Server) adminRotate(w http.ResponseWriter, r *http.Request) error {
	adm := s.opts.Security.Admin
	if adm == nil {
		return notConfigured("key administration")
	}
	k, err := adm.RotateSigningKey()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, k)
}

type signingKeysResponse struct {
	Keys []SigningKeyInfo `json:"keys"`
}

// adminSigningKeys: GET /admin/signing-keys, the keys that still verify,
// newest first, never their secrets.
func (s *Server) adminSigningKeys(w http.ResponseWriter, r *http.Request) error {
	adm := s.opts.Security.Admin
	if adm == nil {
		return notConfigured("key administration")
	}
	list, err := adm.SigningKeys()
	if err != nil {
		return err
	}
	if list == nil {
		list = []SigningKeyInfo{}
	}
	return writeJSON(w, http.StatusOK, signingKeysResponse{Keys: list})
}

// maxAuditLimit bounds GET /admin/audit?limit=N.
const maxAuditLimit = 10000

type auditResponse struct {
	Records []AuditRecord `json:"records"`
}

// adminAudit: GET /admin/audit?since=&until=&principal=&status=&reason=&limit=
// queries the audit log, newest first. since and until are RFC 3339 times
// (since inclusive, until exclusive), status one status ("401") or a class
// ("4xx"), limit 1 to 10000 (default 100). Unknown parameters are a 400.
func (s *Server) adminAudit(w http.ResponseWriter, r *http.Request) error {
	log := s.opts.Security.AuditLog
	if log == nil {
		return notConfigured("the audit log")
	}
	q, err := parseAuditQuery(r)
	if err != nil {
		return err
	}
	recs, err := log.Query(r.Context(), q)
	if err != nil {
		return err
	}
	if recs == nil {
		recs = []AuditRecord{}
	}
	return writeJSON(w, http.StatusOK, auditResponse{Records: recs})
}

// parseAuditQuery reads the parameters of GET /admin/audit.
func parseAuditQuery(r *http.Request) (AuditQuery, error) {
	var q AuditQuery
	bad := func(name, want string, err error) error {
		return apiError(ErrInvalid, codeInvalidParam, name+" must be "+want, err)
	}
	for name, vals := range r.URL.Query() {
		if len(vals) != 1 {
			return q, bad(name, "given once", nil)
		}
		v := vals[0]
		var err error
		switch name {
		case "since", "until":
			var t time.Time
			if t, err = time.Parse(time.RFC3339Nano, v); err != nil {
				return q, bad(name, "an RFC 3339 time, e.g. 2031-05-04T12:00:00Z", err)
			}
			if name == "since" {
				q.Since = t
			} else {
				q.Until = t
			}
		case "principal":
			q.Principal = v
		case "reason":
			q.Reason = v
		case "status":
			if c, ok := strings.CutSuffix(strings.ToLower(v), "xx"); ok && len(c) == 1 && c[0] >= '1' && c[0] <= '5' {
				q.StatusClass = int(c[0] - '0')
				continue
			}
			if q.Status, err = strconv.Atoi(v); err != nil || q.Status < 100 || q.Status > 599 {
				return q, bad(name, `an HTTP status ("401") or a class ("4xx")`, err)
			}
		case "limit":
			if q.Limit, err = strconv.Atoi(v); err != nil || q.Limit < 1 || q.Limit > maxAuditLimit {
				return q, bad(name, fmt.Sprintf("an integer from 1 to %d", maxAuditLimit), err)
			}
		default:
			return q, apiError(ErrInvalid, codeInvalidParam,
				fmt.Sprintf("unknown parameter %q; use since, until, principal, status, reason, limit", name), nil)
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return q, bad("since", "before until", nil)
	}
	return q, nil
}

type bansResponse struct {
	Bans []BanInfo `json:"bans"`
}

// adminBans: GET /admin/bans, the bans in force, oldest first.
func (s *Server) adminBans(w http.ResponseWriter, r *http.Request) error {
	b := s.opts.Security.Bans
	if b == nil {
		return notConfigured("rate limiting")
	}
	list, err := b.Bans(r.Context())
	if err != nil {
		return err
	}
	if list == nil {
		list = []BanInfo{}
	}
	return writeJSON(w, http.StatusOK, bansResponse{Bans: list})
}

// adminUnban: DELETE /admin/bans/{client} lifts the ban of a client key
// as GET /admin/bans lists it ("ip:203.0.113.7", "principal:<id>"; the
// slash of an IPv6 prefix escaped as %2F). 204; 404 ban_not_found.
func (s *Server) adminUnban(w http.ResponseWriter, r *http.Request) error {
	b := s.opts.Security.Bans
	if b == nil {
		return notConfigured("rate limiting")
	}
	client := r.PathValue("client")
	lifted, err := b.Unban(r.Context(), client)
	if err != nil {
		return err
	}
	if !lifted {
		return apiError(ErrNotFound, "ban_not_found", fmt.Sprintf("no ban of %q is in force", client), nil)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// nonNil returns list, or an empty list for nil (JSON [] rather than null).
func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}
