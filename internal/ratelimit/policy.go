package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spacetime-vr/spacetime/internal/config"
)

// ErrInvalidConfig reports a rate-limiting configuration NewPolicy cannot
// use.
var ErrInvalidConfig = errors.New("ratelimit: invalid config")

// Defaults of PolicyOptions and of config fields left at zero.
const (
	DefaultBanWindow          = time.Minute
	DefaultBanAfterViolations = 10
)

// Outcome is what a Policy decided for a request.
type Outcome int

// The outcomes of Policy.Check and the HTTP answers they call for.
const (
	// OutcomeAllowed: serve the request (set the RateLimit-* headers).
	// The zero Outcome is none of these, so a zero Result (returned with
	// an error) never reads as allowed.
	OutcomeAllowed Outcome = iota + 1
	// OutcomeLimited: refused by a rate limit; answer 429 with the
	// RateLimit-* headers and Retry-After.
	OutcomeLimited
	// OutcomeBanned: the client is banned; answer 429 with Retry-After set
	// to the time the ban has left.
	OutcomeBanned
	// OutcomeDisabled: the route's limit is 0; answer 404 as if the route
	// did not exist.
	OutcomeDisabled
)

// String returns "allowed", "limited", "banned" or "disabled".
func (o Outcome) String() string {
	switch o {
	case OutcomeAllowed:
		return "allowed"
	case OutcomeLimited:
		return "limited"
	case OutcomeBanned:
		return "banned"
	case OutcomeDisabled:
		return "disabled"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Result is the decision of Policy.Check for one request.
type Result struct {
	Outcome Outcome
	// Client is the client key checked.
	Client string
	// Route is the per-endpoint key that matched the path ("" when only
	// the global rule applies).
	Route string
	// Decision is the binding limiter decision: when allowed, the rule
	// with the fewest requests remaining; when limited, the refusing rule
	// with the longest wait. For OutcomeBanned only Allowed (false) and
	// RetryAfter (the ban's time left) are set; for OutcomeDisabled, and
	// when rate limiting is off, Limit is 0.
	Decision Decision
	// Ban is the ban in force, for OutcomeBanned.
	Ban Ban
}

// SetHeaders writes the rate-limit headers r calls for (see
// Decision.SetHeaders): RateLimit-* for allowed and limited requests,
// Retry-After alone for banned ones, nothing for disabled routes.
func (r Result) SetHeaders(h http.Header) { r.Decision.SetHeaders(h) }

// RouteRule is the per-endpoint rule a path falls under.
type RouteRule struct {
	// Key is the per_endpoint_limits key, e.g. "/admin".
	Key string
	// Rule is the key's limit per minute with its bucket; zero when
	// Disabled.
	Rule Rule
	// Disabled reports a limit of 0: the route is answered 404.
	Disabled bool
}

// BanEventKind says what happened to a ban.
type BanEventKind int

// The kinds of BanEvent. Bans that end by themselves emit no event.
const (
	// BanIssued: a client earned a ban, or an admin imposed one.
	BanIssued BanEventKind = iota + 1
	// BanLifted: an admin lifted a ban before it ended.
	BanLifted
)

// String returns "issued" or "lifted".
func (k BanEventKind) String() string {
	switch k {
	case BanIssued:
		return "issued"
	case BanLifted:
		return "lifted"
	}
	return fmt.Sprintf("BanEventKind(%d)", int(k))
}

// BanEvent reports a ban issued or lifted, for telemetry and audit.
type BanEvent struct {
	Kind BanEventKind
	Ban  Ban
	At   time.Time
}

// PolicyOptions configure NewPolicy. The zero value is usable.
type PolicyOptions struct {
	// Clock returns the current time; default time.Now. It times bans, and
	// the default Limiter.
	Clock func() time.Time
	// Limiter makes the decisions; default NewMemory with Clock. A shared
	// limiter keeps client state across policies (config reloads).
	Limiter Limiter
	// Bans stores bans and violations; default NewMemoryBanStore.
	Bans BanStore
	// BanWindow is the sliding window over which violations are counted;
	// default DefaultBanWindow (one minute).
	BanWindow time.Duration
	// OnBan, when set, is called synchronously after each BanEvent; it
	// must not block.
	OnBan func(BanEvent)
	// Logger logs bans issued and lifted, and ban-store failures; default:
	// no logging.
	Logger *slog.Logger
}

// Policy applies config.RateLimiting to requests: the global rule, the
// per-endpoint rules, disabled routes and bans.
//
// Rules (limits per minute; bucket = BurstFor(limit, burst_multiplier)):
//
//   - The global rule, global_requests_per_minute, applies to each client
//     across all routes (one bucket per client key).
//   - A per_endpoint_limits key applies to the path equal to it and to
//     every path under it, on whole segments: "/admin" covers "/admin" and
//     "/admin/bans/x" but not "/administer"; "/scene" covers
//     "/scene/history" but not "/scenes". The longest matching key wins
//     ("/scene/load" before "/scene"); a key "/" covers every path. All
//     paths under one key share one bucket per client. Trailing slashes
//     are ignored. Pass the route pattern (e.g. "/admin/sessions/{id}")
//     or the cleaned request path.
//   - A request is admitted only if its route rule (if any) and the global
//     rule both admit it, atomically: a request refused by either counts
//     against neither.
//   - A limit of 0 disables the route (OutcomeDisabled), even when
//     rate limiting is not enabled: switching throttling off must not
//     expose routes production turned off. With enabled false, nothing
//     else is limited, but bans already in force are still enforced.
//
// Bans: each refused request is a violation (counted by Violations). A
// client with more than ban_after_violations violations within BanWindow
// (sliding) is banned for ban_duration_minutes: the request that crossed
// the line is answered OutcomeBanned, and so is every request until the
// ban ends, without consulting the limiter. Concurrent violations earn
// one ban (BanStore.AddViolation is atomic). ban_duration_minutes 0
// disables bans. Refusals of a banned client are not violations.
//
// A Policy is immutable after NewPolicy and safe for concurrent use; build
// a new one on config reload, passing the same Limiter and BanStore to keep
// the clients' state.
type Policy struct {
	enabled bool
	global  Rule
	routes  map[string]*routeEntry
	limiter Limiter
	bans    BanStore
	now     func() time.Time
	banFor  time.Duration
	banRule BanRule
	onBan   func(BanEvent)
	log     *slog.Logger

	violations atomic.Uint64
	bansIssued atomic.Uint64
}

// routeEntry is a RouteRule with its bucket-key suffix.
type routeEntry struct {
	RouteRule
	suffix string // appended to the client key: "\x00" + Key
}

// NewPolicy builds the policy of cfg. It checks cfg the way config does
// (the global limit ≥ 1 when enabled, endpoint keys starting with "/",
// limits ≥ 0) and reports every problem with ErrInvalidConfig. A
// BanAfterViolations of 0 means DefaultBanAfterViolations.
func NewPolicy(cfg config.RateLimiting, opts PolicyOptions) (*Policy, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Limiter == nil {
		opts.Limiter = NewMemory(MemoryOptions{Clock: opts.Clock})
	}
	if opts.Bans == nil {
		opts.Bans = NewMemoryBanStore(MemoryBanStoreOptions{})
	}
	if opts.BanWindow <= 0 {
		opts.BanWindow = DefaultBanWindow
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	banAfter := cfg.BanAfterViolations
	if banAfter <= 0 {
		banAfter = DefaultBanAfterViolations
	}
	p := &Policy{
		enabled: cfg.Enabled,
		routes:  make(map[string]*routeEntry, len(cfg.PerEndpointLimits)),
		limiter: opts.Limiter,
		bans:    opts.Bans,
		now:     opts.Clock,
		banFor:  cfg.BanDuration(),
		banRule: BanRule{
			Window:   opts.BanWindow,
			Limit:    banAfter,
			Duration: cfg.BanDuration(),
			Reason:   fmt.Sprintf("more than %d rate-limit violations within %s", banAfter, opts.BanWindow),
		},
		onBan: opts.OnBan,
		log:   opts.Logger,
	}
	var errs []error
	if cfg.Enabled {
		p.global = PerMinute(cfg.GlobalRequestsPerMinute, cfg.BurstMultiplier)
		if err := p.global.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("global_requests_per_minute %d: %w", cfg.GlobalRequestsPerMinute, err))
		}
	}
	if cfg.BanDurationMinutes < 0 {
		errs = append(errs, fmt.Errorf("ban_duration_minutes %d: must be ≥ 0", cfg.BanDurationMinutes))
	}
	for _, key := range slices.Sorted(maps.Keys(cfg.PerEndpointLimits)) {
		limit, norm := cfg.PerEndpointLimits[key], trimSlash(key)
		switch {
		case !strings.HasPrefix(key, "/"):
			errs = append(errs, fmt.Errorf("per_endpoint_limits %q: must be a path starting with /", key))
			continue
		case limit < 0:
			errs = append(errs, fmt.Errorf("per_endpoint_limits %q: limit %d must be ≥ 0", key, limit))
			continue
		case p.routes[norm] != nil:
			errs = append(errs, fmt.Errorf("per_endpoint_limits %q: duplicates %q", key, p.routes[norm].Key))
			continue
		}
		e := &routeEntry{RouteRule: RouteRule{Key: key, Disabled: limit == 0}, suffix: "\x00" + norm}
		if limit > 0 {
			e.Rule = PerMinute(limit, cfg.BurstMultiplier)
			if err := e.Rule.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("per_endpoint_limits %q: %w", key, err))
			}
		}
		p.routes[norm] = e
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return p, nil
}

