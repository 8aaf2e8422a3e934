package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/spacetime-vr/spacetime/internal/engine"
)

// topicConfig is one topic of a connection's subscription.
type topicConfig struct {
	on   bool
	rate float64 // Hz, 0 < rate ≤ tick rate (0 for events: as they happen)
	gen  uint64  // changes at every (re)subscription: the schedule restarts
}

// subConfig is a connection's subscription, immutable once published.
type subConfig struct {
	topics    [numTopics]topicConfig
	decimate  int    // ≥ 1
	format    string // FormatBinary or FormatJSON
	particles bool
	gen       uint64 // changes at every configure
}

// schedState is the poll goroutine's schedule of one topic of a conn.
type schedState struct {
	gen  uint64
	next float64 // tick at which the next frame is due
}

// conn is one WebSocket connection. Its reader runs on the HTTP handler's
// goroutine (ServeHTTP), its writer on its own; the poll goroutine and
// Publish push to q. Only the writer calls ws's write methods
// (WritePreparedMessage, WriteMessage, SetWriteDeadline); WriteControl,
// which gorilla serialises with them, is called by the writer (pings, the
// close frame) and by gorilla's reader (pongs, the close of a protocol
// violation).
type conn struct {
	h  *Hub
	ws *websocket.Conn
	// nc is ws's socket, used only to interrupt a blocked write (a
	// deadline set from kick) and to close; every byte goes through ws.
	nc     net.Conn
	cork   corker
	remote string
	q      *sendQueue
	cfg    atomic.Pointer[subConfig]
	prin   atomic.Pointer[Principal]

	kill       chan struct{}
	killOnce   sync.Once
	killed     atomic.Bool
	killCode   int
	killText   string
	killReason string
	readerDone chan struct{}
	writerDone chan struct{}
	writeEnd   string // set by the writer before writerDone when a write failed
	dropped    atomic.Uint64

	// counted says which cap of the hub the connection counts against
	// (guarded by the hub's mu).
	counted connCount

	// Owned by the reader.
	authed     bool
	fullAtAuth bool // refused at authentication: MaxSubscribers reached
	anonymous  bool // admitted without a credential (AuthRequired false)
	gen        uint64
	tokens     float64
	bucketAt   time.Time
	overLimit  int
	buf        []byte

	// Owned by the poll goroutine (Step, under pollMu).
	sched        [numTopics]schedState
	sentMeta     bool
	sentMetaGen  uint64
	sentMetaCfg  uint64
	sentPart     bool
	sentPartTick uint64
	sentPartCfg  uint64
	sentPartMeta uint64
}

