package config

import (
	"fmt"
	"log/slog"
)

// redacted is what a set Secret prints as, everywhere.
const redacted = "[redacted]"

// Secret holds a credential. It prints as "[redacted]" (or "" when unset)
// through fmt with every verb, encoding/json, encoding.TextMarshaler and
// log/slog; only Reveal returns the value. The zero value is unset.
type Secret struct {
	// v points at the value so that even a raw reflection walk of a Config
	// (fmt's fallback paths) shows an address, never the text.
	v *string
}

// NewSecret wraps s; an empty s gives an unset Secret.
func NewSecret(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{v: &s}
}

// Reveal returns the secret value ("" when unset). Call it only where the
// value is used, never to log or print.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsSet reports whether a value is present.
func (s Secret) IsSet() bool { return s.v != nil }

// String returns "[redacted]" when set, "" when unset.
func (s Secret) String() string {
	if s.v == nil {
		return ""
	}
	return redacted
}

// GoString is String, so %#v does not reveal the value either.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.String()) }

// Format prints String for every verb.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", s.String())
	default:
		fmt.Fprint(f, s.String())
	}
}

// MarshalText returns String.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON returns String as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return fmt.Appendf(nil, "%q", s.String()), nil }

// LogValue returns String, for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
