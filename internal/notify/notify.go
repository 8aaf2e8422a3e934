package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Notice kinds used by SpaceTime. Kind is free text: a receiver ignores
// kinds it does not know.
const (
	// KindSigningKeyAdded: a signing key was rotated in (ID is the key
	// ID); receivers reload their keyring.
	KindSigningKeyAdded = "signing_key_added"
	// KindSessionRevoked: a session was revoked (ID is the session ID).
	KindSessionRevoked = "session_revoked"
	// KindConfigReload: the configuration was reloaded.
	KindConfigReload = "config_reload"
	// KindResync is never published: Run hands it to its handler (with
	// From set to the local instance) when the subscription is back after
	// an outage, because notices sent meanwhile were lost.
	KindResync = "resync"
)

// Defaults for Options.
const (
	DefaultMinBackoff   = 100 * time.Millisecond
	DefaultMaxBackoff   = 5 * time.Second
	DefaultPingInterval = 30 * time.Second
)

// Sentinel errors.
var (
	// ErrNoClient: New was given no Redis client.
	ErrNoClient = errors.New("notify: no redis client")
	// ErrNoChannel: Options.Channel is empty.
	ErrNoChannel = errors.New("notify: no channel")
	// ErrNoInstanceID: Options.InstanceID is empty.
	ErrNoInstanceID = errors.New("notify: no instance id")
	// ErrNoKind: a Notice without a Kind was published.
	ErrNoKind = errors.New("notify: notice without kind")
)

// Notice is one cluster notice, sent as JSON {kind, id, from, at}.
type Notice struct {
	// Kind says what happened (KindSigningKeyAdded, ...).
	Kind string `json:"kind"`
	// ID names the object concerned (key ID, session ID), may be empty.
	ID string `json:"id,omitempty"`
	// From is the InstanceID of the publisher (set by Publish).
	From string `json:"from"`
	// At is the publisher's time of publication (set by Publish).
	At time.Time `json:"at"`
}

// Options configure a Notifier.
type Options struct {
	// Channel is the Redis pub/sub channel (e.g. prefix+"notices").
	Channel string
	// InstanceID identifies this replica; Run ignores notices it sent.
	InstanceID string
	// Logger receives outage and malformed-message events (nil: discard).
	Logger *slog.Logger
	// Clock stamps Notice.At (nil: time.Now).
	Clock func() time.Time
	// MinBackoff and MaxBackoff bound the wait between attempts while
	// Redis is unreachable (0: DefaultMinBackoff, DefaultMaxBackoff).
	MinBackoff, MaxBackoff time.Duration
	// PingInterval is how long Run waits for traffic before it pings the
	// subscription to detect a dead connection (0: DefaultPingInterval).
	PingInterval time.Duration
	// OnSubscribed, when set, is called from Run each time the
	// subscription is confirmed by Redis (first time and after every
	// outage): from then on notices published are delivered.
	OnSubscribed func()
	// OnLost, when set, is called from Run when the subscription is lost
	// (once per outage): notices published from then on until the next
	// OnSubscribed do not arrive.
	OnLost func()
}

// Notifier publishes and receives cluster notices. It is safe for
// concurrent use; it owns no goroutine outside Run.
type Notifier struct {
	client *redis.Client
	opts   Options
	log    *slog.Logger
}

// New returns a Notifier that talks through client (which the caller
// keeps and closes).
func New(client *redis.Client, opts Options) (*Notifier, error) {
	switch {
	case client == nil:
		return nil, ErrNoClient
	case opts.Channel == "":
		return nil, ErrNoChannel
	case opts.InstanceID == "":
		return nil, ErrNoInstanceID
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = opts.MinBackoff
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = DefaultPingInterval
	}
	return &Notifier{
		client: client,
		opts:   opts,
		log:    opts.Logger.With("channel", opts.Channel, "instance", opts.InstanceID),
	}, nil
}