func newConn(h *Hub, ws *websocket.Conn, r *http.Request) *conn {
	c := &conn{
		h:          h,
		ws:         ws,
		nc:         ws.NetConn(),
		cork:       newCorker(ws.NetConn()),
		remote:     r.RemoteAddr,
		q:          newSendQueue(h.opts.SendQueue, maxCtrl),
		kill:       make(chan struct{}),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	c.cfg.Store(&subConfig{decimate: 1, format: FormatBinary, particles: true})
	return c
}

func (c *conn) principalID() string {
	if p := c.prin.Load(); p != nil {
		return p.ID
	}
	return ""
}

// due reports whether topic t is due at tick (perTick: engine ticks per
// second) and advances its schedule.
func (c *conn) due(t int, tc *topicConfig, tick uint64, perTick float64) bool {
	sc := &c.sched[t]
	ft := float64(tick)
	interval := max(perTick/tc.rate, 1)
	if sc.gen != tc.gen || sc.next > ft+2*interval+1 {
		// A new subscription (or the tick count went back): due now.
		sc.gen, sc.next = tc.gen, ft
	}
	if ft < sc.next {
		return false
	}
	sc.next += interval
	if sc.next <= ft {
		sc.next = ft + interval
	}
	return true
}

// kick asks the connection to close with code and text; reason is what
// Stats counts. Non-blocking; the first call wins and reports true.
func (c *conn) kick(code int, text, reason string) bool {
	first := false
	c.killOnce.Do(func() {
		c.killCode, c.killText, c.killReason = code, text, reason
		c.killed.Store(true)
		close(c.kill)
		first = true
		if code == CloseTooSlow {
			c.q.close() // nothing more for it, nothing more counted as dropped
		}
		if code == CloseTooSlow || code == CloseGoingAway {
			// Unblock a write stuck on a reader that does not read.
			_ = c.nc.SetWriteDeadline(time.Now().Add(closeGrace))
		}
	})
	return first
}

// ServeHTTP upgrades the request to the telemetry WebSocket and serves it
// until either side closes. Mount it on /telemetry of the telemetry
// listener and of the API listener. A request that is not a WebSocket
// upgrade gets 426; after Close, 503.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "telemetry: this endpoint speaks WebSocket (subprotocol "+Subprotocol+")", http.StatusUpgradeRequired)
		return
	}
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		http.Error(w, "telemetry: shutting down", http.StatusServiceUnavailable)
		return
	}
	pre := h.preAuth(r)
	ws, err := h.upgrader.Upgrade(hijacker(w), r, nil)
	if err != nil {
		h.log.Debug("telemetry upgrade failed", "remote", r.RemoteAddr, "err", err)
		return // the upgrader answered with an HTTP error
	}
	c := newConn(h, ws, r)
	if ok, reason := h.track(c, pre.ok || (pre.err == nil && !h.opts.AuthRequired)); !ok {
		h.refuseConn(ws, reason)
		return
	}
	if h.opts.SendBuffer > 0 {
		if tc, ok := c.nc.(*net.TCPConn); ok {
			_ = tc.SetWriteBuffer(h.opts.SendBuffer)
		}
	}
	h.log.Debug("telemetry connection opened", "remote", c.remote)
	go c.writeLoop()
	reason := c.readLoop(r.Context(), pre)
	close(c.readerDone)
	if !c.killed.Load() {
		// The client closed or the connection failed: nothing more can be
		// delivered, so unblock the writer at once.
		_ = c.nc.Close()
	}
	<-c.writerDone
	_ = ws.Close()
	c.q.close()
	switch {
	case c.killed.Load():
		reason = c.killReason
	case c.writeEnd != "" && reason == ReasonError:
		// The writer failed first (and closed the socket under the reader).
		reason = c.writeEnd
	}
	h.untrack(c, reason)
	h.log.Debug("telemetry connection closed", "remote", c.remote, "principal", c.principalID(),
		"reason", reason, "dropped", c.dropped.Load())
}

// refuseConn closes a connection the hub cannot take (closed or full).
func (h *Hub) refuseConn(ws *websocket.Conn, reason string) {
	code, text, ecode, msg := CloseGoingAway, "server shutting down", CodeInternal, "the server is shutting down"
	if reason == ReasonFull {
		code, text, ecode = CloseTryAgainLater, "too many subscribers", CodeTooManyClients
		msg = fmt.Sprintf("the server has its maximum of %d telemetry connections; try again later", h.opts.MaxSubscribers)
	}
	h.countDisconnect(reason)
	deadline := time.Now().Add(closeGrace)
	_ = ws.SetWriteDeadline(deadline)
	_ = ws.WriteMessage(websocket.TextMessage, errorMessage(ecode, msg, nil))
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), deadline)
	_ = ws.Close()
}

