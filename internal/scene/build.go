package scene

import (
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"strings"

	"github.com/spacetime-vr/spacetime/internal/engine"
)

// Limits of the builder.
const (
	// MaxBeltCount is the most particles one belt may ask for.
	MaxBeltCount = 2_000_000
	// MaxParticles is the most particles of all belts of a scene together.
	MaxParticles = 2_000_000
)

// Defaults of the mapping, as documented in docs/scene-format.md.
const (
	DefaultBeltMaxInclinationDeg = 10.0
	DefaultBeltMaxEccentricity   = 0.1
)

// Metadata keys of the mapping.
const (
	metaEpochJD      = "metadata/epoch_jd"
	metaSpeedOfLight = "metadata/speed_of_light"
	metaTimeScale    = "metadata/time_scale"
	metaGM           = "metadata/gm"
	metaMass         = "metadata/mass"
	metaRadius       = "metadata/radius"
	metaVelocity     = "metadata/velocity"
	metaBeltCount    = "metadata/belt_count"
	metaBeltInner    = "metadata/belt_inner"
	metaBeltOuter    = "metadata/belt_outer"
	metaBeltCenter   = "metadata/belt_center"
	metaBeltSeed     = "metadata/belt_seed"
	metaBeltMaxIncl  = "metadata/belt_max_inclination_deg"
	metaBeltMaxEcc   = "metadata/belt_max_eccentricity"
	metaShipMass     = "metadata/ship_mass"
	metaMaxThrust    = "metadata/max_thrust"
	metaHullRadius   = "metadata/hull_radius"
)

// roles says which node roles use each metadata key of the mapping.
var roles = map[string]string{
	metaEpochJD: "root", metaSpeedOfLight: "root", metaTimeScale: "root",
	metaGM: "body", metaMass: "body", metaRadius: "body", metaVelocity: "body or player",
	metaBeltCount: "belt", metaBeltInner: "belt", metaBeltOuter: "belt", metaBeltCenter: "belt",
	metaBeltSeed: "belt", metaBeltMaxIncl: "belt", metaBeltMaxEcc: "belt",
	metaShipMass: "player", metaMaxThrust: "player", metaHullRadius: "player",
}

// playerType is the node type of the player's spawn.
const playerType = "XROrigin3D"

// BuildReport says what Build made of a tree.
type BuildReport struct {
	Scene     string        `json:"scene"`
	Bodies    []BodyReport  `json:"bodies"`
	Belts     []BeltReport  `json:"belts"`
	Player    *PlayerReport `json:"player,omitempty"`
	Particles int           `json:"particles"`
	Warnings  []Issue       `json:"warnings"`
	// IgnoredTypes counts, by type, the nodes that contributed nothing to
	// the world (cameras, lights, scripts' nodes...). Placeholders and
	// leaf instances count under "(instance)".
	IgnoredTypes map[string]int `json:"ignored_types"`
	// IgnoredMetadata lists metadata the mapping does not use, as
	// "node path: metadata/key".
	IgnoredMetadata []string `json:"ignored_metadata,omitempty"`
}

// BodyReport is one massive body.
type BodyReport struct {
	Name   string  `json:"name"`
	Node   string  `json:"node"`
	GM     float64 `json:"gm"`
	Radius float64 `json:"radius"`
	// RadiusFrom is "metadata/radius", "SphereMesh" or "" (a point mass).
	RadiusFrom string `json:"radius_from,omitempty"`
}

// BeltReport is one generated particle group.
type BeltReport struct {
	Name   string  `json:"name"`
	Node   string  `json:"node"`
	Center string  `json:"center"`
	Count  int     `json:"count"`
	Seed   int64   `json:"seed"`
	Inner  float64 `json:"inner"`
	Outer  float64 `json:"outer"`
}

// PlayerReport is the player's spawn.
type PlayerReport struct {
	Name string `json:"name"`
	Node string `json:"node"`
}

