package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/spacetime-vr/spacetime/internal/engine"
)

// SnapshotSource is where the hub reads the world: *engine.Engine. The hub
// calls Snapshot from its poll goroutine (and from connection goroutines
// for get_snapshot); it must be cheap, non-blocking and safe for
// concurrent use, and the snapshot it returns immutable.
type SnapshotSource interface {
	Snapshot() *engine.Snapshot
}

var _ SnapshotSource = (*engine.Engine)(nil)

// Defaults of HubOptions.
const (
	DefaultRate           = 90
	DefaultSendQueue      = 16
	DefaultMaxBehind      = 2 * time.Second
	DefaultMaxSubscribers = 500
	DefaultWriteTimeout   = 5 * time.Second
	DefaultPingInterval   = 15 * time.Second
	DefaultAuthTimeout    = 5 * time.Second
	DefaultMessageRate    = 50 // client messages per second, burst twice that
)

// closeGrace bounds the closing handshake and interrupts a write blocked
// on a subscriber being disconnected.
const closeGrace = time.Second

// maxCtrl is the number of replies and events a connection may have
// waiting; more means the client does not read (it is disconnected).
const maxCtrl = 64

// HubOptions configure a Hub. Only Source is required.
type HubOptions struct {
	// Source is the engine (required).
	Source SnapshotSource
	// Rate is the poll rate in Hz (default 90): the hub looks for a new
	// snapshot this often, phase-locked to the snapshots' WallTime. No
	// subscription is faster than Rate or the engine's tick rate.
	Rate int
	// Now is the clock of schedules, queue ages and timestamps of events
	// (default time.Now). Socket deadlines always use the real clock.
	Now func() time.Time
	// Logger receives connection and slow-consumer events (default: discard).
	Logger *slog.Logger

	// Auth checks bearer tokens (subprotocol "bearer.<token>" or an auth
	// message). Nil: tokens are refused.
	Auth Authenticator
	// AuthRequired refuses connections that present no credential (true
	// everywhere but development). Without it such a connection gets the
	// Anonymous principal; a credential that is presented is checked
	// anyway.
	AuthRequired bool
	// Anonymous is the principal of an unauthenticated connection when
	// AuthRequired is false (default {ID: "anonymous", Role: "guest"}).
	Anonymous Principal
	// Authorize, when set, decides whether an authenticated principal may
	// read telemetry (an error closes with CloseForbidden).
	Authorize func(Principal) error
	// Tickets redeems ?ticket= query parameters (nil: tickets refused).
	Tickets *TicketStore
	// VR reports the headset for the vr topic and Hub.VR (default: what
	// the hub's own clients report in vr_state messages, see Hub.VR).
	VR VRSource
	// Pilot applies pilot input from input messages: the engine's
	// SetInput. Nil: input messages are refused (forbidden). The hub
	// calls it from connection goroutines and its poll goroutine (the
	// dead-man switch), one call at a time; it must not block.
	Pilot func(engine.Input)
	// AuthorizePilot decides whether a connection may send input;
	// anonymous is true for a connection admitted without a credential
	// (only possible without AuthRequired). Nil: DefaultAuthorizePilot
	// (developer, admin, anonymous).
	AuthorizePilot func(p Principal, anonymous bool) error
	// Requests reports the API's HTTP request rate and latency for the
	// perf topic (nil: reported as 0).
	Requests RequestSource

	// SendQueue is the number of stream frames each subscriber may have
	// waiting (default 16); when full the oldest is dropped.
	SendQueue int
	// MaxDropStreak disconnects a subscriber that had this many frames
	// dropped in a row with no write progress in between (default
	// 3×SendQueue).
	MaxDropStreak int
	// MaxBehind disconnects a subscriber whose queue has waited this long
	// for its writer (default 2 s).
	MaxBehind time.Duration
	// MaxSubscribers caps the authenticated connections (default 500);
	// one more is closed with CloseTryAgainLater. Connections still
	// waiting for their credential (the first-message method) have a cap
	// of their own, MaxPending, so that unauthenticated connections cannot
	// take the places of subscribers.
	MaxSubscribers int
	// MaxPending caps the connections waiting for an auth message (they
	// wait at most AuthTimeout); default MaxSubscribers.
	MaxPending int
	// WriteTimeout bounds each socket write (default 5 s).
	WriteTimeout time.Duration
	// PingInterval is the keep-alive period (default 15 s); a connection
	// silent (no pong, no message) for 2.5 pings is closed.
	PingInterval time.Duration
	// AuthTimeout is how long a connection may take to send its auth
	// message when it presented no credential (default 5 s).
	AuthTimeout time.Duration
	// MessageRate limits client messages per second (default 50, burst
	// twice that); excess messages get a rate_limited error.
	MessageRate float64
	// SendBuffer sets each connection's socket send buffer in bytes
	// (0: the OS default). Smaller makes a stalled reader detectable
	// sooner and bounds kernel memory per subscriber.
	SendBuffer int
	// Revalidate, when set, is asked every RevalidateEvery (while Run
	// runs) whether each authenticated connection whose principal has a
	// Session may go on; one it refuses gets auth_failed and is closed
	// with 4401, so a stream does not outlive its session.
	Revalidate func(Principal) error
	// RevalidateEvery is the period of Revalidate (default 2 s).
	RevalidateEvery time.Duration
	// CheckOrigin vets the Origin of the upgrade request (default: any;
	// the stream authenticates by explicit token or ticket, never by
	// cookie, so cross-origin pages gain nothing).
	CheckOrigin func(r *http.Request) bool
}

