package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spacetime-vr/spacetime/internal/api"
	"github.com/spacetime-vr/spacetime/internal/audit"
	"github.com/spacetime-vr/spacetime/internal/auth"
	"github.com/spacetime-vr/spacetime/internal/config"
	"github.com/spacetime-vr/spacetime/internal/notify"
	"github.com/spacetime-vr/spacetime/internal/ratelimit"
	"github.com/spacetime-vr/spacetime/internal/ratelimit/redislimit"
	"github.com/spacetime-vr/spacetime/internal/store"
)

// This file wires serve's security layer: the auth service, the rate-limit
// policy and the audit log, built from config, and the adapters that put
// them behind internal/api's interfaces (api never imports them).

// maintainEvery is how often the auth service rotates due signing keys and
// sweeps idle and ended sessions.
const maintainEvery = time.Minute

// securityDeps are what tests replace; the zero value is production's.
type securityDeps struct {
	clock       func() time.Time     // nil: time.Now
	signingKeys auth.SigningKeyStore // nil: in memory
	// auditSink replaces the audit file (<log-dir>/audit_<env>.log).
	auditSink audit.Sink
	// store, when set, also keeps every audit record and answers
	// GET /admin/audit from the database.
	store *store.Store
}

// security is the security layer of one serve process.
type security struct {
	auth   *auth.Service
	policy *ratelimit.Policy
	audit  *audit.Logger // nil when security.audit.enabled is false
	query  audit.Querier // nil when the sink cannot be queried
	opts   api.SecurityOptions
	redis  *redis.Client // nil without REDIS_HOST
	// limits is where rate limits are kept, for /status and metrics.
	limits *redislimit.Fallback // nil without REDIS_HOST
	// notifier carries signing-key rotations and ended sessions between
	// replicas.
	notifier *notify.Notifier // nil without REDIS_HOST
	// endedSessions queues sessions ended here for run to announce.
	endedSessions chan []auth.SessionID
	log           *slog.Logger
}

// endedQueue bounds the ended-session announcements waiting for Redis.
const endedQueue = 256

// instanceID names this process among the replicas.
func instanceID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%d", host, os.Getpid(), time.Now().UnixNano())
}

// limiterState names where rate limits are kept, as /status reports it.
func (s *security) limiterState() string {
	switch {
	case s.limits == nil:
		return "memory"
	case s.limits.Degraded():
		return "memory (redis unreachable)"
	}
	return "redis"
}

// auditState is the audit log's state for /status.
func (s *security) auditState() string {
	switch {
	case s.audit == nil:
		return "disabled"
	case s.auditFailing():
		return "failing"
	}
	return "ok"
}

// auditFailing reports whether the audit log is not keeping up: a sink
// fails to store records (held for retry) or the queue overflows
// (audit.Logger.Healthy).
func (s *security) auditFailing() bool {
	ok, _ := s.audit.Healthy() // nil-safe: a disabled audit log is healthy
	return !ok
}

// limiterDegraded reports whether a configured Redis is unreachable.
func (s *security) limiterDegraded() bool { return s.limits != nil && s.limits.Degraded() }