// trimSlash drops trailing slashes, keeping "/" itself.
func trimSlash(path string) string {
	for len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	return path
}

// match returns the entry of the longest per-endpoint key covering path.
func (p *Policy) match(path string) *routeEntry {
	if len(p.routes) == 0 {
		return nil
	}
	path = trimSlash(path)
	for {
		if e, ok := p.routes[path]; ok {
			return e
		}
		i := strings.LastIndexByte(path, '/')
		if i <= 0 {
			break
		}
		path = path[:i]
	}
	return p.routes["/"]
}

// Route returns the per-endpoint rule covering path, if any. The HTTP
// layer may use it at start-up to leave disabled routes unregistered.
func (p *Policy) Route(path string) (RouteRule, bool) {
	if e := p.match(path); e != nil {
		return e.RouteRule, true
	}
	return RouteRule{}, false
}

// Global returns the global rule (zero when rate limiting is off).
func (p *Policy) Global() Rule { return p.global }

// Enabled reports whether requests are rate limited.
func (p *Policy) Enabled() bool { return p.enabled }

// Check decides one request of client (a key from ClientKey) to path, in
// this order: a client under a ban is refused (OutcomeBanned); a disabled
// route is refused (OutcomeDisabled); when limiting is enabled, the route
// and global rules decide (OutcomeAllowed or OutcomeLimited, the latter
// possibly turned into a ban). An error means the limiter or the ban
// lookup failed (the Result is then zero, whose Outcome is none of the
// four); the caller chooses to fail open or closed. A failure to record a
// violation is logged, and the request is still refused as
// OutcomeLimited.
func (p *Policy) Check(ctx context.Context, client, path string) (Result, error) {
	res := Result{Client: client}
	ban, found, err := p.bans.Get(ctx, client)
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: ban lookup of %q: %w", client, err)
	}
	if found {
		if now := p.now(); now.Before(ban.Until) {
			res.Outcome, res.Ban = OutcomeBanned, ban
			res.Decision = Decision{RetryAfter: ban.Left(now)}
			return res, nil
		}
	}
	e := p.match(path)
	if e != nil {
		res.Route = e.Key
		if e.Disabled {
			res.Outcome = OutcomeDisabled
			return res, nil
		}
	}
	if !p.enabled {
		res.Outcome, res.Decision.Allowed = OutcomeAllowed, true
		return res, nil
	}
	if e == nil {
		res.Decision, err = p.limiter.Allow(ctx, client, p.global, 1)
	} else {
		res.Decision, err = p.allowRoute(ctx, client, e)
	}
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: limit %q on %q: %w", client, path, err)
	}
	if res.Decision.Allowed {
		res.Outcome = OutcomeAllowed
		return res, nil
	}
	p.violations.Add(1)
	res.Outcome = OutcomeLimited
	if p.banFor <= 0 {
		return res, nil
	}
	now := p.now()
	b, created, err := p.bans.AddViolation(ctx, client, now, p.banRule)
	if err != nil { // the request is refused anyway: do not turn a 429 into a 500
		p.log.Warn("rate-limit violation not recorded", "client", client, "err", err)
		return res, nil
	}
	if !now.Before(b.Until) { // no ban (the zero Ban ended long ago)
		return res, nil
	}
	if created {
		p.issued(b)
	}
	res.Outcome, res.Ban = OutcomeBanned, b
	res.Decision = Decision{RetryAfter: b.Left(now)}
	return res, nil
}

