package telemetry

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/spacetime-vr/spacetime/internal/engine"
)

// Bodies frame layout (all little endian), version 1:
//
//	offset size  field
//	0      4     magic "STB1"
//	4      2     version (uint16, 1)
//	6      2     flags (uint16; bit 0: particle positions included)
//	8      8     tick (uint64)
//	16     8     sim_time (float64, s since J2000)
//	24     4     body count B (uint32)
//	28     4     particle count P in this frame (uint32; 0 unless bit 0)
//	32     4     decimation N (uint32: every N-th particle, ≥ 1)
//	36     4     particles in the world (uint32)
//	40     8     particle_tick (uint64, tick the positions were taken at)
//	48     12·B  body positions, float32 x,y,z (metres)
//	..     12·P  particle positions, float32 x,y,z (metres)
const (
	// BodiesMagic starts every bodies frame.
	BodiesMagic = "STB1"
	// BodiesVersion is the layout version this package writes.
	BodiesVersion = 1
	// BodiesHeaderSize is the size of the fixed header.
	BodiesHeaderSize = 48
	// FlagParticles says the frame carries particle positions.
	FlagParticles = 1 << 0
)

// BodiesFrame is a decoded bodies frame.
type BodiesFrame struct {
	Version        uint16
	Flags          uint16
	Tick           uint64
	SimTime        float64
	Decimate       int
	TotalParticles int
	ParticleTick   uint64
	// Bodies holds x,y,z triples, one per body, in the order of the
	// bodies metadata.
	Bodies []float32
	// Particles holds x,y,z triples of particles 0, N, 2N, ... (N =
	// Decimate); empty unless Flags has FlagParticles.
	Particles []float32
}

// HasParticles reports whether the frame carries particle positions.
func (f *BodiesFrame) HasParticles() bool { return f.Flags&FlagParticles != 0 }

// decimatedCount is the number of particles kept out of total when every
// n-th is sent.
func decimatedCount(total, n int) int {
	if total <= 0 {
		return 0
	}
	return (total + n - 1) / n
}

// EncodeBodiesFrame appends the binary bodies frame of s to dst: body
// positions, then (when particles is true and s has them) every
// decimate-th particle position.
func EncodeBodiesFrame(dst []byte, s *engine.Snapshot, decimate int, particles bool) []byte {
	decimate = max(decimate, 1)
	nb := len(s.Bodies)
	total := len(s.ParticlePos) / 3
	np := 0
	var flags uint16
	if particles && total > 0 {
		np = decimatedCount(total, decimate)
		flags |= FlagParticles
	}
	size := BodiesHeaderSize + 12*(nb+np)
	off := len(dst)
	dst = grow(dst, size)
	b := dst[off : off+size]
	copy(b[0:4], BodiesMagic)
	le := binary.LittleEndian
	le.PutUint16(b[4:], BodiesVersion)
	le.PutUint16(b[6:], flags)
	le.PutUint64(b[8:], s.Tick)
	le.PutUint64(b[16:], math.Float64bits(s.SimTime))
	le.PutUint32(b[24:], uint32(nb))
	le.PutUint32(b[28:], uint32(np))
	le.PutUint32(b[32:], uint32(decimate))
	le.PutUint32(b[36:], uint32(s.ParticleCount))
	le.PutUint64(b[40:], s.ParticleTick)
	p := b[BodiesHeaderSize:]
	for i := range s.Bodies {
		pos := &s.Bodies[i].Pos
		le.PutUint32(p[0:], math.Float32bits(float32(pos.X)))
		le.PutUint32(p[4:], math.Float32bits(float32(pos.Y)))
		le.PutUint32(p[8:], math.Float32bits(float32(pos.Z)))
		p = p[12:]
	}
	if np > 0 {
		pp := s.ParticlePos
		if decimate == 1 {
			for i := 0; i < 3*np; i++ {
				le.PutUint32(p[4*i:], math.Float32bits(pp[i]))
			}
		} else {
			step := 3 * decimate
			for i, j := 0, 0; j < np; i, j = i+step, j+1 {
				le.PutUint32(p[0:], math.Float32bits(pp[i]))
				le.PutUint32(p[4:], math.Float32bits(pp[i+1]))
				le.PutUint32(p[8:], math.Float32bits(pp[i+2]))
				p = p[12:]
			}
		}
	}
	return dst
}

// grow extends dst by n bytes (contents of the new bytes unspecified).
func grow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) < n {
		nd := make([]byte, len(dst), len(dst)+n)
		copy(nd, dst)
		dst = nd
	}
	return dst[:len(dst)+n]
}

// DecodeBodiesFrame parses a binary bodies frame. It checks the magic, the
// version and that the length matches the counts; errors wrap ErrBadFrame.
// The returned slices are fresh copies.
func DecodeBodiesFrame(b []byte) (BodiesFrame, error) {
	var f BodiesFrame
	if len(b) < BodiesHeaderSize {
		return f, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrBadFrame, len(b), BodiesHeaderSize)
	}
	if string(b[0:4]) != BodiesMagic {
		return f, fmt.Errorf("%w: magic %q", ErrBadFrame, b[0:4])
	}
	le := binary.LittleEndian
	f.Version = le.Uint16(b[4:])
	if f.Version != BodiesVersion {
		return f, fmt.Errorf("%w: version %d (want %d)", ErrBadFrame, f.Version, BodiesVersion)
	}
	f.Flags = le.Uint16(b[6:])
	f.Tick = le.Uint64(b[8:])
	f.SimTime = math.Float64frombits(le.Uint64(b[16:]))
	nb := uint64(le.Uint32(b[24:]))
	np := uint64(le.Uint32(b[28:]))
	f.Decimate = int(le.Uint32(b[32:]))
	f.TotalParticles = int(le.Uint32(b[36:]))
	f.ParticleTick = le.Uint64(b[40:])
	if f.Decimate < 1 {
		return f, fmt.Errorf("%w: decimation %d", ErrBadFrame, f.Decimate)
	}
	if np > 0 && f.Flags&FlagParticles == 0 {
		return f, fmt.Errorf("%w: %d particles without the particles flag", ErrBadFrame, np)
	}
	if want := uint64(BodiesHeaderSize) + 12*(nb+np); uint64(len(b)) != want {
		return f, fmt.Errorf("%w: %d bytes, want %d for %d bodies and %d particles", ErrBadFrame, len(b), want, nb, np)
	}
	f.Bodies = readFloats(b[BodiesHeaderSize:], 3*int(nb))
	f.Particles = readFloats(b[BodiesHeaderSize+12*int(nb):], 3*int(np))
	return f, nil
}

func readFloats(b []byte, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}
