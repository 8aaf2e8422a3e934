package telemetry

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// LoadOptions configure a load generator: many subscribers on one stream.
type LoadOptions struct {
	// URL of the stream (see WebSocketURL).
	URL string
	// Token authenticates every client (empty: none).
	Token string
	// Clients is the number of subscribers that read everything.
	Clients int
	// Stalled is the number of extra subscribers that subscribe to every
	// topic at the full rate and never read (their receive buffers are
	// tiny): the server must drop them without hurting the others.
	Stalled int
	// Topics of the reading clients (default perf and player).
	Topics []string
	// RateHz of every topic (default 90).
	RateHz float64
	// Decimate is the particle decimation of bodies subscriptions (default 1).
	Decimate int
}

// LoadResult is what a load generator saw.
type LoadResult struct {
	Clients   int    `json:"clients"`
	Stalled   int    `json:"stalled"`
	Frames    uint64 `json:"frames"` // messages received by the reading clients
	Bytes     uint64 `json:"bytes"`
	Failures  int    `json:"failures"` // reading clients whose connection ended early
	LastError string `json:"last_error,omitempty"`
}

// Load is a running load generator (StartLoad).
type Load struct {
	opts    LoadOptions
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	clients []*loadClient
	stalled []*websocket.Conn
	mu      sync.Mutex
	fails   int
	lastErr string
}

type loadClient struct {
	ws     *websocket.Conn
	frames atomic.Uint64
	bytes  atomic.Uint64
	_      [48]byte // keep hot counters of different clients apart
}

// StartLoad connects every client, subscribes it and starts its reader;
// it returns once all are subscribed (or fails, closing those connected).
func StartLoad(ctx context.Context, opts LoadOptions) (*Load, error) {
	if len(opts.Topics) == 0 {
		opts.Topics = []string{TopicPerf, TopicPlayer}
	}
	if !(opts.RateHz > 0) {
		opts.RateHz = DefaultRate
	}
	opts.Decimate = max(opts.Decimate, 1)
	u, err := WebSocketURL(opts.URL)
	if err != nil {
		return nil, err
	}
	opts.URL = u
	runCtx, cancel := context.WithCancel(ctx)
	l := &Load{opts: opts, cancel: cancel, clients: make([]*loadClient, opts.Clients)}
	// Connect in parallel, a few at a time.
	sem := make(chan struct{}, 16)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for i := range opts.Clients {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ws, err := l.connect(ctx, opts.Topics, false)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			l.clients[i] = &loadClient{ws: ws}
		})
	}
	for range opts.Stalled {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ws, err := l.connect(ctx, Topics(), true)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			l.stalled = append(l.stalled, ws)
		})
	}
	wg.Wait()
	if firstErr != nil {
		l.closeAll()
		cancel()
		return nil, fmt.Errorf("telemetry: load: %w", firstErr)
	}
	for _, c := range l.clients {
		l.wg.Go(func() { l.read(runCtx, c) })
	}
	return l, nil
}

// connect dials one subscriber; a stalled one gets a tiny receive buffer.
func (l *Load) connect(ctx context.Context, topics []string, stalled bool) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: []string{Subprotocol}}
	if l.opts.Token != "" {
		d.Subprotocols = append(d.Subprotocols, BearerPrefix+l.opts.Token)
	}
	if stalled {
		var nd net.Dialer
		d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := nd.DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(4096)
			}
			return c, err
		}
	}
	ws, _, err := d.DialContext(ctx, l.opts.URL, nil)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(256 << 20)
	fail := func(err error) (*websocket.Conn, error) {
		_ = ws.Close()
		return nil, err
	}
	_ = ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	if err := expect(ws, MsgAuthSuccess); err != nil {
		return fail(err)
	}
	if stalled || l.opts.Decimate > 1 {
		req := map[string]any{"type": MsgConfigure, "decimate": l.opts.Decimate}
		if err := ws.WriteJSON(req); err != nil {
			return fail(err)
		}
		if err := expect(ws, MsgConfigured); err != nil {
			return fail(err)
		}
	}
	if err := ws.WriteJSON(map[string]any{"type": MsgSubscribe, "topics": topics, "rate_hz": l.opts.RateHz}); err != nil {
		return fail(err)
	}
	if err := expect(ws, MsgSubscribed); err != nil {
		return fail(err)
	}
	_ = ws.SetReadDeadline(time.Time{})
	return ws, nil
}

