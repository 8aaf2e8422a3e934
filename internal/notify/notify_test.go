package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisURLEnv names the variable that points the tests at a Redis server.
const redisURLEnv = "SPACETIME_TEST_REDIS_URL"

// waitLimit bounds every wait for a notice; the tests never sleep.
const waitLimit = 5 * time.Second

// testConns records the connections a test client dials so a test can cut
// them (an outage that touches no one else's connections).
type testConns struct {
	mu    sync.Mutex
	conns []net.Conn
}

// cut closes every connection dialled so far.
func (tc *testConns) cut() {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for _, c := range tc.conns {
		c.Close()
	}
	tc.conns = nil
}

// redisClient returns a client of the test Redis and the connections it
// dials, skipping the test when no Redis is configured.
func redisClient(tb testing.TB) (*redis.Client, *testConns) {
	tb.Helper()
	url := os.Getenv(redisURLEnv)
	if url == "" {
		tb.Skipf("needs Redis: run with %s=redis://127.0.0.1:6379/0 (redis-server --port 6379)", redisURLEnv)
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("%s: %v", redisURLEnv, err)
	}
	tc := &testConns{}
	opt.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			tc.mu.Lock()
			tc.conns = append(tc.conns, c)
			tc.mu.Unlock()
		}
		return c, err
	}
	c := redis.NewClient(opt)
	tb.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("ping %s: %v", url, err)
	}
	return c, tc
}

// channelName returns a channel no other test uses.
func channelName(tb testing.TB) string {
	tb.Helper()
	var b [6]byte
	rand.Read(b[:])
	return "spacetime-test:" + hex.EncodeToString(b[:]) + ":notices"
}

// node is a running Notifier with its received notices.
type node struct {
	n          *Notifier
	client     *redis.Client
	conns      *testConns
	got        chan Notice
	subscribed chan struct{}
	done       chan error
}