// allowRoute checks the route rule of e and the global rule as one
// request, and returns the binding decision.
func (p *Policy) allowRoute(ctx context.Context, client string, e *routeEntry) (Decision, error) {
	checks := [2]Check{
		{Key: client + e.suffix, Rule: e.Rule, N: 1},
		{Key: client, Rule: p.global, N: 1},
	}
	var ds [2]Decision
	if m, ok := p.limiter.(*Memory); ok { // no allocation for the slices
		if err := m.allowAll(checks[:], ds[:]); err != nil {
			return Decision{}, err
		}
		return binding(ds[:]), nil
	}
	out, err := p.limiter.AllowAll(ctx, []Check{checks[0], checks[1]})
	if err != nil {
		return Decision{}, err
	}
	return binding(out), nil
}

// binding returns the decision that binds a request checked by several
// rules (see Result.Decision).
func binding(ds []Decision) Decision {
	b := ds[0]
	for _, d := range ds[1:] {
		switch {
		case !b.Allowed:
			if d.RetryAfter > b.RetryAfter {
				b = d
			}
		case d.Remaining < b.Remaining || d.Remaining == b.Remaining && d.Reset > b.Reset:
			b = d
		}
	}
	return b
}

// issued counts, logs and announces a new ban.
func (p *Policy) issued(b Ban) {
	p.bansIssued.Add(1)
	p.log.Warn("client banned", "client", b.Key, "reason", b.Reason, "until", b.Until, "violations", b.Violations)
	p.emit(BanEvent{Kind: BanIssued, Ban: b, At: b.Since})
}