// Build maps a loaded tree onto an engine.Spec following the scene format
// (docs/scene-format.md):
//
//   - the root's metadata/epoch_jd, speed_of_light and time_scale set the
//     epoch (seconds from J2000), c and the time acceleration;
//   - a node with metadata/gm or metadata/mass is a massive body at its
//     global origin, with metadata/velocity and a radius from
//     metadata/radius or a SphereMesh (scaled) on it or a MeshInstance3D
//     child;
//   - a node with metadata/belt_count generates that many test particles
//     on Kepler orbits about its centre body, deterministically from
//     metadata/belt_seed;
//   - the first XROrigin3D is the player's spawn.
//
// Everything else is ignored and counted in the report. Problems with
// values (a negative mass, belt_inner > belt_outer, too many particles) are
// *SceneError values naming the node and property, all of them joined in
// the returned error, which matches ErrInvalidScene. The report is
// returned even when the error is not nil (except for a nil tree).
func Build(t *Tree) (*engine.Spec, *BuildReport, error) {
	return build(t, MaxParticles)
}

// build is Build with a particle limit (the fuzz test uses a small one to
// stay fast).
func build(t *Tree, maxParticles int) (*engine.Spec, *BuildReport, error) {
	if t == nil {
		return nil, nil, &SceneError{Msg: "no scene tree"}
	}
	b := &builder{tree: t, used: map[*Node]bool{}, bodyOf: map[*Node]int{}, maxParticles: maxParticles}
	spec := b.build()
	if len(b.errs) > 0 {
		return nil, b.report, errors.Join(b.errs...)
	}
	return spec, b.report, nil
}

type builder struct {
	tree   *Tree
	report *BuildReport
	errs   []error
	used   map[*Node]bool
	bodyOf map[*Node]int // body node → index in spec.Bodies
	// bodyNodes are the body nodes in spec order.
	bodyNodes []*Node
	// playerNode is the XROrigin3D the player spawns at, or nil.
	playerNode *Node
	// maxParticles bounds the particles of all belts together.
	maxParticles int
}

func (b *builder) propErr(n *Node, key, format string, args ...any) {
	e := &SceneError{File: n.File, Line: n.Line, Node: n.Path, Property: key, Msg: fmt.Sprintf(format, args...)}
	if i := n.Props.index(key); i >= 0 {
		e.Line = n.Props[i].Line
		if f := n.Props[i].file; f != nil {
			e.File = f.Path
		}
	}
	b.errs = append(b.errs, e)
}

func (b *builder) warn(n *Node, key, format string, args ...any) {
	is := Issue{File: n.File, Line: n.Line, Node: n.Path, Property: key, Message: fmt.Sprintf(format, args...)}
	if i := n.Props.index(key); key != "" && i >= 0 {
		is.Line = n.Props[i].Line
		if f := n.Props[i].file; f != nil {
			is.File = f.Path
		}
	}
	b.report.Warnings = append(b.report.Warnings, is)
}

// number returns a finite numeric property; ok is false when it is absent
// or invalid (an error is recorded for an invalid one).
func (b *builder) number(n *Node, key string) (float64, bool) {
	v, present := n.Prop(key)
	if !present {
		return 0, false
	}
	f, ok := v.AsFloat()
	if !ok {
		b.propErr(n, key, "must be a number, not %s", v.Kind())
		return 0, false
	}
	if !isFinite(f) {
		b.propErr(n, key, "must be finite, not %s", formatFloat(f))
		return 0, false
	}
	return f, true
}

// integer returns an integral numeric property (an int, or a float with no
// fractional part).
func (b *builder) integer(n *Node, key string) (int64, bool) {
	v, present := n.Prop(key)
	if !present {
		return 0, false
	}
	if i, ok := v.AsInt(); ok {
		return i, true
	}
	if f, ok := v.AsFloat(); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f), true
	}
	b.propErr(n, key, "must be an integer, not %s", v)
	return 0, false
}

func (b *builder) vector(n *Node, key string) (Vector3, bool) {
	v, present := n.Prop(key)
	if !present {
		return Vector3{}, false
	}
	vec, ok := v.AsVector3()
	if !ok {
		b.propErr(n, key, "must be a Vector3, not %s", v.Kind())
		return Vector3{}, false
	}
	if !vec.IsFinite() {
		b.propErr(n, key, "must be finite")
		return Vector3{}, false
	}
	return vec, true
}

// positive returns a property that must be > 0 (or >= 0 when zeroOK).
func (b *builder) positive(n *Node, key string, zeroOK bool) (float64, bool) {
	f, ok := b.number(n, key)
	if !ok {
		return 0, false
	}
	if f < 0 || (f == 0 && !zeroOK) {
		want := "positive"
		if zeroOK {
			want = "zero or positive"
		}
		b.propErr(n, key, "must be %s, not %s", want, formatFloat(f))
		return 0, false
	}
	return f, true
}

