package telemetry

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClosePayload(t *testing.T) {
	tests := []struct {
		name   string
		code   int
		reason string
		want   []byte
	}{
		{"code and reason", 4008, "too slow", append([]byte{0x0F, 0xA8}, "too slow"...)},
		{"no reason", 1001, "", []byte{0x03, 0xE9}},
		{"long reason cut to 123 bytes", 1000, strings.Repeat("r", 200), append([]byte{0x03, 0xE8}, strings.Repeat("r", 123)...)},
		{"cut on a rune boundary", 1000, strings.Repeat("é", 70), append([]byte{0x03, 0xE8}, strings.Repeat("é", 61)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := closePayload(tt.code, tt.reason)
			if !bytes.Equal(got, tt.want) {
				t.Errorf("closePayload = % x, want % x", got, tt.want)
			}
			if len(got) > 125 || !utf8.Valid(got[2:]) {
				t.Errorf("payload of %d bytes (valid UTF-8 %v): not a valid control payload", len(got), utf8.Valid(got[2:]))
			}
		})
	}
}