// hijacker unwraps middleware response writers (Unwrap, as
// http.ResponseController does) down to one that can be hijacked.
func hijacker(w http.ResponseWriter) http.ResponseWriter {
	for {
		if _, ok := w.(http.Hijacker); ok {
			return w
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}

// preAuth is the outcome of the credentials of the upgrade request.
type preAuth struct {
	p      Principal
	ok     bool
	method string
	err    *protoError
}

// preAuth checks a bearer token offered as subprotocol "bearer.<token>",
// else a ?ticket=. A credential that is presented and fails is an error
// even when authentication is not required.
func (h *Hub) preAuth(r *http.Request) preAuth {
	for _, p := range websocket.Subprotocols(r) {
		if tok, ok := strings.CutPrefix(p, BearerPrefix); ok {
			pr, err := h.authenticate(r.Context(), tok)
			if err != nil {
				return preAuth{err: err}
			}
			return preAuth{p: pr, ok: true, method: "bearer"}
		}
	}
	if t := r.URL.Query().Get("ticket"); t != "" {
		if h.opts.Tickets == nil {
			return preAuth{err: perr(CodeAuthFailed, "tickets are not enabled on this server")}
		}
		p, ok := h.opts.Tickets.Redeem(t)
		if !ok {
			return preAuth{err: perr(CodeAuthFailed, "the ticket is unknown, expired or already used")}
		}
		return preAuth{p: p, ok: true, method: "ticket"}
	}
	return preAuth{}
}

func (h *Hub) authenticate(ctx context.Context, token string) (Principal, *protoError) {
	if token == "" {
		return Principal{}, perr(CodeAuthFailed, "empty token")
	}
	if h.opts.Auth == nil {
		return Principal{}, perr(CodeAuthFailed, "token authentication is not configured")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	p, err := h.opts.Auth.AuthenticateToken(ctx, token)
	if err != nil {
		h.log.Debug("telemetry token refused", "err", err)
		return Principal{}, perr(CodeAuthFailed, "the token was refused")
	}
	return p, nil
}

// readLoop authenticates the connection, then reads and handles client
// messages until the connection fails or is refused; it returns the
// disconnect reason.
func (c *conn) readLoop(ctx context.Context, pre preAuth) string {
	h, ws := c.h, c.ws
	ws.SetReadLimit(MaxMessageBytes)
	pongWait := h.opts.PingInterval * 5 / 2
	ws.SetPongHandler(func(string) error {
		if c.authed {
			return ws.SetReadDeadline(time.Now().Add(pongWait))
		}
		return nil
	})
	// gorilla serialises WriteControl with the writer's writes. A failed
	// pong is not the reader's concern: a dead connection fails the next
	// read or write anyway.
	ws.SetPingHandler(func(data string) error {
		_ = ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(closeGrace))
		return nil
	})
	// The writer echoes the client's close (after kick, below).
	ws.SetCloseHandler(func(int, string) error { return nil })
	switch {
	case pre.err != nil:
		c.refuse(pre.err.code, pre.err.msg, nil, CloseUnauthorized)
		return ReasonAuth
	case pre.ok:
		if !c.authenticated(pre.p, pre.method, nil) {
			return c.refusedReason()
		}
	case !h.opts.AuthRequired:
		if !c.authenticated(h.opts.Anonymous, "anonymous", nil) {
			return c.refusedReason()
		}
	default:
		_ = ws.SetReadDeadline(time.Now().Add(h.opts.AuthTimeout))
	}
	for {
		typ, data, err := ws.ReadMessage()
		if err != nil {
			if !c.authed && isTimeout(err) && !c.killed.Load() {
				c.refuse(CodeAuthTimeout, fmt.Sprintf("no auth message within %s", h.opts.AuthTimeout), nil, CloseUnauthorized)
				return ReasonAuth
			}
			reason := classify(err)
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
				// Echo the client's close; the writer sends it.
				c.kick(websocket.CloseNormalClosure, "", reason)
			}
			return reason
		}
		if c.authed {
			_ = ws.SetReadDeadline(time.Now().Add(pongWait))
		}
		if !c.allow(h.opts.Now()) {
			c.overLimit++
			if c.overLimit > int(4*h.opts.MessageRate) {
				c.kick(ClosePolicy, "too many messages", ReasonAbuse)
				return ReasonAbuse
			}
			c.replyError(CodeRateLimited, fmt.Sprintf("more than %g messages per second", h.opts.MessageRate), nil)
			continue
		}
		c.overLimit = 0
		if typ != websocket.TextMessage {
			c.replyError(CodeBadRequest, "binary messages are not accepted; send JSON text", nil)
			continue
		}
		if stop := c.handle(ctx, data); stop {
			return c.refusedReason()
		}
	}
}

// refusedReason is the disconnect reason of a connection refused while
// it authenticated.
func (c *conn) refusedReason() string {
	if c.fullAtAuth {
		return ReasonFull
	}
	return ReasonAuth
}

// connCount says which of the hub's caps a connection counts against.
type connCount uint8

const (
	countedNone       connCount = iota
	countedWaiting              // waiting for its auth message (MaxPending)
	countedSubscriber           // authenticated (MaxSubscribers)
)

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// classify maps a read error to a disconnect reason.
func classify(err error) string {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce):
		if ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway {
			return ReasonClient
		}
		return ReasonError
	case errors.Is(err, websocket.ErrReadLimit):
		return ReasonAbuse
	case isTimeout(err):
		return ReasonTimeout
	}
	return ReasonError
}