func vec(v Vector3) engine.Vec3 { return engine.Vec3{X: v.X, Y: v.Y, Z: v.Z} }

func hasBodyMeta(n *Node) bool {
	_, gm := n.Prop(metaGM)
	_, mass := n.Prop(metaMass)
	return gm || mass
}

func (b *builder) build() *engine.Spec {
	t := b.tree
	name := strings.TrimSuffix(path.Base(t.Path), ".tscn")
	b.report = &BuildReport{Scene: t.Path, Bodies: []BodyReport{}, Belts: []BeltReport{},
		Warnings: []Issue{}, IgnoredTypes: map[string]int{}}
	spec := &engine.Spec{Name: name, Path: t.Path, Epoch: 0, SpeedOfLight: engine.SpeedOfLight, TimeScale: 1}
	root := t.Root
	if root == nil {
		b.errs = append(b.errs, &SceneError{File: t.Path, Msg: "scene has no root node"})
		return nil
	}
	b.used[root] = true
	if jd, ok := b.number(root, metaEpochJD); ok {
		spec.Epoch = (jd - engine.J2000) * 86400
	}
	if c, ok := b.positive(root, metaSpeedOfLight, false); ok {
		spec.SpeedOfLight = c
	}
	if s, ok := b.positive(root, metaTimeScale, false); ok {
		spec.TimeScale = s
	}

	var belts []*Node
	var player *Node
	t.Walk(func(n *Node) bool {
		if n.Type == playerType {
			if hasBodyMeta(n) {
				b.warn(n, "", "%s is never a massive body: its metadata/gm and metadata/mass are ignored", playerType)
			}
			if player == nil {
				player = n
				b.used[n] = true
			} else {
				b.warn(n, "", "second %s ignored: the player spawns at %s", playerType, player.Path)
			}
		} else if hasBodyMeta(n) {
			b.body(spec, n)
		}
		if _, ok := n.Prop(metaBeltCount); ok {
			belts = append(belts, n)
			b.used[n] = true
		}
		return true
	})
	b.uniqueBodyNames(spec)
	if player != nil {
		b.playerNode = player
		spec.Player = b.player(player)
	} else {
		b.report.Warnings = append(b.report.Warnings, Issue{File: t.Path, Message: "scene has no player spawn (XROrigin3D)"})
	}
	if len(spec.Bodies) == 0 {
		b.report.Warnings = append(b.report.Warnings, Issue{File: t.Path, Message: "scene has no massive bodies (metadata/gm or metadata/mass)"})
	}
	b.belts(spec, belts)
	b.ignored()
	return spec
}

func (b *builder) body(spec *engine.Spec, n *Node) {
	b.used[n] = true
	bs := engine.BodySpec{Name: n.Name}
	rep := BodyReport{Name: n.Name, Node: n.Path}
	_, hasGM := n.Prop(metaGM)
	if _, hasMass := n.Prop(metaMass); hasGM && hasMass {
		b.warn(n, metaMass, "both metadata/gm and metadata/mass: metadata/gm is used")
	}
	if hasGM {
		if gm, ok := b.positive(n, metaGM, false); ok {
			bs.GM = gm
		}
	} else if m, ok := b.positive(n, metaMass, false); ok {
		bs.GM = engine.G * m
	}
	if _, ok := n.Prop(metaRadius); ok {
		if r, ok := b.positive(n, metaRadius, true); ok {
			bs.Radius, rep.RadiusFrom = r, metaRadius
		}
	} else if r, src, ok := b.sphereRadius(n); ok {
		bs.Radius, rep.RadiusFrom = r, "SphereMesh"
		b.used[src] = true
	} else {
		b.warn(n, "", "no metadata/radius and no SphereMesh: a point mass")
	}
	g := n.Global()
	bs.Pos = vec(g.Origin)
	if !g.Origin.IsFinite() {
		b.propErr(n, "transform", "global position is not finite")
	}
	if v, ok := b.vector(n, metaVelocity); ok {
		bs.Vel = vec(v)
	}
	rep.GM, rep.Radius = bs.GM, bs.Radius
	b.bodyOf[n] = len(spec.Bodies)
	b.bodyNodes = append(b.bodyNodes, n)
	spec.Bodies = append(spec.Bodies, bs)
	b.report.Bodies = append(b.report.Bodies, rep)
}

