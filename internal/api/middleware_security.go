package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"
)

// The security chain, outermost first (see Server.stack):
//
//	audit      one record per request, denials included, written when the
//	           request ends (or panics)
//	identify   the principal from the Authorization header; a credential
//	           that does not authenticate is remembered, not answered yet
//	rateLimit  the limits of the principal (or, anonymous, the client IP)
//	           and the route: 429 rate_limited / banned, 404 for a route
//	           whose limit is 0, RateLimit-* headers on every answer
//	authorize  401 for a missing or failed credential on a route that
//	           needs one, 403 role_too_low
//
// Limits come before the 401/403 decision on purpose: a client guessing
// credentials or probing routes it may not call spends its own budget and
// earns a ban like any other abuser.

// Problem codes of the security layer.
const (
	codeNoCredentials = "no_credentials"
	codeRoleTooLow    = "role_too_low"
	codeRateLimited   = "rate_limited"
	codeBanned        = "banned"
	codeNoSession     = "no_session"
)

// Audit reasons the security layer sets beyond the problem codes.
const (
	reasonRouteDisabled = "route_disabled"
	reasonNotEnforced   = "permission_not_enforced"
	reasonPanic         = "panic"
)

// wwwAuthenticate is the challenge of every 401 (RFC 6750).
const wwwAuthenticate = `Bearer realm="spacetime"`

// PrincipalFromContext returns the request's principal once the security
// layer has identified it (false before, or without an Authenticator).
func PrincipalFromContext(ctx context.Context) (Principal, bool) {
	if ri := infoFrom(ctx); ri != nil && ri.identified {
		return ri.principal, true
	}
	return Principal{}, false
}

// anonymous is the principal of a caller without a credential when the
// Authenticator cannot say otherwise.
func anonymous() Principal {
	return Principal{ID: AnonymousID, Role: RoleGuest, Method: MethodAnonymous}
}

// audit records every request that reaches it: who (principal, role,
// client address), what (method, route, path, scene), the result (status,
// reason) and how long it took.
func (s *Server) audit(next http.Handler) http.Handler {
	a := s.opts.Security.Auditor
	if a == nil {
		return next
	}
	durable, _ := a.(DurableAuditor)
	wait := s.opts.Security.AuditWait
	if wait == 0 {
		wait = DefaultAuditWait
	}
	if wait < 0 {
		durable = nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := infoFrom(r.Context())
		start := time.Now()
		s.clientOf(ri, r)
		panicked := true
		defer func() {
			status := ri.status
			if panicked && status == 0 {
				status, ri.reason = http.StatusInternalServerError, reasonPanic
			}
			rec := s.auditRecord(ri, r, status, time.Since(start))
			if durable == nil || safeMethod(r.Method) {
				a.Record(rec)
				return
			}
			// Still inside the handler: a small answer is held in the
			// server's buffer until the record is stored.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), wait)
			defer cancel()
			if err := durable.RecordDurably(ctx, rec); err != nil {
				s.log.Debug("answer sent before its audit record was stored", "request_id", rec.RequestID, "err", err)
			}
		}()
		next.ServeHTTP(w, r)
		panicked = false
	})
}

// safeMethod reports whether method only reads.
func safeMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// auditRecord is the record of a finished request.
func (s *Server) auditRecord(ri *requestInfo, r *http.Request, status int, d time.Duration) AuditRecord {
	if status == 0 {
		status = http.StatusOK // nothing written: net/http sends 200
	}
	rec := AuditRecord{
		Time:       s.now(),
		RequestID:  ri.id,
		Principal:  AnonymousID,
		Method:     r.Method,
		Path:       r.URL.Path,
		ScenePath:  ri.scenePath,
		Status:     status,
		DurationMS: float64(d) / float64(time.Millisecond),
		Reason:     ri.reason,
		UserAgent:  r.UserAgent(),
	}
	if ri.identified {
		if ri.principal.ID != "" {
			rec.Principal = ri.principal.ID
		}
		rec.Role = ri.principal.Role.String()
	}
	if ri.loggedIn != "" { // POST /auth/token and /auth/refresh: who logged in
		rec.Principal, rec.Role = ri.loggedIn, ri.loggedInRole
	}
	if ri.client.IsValid() {
		rec.ClientAddr = ri.client.String()
	}
	if ri.route != nil {
		rec.Route = ri.route.Pattern()
	}
	if rec.Reason == "" && status >= 400 {
		rec.Reason = ri.code
	}
	return rec
}