// allow is the token bucket of client messages.
func (c *conn) allow(now time.Time) bool {
	rate := c.h.opts.MessageRate
	burst := 2 * rate
	if c.bucketAt.IsZero() {
		c.tokens = burst
	} else if d := now.Sub(c.bucketAt); d > 0 {
		c.tokens = min(burst, c.tokens+d.Seconds()*rate)
	}
	c.bucketAt = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// reply queues a message for this connection alone.
func (c *conn) reply(b []byte) {
	c.h.enqueue(c, c.h.opts.Now(), outItem{text: b, size: len(b), ctrl: true})
}

func (c *conn) replyError(code, msg string, id json.RawMessage) {
	c.h.st.protoErr.Add(1)
	c.reply(errorMessage(code, msg, id))
}

// refuse sends an error and closes the connection with closeCode.
func (c *conn) refuse(code, msg string, id json.RawMessage, closeCode int) {
	c.replyError(code, msg, id)
	text, reason := "unauthorized", ReasonAuth
	switch closeCode {
	case CloseForbidden:
		text = "forbidden"
	case CloseTryAgainLater:
		text, reason = "too many subscribers", ReasonFull
	}
	c.kick(closeCode, text, reason)
}

// authenticated admits p (unless Authorize refuses it) and answers
// auth_success; false when the connection is refused.
func (c *conn) authenticated(p Principal, method string, id json.RawMessage) bool {
	h := c.h
	if h.opts.Authorize != nil {
		if err := h.opts.Authorize(p); err != nil {
			c.refuse(CodeForbidden, "this principal may not read telemetry", id, CloseForbidden)
			return false
		}
	}
	if !c.authed && !h.promote(c) {
		c.fullAtAuth = true
		c.refuse(CodeTooManyClients, fmt.Sprintf("the server has its maximum of %d telemetry subscribers; try again later", h.opts.MaxSubscribers), id, CloseTryAgainLater)
		return false
	}
	c.prin.Store(&p)
	first := !c.authed
	c.authed = true
	c.anonymous = method == "anonymous"
	_ = c.ws.SetReadDeadline(time.Now().Add(h.opts.PingInterval * 5 / 2))
	b := jbuf(make([]byte, 0, 192))
	b = append(b, '{')
	b = b.str("type", MsgAuthSuccess).str("principal", p.ID).str("role", p.Role).str("method", method)
	b = b.str("protocol", Subprotocol)
	b = appendRounded(b.key("tick_rate"), h.tickRate(h.opts.Source.Snapshot()), 0)
	if len(id) > 0 {
		b = b.raw("id", id)
	}
	c.reply(append(b, '}'))
	if first {
		h.addSub(c)
	}
	return true
}

// handle answers one client message; true when the connection is refused.
func (c *conn) handle(ctx context.Context, data []byte) bool {
	var m clientMsg
	if err := json.Unmarshal(data, &m); err != nil {
		c.replyError(CodeBadJSON, "the message is not a JSON object: "+jsonErrText(err), nil)
		return false
	}
	id := m.ID
	if len(id) > 256 {
		c.replyError(CodeBadRequest, "id is longer than 256 bytes", nil)
		return false
	}
	if m.Type == MsgAuth {
		p, err := c.h.authenticate(ctx, m.Token)
		if err != nil {
			c.refuse(err.code, err.msg, id, CloseUnauthorized)
			return true
		}
		return !c.authenticated(p, "message", id)
	}
	if !c.authed {
		c.refuse(CodeNotAuthenticated, `authenticate first: {"type":"auth","token":"..."}`, id, CloseUnauthorized)
		return true
	}
	var err *protoError
	switch m.Type {
	case MsgSubscribe:
		err = c.subscribe(m)
	case MsgUnsubscribe:
		err = c.unsubscribe(m)
	case MsgConfigure:
		err = c.configure(m)
	case MsgGetSnapshot:
		err = c.getSnapshot(m)
	case MsgPing:
		c.pong(id)
	case MsgVRState:
		var v VRState
		var active bool
		if v, active, err = parseVRState(data); err == nil {
			c.h.vr.report(c, v, active)
			c.ack(id)
		}
	case MsgInput:
		if err = c.input(m); err == nil {
			c.ack(id)
		}
	case "":
		err = perr(CodeUnknownType, "the message has no type")
	default:
		err = perr(CodeUnknownType, "unknown message type %q (auth, subscribe, unsubscribe, get_snapshot, configure, ping, vr_state, input)", m.Type)
	}
	if err != nil {
		c.replyError(err.code, err.msg, id)
	}
	return false
}

func jsonErrText(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	}
	return "invalid JSON"
}