func (o HubOptions) withDefaults() HubOptions {
	if o.Rate <= 0 {
		o.Rate = DefaultRate
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Anonymous == (Principal{}) {
		o.Anonymous = Principal{ID: "anonymous", Role: "guest"}
	}
	if o.AuthorizePilot == nil {
		o.AuthorizePilot = DefaultAuthorizePilot
	}
	if o.SendQueue <= 0 {
		o.SendQueue = DefaultSendQueue
	}
	if o.MaxDropStreak <= 0 {
		o.MaxDropStreak = 3 * o.SendQueue
	}
	if o.MaxBehind <= 0 {
		o.MaxBehind = DefaultMaxBehind
	}
	if o.MaxSubscribers <= 0 {
		o.MaxSubscribers = DefaultMaxSubscribers
	}
	if o.MaxPending <= 0 {
		o.MaxPending = o.MaxSubscribers
	}
	if o.RevalidateEvery <= 0 {
		o.RevalidateEvery = 2 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.AuthTimeout <= 0 {
		o.AuthTimeout = DefaultAuthTimeout
	}
	if !(o.MessageRate > 0) {
		o.MessageRate = DefaultMessageRate
	}
	if o.CheckOrigin == nil {
		o.CheckOrigin = func(*http.Request) bool { return true }
	}
	return o
}

// Disconnect reasons, the keys of Stats.DisconnectsByReason.
const (
	ReasonClient   = "client"   // the client closed or went away
	ReasonSlow     = "slow"     // stayed behind (CloseTooSlow)
	ReasonAuth     = "auth"     // no, bad or late credential; forbidden role
	ReasonTimeout  = "timeout"  // no pong or message within the keep-alive
	ReasonError    = "error"    // a network or protocol error
	ReasonShutdown = "shutdown" // the hub closed (1001)
	ReasonAbuse    = "abuse"    // oversized message or message flood
	ReasonFull     = "full"     // refused at MaxSubscribers
)

const numReasons = 8

// allReasons lists the disconnect reasons in a fixed order.
func allReasons() [numReasons]string {
	return [numReasons]string{ReasonClient, ReasonSlow, ReasonAuth, ReasonTimeout, ReasonError, ReasonShutdown, ReasonAbuse, ReasonFull}
}

func reasonIndex(r string) int {
	all := allReasons()
	for i, n := range all {
		if n == r {
			return i
		}
	}
	return reasonIndex(ReasonError)
}

// Stats are the hub's counters since NewHub, for the metrics layer.
type Stats struct {
	Subscribers      int           `json:"subscribers"`       // authenticated connections now
	Connections      int           `json:"connections"`       // open connections now
	ConnectionsTotal uint64        `json:"connections_total"` // accepted upgrades
	Ticks            uint64        `json:"ticks"`             // new snapshots seen by the poll
	TicksMissed      uint64        `json:"ticks_missed"`      // ticks the poll never saw
	FramesSent       uint64        `json:"frames_sent"`       // stream frames written (not replies)
	FramesDropped    uint64        `json:"frames_dropped"`    // dropped from full queues
	BytesSent        uint64        `json:"bytes_sent"`        // payload bytes of all messages written
	Encodes          uint64        `json:"encodes"`           // frames encoded (once per topic variant and tick)
	EncodeTime       time.Duration `json:"encode_time_ns"`    // time spent encoding them
	FanoutTime       time.Duration `json:"fanout_time_ns"`    // time in Step (encode and enqueue)
	EventsPublished  uint64        `json:"events_published"`
	Disconnects      uint64        `json:"disconnects"` // telemetry_disconnects: connections ended
	SlowDisconnects  uint64        `json:"slow_disconnects"`
	AuthFailures     uint64        `json:"auth_failures"`
	ProtocolErrors   uint64        `json:"protocol_errors"` // error replies sent
	// DisconnectsByReason splits Disconnects by the Reason constants.
	DisconnectsByReason map[string]uint64 `json:"disconnects_by_reason"`
}

type counters struct {
	connTotal, ticks, missed, sent, dropped, bytes atomic.Uint64
	encodes, encodeNs, fanoutNs, events            atomic.Uint64
	disconnects, authFail, protoErr                atomic.Uint64
	byReason                                       [numReasons]atomic.Uint64
}

// Hub fans the engine's snapshots out to WebSocket subscribers. Create it
// with NewHub, serve ServeHTTP on /telemetry (any number of listeners),
// and run Run in one goroutine; when Run's context ends the hub sends a
// shutdown event, closes every connection with 1001 and returns once all
// of its goroutines are gone.
type Hub struct {
	opts     HubOptions
	log      *slog.Logger
	upgrader websocket.Upgrader
	mem      *memSampler

	mu      sync.Mutex
	conns   map[*conn]struct{}
	nAuthed int // connections counted against MaxSubscribers
	nWait   int // connections counted against MaxPending
	closed  bool
	wg      sync.WaitGroup // one per connection (its handler goroutine)
	subs    atomic.Pointer[[]*conn]

	running   atomic.Bool
	closeOnce sync.Once

	// pollMu serialises Step and the subscription changes (so an
	// acknowledgement always precedes the frames it announces).
	pollMu   sync.Mutex
	last     *engine.Snapshot
	metaGen  uint64
	variants []variantFrame
	scratch  []byte

	eventSeq atomic.Uint64
	st       counters

	vr    *vrReports // the clients' vr_state reports
	pilot pilot      // the pilot input's holder (dead-man switch)
}

// variantFrame is one encoding of a topic for the current tick, prepared
// once for every subscriber.
type variantFrame struct {
	v    bodiesVariant
	pm   *websocket.PreparedMessage
	size int
}

// NewHub returns a hub; it does nothing until Run (or Step) and ServeHTTP.
func NewHub(opts HubOptions) *Hub {
	if opts.Source == nil {
		panic("telemetry: NewHub without a Source")
	}
	opts = opts.withDefaults()
	h := &Hub{
		opts:  opts,
		log:   opts.Logger.With("component", "telemetry"),
		mem:   newMemSampler(),
		conns: make(map[*conn]struct{}),
		vr:    newVRReports(opts.Now, VRStaleAfter),
	}
	h.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   4096,
		WriteBufferSize:  4096,
		WriteBufferPool:  &sync.Pool{},
		Subprotocols:     []string{Subprotocol},
		CheckOrigin:      opts.CheckOrigin,
	}
	empty := []*conn{}
	h.subs.Store(&empty)
	return h
}

// VR returns the headset state of the vr topic and GET /state/vr:
// HubOptions.VR when set, else the freshest active session the connected
// clients report (vr_state), or the desktop fallback when none reported
// one within VRStaleAfter. Hub is a VRSource.
func (h *Hub) VR() VRState {
	if h.opts.VR != nil {
		return h.opts.VR.VR()
	}
	return h.vr.VR()
}

var _ VRSource = (*Hub)(nil)

// ErrRunning is returned by a second call of Run.
var ErrRunning = errors.New("telemetry: hub already running")

// Run polls the source until ctx ends, then closes the hub (see Close) and
// returns nil. It never blocks the engine: a poll is an atomic load, and
// every subscriber is fed through its own bounded queue.
func (h *Hub) Run(ctx context.Context) error {
	if !h.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer h.Close()
	if h.opts.Revalidate != nil {
		var wg sync.WaitGroup
		defer wg.Wait()
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		wg.Go(func() { h.revalidateLoop(rctx) })
	}
	period := time.Second / time.Duration(h.opts.Rate)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		fresh := h.Step()
		var wall time.Time
		budget := time.Duration(0)
		if s := h.lastSnapshot(); s != nil {
			wall, budget = s.WallTime, s.Perf.TickBudget
		}
		t.Reset(nextPoll(max(period, budget), fresh, wall, h.opts.Now()))
	}
}

