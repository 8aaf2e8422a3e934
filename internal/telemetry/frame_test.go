package telemetry

import (
	"bytes"
	"testing"
)

func TestWireFrameHeader(t *testing.T) {
	tests := []struct {
		name string
		op   byte
		n    int
		want []byte
	}{
		{"empty ping", opPing, 0, []byte{0x89, 0}},
		{"7-bit length", opText, 125, []byte{0x81, 125}},
		{"16-bit length", opText, 126, []byte{0x81, 126, 0, 126}},
		{"16-bit max", opBinary, 0xFFFF, []byte{0x82, 126, 0xFF, 0xFF}},
		{"64-bit length", opBinary, 0x10000, []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := bytes.Repeat([]byte{'x'}, tt.n)
			got := wireFrame(tt.op, payload)
			if !bytes.Equal(got[:len(tt.want)], tt.want) || len(got) != len(tt.want)+tt.n || !bytes.Equal(got[len(tt.want):], payload) {
				t.Errorf("frame header % x (len %d), want % x then %d bytes", got[:min(len(got), 10)], len(got), tt.want, tt.n)
			}
		})
	}
	if got := closeFrame(4008, "too slow"); !bytes.Equal(got, append([]byte{0x88, 10, 0x0F, 0xA8}, "too slow"...)) {
		t.Errorf("close frame % x", got)
	}
	if got := closeFrame(1000, string(bytes.Repeat([]byte{'r'}, 200))); len(got) != 2+125 {
		t.Errorf("long close reason: frame of %d bytes, want 127", len(got))
	}
}