// topicIndices resolves topic names; every one must be known.
func topicIndices(names []string, allowEvents bool) ([]int, *protoError) {
	if len(names) == 0 {
		return nil, perr(CodeBadRequest, "topics is required (perf, player, vr, bodies, events)")
	}
	out := make([]int, 0, len(names))
	for _, n := range names {
		i := topicIndex(n)
		if i < 0 {
			return nil, perr(CodeUnknownTopic, "unknown topic %q (perf, player, vr, bodies, events)", n)
		}
		if i == topicEventsI && !allowEvents {
			return nil, perr(CodeBadRequest, "events has no snapshot; subscribe to it")
		}
		out = append(out, i)
	}
	return out, nil
}

func (c *conn) subscribe(m clientMsg) *protoError {
	idx, err := topicIndices(m.Topics, true)
	if err != nil {
		return err
	}
	h := c.h
	maxRate := h.tickRate(h.opts.Source.Snapshot())
	if m.RateHz != nil && !(*m.RateHz > 0) {
		return perr(CodeBadRate, "rate_hz must be greater than 0 (at most %g)", maxRate)
	}
	h.pollMu.Lock()
	defer h.pollMu.Unlock()
	n := *c.cfg.Load()
	b := jbuf(make([]byte, 0, 160))
	b = append(b, '{')
	b = b.str("type", MsgSubscribed).openArr("topics")
	for _, i := range idx {
		rate := defaultRateHz(i)
		if m.RateHz != nil {
			rate = *m.RateHz
		}
		if rate <= 0 || rate > maxRate {
			rate = maxRate
		}
		if i == topicEventsI {
			rate = 0 // as they happen
		}
		c.gen++
		n.topics[i] = topicConfig{on: true, rate: rate, gen: c.gen}
		b = b.sep()
		b = append(b, '{')
		b = b.str("topic", topicName(i)).num("rate_hz", rate)
		b = append(b, '}')
	}
	b = append(b, ']')
	if len(m.ID) > 0 {
		b = b.raw("id", m.ID)
	}
	// The acknowledgement goes first: no frame or event of the new
	// configuration can precede it (Step waits on pollMu, Publish reads
	// the configuration stored after it).
	c.reply(append(b, '}'))
	c.cfg.Store(&n)
	return nil
}