// revalidateLoop runs Revalidate over the connections every
// RevalidateEvery until ctx ends.
func (h *Hub) revalidateLoop(ctx context.Context) {
	t := time.NewTicker(h.opts.RevalidateEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.RevalidateNow()
		}
	}
}

// RevalidateNow asks Revalidate about every authenticated connection with
// a session and closes those it refuses (Run does this periodically).
func (h *Hub) RevalidateNow() {
	if h.opts.Revalidate == nil {
		return
	}
	h.mu.Lock()
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		p := c.prin.Load()
		if p == nil || p.Session == "" {
			continue
		}
		if err := h.opts.Revalidate(*p); err != nil {
			c.refuse(CodeAuthFailed, "the session of this connection ended: "+err.Error(), nil, CloseUnauthorized)
		}
	}
}

// nextPoll is the wait before the next poll. After a fresh snapshot
// published at wall, the next one is due about one period later: poll then
// plus an eighth of a period of slack (tick durations vary). After a poll
// that found nothing new, try again an eighth of a period later.
func nextPoll(period time.Duration, fresh bool, wall, now time.Time) time.Duration {
	retry := max(period/8, 100*time.Microsecond)
	if !fresh {
		return retry
	}
	if wall.IsZero() {
		return period
	}
	since := now.Sub(wall)
	switch {
	case since < 0:
		return period // another clock: no phase to lock to
	case since >= period:
		return retry // we are late; the next one is near
	}
	return period - since + period/8
}