// expect reads messages until one of type want; an error message fails.
func expect(ws *websocket.Conn, want string) error {
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return err
		}
		var m Message
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		switch m.Type {
		case want:
			return nil
		case MsgError:
			return fmt.Errorf("server error %s: %s", m.Code, m.Message)
		}
	}
}

// read counts the messages of one client until its connection ends.
func (l *Load) read(ctx context.Context, c *loadClient) {
	stop := context.AfterFunc(ctx, func() { _ = c.ws.NetConn().Close() })
	defer stop()
	buf := make([]byte, 32<<10)
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			if ctx.Err() == nil {
				l.mu.Lock()
				l.fails++
				l.lastErr = err.Error()
				l.mu.Unlock()
			}
			return
		}
		var n int
		for {
			k, err := r.Read(buf)
			n += k
			if err != nil {
				break
			}
		}
		c.frames.Add(1)
		c.bytes.Add(uint64(n))
	}
}

// Frames returns the messages the reading clients received so far.
func (l *Load) Frames() (frames, bytes uint64) {
	for _, c := range l.clients {
		frames += c.frames.Load()
		bytes += c.bytes.Load()
	}
	return frames, bytes
}

// Stop closes every connection, waits for the readers and returns the
// totals.
func (l *Load) Stop() LoadResult {
	l.cancel()
	l.wg.Wait()
	l.closeAll()
	f, b := l.Frames()
	l.mu.Lock()
	defer l.mu.Unlock()
	return LoadResult{Clients: l.opts.Clients, Stalled: l.opts.Stalled, Frames: f, Bytes: b, Failures: l.fails, LastError: l.lastErr}
}

func (l *Load) closeAll() {
	for _, c := range l.clients {
		if c != nil {
			_ = c.ws.Close()
		}
	}
	for _, ws := range l.stalled {
		_ = ws.Close()
	}
}

// LoadMain is the body of a load-generator process (for
// BenchOptions.LoadCommand; the CLI runs it as a hidden subcommand). Flags:
// --url, --token, --clients, --stalled, --topics (comma-separated),
// --rate, --decimate. Once every client is subscribed it prints
// {"ready":true} on stdout; then, for each "mark" line on stdin, one line
// {"frames":N,"bytes":B}; at end of stdin (or "stop") it prints the
// LoadResult and returns.
func LoadMain(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("telemetry-load", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o LoadOptions
	var topics string
	fs.StringVar(&o.URL, "url", "", "stream URL")
	fs.StringVar(&o.Token, "token", "", "bearer token")
	fs.IntVar(&o.Clients, "clients", 100, "reading subscribers")
	fs.IntVar(&o.Stalled, "stalled", 0, "subscribers that never read")
	fs.StringVar(&topics, "topics", "perf,player", "comma-separated topics")
	fs.Float64Var(&o.RateHz, "rate", DefaultRate, "rate of every topic, Hz")
	fs.IntVar(&o.Decimate, "decimate", 1, "particle decimation")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("telemetry-load: %w", err)
	}
	o.Topics = splitTopics(topics)
	l, err := StartLoad(ctx, o)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	if err := enc.Encode(map[string]any{"ready": true, "clients": o.Clients, "stalled": o.Stalled}); err != nil {
		l.Stop()
		return err
	}
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "stop" {
			break
		}
		if line == "mark" {
			f, b := l.Frames()
			if err := enc.Encode(map[string]uint64{"frames": f, "bytes": b}); err != nil {
				break
			}
		}
	}
	return enc.Encode(l.Stop())
}

// splitTopics splits a comma-separated topic list, dropping blanks.
func splitTopics(s string) []string {
	var out []string
	for t := range strings.SplitSeq(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// errLoadProtocol: the load-generator process said something unexpected.
var errLoadProtocol = errors.New("telemetry: load generator protocol error")