// identify finds the request's principal. A failed credential is kept in
// the request's info: authorize answers it with 401 on routes that need a
// credential; public and unmatched routes serve the caller as anonymous.
func (s *Server) identify(next http.Handler) http.Handler {
	au := s.opts.Security.Authenticator
	if au == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := infoFrom(r.Context())
		var (
			p   Principal
			err error
		)
		if vals := r.Header.Values("Authorization"); len(vals) > 1 {
			err = apiError(ErrUnauthenticated, "bad_authorization_header", "send exactly one Authorization header", nil)
		} else {
			p, err = au.Authenticate(r.Header.Get("Authorization"))
		}
		if err != nil {
			if !errors.Is(err, ErrUnauthenticated) {
				s.writeError(w, r, fmt.Errorf("authenticate: %w", err))
				return
			}
			ri.authErr = err
			if p, err = au.Authenticate(""); err != nil {
				p = anonymous()
			}
		}
		if p.ID == "" {
			p.ID = AnonymousID
		}
		ri.principal, ri.identified = p, true
		next.ServeHTTP(w, r)
	})
}

// rateLimit applies the Limiter. A limiter failure is logged and the
// request served (fail open): authentication still guards every route,
// and an outage of the limit store must not take the API down with it.
func (s *Server) rateLimit(next http.Handler) http.Handler {
	lim := s.opts.Security.Limiter
	if lim == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := infoFrom(r.Context())
		c := Client{IP: s.clientOf(ri, r)}
		if ri.identified && !ri.principal.Anonymous() {
			c.Principal = ri.principal.ID
		}
		var target string
		if ri.route != nil {
			target = ri.route.Path
		} else {
			target = path.Clean("/" + r.URL.Path)
		}
		d, err := lim.Limit(r.Context(), c, target)
		if err != nil {
			s.log.LogAttrs(r.Context(), slog.LevelError, "rate limiter failed; request served unlimited",
				slog.String("request_id", ri.id), slog.String("error", err.Error()))
			next.ServeHTTP(w, r)
			return
		}
		d.setHeaders(w.Header())
		switch d.Outcome {
		case LimitRefused:
			s.writeError(w, r, apiError(ErrRateLimited, codeRateLimited,
				fmt.Sprintf("rate limit exceeded; retry in %d s", retrySeconds(d.RetryAfter)), nil))
		case LimitBanned:
			s.writeError(w, r, apiError(ErrRateLimited, codeBanned,
				fmt.Sprintf("this client is banned for repeatedly exceeding rate limits; retry in %d s", retrySeconds(d.RetryAfter)), nil))
		case LimitDisabled:
			ri.reason = reasonRouteDisabled
			s.writeError(w, r, apiError(ErrNotFound, codeRouteNotFound, "no route for "+r.Method+" "+r.URL.Path, nil))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// retrySeconds is d in whole seconds, rounded up, at least 1.
func retrySeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return max(s, 1)
}

// setHeaders writes the RateLimit-* headers (when a limit applied) and,
// for a refusal, Retry-After.
func (d LimitDecision) setHeaders(h http.Header) {
	// The keys are in net/http's canonical form, set directly: this runs
	// on every request.
	if d.Limit > 0 {
		reset := int64(0)
		if d.Reset > 0 {
			reset = retrySeconds(d.Reset)
		}
		h["Ratelimit-Limit"] = []string{strconv.Itoa(d.Limit)}
		h["Ratelimit-Remaining"] = []string{strconv.Itoa(max(d.Remaining, 0))}
		h["Ratelimit-Reset"] = []string{strconv.FormatInt(reset, 10)}
	}
	if d.Outcome == LimitRefused || d.Outcome == LimitBanned {
		h["Retry-After"] = []string{strconv.FormatInt(retrySeconds(d.RetryAfter), 10)}
	}
}

// authorize answers 401 for a route that needs a credential when the
// caller has none or presented one that failed, and 403 role_too_low when
// the principal's role does not allow the route. Public routes (least
// role guest) and requests that matched no route pass.
func (s *Server) authorize(next http.Handler) http.Handler {
	au := s.opts.Security.Authenticator
	if au == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := infoFrom(r.Context())
		rt := ri.route
		if rt == nil || rt.MinRole == RoleGuest {
			next.ServeHTTP(w, r)
			return
		}
		if ri.authErr != nil {
			s.unauthenticated(w, r, ri.authErr)
			return
		}
		err := au.Authorize(ri.principal, rt.MinRole)
		switch {
		case err == nil:
			next.ServeHTTP(w, r)
		case errors.Is(err, ErrUnauthenticated):
			s.unauthenticated(w, r, nil)
		case errors.Is(err, ErrForbidden) && errors.Is(err, ErrNotEnforced):
			ri.reason = reasonNotEnforced
			next.ServeHTTP(w, r)
		case errors.Is(err, ErrForbidden):
			s.writeError(w, r, apiError(ErrForbidden, codeRoleTooLow,
				fmt.Sprintf("%s needs the %s role; this credential has the %s role", rt.Pattern(), rt.MinRole, ri.principal.Role), err))
		default:
			s.writeError(w, r, fmt.Errorf("authorize: %w", err))
		}
	})
}