func (h *Hub) lastSnapshot() *engine.Snapshot {
	h.pollMu.Lock()
	defer h.pollMu.Unlock()
	return h.last
}

// Active reports whether Run is running and the hub is open.
func (h *Hub) Active() bool {
	if !h.running.Load() {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.closed
}

// Close sends a shutdown event, closes every connection with 1001 and
// waits for all connection goroutines to end. New upgrades are refused
// with 503. Idempotent; Run calls it when its context ends.
func (h *Hub) Close() error {
	h.closeOnce.Do(func() {
		h.Publish(Event{Kind: EventShutdown})
		h.mu.Lock()
		h.closed = true
		conns := make([]*conn, 0, len(h.conns))
		for c := range h.conns {
			conns = append(conns, c)
		}
		h.mu.Unlock()
		for _, c := range conns {
			c.kick(CloseGoingAway, "server shutting down", ReasonShutdown)
		}
	})
	h.wg.Wait()
	return nil
}

// Stats returns the counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	nconns := len(h.conns)
	h.mu.Unlock()
	s := Stats{
		Subscribers:         len(*h.subs.Load()),
		Connections:         nconns,
		ConnectionsTotal:    h.st.connTotal.Load(),
		Ticks:               h.st.ticks.Load(),
		TicksMissed:         h.st.missed.Load(),
		FramesSent:          h.st.sent.Load(),
		FramesDropped:       h.st.dropped.Load(),
		BytesSent:           h.st.bytes.Load(),
		Encodes:             h.st.encodes.Load(),
		EncodeTime:          time.Duration(h.st.encodeNs.Load()),
		FanoutTime:          time.Duration(h.st.fanoutNs.Load()),
		EventsPublished:     h.st.events.Load(),
		Disconnects:         h.st.disconnects.Load(),
		AuthFailures:        h.st.authFail.Load(),
		ProtocolErrors:      h.st.protoErr.Load(),
		DisconnectsByReason: make(map[string]uint64, numReasons),
	}
	for i, r := range allReasons() {
		s.DisconnectsByReason[r] = h.st.byReason[i].Load()
	}
	s.SlowDisconnects = s.DisconnectsByReason[ReasonSlow]
	return s
}