func (c *conn) unsubscribe(m clientMsg) *protoError {
	idx, err := topicIndices(m.Topics, true)
	if err != nil {
		return err
	}
	h := c.h
	h.pollMu.Lock()
	defer h.pollMu.Unlock()
	n := *c.cfg.Load()
	b := jbuf(make([]byte, 0, 96))
	b = append(b, '{')
	b = b.str("type", MsgUnsubscribed).openArr("topics")
	for _, i := range idx {
		n.topics[i] = topicConfig{}
		b = appendJSONString(b.sep(), topicName(i))
	}
	b = append(b, ']')
	if len(m.ID) > 0 {
		b = b.raw("id", m.ID)
	}
	// Stored first: nothing of these topics follows the acknowledgement.
	c.cfg.Store(&n)
	c.reply(append(b, '}'))
	return nil
}

// maxDecimate bounds configure's decimate.
const maxDecimate = 1_000_000

func (c *conn) configure(m clientMsg) *protoError {
	if m.Decimate == nil && m.BodiesFormat == nil && m.Particles == nil {
		return perr(CodeBadRequest, "configure needs decimate, bodies_format or particles")
	}
	if m.Decimate != nil && (*m.Decimate < 1 || *m.Decimate > maxDecimate) {
		return perr(CodeBadRequest, "decimate must be between 1 and %d", maxDecimate)
	}
	if m.BodiesFormat != nil && *m.BodiesFormat != FormatBinary && *m.BodiesFormat != FormatJSON {
		return perr(CodeBadRequest, "bodies_format must be %q or %q", FormatBinary, FormatJSON)
	}
	h := c.h
	h.pollMu.Lock()
	defer h.pollMu.Unlock()
	n := *c.cfg.Load()
	if m.Decimate != nil {
		n.decimate = *m.Decimate
	}
	if m.BodiesFormat != nil {
		n.format = *m.BodiesFormat
	}
	if m.Particles != nil {
		n.particles = *m.Particles
	}
	c.gen++
	n.gen = c.gen
	b := jbuf(make([]byte, 0, 128))
	b = append(b, '{')
	b = b.str("type", MsgConfigured).int("decimate", int64(n.decimate)).str("bodies_format", n.format).boolean("particles", n.particles)
	if len(m.ID) > 0 {
		b = b.raw("id", m.ID)
	}
	// The acknowledgement goes first: no frame or event of the new
	// configuration can precede it (Step waits on pollMu, Publish reads
	// the configuration stored after it).
	c.reply(append(b, '}'))
	c.cfg.Store(&n)
	return nil
}

// getSnapshot answers the latest snapshot of the asked topics (default:
// perf, player, vr, bodies) in one JSON message; bodies in the json form
// without particles.
func (c *conn) getSnapshot(m clientMsg) *protoError {
	idx := []int{topicPerfI, topicPlayerI, topicVRI, topicBodiesI}
	if len(m.Topics) > 0 {
		var err *protoError
		if idx, err = topicIndices(m.Topics, false); err != nil {
			return err
		}
	}
	h := c.h
	s := h.opts.Source.Snapshot()
	b := appendSnapshot(jbuf(c.buf[:0]), h, s, idx, m.ID)
	c.buf = b[:0]
	c.reply(append([]byte(nil), b...))
	return nil
}

func appendSnapshot(b jbuf, h *Hub, s *engine.Snapshot, idx []int, id json.RawMessage) jbuf {
	b = append(b, '{')
	b = b.str("type", MsgSnapshot).uint("tick", s.Tick)
	b = appendRounded(b.key("timestamp"), unixSeconds(s.WallTime), 3)
	if len(id) > 0 {
		b = b.raw("id", id)
	}
	b = b.open("data")
	for _, i := range idx {
		switch i {
		case topicPerfI:
			b = appendPerf(b.key(TopicPerf), s, h.extras(len(*h.subs.Load())))
		case topicPlayerI:
			b = appendPlayer(b.key(TopicPlayer), s)
		case topicVRI:
			b = appendVR(b.key(TopicVR), h.VR(), s.Tick)
		case topicBodiesI:
			b = appendBodies(b.key(TopicBodies), s, bodiesVariant{format: FormatJSON, decimate: 1})
		}
	}
	b = append(b, '}')
	return append(b, '}')
}