// newSecurity builds the auth service (resolving the bootstrap token),
// the rate-limit policy and, when enabled, the audit logger with its
// sink. On error nothing is left running.
func newSecurity(cfg *config.Config, log *slog.Logger, deps securityDeps) (*security, error) {
	clock := deps.clock
	if clock == nil {
		clock = time.Now
	}
	aopts := auth.OptionsFromConfig(cfg)
	aopts.Clock = clock
	aopts.Logger = log.With("component", "auth")
	aopts.SigningKeyStore = deps.signingKeys
	if deps.store != nil {
		// Keys, signing keys and sessions survive restarts and are shared
		// by replicas on one database.
		aopts.KeyStore, aopts.SessionStore = deps.store.APIKeys(), deps.store.Sessions()
		if aopts.SigningKeyStore == nil {
			aopts.SigningKeyStore = deps.store.SigningKeys()
		}
	}
	var (
		rc       *redis.Client
		notifier *notify.Notifier
		ended    chan []auth.SessionID
		svcRef   atomic.Pointer[auth.Service] // for the notifier's hooks
	)
	if c := cfg.Cache; c.Enabled() {
		// Replicas announce signing-key rotations to each other, so a key
		// rotated on one verifies everywhere at once (the hook must be set
		// before auth.New, which may create the first key).
		rc = redis.NewClient(redislimit.ClientOptions(c))
		var err error
		// A session is vouched for from memory during a database outage
		// only while ends of sessions on other replicas are heard.
		var heard atomic.Bool
		notifier, err = notify.New(rc, notify.Options{Channel: c.KeyPrefix + "notices",
			InstanceID: instanceID(), Logger: log.With("component", "notify"),
			OnSubscribed: func() {
				// Notices sent while cut off are lost: forget what was
				// remembered before trusting memory again.
				if s := svcRef.Load(); s != nil {
					s.ForgetCachedSessions()
				}
				heard.Store(true)
			},
			OnLost: func() { heard.Store(false) },
		})
		if err != nil {
			_ = rc.Close()
			return nil, fmt.Errorf("cluster notices: %w", err)
		}
		aopts.OnKeyAdded = func(k auth.SigningKey) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := notifier.Publish(ctx, notify.Notice{Kind: notify.KindSigningKeyAdded, ID: k.ID}); err != nil {
				log.Warn("announce signing key", "kid", k.ID, "err", err)
			}
		}
		aopts.EndsHeard = heard.Load
		ended = make(chan []auth.SessionID, endedQueue)
		aopts.OnSessionsEnded = func(ids []auth.SessionID) {
			select {
			case ended <- ids:
			default:
				// Other replicas still read the end from the database;
				// only their outage fallback misses it.
				log.Warn("ended sessions not announced: queue full", "count", len(ids))
			}
		}
	}
	svc, err := auth.New(aopts)
	svcRef.Store(svc)
	if err != nil {
		if rc != nil {
			_ = rc.Close()
		}
		return nil, fmt.Errorf("authentication: %w", err)
	}
	var (
		limiter ratelimit.Limiter  = ratelimit.NewMemory(ratelimit.MemoryOptions{Clock: clock})
		bans    ratelimit.BanStore // nil: the policy's in-memory store
		fb      *redislimit.Fallback
	)
	if c := cfg.Cache; c.Enabled() {
		// With REDIS_HOST, limits and bans are shared by every replica;
		// while Redis is unreachable each replica falls back to its own
		// in-memory limits (logged once per transition).
		fb = redislimit.NewFallback(redislimit.New(rc, redislimit.Options{Prefix: c.KeyPrefix}), limiter,
			redislimit.FallbackOptions{Logger: log.With("component", "ratelimit")})
		limiter = fb
		bans = fb.BanStore(redislimit.NewBanStore(rc, redislimit.Options{Prefix: c.KeyPrefix}),
			ratelimit.NewMemoryBanStore(ratelimit.MemoryBanStoreOptions{}))
	}
	policy, err := ratelimit.NewPolicy(cfg.Security.RateLimiting, ratelimit.PolicyOptions{
		Clock:   clock,
		Limiter: limiter,
		Bans:    bans,
		Logger:  log.With("component", "ratelimit"),
	})
	if err != nil {
		if rc != nil {
			_ = rc.Close()
		}
		return nil, fmt.Errorf("rate limiting: %w", err)
	}
	proxies, err := parseProxies(cfg.Networking.HTTP.TrustedProxies)
	if err != nil {
		return nil, err
	}
	s := &security{auth: svc, policy: policy, redis: rc, limits: fb, notifier: notifier, endedSessions: ended, log: log}
	if cfg.Security.Audit.Enabled {
		sink := deps.auditSink
		if sink == nil {
			fopts := audit.FileOptionsFromConfig(cfg)
			fopts.Logger = log
			if sink, err = audit.OpenFile(fopts); err != nil {
				return nil, fmt.Errorf("audit log: %w", err)
			}
		}
		sinks := []audit.Sink{sink}
		s.query, _ = sink.(audit.Querier)
		if deps.store != nil {
			// While the database is unreachable, records wait in a
			// bounded local spool and are written when it returns.
			spool, err := audit.NewSpool(deps.store.Audit(), audit.SpoolOptions{
				Path:   filepath.Join(cfg.Runtime.DataDir, "audit_spool.jsonl"),
				Logger: log.With("component", "audit"),
			})
			if err != nil {
				if c, ok := sink.(io.Closer); ok {
					_ = c.Close()
				}
				return nil, fmt.Errorf("audit spool: %w", err)
			}
			sinks = append(sinks, spool)
			s.query = spool
		}
		if s.audit, err = audit.New(audit.Options{Now: clock, Logger: log}, sinks...); err != nil {
			if c, ok := sink.(io.Closer); ok {
				_ = c.Close()
			}
			return nil, fmt.Errorf("audit log: %w", err)
		}
	}
	a := authAdapter{svc}
	lim := limiterAdapter{policy}
	s.opts = api.SecurityOptions{
		Authenticator:      a,
		Sessions:           a,
		Admin:              a,
		Limiter:            lim,
		Bans:               lim,
		DevTokenOnStatus:   cfg.FeatureFlags.DevTokenOnStatus && cfg.Environment == config.EnvDevelopment,
		CORSAllowedOrigins: cfg.Networking.HTTP.CORSAllowedOrigins,
		TrustedProxies:     proxies,
	}
	if s.audit != nil {
		s.opts.Auditor = auditAdapter{log: s.audit, query: s.query}
		if s.query != nil {
			s.opts.AuditLog = auditAdapter{log: s.audit, query: s.query}
		}
	}
	return s, nil
}