func (p *Policy) emit(ev BanEvent) {
	if p.onBan != nil {
		p.onBan(ev)
	}
}

// Ban bans client for d (an admin action), replacing any ban in force.
func (p *Policy) Ban(ctx context.Context, client, reason string, d time.Duration) (Ban, error) {
	if d <= 0 {
		return Ban{}, fmt.Errorf("ratelimit: ban %q: duration %s must be positive", client, d)
	}
	now := p.now()
	b := Ban{Key: client, Reason: reason, Since: now, Until: now.Add(d)}
	if err := p.bans.Put(ctx, b); err != nil {
		return Ban{}, fmt.Errorf("ratelimit: ban %q: %w", client, err)
	}
	p.issued(b)
	return b, nil
}

// Bans returns the bans in force, oldest first.
func (p *Policy) Bans(ctx context.Context) ([]Ban, error) {
	bs, err := p.bans.List(ctx, p.now())
	if err != nil {
		return nil, fmt.Errorf("ratelimit: list bans: %w", err)
	}
	return bs, nil
}

// Unban lifts the ban of client and forgets its violations; it reports
// whether a ban was in force.
func (p *Policy) Unban(ctx context.Context, client string) (bool, error) {
	now := p.now()
	b, _, err := p.bans.Get(ctx, client)
	if err != nil {
		return false, fmt.Errorf("ratelimit: unban %q: %w", client, err)
	}
	lifted, err := p.bans.Delete(ctx, client, now)
	if err != nil {
		return false, fmt.Errorf("ratelimit: unban %q: %w", client, err)
	}
	if lifted {
		b.Key = client
		p.log.Info("ban lifted", "client", client)
		p.emit(BanEvent{Kind: BanLifted, Ban: b, At: now})
	}
	return lifted, nil
}

// Violations returns how many requests were refused by a rate limit
// (OutcomeLimited, and the requests that earned a ban) since NewPolicy.
func (p *Policy) Violations() uint64 { return p.violations.Load() }

// BansIssued returns how many bans were issued since NewPolicy, earned or
// imposed by an admin.
func (p *Policy) BansIssued() uint64 { return p.bansIssued.Load() }

// ClientKey returns the key that identifies a client to the limiter and
// the ban store: "principal:<id>" for an authenticated principal, else
// "ip:<address>" of the client IP. IPv4-mapped IPv6 addresses count as
// IPv4, and IPv6 addresses are keyed by their /64 prefix (one subscriber's
// allocation, which a client can otherwise cycle through at will). NUL
// bytes are dropped from principal IDs (they separate route buckets).
func ClientKey(principalID string, ip netip.Addr) string {
	if principalID != "" {
		return "principal:" + strings.ReplaceAll(principalID, "\x00", "")
	}
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.WithZone("").Prefix(64); err == nil {
			return "ip:" + p.String()
		}
	}
	return "ip:" + ip.String()
}