// ack acknowledges a vr_state or input message that carried an id
// (without one they get no reply unless refused).
func (c *conn) ack(id json.RawMessage) {
	if len(id) == 0 {
		return
	}
	b := jbuf(make([]byte, 0, 32+len(id)))
	b = append(b, '{')
	b = b.str("type", MsgAck).raw("id", id)
	c.reply(append(b, '}'))
}

func (c *conn) pong(id json.RawMessage) {
	s := c.h.opts.Source.Snapshot()
	b := jbuf(make([]byte, 0, 96))
	b = append(b, '{')
	b = b.str("type", MsgPong).uint("tick", s.Tick)
	b = appendRounded(b.key("timestamp"), unixSeconds(c.h.opts.Now()), 3)
	if len(id) > 0 {
		b = b.raw("id", id)
	}
	c.reply(append(b, '}'))
}

// writeLoop is the connection's only writer: it drains the queue with
// gorilla's WritePreparedMessage (shared stream frames) and WriteMessage
// (replies), pings with WriteControl, and runs the closing handshake when
// the connection is kicked.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	ping := time.NewTicker(c.h.opts.PingInterval)
	defer ping.Stop()
	var batch []outItem
	for {
		select {
		case <-c.kill:
			c.closing(batch)
			return
		case <-c.readerDone:
			if c.killed.Load() {
				c.closing(batch)
			}
			return
		case <-c.q.notify:
			batch = c.q.take(batch)
			if c.killed.Load() && c.killCode == CloseTooSlow {
				clear(batch)
				continue // the slow subscriber gets nothing more; kill is ready
			}
			if err := c.writeBatch(batch, c.h.opts.WriteTimeout); err != nil {
				c.writeFailed(err)
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, c.deadline(c.h.opts.WriteTimeout)); err != nil {
				c.writeFailed(err)
				return
			}
		}
	}
}

// deadline is the deadline of a write starting now: timeout, or less
// once the connection is being closed.
func (c *conn) deadline(timeout time.Duration) time.Time {
	if c.killed.Load() {
		timeout = min(timeout, closeGrace)
	}
	return time.Now().Add(timeout)
}

// writeBatch writes items in order, one message each, every write within
// timeout (less once the connection is being closed), and counts what was
// written.
func (c *conn) writeBatch(items []outItem, timeout time.Duration) error {
	var frames, bytes uint64
	var err error
	if len(items) > 1 {
		// One transmission for the batch, as gorilla writes each message
		// with its own write.
		c.cork.set(true)
		defer c.cork.set(false)
	}
	for i := range items {
		it := &items[i]
		if err = c.ws.SetWriteDeadline(c.deadline(timeout)); err != nil {
			break
		}
		if it.pm != nil {
			err = c.ws.WritePreparedMessage(it.pm)
		} else {
			err = c.ws.WriteMessage(websocket.TextMessage, it.text)
		}
		if err != nil {
			break
		}
		if it.stream {
			frames++
		}
		bytes += uint64(it.size)
	}
	clear(items)
	c.h.st.sent.Add(frames)
	c.h.st.bytes.Add(bytes)
	return err
}

// writeFailed records why the writer stopped and closes the socket so the
// reader ends too.
func (c *conn) writeFailed(err error) {
	c.writeEnd = ReasonError
	if isTimeout(err) {
		c.writeEnd = ReasonSlow
	}
	c.q.close()
	_ = c.nc.Close()
}

// closing delivers what is queued when it matters (the shutdown event, the
// error that explains a refusal), sends the close frame, waits briefly for
// the client's, and closes.
func (c *conn) closing(batch []outItem) {
	switch c.killCode {
	case CloseGoingAway, CloseUnauthorized, CloseForbidden:
		batch = c.q.take(batch)
		if err := c.writeBatch(batch, closeGrace); err != nil {
			c.q.close()
			_ = c.nc.Close()
			return
		}
	}
	c.q.close()
	_ = c.ws.WriteControl(websocket.CloseMessage, closePayload(c.killCode, c.killText), c.deadline(closeGrace))
	t := time.NewTimer(closeGrace)
	select {
	case <-c.readerDone:
	case <-t.C:
	}
	t.Stop()
	_ = c.nc.Close()
}