// tickRate is the engine's tick rate (its PhysicsFPS, else Rate), capped
// by the poll rate: the fastest any subscription can be.
func (h *Hub) tickRate(s *engine.Snapshot) float64 {
	r := float64(h.opts.Rate)
	if s != nil && s.Perf.PhysicsFPS > 0 {
		return min(r, float64(s.Perf.PhysicsFPS))
	}
	return r
}

// engineRate is the rate at which snapshot ticks advance.
func (h *Hub) engineRate(s *engine.Snapshot) float64 {
	if s != nil && s.Perf.PhysicsFPS > 0 {
		return float64(s.Perf.PhysicsFPS)
	}
	return float64(h.opts.Rate)
}

// Step polls the source once. When it holds a snapshot not seen before,
// Step encodes each topic that some subscriber is due for (once per topic
// variant) and enqueues the frame to every due subscriber, then reports
// true. Run calls Step; tests call it directly instead of running Run.
// It never blocks on a subscriber. Every call first runs the pilot
// input's dead-man switch (see PilotTimeout).
func (h *Hub) Step() bool {
	h.checkPilot(h.opts.Now())
	h.pollMu.Lock()
	defer h.pollMu.Unlock()
	s := h.opts.Source.Snapshot()
	if s == nil || s == h.last {
		return false
	}
	start := time.Now()
	prev := h.last
	h.last = s
	h.st.ticks.Add(1)
	if prev != nil && s.Tick > prev.Tick+1 {
		h.st.missed.Add(s.Tick - prev.Tick - 1)
	}
	if prev == nil || bodiesMetaChanged(prev, s) {
		h.metaGen++
	}
	subs := *h.subs.Load()
	if len(subs) == 0 {
		return true
	}
	now := h.opts.Now()
	ts := unixSeconds(s.WallTime)
	if ts == 0 {
		ts = unixSeconds(now)
	}
	perTick := h.engineRate(s)
	var frames [topicBodiesI]variantFrame
	h.variants = h.variants[:0]
	var buf [numTopics + 1]outItem
	for _, c := range subs {
		cfg := c.cfg.Load()
		if cfg == nil || c.killed.Load() {
			continue
		}
		items := buf[:0]
		for t := range topicEventsI {
			tc := &cfg.topics[t]
			if !tc.on || !c.due(t, tc, s.Tick, perTick) {
				continue
			}
			if t == topicBodiesI {
				items = h.fanBodies(items, c, cfg, s, ts)
				continue
			}
			f := &frames[t]
			if f.pm == nil {
				*f = h.encodeTopic(t, s, ts, len(subs))
				if f.pm == nil {
					continue
				}
			}
			items = append(items, outItem{pm: f.pm, size: f.size, stream: true})
		}
		if len(items) > 0 {
			// One lock and at most one wake-up of the writer per tick.
			h.enqueue(c, now, items...)
		}
	}
	h.st.fanoutNs.Add(uint64(time.Since(start)))
	return true
}

// bodiesMetaChanged reports whether what the binary format's metadata
// describes (scene, body names and radii, particle count and groups)
// differs between two snapshots.
func bodiesMetaChanged(a, b *engine.Snapshot) bool {
	if a.Scene != b.Scene || len(a.Bodies) != len(b.Bodies) || a.ParticleCount != b.ParticleCount ||
		len(a.ParticleGroups) != len(b.ParticleGroups) {
		return true
	}
	for i := range a.Bodies {
		if a.Bodies[i].Name != b.Bodies[i].Name || a.Bodies[i].Radius != b.Bodies[i].Radius || a.Bodies[i].GM != b.Bodies[i].GM {
			return true
		}
	}
	for i := range a.ParticleGroups {
		if a.ParticleGroups[i] != b.ParticleGroups[i] {
			return true
		}
	}
	return false
}

// encodeTopic encodes perf, player or vr for s as one prepared frame.
func (h *Hub) encodeTopic(t int, s *engine.Snapshot, ts float64, nsubs int) variantFrame {
	start := time.Now()
	b := appendEnvelope(jbuf(h.scratch[:0]), topicName(t), ts)
	switch t {
	case topicPerfI:
		b = appendPerf(b, s, h.extras(nsubs))
	case topicPlayerI:
		b = appendPlayer(b, s)
	case topicVRI:
		b = appendVR(b, h.VR(), s.Tick)
	}
	b = append(b, '}')
	h.scratch = b
	return h.prepare(websocket.TextMessage, b, start)
}