// run does the auth service's periodic work until ctx ends and, with
// Redis, exchanges notices with the other replicas.
func (s *security) run(ctx context.Context) error {
	if s.notifier == nil {
		return s.auth.Run(ctx, maintainEvery)
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.announceEnded(ctx) })
	notices := make(chan error, 1)
	go func() {
		notices <- s.notifier.Run(ctx, s.onNotice)
	}()
	err := s.auth.Run(ctx, maintainEvery)
	err = errors.Join(err, <-notices)
	wg.Wait()
	return err
}

// onNotice applies a notice of another replica.
func (s *security) onNotice(n notify.Notice) {
	switch n.Kind {
	case notify.KindSigningKeyAdded:
		// The shared key store has the new key: load it.
		if err := s.auth.Keyring().Reload(); err != nil {
			s.log.Warn("reload signing keys", "err", err)
		}
	case notify.KindSessionRevoked:
		if n.ID != "" {
			s.auth.SessionsEndedElsewhere([]auth.SessionID{auth.SessionID(n.ID)})
		}
	case notify.KindResync:
		// Notices were lost while cut off: reload keys, and stop vouching
		// for sessions from memory until the database is read again.
		s.auth.ForgetCachedSessions()
		if err := s.auth.Keyring().Reload(); err != nil {
			s.log.Warn("reload signing keys", "err", err)
		}
	}
}

// announceEnded publishes the sessions ended here until ctx ends.
func (s *security) announceEnded(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ids := <-s.endedSessions:
			for _, id := range ids {
				pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				err := s.notifier.Publish(pctx, notify.Notice{Kind: notify.KindSessionRevoked, ID: string(id)})
				cancel()
				if err != nil {
					s.log.Warn("announce ended session", "session", string(id), "err", err)
				}
			}
		}
	}
}

// close writes every queued audit record and closes the audit sink; it
// reports records lost (none on a clean shutdown).
func (s *security) close(ctx context.Context, log *slog.Logger) error {
	if s.redis != nil {
		defer s.redis.Close()
	}
	if s.audit == nil {
		return nil
	}
	err := s.audit.Close(ctx)
	st := s.audit.Stats()
	log.Info("audit log closed", "written", st.Written, "dropped", st.Dropped)
	if err != nil {
		return fmt.Errorf("audit log: close: %w", err)
	}
	if st.Dropped > 0 {
		log.Warn("audit records were dropped", "dropped_full", st.DroppedFull,
			"dropped_closed", st.DroppedClosed, "dropped_shutdown", st.DroppedShutdown)
	}
	return nil
}