// startNode creates a Notifier on a fresh client and runs it until the
// test ends; it returns once the subscription is confirmed.
func startNode(t *testing.T, channel, id string, log *slog.Logger, clock func() time.Time) *node {
	t.Helper()
	client, conns := redisClient(t)
	nd := &node{
		client:     client,
		conns:      conns,
		got:        make(chan Notice, 1000),
		subscribed: make(chan struct{}, 100),
		done:       make(chan error, 1),
	}
	n, err := New(client, Options{
		Channel:      channel,
		InstanceID:   id,
		Logger:       log,
		Clock:        clock,
		MinBackoff:   10 * time.Millisecond,
		MaxBackoff:   50 * time.Millisecond,
		OnSubscribed: func() { nd.subscribed <- struct{}{} },
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	nd.n = n
	ctx, cancel := context.WithCancel(context.Background())
	go func() { nd.done <- n.Run(ctx, func(x Notice) { nd.got <- x }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-nd.done; err != nil {
			t.Errorf("Run(%s) = %v, want nil", id, err)
		}
	})
	nd.waitSubscribed(t)
	return nd
}

// waitSubscribed waits for the next subscription confirmation.
func (nd *node) waitSubscribed(t *testing.T) {
	t.Helper()
	select {
	case <-nd.subscribed:
	case <-time.After(waitLimit):
		t.Fatal("subscription not confirmed")
	}
}

// next returns the next notice received.
func (nd *node) next(t *testing.T) Notice {
	t.Helper()
	select {
	case x := <-nd.got:
		return x
	case <-time.After(waitLimit):
		t.Fatal("no notice received")
		return Notice{}
	}
}

// none fails if a notice has been received (call after a later notice
// proved that delivery happened).
func (nd *node) none(t *testing.T) {
	t.Helper()
	select {
	case x := <-nd.got:
		t.Errorf("unexpected notice %+v", x)
	default:
	}
}

func TestNewErrors(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:0"})
	defer client.Close()
	tests := []struct {
		name   string
		client *redis.Client
		opts   Options
		want   error
	}{
		{"no client", nil, Options{Channel: "c", InstanceID: "a"}, ErrNoClient},
		{"no channel", client, Options{InstanceID: "a"}, ErrNoChannel},
		{"no instance", client, Options{Channel: "c"}, ErrNoInstanceID},
		{"ok", client, Options{Channel: "c", InstanceID: "a"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := New(tt.client, tt.opts)
			if !errors.Is(got, tt.want) {
				t.Errorf("New() error = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPublishNoKind(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:0"})
	defer client.Close()
	n, err := New(client, Options{Channel: "c", InstanceID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Publish(context.Background(), Notice{ID: "x"}); !errors.Is(got, ErrNoKind) {
		t.Errorf("Publish() error = %v, want %v", got, ErrNoKind)
	}
}

func TestDeliverToOthersOnly(t *testing.T) {
	ch := channelName(t)
	at := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	a := startNode(t, ch, "replica-a", nil, func() time.Time { return at })
	b := startNode(t, ch, "replica-b", nil, nil)

	tests := []struct {
		name   string
		notice Notice
	}{
		{"key added", Notice{Kind: KindSigningKeyAdded, ID: "k-2"}},
		{"session revoked", Notice{Kind: KindSessionRevoked, ID: "s-9"}},
		{"config reload", Notice{Kind: KindConfigReload}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := a.n.Publish(context.Background(), tt.notice); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			got := b.next(t)
			want := tt.notice
			want.From, want.At = "replica-a", at
			if got != want {
				t.Errorf("B got %+v, want %+v", got, want)
			}
		})
	}
	// B's own notice reaches A and proves A's handler ran after all of
	// A's notices were published: none of them may be there.
	if err := b.n.Publish(context.Background(), Notice{Kind: KindConfigReload, ID: "from-b"}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if got := a.next(t); got.ID != "from-b" || got.From != "replica-b" {
		t.Errorf("A got %+v, want B's notice", got)
	}
	a.none(t)
	b.none(t)
}

func TestMalformedIgnored(t *testing.T) {
	ch := channelName(t)
	var logBuf syncBuffer
	log := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := startNode(t, ch, "replica-a", nil, nil)
	b := startNode(t, ch, "replica-b", log, nil)
	raw := []string{
		"not json",
		`{"kind":""}`,
		`{"kind":"x"}`, // no sender
		`[1,2,3]`,
	}
	for _, r := range raw {
		if err := a.client.Publish(context.Background(), ch, r).Err(); err != nil {
			t.Fatalf("raw publish: %v", err)
		}
	}
	if err := a.n.Publish(context.Background(), Notice{Kind: KindSessionRevoked, ID: "good"}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if got := b.next(t); got.ID != "good" {
		t.Errorf("got %+v, want the good notice", got)
	}
	b.none(t)
	if got, want := strings.Count(logBuf.String(), "malformed notice"), len(raw); got != want {
		t.Errorf("%d malformed notices logged, want %d:\n%s", got, want, logBuf.String())
	}
}

func TestRunReturnsNilOnCancel(t *testing.T) {
	client, _ := redisClient(t)
	tests := []struct {
		name       string
		subscribed bool // cancel only once the subscription is confirmed
	}{
		{"before subscription", false},
		{"while subscribed", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := make(chan struct{}, 1)
			n, err := New(client, Options{
				Channel:      channelName(t),
				InstanceID:   "a",
				OnSubscribed: func() { sub <- struct{}{} },
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- n.Run(ctx, func(Notice) {}) }()
			if tt.subscribed {
				select {
				case <-sub:
				case <-time.After(waitLimit):
					t.Fatal("subscription not confirmed")
				}
			}
			cancel()
			select {
			case got := <-done:
				if got != nil {
					t.Errorf("Run() = %v, want nil", got)
				}
			case <-time.After(waitLimit):
				t.Fatal("Run did not return after cancel")
			}
		})
	}
}

func TestRedisDownLogsOnce(t *testing.T) {
	dials := make(chan struct{}, 100)
	client := redis.NewClient(&redis.Options{
		Addr:       "127.0.0.1:1",
		MaxRetries: -1,
		Dialer: func(context.Context, string, string) (net.Conn, error) {
			select {
			case dials <- struct{}{}:
			default:
			}
			return nil, errors.New("test: redis is down")
		},
	})
	defer client.Close()
	var logBuf syncBuffer
	n, err := New(client, Options{
		Channel:    "c",
		InstanceID: "a",
		Logger:     slog.New(slog.NewTextHandler(&logBuf, nil)),
		MinBackoff: time.Millisecond,
		MaxBackoff: 2 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, func(x Notice) { t.Errorf("unexpected notice %+v", x) }) }()
	const attempts = 5
	for i := range attempts {
		select {
		case <-dials:
		case <-time.After(waitLimit):
			t.Fatalf("only %d dial attempts", i)
		}
	}
	cancel()
	if got := <-done; got != nil {
		t.Errorf("Run() = %v, want nil", got)
	}
	if got, want := strings.Count(logBuf.String(), "subscription lost"), 1; got != want {
		t.Errorf("outage logged %d times over %d attempts, want %d:\n%s", got, attempts, want, logBuf.String())
	}
}

func TestHundredInOrder(t *testing.T) {
	ch := channelName(t)
	a := startNode(t, ch, "replica-a", nil, nil)
	b := startNode(t, ch, "replica-b", nil, nil)
	const count = 100
	for i := range count {
		if err := a.n.Publish(context.Background(), Notice{Kind: KindSessionRevoked, ID: fmt.Sprint(i)}); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
	}
	for i := range count {
		if got, want := b.next(t).ID, fmt.Sprint(i); got != want {
			t.Fatalf("notice %d: got ID %q, want %q", i, got, want)
		}
	}
}

func TestOutageResubscribes(t *testing.T) {
	ch := channelName(t)
	var logBuf syncBuffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	a := startNode(t, ch, "replica-a", nil, nil)
	b := startNode(t, ch, "replica-b", log, nil)

	for round := range 2 {
		b.conns.cut()
		b.waitSubscribed(t)
		if got := b.next(t); got.Kind != KindResync || got.From != "replica-b" {
			t.Fatalf("round %d: got %+v, want a local resync", round, got)
		}
		id := fmt.Sprint("after-outage-", round)
		if err := a.n.Publish(context.Background(), Notice{Kind: KindSigningKeyAdded, ID: id}); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		if got := b.next(t); got.ID != id {
			t.Errorf("round %d: got %+v, want %s", round, got, id)
		}
	}
	logs := logBuf.String()
	if got, want := strings.Count(logs, "subscription lost"), 2; got != want {
		t.Errorf("%d outages logged, want %d:\n%s", got, want, logs)
	}
	if got, want := strings.Count(logs, "subscription restored"), 2; got != want {
		t.Errorf("%d recoveries logged, want %d:\n%s", got, want, logs)
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// mutedConn pretends to send what it is given once muted: a link that
// went dead without an error (no reply will ever come).
type mutedConn struct {
	net.Conn
	mu    sync.Mutex
	muted bool
	pings chan<- struct{}
}

func (c *mutedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	muted := c.muted
	c.mu.Unlock()
	if strings.Contains(strings.ToLower(string(p)), "ping") {
		select {
		case c.pings <- struct{}{}:
		default:
		}
	}
	if muted {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *mutedConn) mute() {
	c.mu.Lock()
	c.muted = true
	c.mu.Unlock()
}

func TestQuietChannelPingsAndDeadLinkRedials(t *testing.T) {
	url := os.Getenv(redisURLEnv)
	if url == "" {
		t.Skipf("needs Redis: run with %s=redis://127.0.0.1:6379/0", redisURLEnv)
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	pings := make(chan struct{}, 100)
	dialed := make(chan *mutedConn, 100)
	opt.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		mc := &mutedConn{Conn: c, pings: pings}
		dialed <- mc
		return mc, nil
	}
	client := redis.NewClient(opt)
	defer client.Close()
	ch := channelName(t)
	a := startNode(t, ch, "replica-a", nil, nil)

	var logBuf syncBuffer
	sub := make(chan struct{}, 10)
	n, err := New(client, Options{
		Channel:      ch,
		InstanceID:   "replica-b",
		Logger:       slog.New(slog.NewTextHandler(&logBuf, nil)),
		MinBackoff:   time.Millisecond,
		PingInterval: 250 * time.Millisecond,
		OnSubscribed: func() { sub <- struct{}{} },
	})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan Notice, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, func(x Notice) { got <- x }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v, want nil", err)
		}
	}()
	recv := func(what string) Notice {
		t.Helper()
		select {
		case x := <-got:
			return x
		case <-time.After(waitLimit):
			t.Fatalf("no %s", what)
			return Notice{}
		}
	}
	wait := func(c <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-c:
		case <-time.After(waitLimit):
			t.Fatalf("no %s", what)
		}
	}
	wait(sub, "subscription")
	first := <-dialed

	// A quiet channel is pinged, answered, and stays up.
	for range 2 {
		wait(pings, "ping")
	}
	if err := a.n.Publish(context.Background(), Notice{Kind: KindConfigReload, ID: "quiet"}); err != nil {
		t.Fatal(err)
	}
	if x := recv("notice on a quiet channel"); x.ID != "quiet" {
		t.Errorf("got %+v, want the quiet notice", x)
	}
	if strings.Contains(logBuf.String(), "subscription lost") {
		t.Errorf("answered pings logged an outage:\n%s", logBuf.String())
	}

	// The link goes dead silently: the unanswered ping ends the session
	// and Run subscribes again on a new connection.
	first.mute()
	wait(sub, "resubscription after a dead link")
	if x := recv("resync"); x.Kind != KindResync {
		t.Errorf("got %+v, want a resync", x)
	}
	if err := a.n.Publish(context.Background(), Notice{Kind: KindSigningKeyAdded, ID: "after"}); err != nil {
		t.Fatal(err)
	}
	if x := recv("notice after the dead link"); x.ID != "after" {
		t.Errorf("got %+v, want the notice after the dead link", x)
	}
	logs := logBuf.String()
	if strings.Count(logs, "subscription lost") != 1 || strings.Count(logs, "subscription restored") != 1 {
		t.Errorf("want one outage and one recovery logged:\n%s", logs)
	}
}
