package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// Message is one message from the server as a client sees it: a JSON text
// message (Type set, the common fields decoded, Raw the text) or a binary
// bodies frame (Type "binary", Frame set).
type Message struct {
	Type      string          `json:"type"`
	Event     string          `json:"event,omitempty"`
	Timestamp float64         `json:"timestamp,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	Code      string          `json:"code,omitempty"`
	Message   string          `json:"message,omitempty"`
	Principal string          `json:"principal,omitempty"`
	Role      string          `json:"role,omitempty"`
	Tick      uint64          `json:"tick,omitempty"`
	// Raw is the message as received.
	Raw []byte `json:"-"`
	// Frame is the decoded binary bodies frame (Type "binary").
	Frame *BodiesFrame `json:"-"`
}

// MsgBinary is the Type of a Message holding a binary bodies frame.
const MsgBinary = "binary"

// Client is a connection to a telemetry stream. Next and Send may be
// called from different goroutines, but neither from two at once.
type Client struct {
	ws *websocket.Conn
	// Principal is who the server says we are.
	Principal Principal
	pending   []Message
}

// WebSocketURL turns what a user types (host:port, http://host:port,
// ws://host:port/telemetry) into the stream's ws:// or wss:// URL, path
// /telemetry unless one is given.
func WebSocketURL(raw string) (string, error) {
	if !strings.Contains(raw, "://") {
		raw = "ws://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("telemetry: url %q: %w", raw, err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("telemetry: url %q: scheme %q (want ws, wss, http or https)", raw, u.Scheme)
	}
	if u.Host == "" {
		return "", fmt.Errorf("telemetry: url %q has no host", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/telemetry"
	}
	return u.String(), nil
}

// Dial connects to the stream at rawURL (see WebSocketURL), authenticating
// with token when it is not empty (subprotocol "bearer.<token>"), waits for
// auth_success and, when topics is not empty, subscribes to them at rateHz
// (0: each topic's default rate) and waits for the acknowledgement. A
// refused credential is an error wrapping ErrUnauthorized.
func Dial(ctx context.Context, rawURL, token string, topics []string, rateHz float64) (*Client, error) {
	u, err := WebSocketURL(rawURL)
	if err != nil {
		return nil, err
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: []string{Subprotocol}}
	if token != "" {
		d.Subprotocols = append(d.Subprotocols, BearerPrefix+token)
	}
	ws, resp, err := d.DialContext(ctx, u, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("telemetry: dial %s: %w (HTTP %s)", u, err, resp.Status)
		}
		return nil, fmt.Errorf("telemetry: dial %s: %w", u, err)
	}
	ws.SetReadLimit(256 << 20)
	c := &Client{ws: ws}
	m, err := c.await(ctx, MsgAuthSuccess)
	if err != nil {
		_ = ws.Close()
		return nil, err
	}
	c.Principal = Principal{ID: m.Principal, Role: m.Role}
	if len(topics) > 0 {
		req := map[string]any{"type": MsgSubscribe, "topics": topics}
		if rateHz > 0 {
			req["rate_hz"] = rateHz
		}
		if err := c.Send(req); err != nil {
			_ = ws.Close()
			return nil, err
		}
		if _, err := c.await(ctx, MsgSubscribed); err != nil {
			_ = ws.Close()
			return nil, err
		}
	}
	return c, nil
}

// await reads until a message of type want (other messages are kept for
// Next); an error message fails.
func (c *Client) await(ctx context.Context, want string) (Message, error) {
	for {
		m, err := c.read(ctx)
		if err != nil {
			return m, err
		}
		switch m.Type {
		case want:
			return m, nil
		case MsgError:
			err := fmt.Errorf("telemetry: server error %s: %s", m.Code, m.Message)
			if isAuthCode(m.Code) {
				err = fmt.Errorf("%w: %s: %s", ErrUnauthorized, m.Code, m.Message)
			}
			return m, err
		}
		c.pending = append(c.pending, m)
	}
}

func isAuthCode(code string) bool {
	switch code {
	case CodeAuthFailed, CodeAuthTimeout, CodeNotAuthenticated, CodeForbidden:
		return true
	}
	return false
}

// Next returns the next message. ctx ending closes the connection.
func (c *Client) Next(ctx context.Context) (Message, error) {
	if len(c.pending) > 0 {
		m := c.pending[0]
		c.pending = c.pending[1:]
		return m, nil
	}
	return c.read(ctx)
}

func (c *Client) read(ctx context.Context) (Message, error) {
	stop := context.AfterFunc(ctx, func() { _ = c.ws.NetConn().Close() })
	typ, data, err := c.ws.ReadMessage()
	stop()
	if err != nil {
		if ctx.Err() != nil {
			return Message{}, ctx.Err()
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) && (ce.Code == CloseUnauthorized || ce.Code == CloseForbidden) {
			return Message{}, fmt.Errorf("%w: connection closed: %d %s", ErrUnauthorized, ce.Code, ce.Text)
		}
		return Message{}, fmt.Errorf("telemetry: read: %w", err)
	}
	if typ == websocket.BinaryMessage {
		f, err := DecodeBodiesFrame(data)
		if err != nil {
			return Message{}, err
		}
		return Message{Type: MsgBinary, Event: TopicBodies, Tick: f.Tick, Raw: data, Frame: &f}, nil
	}
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		return Message{}, fmt.Errorf("telemetry: bad message from server: %w", err)
	}
	m.Raw = data
	return m, nil
}

// Send writes v as one JSON message.
func (c *Client) Send(v any) error {
	if err := c.ws.WriteJSON(v); err != nil {
		return fmt.Errorf("telemetry: send: %w", err)
	}
	return nil
}

// Close sends a normal close frame and closes the connection.
func (c *Client) Close() error {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	return c.ws.Close()
}

// Backoff is the reconnect schedule: Initial, doubling up to Max.
type Backoff struct {
	Initial time.Duration // default 1 s
	Max     time.Duration // default 30 s
}

// ClientOptions configure Watch.
type ClientOptions struct {
	// URL of the stream (see WebSocketURL).
	URL string
	// Token authenticates (empty: none).
	Token string
	// Topics to subscribe to (default perf and vr).
	Topics []string
	// RateHz of every topic (default 1 Hz; events come as they happen).
	RateHz float64
	// JSON prints each frame as received (binary frames as a JSON summary)
	// instead of the human lines.
	JSON bool
	// Out receives the output (required).
	Out io.Writer
	// Status receives connection status lines in JSON mode (nil: none);
	// in text mode they go to Out.
	Status io.Writer
	// Logger receives debug details (default: discard).
	Logger *slog.Logger
	// Backoff between reconnection attempts.
	Backoff Backoff
	// MaxEvents stops Watch after this many stream events (0: never).
	MaxEvents int
}

// Watch connects, subscribes and prints the stream until ctx ends (nil)
// or the server refuses the credential (an error wrapping
// ErrUnauthorized). It reconnects after any other failure, saying so
// ("Reconnecting in 2s..."), with exponential backoff.
//
// Text lines, as in the deployment guide:
//
//	Connected to telemetry stream
//	FPS: 90.0, Physics: 90.0, Memory: 142 MB
//	VR Headset: Not connected (desktop fallback)
func Watch(ctx context.Context, opts ClientOptions) error {
	if opts.Out == nil {
		return errors.New("telemetry: watch: no output")
	}
	if len(opts.Topics) == 0 {
		opts.Topics = []string{TopicPerf, TopicVR}
	}
	if !(opts.RateHz > 0) {
		opts.RateHz = 1
	}
	if opts.Backoff.Initial <= 0 {
		opts.Backoff.Initial = time.Second
	}
	if opts.Backoff.Max < opts.Backoff.Initial {
		opts.Backoff.Max = max(30*time.Second, opts.Backoff.Initial)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	status := opts.Out
	if opts.JSON {
		status = opts.Status
		if status == nil {
			status = io.Discard
		}
	}
	w := &watcher{opts: opts, status: status}
	delay := opts.Backoff.Initial
	for {
		c, err := Dial(ctx, opts.URL, opts.Token, opts.Topics, opts.RateHz)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			fmt.Fprintln(status, "Connected to telemetry stream")
			before := w.events
			err = w.stream(ctx, c)
			_ = c.Close()
			if ctx.Err() != nil || (opts.MaxEvents > 0 && w.events >= opts.MaxEvents) {
				return nil
			}
			if w.events > before {
				delay = opts.Backoff.Initial
			}
			fmt.Fprintf(status, "Disconnected: %v\n", err)
		} else {
			fmt.Fprintf(status, "Connection failed: %v\n", err)
		}
		if errors.Is(err, ErrUnauthorized) {
			return err
		}
		fmt.Fprintf(status, "Reconnecting in %s...\n", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, opts.Backoff.Max)
	}
}

type watcher struct {
	opts   ClientOptions
	status io.Writer
	events int
}

// stream prints messages until the connection fails or MaxEvents.
func (w *watcher) stream(ctx context.Context, c *Client) error {
	for {
		m, err := c.Next(ctx)
		if err != nil {
			return err
		}
		if m.Type == MsgEvent || m.Type == MsgBinary {
			w.events++
		}
		if w.opts.JSON {
			w.printJSON(m)
		} else {
			w.printText(m)
		}
		if w.opts.MaxEvents > 0 && w.events >= w.opts.MaxEvents {
			return nil
		}
	}
}

func (w *watcher) printJSON(m Message) {
	out := w.opts.Out
	if m.Frame == nil {
		fmt.Fprintf(out, "%s\n", m.Raw)
		return
	}
	f := m.Frame
	b, _ := json.Marshal(map[string]any{
		"type": MsgBinary, "event": TopicBodies, "magic": BodiesMagic, "version": f.Version,
		"tick": f.Tick, "sim_time": f.SimTime, "bodies": len(f.Bodies) / 3,
		"particles": len(f.Particles) / 3, "decimate": f.Decimate,
		"total_particles": f.TotalParticles, "particle_tick": f.ParticleTick, "bytes": len(m.Raw),
	})
	fmt.Fprintf(out, "%s\n", b)
}

func (w *watcher) printText(m Message) {
	out := w.opts.Out
	switch m.Type {
	case MsgError:
		fmt.Fprintf(out, "Error: %s: %s\n", m.Code, m.Message)
		return
	case MsgEvent:
	default:
		return
	}
	switch m.Event {
	case TopicPerf:
		var p PerfData
		if json.Unmarshal(m.Data, &p) == nil {
			fmt.Fprintln(out, PerfLine(p))
		}
	case TopicVR:
		var v VRState
		if json.Unmarshal(m.Data, &v) == nil {
			fmt.Fprintln(out, VRLine(v))
		}
	case TopicPlayer:
		var p PlayerData
		if json.Unmarshal(m.Data, &p) == nil {
			fmt.Fprintln(out, PlayerLine(p))
		}
	case TopicBodies:
		var b BodiesData
		if json.Unmarshal(m.Data, &b) == nil {
			fmt.Fprintf(out, "Bodies: %d bodies, %d particles (%s, tick %d)\n", len(b.Bodies), b.ParticleCount, b.Scene, b.Tick)
		}
	case TopicEvents:
		var e EventData
		if json.Unmarshal(m.Data, &e) == nil {
			if len(e.Detail) > 0 {
				fmt.Fprintf(out, "Event: %s %s\n", e.Kind, e.Detail)
			} else {
				fmt.Fprintf(out, "Event: %s\n", e.Kind)
			}
		}
	}
}

// PerfLine is the guide's perf line: "FPS: 90.0, Physics: 90.0, Memory: 142 MB".
func PerfLine(p PerfData) string {
	return fmt.Sprintf("FPS: %.1f, Physics: %.1f, Memory: %.0f MB", p.FPS, p.PhysicsFPS, p.MemoryMB)
}

// VRLine is the guide's headset line: "VR Headset: Connected, Position: (0,
// 1.6, 0)" or "VR Headset: Not connected (desktop fallback)".
func VRLine(v VRState) string {
	if !v.HeadsetConnected {
		if v.FallbackMode != "" {
			return fmt.Sprintf("VR Headset: Not connected (%s fallback)", v.FallbackMode)
		}
		return "VR Headset: Not connected"
	}
	if v.Headset == nil {
		return "VR Headset: Connected, Position: unknown"
	}
	p := v.Headset.Position
	return fmt.Sprintf("VR Headset: Connected, Position: (%s, %s, %s)", short(p.X), short(p.Y), short(p.Z))
}

// PlayerLine summarises a player event.
func PlayerLine(p PlayerData) string {
	if !p.Present {
		return "Player: none in this scene"
	}
	return fmt.Sprintf("Player: Position: (%s, %s, %s) m, Speed: %s m/s, Proper time: %.3f s, Lorentz: %.9f, Status: %s",
		short(p.Position.X), short(p.Position.Y), short(p.Position.Z), short(p.Speed), p.ProperTime, p.LorentzFactor, p.Status)
}

// short prints v rounded to millimetres, in the shortest form ("0", "1.6",
// "1.496e+11").
func short(v float64) string {
	if math.Abs(v) >= 1e7 {
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
	r := math.Round(v*1000) / 1000
	if r == 0 {
		r = 0 // no "-0"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}