// sphereRadius finds a SphereMesh on n or on its first MeshInstance3D
// child that has one, and returns its radius times the largest scale of
// that node's global transform.
func (b *builder) sphereRadius(n *Node) (float64, *Node, bool) {
	candidates := []*Node{n}
	for _, c := range n.Children {
		if c.Type == "MeshInstance3D" {
			candidates = append(candidates, c)
		}
	}
	for _, c := range candidates {
		r, ok := c.Resource("mesh")
		if !ok || r.Type != "SphereMesh" {
			continue
		}
		rad := 0.5 // Godot's default SphereMesh radius
		if v, ok := r.Props.Get("radius"); ok {
			f, ok := v.AsFloat()
			if !ok || !isFinite(f) || f < 0 {
				b.propErr(c, "mesh", "SphereMesh %q radius must be a non-negative number", r.ID)
				return 0, nil, false
			}
			rad = f
		}
		return rad * c.Global().Basis.MaxScale(), c, true
	}
	return 0, nil, false
}

// uniqueBodyNames replaces repeated body names by node paths.
func (b *builder) uniqueBodyNames(spec *engine.Spec) {
	seen := map[string]int{}
	for _, bs := range spec.Bodies {
		seen[bs.Name]++
	}
	for i := range spec.Bodies {
		if seen[spec.Bodies[i].Name] > 1 {
			rep := &b.report.Bodies[i]
			b.report.Warnings = append(b.report.Warnings, Issue{Node: rep.Node,
				Message: fmt.Sprintf("body name %q is not unique: named by its path", rep.Name)})
			spec.Bodies[i].Name = rep.Node
			rep.Name = rep.Node
		}
	}
}

func (b *builder) player(n *Node) *engine.PlayerSpec {
	g := n.Global()
	q := g.Basis.Quaternion()
	ps := &engine.PlayerSpec{
		Name:     n.Name,
		Pos:      vec(g.Origin),
		Attitude: engine.Quat{W: q.W, X: q.X, Y: q.Y, Z: q.Z},
	}
	if !g.Origin.IsFinite() {
		b.propErr(n, "transform", "global position is not finite")
	}
	if v, ok := b.vector(n, metaVelocity); ok {
		ps.Vel = vec(v)
	}
	if m, ok := b.positive(n, metaShipMass, false); ok {
		ps.Mass = m
	}
	if f, ok := b.positive(n, metaMaxThrust, true); ok {
		ps.MaxThrust = f
	}
	if r, ok := b.positive(n, metaHullRadius, false); ok {
		ps.Radius = r
	}
	b.report.Player = &PlayerReport{Name: n.Name, Node: n.Path}
	return ps
}

// ignored counts unused nodes by type and lists metadata the mapping does
// not use where it is written.
func (b *builder) ignored() {
	root := b.tree.Root
	b.tree.Walk(func(n *Node) bool {
		if !b.used[n] {
			typ := n.Type
			if typ == "" {
				typ = "(instance)"
			}
			b.report.IgnoredTypes[typ]++
		}
		_, isBody := b.bodyOf[n]
		isPlayer := n == b.playerNode
		_, isBelt := n.Prop(metaBeltCount)
		for _, p := range n.Props {
			if !strings.HasPrefix(p.Key, "metadata/") {
				continue
			}
			role, known := roles[p.Key]
			fits := false
			switch role {
			case "root":
				fits = n == root
			case "body":
				fits = isBody
			case "belt":
				fits = isBelt
			case "player":
				fits = isPlayer
			case "body or player":
				fits = isBody || isPlayer
			}
			if fits {
				continue
			}
			if known && !(isPlayer && (p.Key == metaGM || p.Key == metaMass)) {
				b.warn(n, p.Key, "%s ignored: it applies to a %s and this node is not one", p.Key, role)
			}
			if known || !strings.HasPrefix(p.Key, "metadata/_") {
				b.report.IgnoredMetadata = append(b.report.IgnoredMetadata, n.Path+": "+p.Key)
			}
		}
		return true
	})
	slices.Sort(b.report.IgnoredMetadata)
}