// announceBootstrap prints a freshly generated API_TOKEN once, straight to
// the operator's terminal (w is stdout), never through the logger: log
// lines are shipped and kept, this secret must not be.
func announceBootstrap(w io.Writer, b auth.Bootstrap) {
	if !b.Created {
		return
	}
	fmt.Fprintf(w, "\nAPI_TOKEN was not set: an admin token was generated and stored in %s (mode 0600).\n"+
		"It is shown only this once. Exchange it for an access token at POST /auth/token:\n\n    %s\n\n",
		b.Path, b.Token.Reveal())
}

// parseProxies turns networking.http.trusted_proxies (IPs and CIDRs) into
// prefixes.
func parseProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("networking.http.trusted_proxies: %q is neither an IP nor a CIDR", s)
		}
		ip = ip.Unmap()
		out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
	}
	return out, nil
}

// loadTLS reads the certificate and key of networking.http.tls (--tls-cert,
// --tls-key); nil when TLS is off.
func loadTLS(t config.TLS) (*tls.Config, error) {
	if !t.Enabled() {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load certificate %s and key %s: %w", t.CertFile, t.KeyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// authAdapter puts *auth.Service behind api.Authenticator, api.Sessions
// and api.AccessAdmin. api.Role and auth.Role share names and values
// (TestRolesAgree).
type authAdapter struct{ svc *auth.Service }

var (
	_ api.Authenticator = authAdapter{}
	_ api.Sessions      = authAdapter{}
	_ api.AccessAdmin   = authAdapter{}
)

func toAPIPrincipal(p auth.Principal) api.Principal {
	return api.Principal{ID: p.ID, Name: p.Name, Role: api.Role(p.Role), SessionID: string(p.SessionID),
		KeyID: p.KeyID, Method: string(p.Method)}
}

func toAuthPrincipal(p api.Principal) auth.Principal {
	return auth.Principal{ID: p.ID, Name: p.Name, Role: auth.Role(p.Role), SessionID: auth.SessionID(p.SessionID),
		KeyID: p.KeyID, Method: auth.Method(p.Method)}
}

// authError maps an auth error onto the API's kinds, with auth's stable
// code (auth.Reason) and a detail that is safe to show: the message of
// auth's *Error for credential failures (never a token), the full message
// for administrative mistakes (they quote only what the admin sent).
// Anything else is a technical failure, left for the 500.
func authError(err error) error {
	if err == nil {
		return nil
	}
	code := auth.Reason(err)
	var kind error
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		kind = api.ErrUnauthenticated
	case errors.Is(err, auth.ErrForbidden):
		kind = api.ErrForbidden
	case errors.Is(err, auth.ErrInvalid):
		kind = api.ErrInvalid
	case errors.Is(err, auth.ErrNotFound):
		kind = api.ErrNotFound
	case errors.Is(err, store.ErrBackend), errors.Is(err, store.ErrClosed):
		// The credential cannot be checked (database down): refuse, and
		// say it is worth retrying.
		return &api.Error{Kind: api.ErrUnavailable, Code: "auth_backend_unavailable",
			Detail: "credentials cannot be checked right now; retry shortly", Err: err}
	default:
		return err
	}
	detail := strings.TrimPrefix(err.Error(), "auth: ")
	var ae *auth.Error
	if (kind == api.ErrUnauthenticated || kind == api.ErrForbidden) && errors.As(err, &ae) {
		detail = strings.TrimPrefix(ae.Error(), "auth: ")
	}
	e := &api.Error{Kind: kind, Code: code, Detail: detail, Err: err}
	if errors.Is(err, auth.ErrNotEnforced) {
		return fmt.Errorf("%w: %w", api.ErrNotEnforced, e)
	}
	return e
}

func (a authAdapter) Authenticate(header string) (api.Principal, error) {
	if header == "" {
		return toAPIPrincipal(a.svc.Anonymous()), nil
	}
	p, err := a.svc.AuthenticateBearer(header)
	if err != nil {
		return api.Principal{}, authError(err)
	}
	return toAPIPrincipal(p), nil
}

func (a authAdapter) Authorize(p api.Principal, min api.Role) error {
	return authError(a.svc.Authorize(toAuthPrincipal(p), auth.Role(min)))
}

func grantOf(t auth.Tokens, principal string, evicted []auth.SessionID) api.TokenGrant {
	g := api.TokenGrant{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.TokenType,
		ExpiresIn: t.ExpiresIn, Role: api.Role(t.Role), Principal: principal}
	for _, id := range evicted {
		g.EvictedSessions = append(g.EvictedSessions, string(id))
	}
	return g
}

// Exchange is auth's Exchange in its two steps, to know who logged in.
func (a authAdapter) Exchange(apiKey string) (api.TokenGrant, error) {
	p, err := a.svc.APIKeys().Authenticate(apiKey)
	if err != nil {
		return api.TokenGrant{}, authError(err)
	}
	t, evicted, err := a.svc.Login(p)
	if err != nil {
		return api.TokenGrant{}, authError(err)
	}
	return grantOf(t, p.ID, evicted), nil
}

func (a authAdapter) Refresh(refreshToken string) (api.TokenGrant, error) {
	t, err := a.svc.Refresh(refreshToken)
	if err != nil {
		return api.TokenGrant{}, authError(err)
	}
	var who string
	if p, err := a.svc.Verify(t.AccessToken); err == nil { // for the audit record only
		who = p.ID
	}
	return grantOf(t, who, nil), nil
}

func (a authAdapter) Logout(sessionID string) error {
	return authError(a.svc.Logout(auth.SessionID(sessionID)))
}

func (a authAdapter) LogoutRefresh(refreshToken string) error {
	return authError(a.svc.LogoutRefresh(refreshToken))
}

func (a authAdapter) DevToken() (api.TokenGrant, error) {
	t, err := a.svc.IssueDevToken()
	if err != nil {
		return api.TokenGrant{}, authError(err)
	}
	return grantOf(t, auth.DevPrincipalID, nil), nil
}

func (a authAdapter) Sessions() ([]api.SessionInfo, error) {
	list, err := a.svc.Sessions()
	if err != nil {
		return nil, authError(err)
	}
	out := make([]api.SessionInfo, len(list))
	for i, s := range list {
		out[i] = api.SessionInfo{ID: string(s.ID), Principal: s.Principal, Name: s.Name, Role: api.Role(s.Role),
			KeyID: s.KeyID, Created: s.Created, LastSeen: s.LastSeen}
	}
	return out, nil
}

func (a authAdapter) RevokeSession(id string) error {
	return authError(a.svc.Revoke(auth.SessionID(id)))
}

func sessionIDs(ids []auth.SessionID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(id)
	}
	return out
}