// Publish sends n to every replica subscribed to the channel, with From
// and At filled in. Delivery is at most once and only to replicas
// subscribed at the time.
func (n *Notifier) Publish(ctx context.Context, notice Notice) error {
	if notice.Kind == "" {
		return ErrNoKind
	}
	notice.From = n.opts.InstanceID
	notice.At = n.opts.Clock().UTC()
	b, err := json.Marshal(notice)
	if err != nil {
		return fmt.Errorf("notify: encode %s notice: %w", notice.Kind, err)
	}
	if err := n.client.Publish(ctx, n.opts.Channel, b).Err(); err != nil {
		return fmt.Errorf("notify: publish %s notice: %w", notice.Kind, err)
	}
	return nil
}

// Run subscribes to the channel and calls handle, in order and on Run's
// goroutine, for every notice published by another instance (and for a
// local KindResync when the subscription comes up after an outage, even
// one at start-up). handle should not block for long. If
// the connection drops, Run logs once per outage, retries with
// exponential backoff and resubscribes. Run returns nil when ctx ends,
// after every goroutine it started has finished.
func (n *Notifier) Run(ctx context.Context, handle func(Notice)) error {
	st := &runState{backoff: n.opts.MinBackoff}
	for {
		n.session(ctx, st, handle)
		if ctx.Err() != nil || !n.wait(ctx, st.backoff) {
			return nil
		}
		st.backoff = min(2*st.backoff, n.opts.MaxBackoff)
	}
}

// runState is what Run carries across sessions.
type runState struct {
	outage     bool // an outage was logged and not yet recovered
	subscribed bool // a subscription was confirmed before
	backoff    time.Duration
}

// session runs one PubSub until ctx ends or the connection is found dead
// (a ping got no answer), and closes it before returning. Errors that
// go-redis recovers from by redialling on the next Receive are retried
// here with backoff.
func (n *Notifier) session(ctx context.Context, st *runState, handle func(Notice)) {
	ps := n.client.Subscribe(ctx, n.opts.Channel)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-ctx.Done():
			_ = ps.Close() // unblocks Receive
		case <-stop:
		}
	})
	defer func() {
		close(stop)
		wg.Wait()
		_ = ps.Close()
	}()

	pinged := false // a ping is waiting for its reply
	for {
		msg, err := ps.ReceiveTimeout(ctx, n.opts.PingInterval)
		if ctx.Err() != nil {
			return
		}
		if err != nil && isTimeout(err) && !pinged {
			// Quiet channel: ask for a Pong to tell it from a dead link.
			pinged = true
			if err = ps.Ping(ctx); err == nil {
				continue
			}
		}
		if err != nil {
			n.lost(st, err)
			if isTimeout(err) {
				return // dead link: Run starts a new PubSub
			}
			if !n.wait(ctx, st.backoff) {
				return
			}
			st.backoff = min(2*st.backoff, n.opts.MaxBackoff)
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			st.backoff = n.opts.MinBackoff
			// Notices sent while this replica was cut off are lost.
			resync := st.subscribed || st.outage
			if st.outage {
				st.outage = false
				n.log.Info("notify: subscription restored")
			}
			if n.opts.OnSubscribed != nil {
				n.opts.OnSubscribed()
			}
			if resync {
				handle(Notice{Kind: KindResync, From: n.opts.InstanceID, At: n.opts.Clock().UTC()})
			}
			st.subscribed = true
		case *redis.Message:
			n.deliver(m.Payload, handle)
		}
	}
}

// lost logs the start of an outage, once.
func (n *Notifier) lost(st *runState, err error) {
	if !st.outage {
		st.outage = true
		n.log.Warn("notify: subscription lost; retrying", "err", err)
		if n.opts.OnLost != nil {
			n.opts.OnLost()
		}
	}
}

// deliver decodes payload and hands it to handle unless it is malformed
// or was sent by this instance.
func (n *Notifier) deliver(payload string, handle func(Notice)) {
	var notice Notice
	if err := json.Unmarshal([]byte(payload), &notice); err != nil || notice.Kind == "" || notice.From == "" {
		n.log.Debug("notify: malformed notice ignored", "len", len(payload), "err", err)
		return
	}
	if notice.From == n.opts.InstanceID {
		return
	}
	handle(notice)
}

// wait sleeps for d and reports whether ctx is still live.
func (n *Notifier) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// isTimeout reports whether err is a network read timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
