package telemetry

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestBodiesFrameRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		particles int
		decimate  int
		include   bool
		wantParts int
	}{
		{"bodies only", 0, 1, true, 0},
		{"particles excluded", 10, 1, false, 0},
		{"all particles", 10, 1, true, 10},
		{"every third", 10, 3, true, 4},
		{"decimation above the count", 10, 50, true, 1},
		{"decimation 0 means 1", 5, 0, true, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSnapshot(42, tt.particles, 1)
			prefix := []byte("keep")
			b := EncodeBodiesFrame(prefix, s, tt.decimate, tt.include)
			if string(b[:4]) != "keep" {
				t.Fatalf("the prefix was overwritten")
			}
			b = b[4:]
			if want := BodiesHeaderSize + 12*(len(s.Bodies)+tt.wantParts); len(b) != want {
				t.Fatalf("frame is %d bytes, want %d", len(b), want)
			}
			f, err := DecodeBodiesFrame(b)
			if err != nil {
				t.Fatal(err)
			}
			wantDec := max(tt.decimate, 1)
			if f.Version != BodiesVersion || f.Tick != 42 || f.SimTime != s.SimTime || f.Decimate != wantDec ||
				f.TotalParticles != tt.particles || f.ParticleTick != s.ParticleTick || f.HasParticles() != (tt.wantParts > 0) {
				t.Errorf("header = %+v", f)
			}
			checkBodies(t, f.Bodies, s)
			if len(f.Particles) != 3*tt.wantParts {
				t.Fatalf("%d particle floats, want %d", len(f.Particles), 3*tt.wantParts)
			}
			for j := range tt.wantParts {
				src := j * wantDec
				for k := range 3 {
					if got, want := f.Particles[3*j+k], s.ParticlePos[3*src+k]; got != want {
						t.Errorf("particle %d (world %d) coord %d = %g, want %g", j, src, k, got, want)
					}
				}
			}
		})
	}
}

func TestDecodeBadFrames(t *testing.T) {
	good := EncodeBodiesFrame(nil, testSnapshot(1, 2, 1), 1, true)
	mutate := func(f func(b []byte) []byte) []byte {
		b := append([]byte(nil), good...)
		return f(b)
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short header", good[:BodiesHeaderSize-1]},
		{"bad magic", mutate(func(b []byte) []byte { b[0] = 'X'; return b })},
		{"future version", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[4:], 2); return b })},
		{"truncated", good[:len(good)-1]},
		{"trailing bytes", append(append([]byte(nil), good...), 0)},
		{"decimation 0", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[32:], 0); return b })},
		{"particles without the flag", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[6:], 0); return b })},
		{"huge counts", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[24:], 0xffffffff); return b })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeBodiesFrame(tt.b); !errors.Is(err, ErrBadFrame) {
				t.Errorf("err = %v, want ErrBadFrame", err)
			}
		})
	}
	if _, err := DecodeBodiesFrame(good); err != nil {
		t.Errorf("the good frame: %v", err)
	}
}
