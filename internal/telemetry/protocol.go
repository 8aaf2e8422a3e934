package telemetry

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Subprotocol is the WebSocket subprotocol of the stream. A client offers
// it (and, to authenticate, BearerPrefix+token) in Sec-WebSocket-Protocol;
// the server echoes only Subprotocol.
const Subprotocol = "spacetime.v1"

// BearerPrefix marks the subprotocol entry that carries an access token:
// "bearer.<token>".
const BearerPrefix = "bearer."

// MaxMessageBytes is the largest message a client may send; a larger one
// closes the connection with code 1009.
const MaxMessageBytes = 64 << 10

// Topic names.
const (
	TopicPerf   = "perf"
	TopicPlayer = "player"
	TopicVR     = "vr"
	TopicBodies = "bodies"
	TopicEvents = "events"
)

// Topic indices (the order of Topics); events is last, after the topics
// that are scheduled on ticks.
const (
	topicPerfI = iota
	topicPlayerI
	topicVRI
	topicBodiesI
	topicEventsI
	numTopics
)

// topicName returns the name of topic index i.
func topicName(i int) string {
	switch i {
	case topicPerfI:
		return TopicPerf
	case topicPlayerI:
		return TopicPlayer
	case topicVRI:
		return TopicVR
	case topicBodiesI:
		return TopicBodies
	default:
		return TopicEvents
	}
}

// Topics returns the topic names in their canonical order.
func Topics() []string {
	return []string{TopicPerf, TopicPlayer, TopicVR, TopicBodies, TopicEvents}
}

func topicIndex(name string) int {
	for i := range numTopics {
		if topicName(i) == name {
			return i
		}
	}
	return -1
}

// defaultRateHz is the rate of a subscription without rate_hz: 10 Hz for
// perf, the tick rate (0) for the others. Events are sent as they happen
// whatever the rate.
func defaultRateHz(i int) float64 {
	if i == topicPerfI {
		return 10
	}
	return 0
}

// Client → server message types.
const (
	MsgAuth        = "auth"
	MsgSubscribe   = "subscribe"
	MsgUnsubscribe = "unsubscribe"
	MsgGetSnapshot = "get_snapshot"
	MsgConfigure   = "configure"
	MsgPing        = "ping"
	// MsgVRState reports the client's WebXR session and poses.
	MsgVRState = "vr_state"
	// MsgInput is pilot input (developer role, or anonymous in
	// development).
	MsgInput = "input"
)

// Server → client message types.
const (
	MsgAuthSuccess  = "auth_success"
	MsgSubscribed   = "subscribed"
	MsgUnsubscribed = "unsubscribed"
	MsgConfigured   = "configured"
	MsgSnapshot     = "snapshot"
	MsgPong         = "pong"
	MsgAck          = "ack" // a vr_state or input message with an id was applied
	MsgError        = "error"
	MsgEvent        = "event"
)

// Error codes carried by an "error" message.
const (
	CodeBadJSON          = "bad_json"
	CodeUnknownType      = "unknown_type"
	CodeUnknownTopic     = "unknown_topic"
	CodeBadRate          = "bad_rate"
	CodeBadRequest       = "bad_request"
	CodeNotAuthenticated = "not_authenticated"
	CodeAuthFailed       = "auth_failed"
	CodeAuthTimeout      = "auth_timeout"
	CodeForbidden        = "forbidden"
	CodeRateLimited      = "rate_limited"
	CodeTooManyClients   = "too_many_subscribers"
	CodeInternal         = "internal"
)

// WebSocket close codes the server uses (besides 1000, 1001 and 1009).
const (
	// CloseTooSlow: the subscriber stayed behind past the threshold.
	CloseTooSlow = 4008
	// CloseUnauthorized: no valid credential (missing, bad, expired,
	// reused ticket, or the auth message did not come in time).
	CloseUnauthorized = 4401
	// CloseForbidden: authenticated, but the role may not read telemetry.
	CloseForbidden = 4403
	// ClosePolicy is RFC 6455 "policy violation": a flood of messages.
	ClosePolicy = 1008
	// CloseTryAgainLater is RFC 6455 1013: the hub is at MaxSubscribers.
	CloseTryAgainLater = 1013
	// CloseGoingAway is RFC 6455 1001: the server is shutting down.
	CloseGoingAway = 1001
)

