package discovery

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// Service is the service name every SpaceTime beacon carries.
const Service = "spacetime"

// Defaults and limits.
const (
	// DefaultPort is the discovery UDP port (guide, appendix B).
	DefaultPort = 8087
	// DefaultAddr is where beacons go by default: the IPv4 broadcast
	// address of the local network.
	DefaultAddr = "255.255.255.255:8087"
	// DefaultListenAddr is where listeners receive by default.
	DefaultListenAddr = ":8087"
	// DefaultInterval is the time between beacons.
	DefaultInterval = 2 * time.Second
	// ExpiryIntervals is how many beacon intervals without a beacon make
	// an instance gone.
	ExpiryIntervals = 3
	// DefaultReplayWindow is how far a signed beacon's timestamp may be
	// from the listener's clock, either way.
	DefaultReplayWindow = 30 * time.Second
	// MaxDatagram is the largest datagram accepted, in bytes.
	MaxDatagram = 8 << 10
	// maxIDLen bounds the instance id; other strings are bounded by
	// MaxDatagram.
	maxIDLen = 128
)

// Errors a datagram can be dropped for; the Listener counts each in Stats.
var (
	ErrOversized    = errors.New("discovery: datagram larger than 8 KiB")
	ErrMalformed    = errors.New("discovery: malformed beacon")
	ErrForeign      = errors.New("discovery: beacon of another service")
	ErrUnsigned     = errors.New("discovery: unsigned beacon")
	ErrBadSignature = errors.New("discovery: bad beacon signature")
	ErrReplay       = errors.New("discovery: replayed or stale beacon")
	ErrTableFull    = errors.New("discovery: instance table full")
)

// Beacon is what a SpaceTime server says about itself.
type Beacon struct {
	// Service is always "spacetime"; beacons of other services are
	// dropped.
	Service string `json:"service"`
	// InstanceID identifies the server process (random per process by
	// default); the listener's table is keyed by it.
	InstanceID  string `json:"instance_id"`
	Version     string `json:"version,omitempty"`
	Environment string `json:"environment,omitempty"`
	// HTTPPort and TelemetryPort are the listeners' ports (0: off).
	HTTPPort      int `json:"http_port"`
	TelemetryPort int `json:"telemetry_port"`
	// Scene is the res:// path of the running scene ("" before one loads).
	Scene string `json:"scene"`
	// StartedAt is when the process started.
	StartedAt time.Time `json:"started_at"`
	// Host is the server's host name, when it tells it.
	Host string `json:"host,omitempty"`
	// Timestamp is when the beacon was sent (sender's clock).
	Timestamp time.Time `json:"timestamp"`
	// Seq numbers the sender's beacons from 1.
	Seq uint64 `json:"seq"`
	// IntervalSeconds is the sender's beacon interval; listeners expire
	// the instance after ExpiryIntervals of it.
	IntervalSeconds float64 `json:"interval_seconds,omitempty"`
}

// envelope is the datagram: the beacon's raw bytes and their signature.
type envelope struct {
	Beacon json.RawMessage `json:"beacon"`
	Sig    string          `json:"sig,omitempty"`
}

// Encode returns b as a datagram, signed when key is not empty.
// ErrOversized when it would exceed MaxDatagram.
func Encode(b Beacon, key []byte) ([]byte, error) {
	body, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("discovery: encode beacon: %w", err)
	}
	var buf bytes.Buffer
	buf.Grow(len(body) + 96)
	buf.WriteString(`{"beacon":`)
	buf.Write(body)
	if len(key) > 0 {
		buf.WriteString(`,"sig":"`)
		buf.WriteString(hex.EncodeToString(sign(key, body)))
		buf.WriteByte('"')
	}
	buf.WriteByte('}')
	if buf.Len() > MaxDatagram {
		return nil, fmt.Errorf("encode beacon of %d bytes: %w", buf.Len(), ErrOversized)
	}
	return buf.Bytes(), nil
}

// Decode parses and checks one datagram. With a key, the beacon must be
// signed with it (ErrUnsigned, ErrBadSignature); without, any signature is
// ignored. verified reports whether the signature was checked and good.
// The error wraps one of the package's Err values; the replay guard is the
// Listener's, not Decode's.
func Decode(data, key []byte) (b Beacon, verified bool, err error) {
	if len(data) > MaxDatagram {
		return Beacon{}, false, ErrOversized
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return Beacon{}, false, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(env.Beacon) == 0 || env.Beacon[0] != '{' {
		return Beacon{}, false, fmt.Errorf("%w: no beacon object", ErrMalformed)
	}
	if len(key) > 0 {
		if env.Sig == "" {
			return Beacon{}, false, ErrUnsigned
		}
		sig, err := hex.DecodeString(env.Sig)
		if err != nil || !hmac.Equal(sig, sign(key, env.Beacon)) {
			return Beacon{}, false, ErrBadSignature
		}
		verified = true
	}
	if err := json.Unmarshal(env.Beacon, &b); err != nil {
		return Beacon{}, false, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if b.Service != Service {
		return Beacon{}, false, fmt.Errorf("%w: service %q", ErrForeign, printable(b.Service))
	}
	if err := b.validate(); err != nil {
		return Beacon{}, false, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return b, verified, nil
}

// validate checks what the listener relies on and what a terminal prints.
func (b *Beacon) validate() error {
	if b.InstanceID == "" {
		return errors.New("no instance_id")
	}
	if len(b.InstanceID) > maxIDLen {
		return fmt.Errorf("instance_id longer than %d bytes", maxIDLen)
	}
	for _, f := range []struct{ name, v string }{
		{"instance_id", b.InstanceID}, {"version", b.Version}, {"environment", b.Environment},
		{"scene", b.Scene}, {"host", b.Host},
	} {
		if !clean(f.v) {
			return fmt.Errorf("%s has control characters", f.name)
		}
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"http_port", b.HTTPPort}, {"telemetry_port", b.TelemetryPort}} {
		if p.v < 0 || p.v > 65535 {
			return fmt.Errorf("%s %d out of range", p.name, p.v)
		}
	}
	if b.IntervalSeconds < 0 || b.IntervalSeconds > 3600 {
		return fmt.Errorf("interval_seconds %v out of range", b.IntervalSeconds)
	}
	return nil
}

// clean reports whether s is valid UTF-8 without control or bidirectional
// formatting characters, so printing it cannot rewrite a terminal.
func clean(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// printable shortens and sanitizes an untrusted string for an error
// message.
func printable(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	if clean(s) {
		return s
	}
	return fmt.Sprintf("%q", s)
}

func sign(key, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return m.Sum(nil)
}

// NewInstanceID returns a random instance id: 16 lowercase hex digits.
func NewInstanceID() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}