func (a authAdapter) RevokePrincipal(principal string) ([]string, error) {
	ended, err := a.svc.RevokePrincipal(principal)
	if err != nil {
		return nil, authError(err)
	}
	return sessionIDs(ended), nil
}

func keyInfo(k auth.KeyInfo) api.KeyInfo {
	return api.KeyInfo{ID: k.ID, Name: k.Name, Role: api.Role(k.Role), Created: k.Created, Revoked: k.Revoked}
}

func (a authAdapter) MintKey(role, name string) (string, api.KeyInfo, error) {
	r := auth.RoleDefault
	if role != "" {
		var err error
		if r, err = auth.ParseRole(role); err != nil {
			return "", api.KeyInfo{}, authError(err)
		}
	}
	raw, info, err := a.svc.APIKeys().Mint(r, name)
	if err != nil {
		return "", api.KeyInfo{}, authError(err)
	}
	return raw, keyInfo(info), nil
}

func (a authAdapter) Keys() ([]api.KeyInfo, error) {
	list, err := a.svc.APIKeys().List()
	if err != nil {
		return nil, authError(err)
	}
	out := make([]api.KeyInfo, len(list))
	for i, k := range list {
		out[i] = keyInfo(k)
	}
	return out, nil
}

func (a authAdapter) RevokeKey(id string) ([]string, error) {
	ended, err := a.svc.RevokeKey(id)
	if err != nil {
		return nil, authError(err)
	}
	return sessionIDs(ended), nil
}

func signingKeyInfo(k auth.SigningKeyInfo) api.SigningKeyInfo {
	return api.SigningKeyInfo{ID: k.ID, Created: k.Created, RetireAt: k.RetireAt, Current: k.Current}
}

func (a authAdapter) RotateSigningKey() (api.SigningKeyInfo, error) {
	k, err := a.svc.Keyring().RotateNow()
	if err != nil {
		return api.SigningKeyInfo{}, authError(err)
	}
	return signingKeyInfo(k), nil
}

