package procstat

import "testing"

func TestParseStatmResident(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"5427 1234 456 12 0 789 0\n", 1234, true},
		{"5427", 0, false},
		{"5427 x 456", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseStatmResident(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseStatmResident(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestResidentBytesIsPlausible(t *testing.T) {
	got := ResidentBytes()
	if got < 1<<20 || got > 1<<40 {
		t.Errorf("ResidentBytes() = %d, want between 1 MiB and 1 TiB for a running test binary", got)
	}
}
