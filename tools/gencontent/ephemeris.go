package main

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
)

// defaultEphemeris is a copy of shared/testdata/ephemeris/planets-j2000.json:
// JPL's approximate Keplerian elements at J2000 (Standish, Table 1), GM values
// and IAU mean radii.
//
//go:embed planets-j2000.json
var defaultEphemeris []byte

// ephemeris is the planets-j2000.json document.
type ephemeris struct {
	Source string      `json:"source"`
	AuM    float64     `json:"au_m"` // metres per astronomical unit
	Bodies []ephemBody `json:"bodies"`
}

// ephemBody is one entry of the ephemeris. Planets (and the Earth-Moon
// barycentre) carry heliocentric elements; the Moon carries elements about
// the Earth; the Sun and the Earth carry only GM and radius.
type ephemBody struct {
	Name     string  `json:"name"`
	GM       float64 `json:"gm"`     // m³/s²
	RadiusKm float64 `json:"radius"` // km
	// Heliocentric elements (au, degrees).
	A        float64 `json:"a"`
	E        float64 `json:"e"`
	I        float64 `json:"i"`
	L        float64 `json:"L"`
	LongPeri float64 `json:"long_peri"`
	LongNode float64 `json:"long_node"`
	// Satellite elements (the Moon about the Earth).
	About       string  `json:"about"`
	AKm         float64 `json:"a_km"`
	IToEcliptic float64 `json:"i_to_ecliptic"`
}

// Sentinel errors of the ephemeris reader.
var (
	errMissingBody = errors.New("gencontent: ephemeris lacks a body")
	errBadValue    = errors.New("gencontent: ephemeris value out of range")
)

// parseEphemeris decodes and checks an ephemeris document.
func parseEphemeris(data []byte) (*ephemeris, error) {
	var eph ephemeris
	if err := json.Unmarshal(data, &eph); err != nil {
		return nil, fmt.Errorf("decode ephemeris: %w", err)
	}
	if !(eph.AuM > 0) {
		return nil, fmt.Errorf("%w: au_m = %g", errBadValue, eph.AuM)
	}
	for _, b := range eph.Bodies {
		if !(b.GM > 0) {
			return nil, fmt.Errorf("%w: %s: gm = %g", errBadValue, b.Name, b.GM)
		}
		if b.E < 0 || b.E >= 1 {
			return nil, fmt.Errorf("%w: %s: e = %g", errBadValue, b.Name, b.E)
		}
	}
	return &eph, nil
}

// body returns the entry called name.
func (eph *ephemeris) body(name string) (ephemBody, error) {
	for _, b := range eph.Bodies {
		if b.Name == name {
			return b, nil
		}
	}
	return ephemBody{}, fmt.Errorf("%w: %q", errMissingBody, name)
}

// heliocentricElements converts an entry's table elements to radians and
// metres: M = L - ϖ, ω = ϖ - Ω.
func (b ephemBody) heliocentricElements(auM float64) (elements, error) {
	if !(b.A > 0) {
		return elements{}, fmt.Errorf("%w: %s: no heliocentric elements (a = %g)", errBadValue, b.Name, b.A)
	}
	return elements{
		A:     b.A * auM,
		E:     b.E,
		I:     deg(b.I),
		Node:  deg(b.LongNode),
		Peri:  deg(b.LongPeri - b.LongNode),
		MeanA: deg(b.L - b.LongPeri),
	}, nil
}