func (h *Hub) extras(nsubs int) extras {
	x := extras{memoryMB: h.mem.MB(h.opts.Now()), goroutines: runtime.NumGoroutine(), subscribers: nsubs}
	if h.opts.Requests != nil {
		x.http = h.opts.Requests.RequestStats()
	}
	return x
}

// prepare frames b once for all connections (a copy: b may be reused);
// a zero variantFrame when gorilla refuses it (it does not for data
// messages).
func (h *Hub) prepare(msgType int, b []byte, start time.Time) variantFrame {
	pm, err := newPrepared(msgType, b)
	if err != nil {
		h.log.Error("prepare telemetry frame", "bytes", len(b), "err", err)
		return variantFrame{}
	}
	f := variantFrame{pm: pm, size: len(b)}
	h.st.encodes.Add(1)
	h.st.encodeNs.Add(uint64(time.Since(start)))
	return f
}

// variant returns the frame of v for s, encoding it on first use this tick.
func (h *Hub) variant(v bodiesVariant, s *engine.Snapshot, ts float64) variantFrame {
	for _, f := range h.variants {
		if f.v == v {
			return f
		}
	}
	start := time.Now()
	var f variantFrame
	if v.format == FormatBinary && !v.meta {
		h.scratch = EncodeBodiesFrame(h.scratch[:0], s, v.decimate, v.particles)
		f = h.prepare(websocket.BinaryMessage, h.scratch, start)
	} else {
		b := appendEnvelope(jbuf(h.scratch[:0]), TopicBodies, ts)
		b = appendBodies(b, s, v)
		b = append(b, '}')
		h.scratch = b
		f = h.prepare(websocket.TextMessage, b, start)
	}
	f.v = v
	if f.pm != nil {
		h.variants = append(h.variants, f)
	}
	return f
}

// fanBodies appends the bodies frames due to c to items: in the binary
// format the metadata first when it changed (never dropped), then the
// positions; in the json format one frame. Particle positions go only when
// they changed since c last got them (or c's configuration changed).
func (h *Hub) fanBodies(items []outItem, c *conn, cfg *subConfig, s *engine.Snapshot, ts float64) []outItem {
	withParts := cfg.particles && len(s.ParticlePos) > 0 &&
		!(c.sentPart && c.sentPartTick == s.ParticleTick && c.sentPartCfg == cfg.gen && c.sentPartMeta == h.metaGen)
	if cfg.format == FormatBinary {
		if !c.sentMeta || c.sentMetaGen != h.metaGen || c.sentMetaCfg != cfg.gen {
			m := h.variant(bodiesVariant{format: FormatBinary, decimate: cfg.decimate, meta: true}, s, ts)
			if m.pm == nil {
				return items
			}
			items = append(items, outItem{pm: m.pm, size: m.size, ctrl: true, stream: true})
			c.sentMeta, c.sentMetaGen, c.sentMetaCfg = true, h.metaGen, cfg.gen
		}
	}
	dec := cfg.decimate
	if cfg.format == FormatJSON && withParts {
		// JSON costs ~70 ns per float: keep a frame's particles bounded.
		dec = max(dec, (len(s.ParticlePos)/3+MaxJSONParticles-1)/MaxJSONParticles)
	}
	f := h.variant(bodiesVariant{format: cfg.format, decimate: dec, particles: withParts}, s, ts)
	if f.pm == nil {
		return items
	}
	if withParts {
		c.sentPart, c.sentPartTick, c.sentPartCfg, c.sentPartMeta = true, s.ParticleTick, cfg.gen, h.metaGen
	}
	return append(items, outItem{pm: f.pm, size: f.size, stream: true})
}

// MaxJSONParticles caps the particles of one json-format bodies frame: the
// decimation is raised to fit (and reported in the frame's "decimate").
const MaxJSONParticles = 10_000