// clientMsg is any client message; unknown fields are ignored.
type clientMsg struct {
	Type         string          `json:"type"`
	ID           json.RawMessage `json:"id,omitempty"`
	Token        string          `json:"token,omitempty"`
	Topics       []string        `json:"topics,omitempty"`
	RateHz       *float64        `json:"rate_hz,omitempty"`
	Decimate     *int            `json:"decimate,omitempty"`
	BodiesFormat *string         `json:"bodies_format,omitempty"`
	Particles    *bool           `json:"particles,omitempty"`
	Throttle     *Vec            `json:"throttle,omitempty"` // input
	Rotation     *Vec            `json:"rotation,omitempty"` // input
}

// protoError is a refusal of one client message, sent as an "error".
type protoError struct {
	code, msg string
}

func (e *protoError) Error() string { return e.code + ": " + e.msg }

func perr(code, format string, args ...any) *protoError {
	return &protoError{code: code, msg: fmt.Sprintf(format, args...)}
}

// Sentinel errors.
var (
	// ErrBadFrame: a binary frame is not a valid bodies frame.
	ErrBadFrame = errors.New("telemetry: bad bodies frame")
	// ErrUnauthorized: the server refused the client's credential.
	ErrUnauthorized = errors.New("telemetry: unauthorized")
	// ErrTooManyTickets: the ticket store is full.
	ErrTooManyTickets = errors.New("telemetry: too many outstanding tickets")
)

// unixSeconds renders t as seconds since the Unix epoch (millisecond
// precision is kept by the encoders).
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// jbuf appends JSON. Commas are inserted automatically: before a key or
// an array element, when the previous byte is not '{', '[' or ':'.
type jbuf []byte

func (b jbuf) sep() jbuf {
	if n := len(b); n > 0 {
		switch b[n-1] {
		case '{', '[', ':':
		default:
			b = append(b, ',')
		}
	}
	return b
}

func (b jbuf) key(k string) jbuf {
	b = b.sep()
	b = appendJSONString(b, k)
	return append(b, ':')
}

func (b jbuf) str(k, v string) jbuf { return appendJSONString(b.key(k), v) }

func (b jbuf) num(k string, v float64) jbuf { return appendFloat(b.key(k), v) }

func (b jbuf) uint(k string, v uint64) jbuf { return strconv.AppendUint(b.key(k), v, 10) }

func (b jbuf) int(k string, v int64) jbuf { return strconv.AppendInt(b.key(k), v, 10) }

func (b jbuf) boolean(k string, v bool) jbuf { return strconv.AppendBool(b.key(k), v) }

func (b jbuf) raw(k string, v []byte) jbuf { return append(b.key(k), v...) }

func (b jbuf) vec(k string, x, y, z float64) jbuf {
	b = append(b.key(k), `{"x":`...)
	b = appendFloat(b, x)
	b = append(b, `,"y":`...)
	b = appendFloat(b, y)
	b = append(b, `,"z":`...)
	b = appendFloat(b, z)
	return append(b, '}')
}

func (b jbuf) open(k string) jbuf { return append(b.key(k), '{') }

func (b jbuf) openArr(k string) jbuf { return append(b.key(k), '[') }

// appendFloat writes v in the shortest form that round-trips, or null when
// it is not finite (JSON has no NaN or infinity).
func appendFloat(b jbuf, v float64) jbuf {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendFloat32 is appendFloat for a float32 (shortest float32 form).
func appendFloat32(b jbuf, v float32) jbuf {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 32)
}

// appendRounded writes v rounded to the given decimals (null if not
// finite), for human-scale figures such as milliseconds.
func appendRounded(b jbuf, v float64, decimals int) jbuf {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'f', decimals, 64)
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string, escaping what JSON requires
// (and <, >, & as encoding/json does); invalid UTF-8 becomes U+FFFD.
func appendJSONString(b jbuf, s string) jbuf {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// errorMessage encodes {"type":"error","code":...,"message":...,"id":...}.
func errorMessage(code, msg string, id json.RawMessage) []byte {
	b := jbuf(make([]byte, 0, 96+len(msg)))
	b = append(b, '{')
	b = b.str("type", MsgError).str("code", code).str("message", msg)
	if len(id) > 0 {
		b = b.raw("id", id)
	}
	return append(b, '}')
}