func (a authAdapter) SigningKeys() ([]api.SigningKeyInfo, error) {
	list := a.svc.Keyring().Keys()
	out := make([]api.SigningKeyInfo, len(list))
	for i, k := range list {
		out[i] = signingKeyInfo(k)
	}
	return out, nil
}

// limiterAdapter puts *ratelimit.Policy behind api.Limiter and api.Bans.
type limiterAdapter struct{ p *ratelimit.Policy }

var (
	_ api.Limiter = limiterAdapter{}
	_ api.Bans    = limiterAdapter{}
)

// Limit keys the client with ratelimit.ClientKey: "principal:<id>", or
// "ip:<address>" with IPv6 addresses grouped by /64.
func (l limiterAdapter) Limit(ctx context.Context, c api.Client, path string) (api.LimitDecision, error) {
	res, err := l.p.Check(ctx, ratelimit.ClientKey(c.Principal, c.IP), path)
	if err != nil {
		return api.LimitDecision{}, err
	}
	d := api.LimitDecision{Limit: res.Decision.Limit, Remaining: res.Decision.Remaining,
		Reset: res.Decision.Reset, RetryAfter: res.Decision.RetryAfter}
	switch res.Outcome {
	case ratelimit.OutcomeAllowed:
		d.Outcome = api.LimitAllowed
	case ratelimit.OutcomeLimited:
		d.Outcome = api.LimitRefused
	case ratelimit.OutcomeBanned:
		d.Outcome = api.LimitBanned
	case ratelimit.OutcomeDisabled:
		d.Outcome = api.LimitDisabled
	default:
		return api.LimitDecision{}, fmt.Errorf("ratelimit: unknown outcome %v", res.Outcome)
	}
	return d, nil
}

func (l limiterAdapter) Bans(ctx context.Context) ([]api.BanInfo, error) {
	bans, err := l.p.Bans(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.BanInfo, len(bans))
	for i, b := range bans {
		out[i] = api.BanInfo{Client: b.Key, Reason: b.Reason, Since: b.Since, Until: b.Until, Violations: b.Violations}
	}
	return out, nil
}

func (l limiterAdapter) Unban(ctx context.Context, client string) (bool, error) {
	return l.p.Unban(ctx, client)
}

// auditAdapter puts the audit logger behind api.Auditor and its sink
// behind api.AuditLog. api.AuditRecord converts to audit.Record field for
// field: the conversion stops compiling if the two drift apart.
type auditAdapter struct {
	log   *audit.Logger
	query audit.Querier
}

var (
	_ api.DurableAuditor = auditAdapter{}
	_ api.AuditLog       = auditAdapter{}
)

func (a auditAdapter) Record(r api.AuditRecord) { a.log.Record(audit.Record(r)) }

// RecordDurably records r and waits until every sink stored it (and what
// was queued before it: concurrent requests share the writes).
func (a auditAdapter) RecordDurably(ctx context.Context, r api.AuditRecord) error {
	a.log.Record(audit.Record(r))
	return a.log.Flush(ctx)
}

// queryFlushWait bounds how long a query waits for records still queued.
const queryFlushWait = 2 * time.Second

// Query flushes the queue first, so an admin sees every request answered
// before the query (their own earlier ones included).
func (a auditAdapter) Query(ctx context.Context, q api.AuditQuery) ([]api.AuditRecord, error) {
	fctx, cancel := context.WithTimeout(ctx, queryFlushWait)
	_ = a.log.Flush(fctx) // a slow sink still answers with what it has
	cancel()
	recs, err := a.query.Query(ctx, audit.Filter{Since: q.Since, Until: q.Until, Principal: q.Principal,
		Status: q.Status, StatusClass: q.StatusClass, Reason: q.Reason, Limit: q.Limit})
	if errors.Is(err, audit.ErrBadFilter) {
		return nil, &api.Error{Kind: api.ErrInvalid, Code: "invalid_parameter",
			Detail: strings.TrimPrefix(err.Error(), "audit: "), Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("audit query: %w", err)
	}
	out := make([]api.AuditRecord, len(recs))
	for i, r := range recs {
		out[i] = api.AuditRecord(r)
	}
	return out, nil
}