// enqueue pushes items to c without blocking and disconnects c when it is
// too far behind.
func (h *Hub) enqueue(c *conn, now time.Time, items ...outItem) {
	r := c.q.push(now, items...)
	if r.closed {
		return
	}
	if r.dropped > 0 {
		h.st.dropped.Add(uint64(r.dropped))
		c.dropped.Add(uint64(r.dropped))
	}
	if r.overflow || r.streak >= h.opts.MaxDropStreak || r.behind >= h.opts.MaxBehind {
		if c.kick(CloseTooSlow, "too slow", ReasonSlow) {
			h.log.Warn("telemetry subscriber too slow, disconnecting",
				"remote", c.remote, "principal", c.principalID(), "dropped", c.dropped.Load(),
				"streak", r.streak, "behind", r.behind, "control_overflow", r.overflow)
		}
	}
}

// Publish sends ev to the subscribers of the events topic at once (it is
// encoded once; it never blocks and is never dropped for a slow
// subscriber, which is disconnected instead). Safe from any goroutine.
func (h *Hub) Publish(ev Event) {
	seq := h.eventSeq.Add(1)
	h.st.events.Add(1)
	subs := *h.subs.Load()
	var f variantFrame
	now := h.opts.Now()
	for _, c := range subs {
		cfg := c.cfg.Load()
		if cfg == nil || !cfg.topics[topicEventsI].on || (c.killed.Load() && c.killCode == CloseTooSlow) {
			continue
		}
		if f.pm == nil {
			var detail []byte
			if ev.Data != nil {
				var err error
				if detail, err = json.Marshal(ev.Data); err != nil {
					h.log.Error("encode event detail", "kind", ev.Kind, "err", err)
					detail = []byte(`{"error":"detail not encodable"}`)
				}
			}
			b := appendEnvelope(nil, TopicEvents, unixSeconds(now))
			b = appendEventData(b, ev.Kind, seq, detail)
			b = append(b, '}')
			if f = h.prepare(websocket.TextMessage, b, time.Now()); f.pm == nil {
				return
			}
		}
		h.enqueue(c, now, outItem{pm: f.pm, size: f.size, ctrl: true, stream: true})
	}
}

// track registers a new connection, counted as a subscriber when it is
// admitted at once (authed: a credential in the upgrade, or no auth
// required), else as waiting for its auth message; false when the hub is
// closed or that count is full.
func (h *Hub) track(c *conn, authed bool) (ok bool, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false, ReasonShutdown
	}
	if authed {
		if h.nAuthed >= h.opts.MaxSubscribers {
			return false, ReasonFull
		}
		h.nAuthed++
		c.counted = countedSubscriber
	} else {
		if h.nWait >= h.opts.MaxPending {
			return false, ReasonFull
		}
		h.nWait++
		c.counted = countedWaiting
	}
	h.conns[c] = struct{}{}
	h.wg.Add(1)
	h.st.connTotal.Add(1)
	return true, ""
}

// untrack forgets c and counts its disconnect; input c held returns to
// zero and its VR report goes.
func (h *Hub) untrack(c *conn, reason string) {
	h.removeSub(c)
	h.releasePilot(c)
	h.vr.forget(c)
	h.mu.Lock()
	delete(h.conns, c)
	switch c.counted {
	case countedSubscriber:
		h.nAuthed--
	case countedWaiting:
		h.nWait--
	}
	c.counted = countedNone
	h.mu.Unlock()
	h.countDisconnect(reason)
	h.wg.Done()
}

// promote moves a connection that authenticated by message from the
// waiting count to the subscriber count; false when that is full.
func (h *Hub) promote(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.counted != countedWaiting {
		return true
	}
	if h.nAuthed >= h.opts.MaxSubscribers {
		return false
	}
	h.nWait--
	h.nAuthed++
	c.counted = countedSubscriber
	return true
}

func (h *Hub) countDisconnect(reason string) {
	h.st.disconnects.Add(1)
	h.st.byReason[reasonIndex(reason)].Add(1)
	if reason == ReasonAuth {
		h.st.authFail.Add(1)
	}
}

// addSub makes c receive frames (copy-on-write of the subscriber list).
func (h *Hub) addSub(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := *h.subs.Load()
	for _, x := range old {
		if x == c {
			return
		}
	}
	next := make([]*conn, len(old), len(old)+1)
	copy(next, old)
	next = append(next, c)
	h.subs.Store(&next)
}

func (h *Hub) removeSub(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := *h.subs.Load()
	next := make([]*conn, 0, len(old))
	for _, x := range old {
		if x != c {
			next = append(next, x)
		}
	}
	h.subs.Store(&next)
}