// unauthenticated answers 401 with a Bearer challenge: for a failed
// credential (err) its problem and error="invalid_token", for none at all
// no_credentials and a bare challenge (RFC 6750 §3).
func (s *Server) unauthenticated(w http.ResponseWriter, r *http.Request, err error) {
	if err == nil {
		w.Header().Set("WWW-Authenticate", wwwAuthenticate)
		s.writeError(w, r, apiError(ErrUnauthenticated, codeNoCredentials,
			"this route needs a credential: send Authorization: Bearer <access token> (POST /auth/token exchanges an API key for one)", nil))
		return
	}
	w.Header().Set("WWW-Authenticate", wwwAuthenticate+`, error="invalid_token"`)
	s.writeError(w, r, err)
}

// clientOf returns the client's IP address, resolving it once per request
// (see clientIP).
func (s *Server) clientOf(ri *requestInfo, r *http.Request) netip.Addr {
	if !ri.clientSet {
		ri.client, ri.clientSet = s.clientIP(r), true
	}
	return ri.client
}

// clientIP is the address the request came from: the peer, or, when the
// peer is a trusted proxy, the right-most address of X-Forwarded-For that
// is not a trusted proxy itself. The zero Addr when the peer address does
// not parse.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	ip := peerIP(r)
	if !ip.IsValid() || !s.trusted(ip) {
		return ip
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		list := strings.Split(hops[i], ",")
		for j := len(list) - 1; j >= 0; j-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(list[j]))
			if err != nil {
				return ip // a malformed entry: trust nothing left of it
			}
			ip = hop.Unmap()
			if !s.trusted(ip) {
				return ip
			}
		}
	}
	return ip
}

// peerIP is the address of the connection's peer (zero when RemoteAddr
// does not parse).
func peerIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func (s *Server) trusted(ip netip.Addr) bool {
	for _, p := range s.opts.Security.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// directLoopback reports whether the request comes from a loopback peer,
// was not forwarded by a proxy (a proxy on the same host would make every
// client look local; X-Forwarded-For is never believed), and names a
// loopback host: a page whose domain was rebound to 127.0.0.1 (DNS
// rebinding) sends its own name in Host and is refused.
func directLoopback(r *http.Request) bool {
	if !peerIP(r).IsLoopback() || !loopbackHost(r.Host) {
		return false
	}
	for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Real-IP", "X-Forwarded-Host"} {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	return true
}

// loopbackHost reports whether a Host header value names this machine's
// loopback: localhost or a loopback IP literal, with or without a port.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// cors implements CORS for the configured origins (exact match). Without
// any, it adds nothing: browsers then refuse cross-origin calls. A
// preflight from an allowed origin is answered here, before
// authentication (browsers send no credentials with it); one from any
// other origin goes on and meets the 405 of a route without OPTIONS.
func (s *Server) cors(next http.Handler) http.Handler {
	allowed := make(map[string]bool, len(s.opts.Security.CORSAllowedOrigins))
	for _, o := range s.opts.Security.CORSAllowedOrigins {
		allowed[o] = true
	}
	if len(allowed) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if origin == "" || !allowed[origin] {
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-ID")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", "X-Request-ID, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After, WWW-Authenticate")
		next.ServeHTTP(w, r)
	})
}
