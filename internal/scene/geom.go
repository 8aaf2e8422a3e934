package scene

import "math"

// Vector2 is Godot's Vector2 (and Vector2i, converted).
type Vector2 struct{ X, Y float64 }

// Vector3 is Godot's Vector3 (and Vector3i, converted).
type Vector3 struct{ X, Y, Z float64 }

// Vector4 is Godot's Vector4 (and Vector4i, converted).
type Vector4 struct{ X, Y, Z, W float64 }

// Quaternion is Godot's Quaternion; W is the scalar part, as in the text
// format Quaternion(x, y, z, w).
type Quaternion struct{ X, Y, Z, W float64 }

// Color is Godot's Color, components in [0, 1] for ordinary colours.
type Color struct{ R, G, B, A float64 }

// Plane is Godot's Plane: the points p with Normal·p = D.
type Plane struct {
	Normal Vector3
	D      float64
}

// AABB is Godot's axis-aligned box.
type AABB struct{ Position, Size Vector3 }

// Rect2 is Godot's 2D rectangle (and Rect2i, converted).
type Rect2 struct{ Position, Size Vector2 }

// Basis is a 3×3 matrix stored by rows, as Godot writes it: the text
// Basis(xx, xy, xz, yx, yy, yz, zx, zy, zz) is Rows[0] = (xx, xy, xz) and so
// on. The columns are the images of the local x, y and z axes.
type Basis struct{ Rows [3]Vector3 }

// Transform3D is Godot's Transform3D: a basis and an origin. The text
// Transform3D(a, b, c, d, e, f, g, h, i, ox, oy, oz) has the basis rows
// (a, b, c), (d, e, f), (g, h, i) and the origin (ox, oy, oz).
type Transform3D struct {
	Basis  Basis
	Origin Vector3
}

// Transform2D is Godot's Transform2D, stored by columns as in its text
// form Transform2D(x.x, x.y, y.x, y.y, origin.x, origin.y).
type Transform2D struct{ X, Y, Origin Vector2 }

// Projection is Godot's 4×4 Projection, stored by columns.
type Projection struct{ Columns [4]Vector4 }

// identityBasis is the basis that changes nothing.
var identityBasis = Basis{Rows: [3]Vector3{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}}

// IdentityBasis returns the identity basis.
func IdentityBasis() Basis { return identityBasis }

// IdentityTransform returns the transform that changes nothing.
func IdentityTransform() Transform3D { return Transform3D{Basis: identityBasis} }

// Add returns v+w.
func (v Vector3) Add(w Vector3) Vector3 { return Vector3{v.X + w.X, v.Y + w.Y, v.Z + w.Z} }

// Sub returns v-w.
func (v Vector3) Sub(w Vector3) Vector3 { return Vector3{v.X - w.X, v.Y - w.Y, v.Z - w.Z} }

// Scale returns v·k.
func (v Vector3) Scale(k float64) Vector3 { return Vector3{v.X * k, v.Y * k, v.Z * k} }

// Dot returns the dot product.
func (v Vector3) Dot(w Vector3) float64 { return v.X*w.X + v.Y*w.Y + v.Z*w.Z }

// Cross returns the cross product v×w.
func (v Vector3) Cross(w Vector3) Vector3 {
	return Vector3{v.Y*w.Z - v.Z*w.Y, v.Z*w.X - v.X*w.Z, v.X*w.Y - v.Y*w.X}
}

// Length returns |v|.
func (v Vector3) Length() float64 { return math.Sqrt(v.Dot(v)) }

// IsFinite reports whether every component is finite.
func (v Vector3) IsFinite() bool {
	return isFinite(v.X) && isFinite(v.Y) && isFinite(v.Z)
}

func isFinite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// Column returns column j (0, 1, 2) of the basis: the image of local axis j.
func (b Basis) Column(j int) Vector3 {
	switch j {
	case 0:
		return Vector3{b.Rows[0].X, b.Rows[1].X, b.Rows[2].X}
	case 1:
		return Vector3{b.Rows[0].Y, b.Rows[1].Y, b.Rows[2].Y}
	default:
		return Vector3{b.Rows[0].Z, b.Rows[1].Z, b.Rows[2].Z}
	}
}

func basisFromColumns(x, y, z Vector3) Basis {
	return Basis{Rows: [3]Vector3{{x.X, y.X, z.X}, {x.Y, y.Y, z.Y}, {x.Z, y.Z, z.Z}}}
}

// Mul returns the product b·c.
func (b Basis) Mul(c Basis) Basis {
	var r Basis
	c0, c1, c2 := c.Column(0), c.Column(1), c.Column(2)
	for i := range 3 {
		row := b.Rows[i]
		r.Rows[i] = Vector3{row.Dot(c0), row.Dot(c1), row.Dot(c2)}
	}
	return r
}

// Xform returns b·v.
func (b Basis) Xform(v Vector3) Vector3 {
	return Vector3{b.Rows[0].Dot(v), b.Rows[1].Dot(v), b.Rows[2].Dot(v)}
}

// Determinant returns det(b).
func (b Basis) Determinant() float64 {
	return b.Rows[0].Dot(b.Rows[1].Cross(b.Rows[2]))
}

// Scale returns the length of each column (the scale along each local
// axis); the x scale is negative when the basis mirrors, as in Godot.
func (b Basis) Scale() Vector3 {
	s := Vector3{b.Column(0).Length(), b.Column(1).Length(), b.Column(2).Length()}
	if b.Determinant() < 0 {
		s = s.Scale(-1)
	}
	return s
}

// MaxScale returns the largest absolute scale among the three axes.
func (b Basis) MaxScale() float64 {
	return math.Max(b.Column(0).Length(), math.Max(b.Column(1).Length(), b.Column(2).Length()))
}

// rotationPart returns the basis with each column normalised (the scale
// removed); zero columns are replaced by the identity's.
func (b Basis) rotationPart() Basis {
	s := b.Scale()
	cols := [3]Vector3{b.Column(0), b.Column(1), b.Column(2)}
	k := [3]float64{s.X, s.Y, s.Z}
	unit := [3]Vector3{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
	for j := range cols {
		if k[j] == 0 || !isFinite(k[j]) {
			cols[j] = unit[j]
			continue
		}
		cols[j] = cols[j].Scale(1 / k[j])
	}
	return basisFromColumns(cols[0], cols[1], cols[2])
}

// scaled returns b·diag(s).
func (b Basis) scaled(s Vector3) Basis {
	return basisFromColumns(b.Column(0).Scale(s.X), b.Column(1).Scale(s.Y), b.Column(2).Scale(s.Z))
}

// Quaternion returns the rotation of the basis as a unit quaternion, after
// removing scale. The result is the identity for a degenerate basis.
func (b Basis) Quaternion() Quaternion {
	m := b.rotationPart()
	if m.Determinant() < 0 {
		m = m.scaled(Vector3{-1, -1, -1})
	}
	r := m.Rows
	var q Quaternion
	tr := r[0].X + r[1].Y + r[2].Z
	switch {
	case tr > 0:
		s := math.Sqrt(tr+1) * 2
		q = Quaternion{W: s / 4, X: (r[2].Y - r[1].Z) / s, Y: (r[0].Z - r[2].X) / s, Z: (r[1].X - r[0].Y) / s}
	case r[0].X > r[1].Y && r[0].X > r[2].Z:
		s := math.Sqrt(1+r[0].X-r[1].Y-r[2].Z) * 2
		q = Quaternion{W: (r[2].Y - r[1].Z) / s, X: s / 4, Y: (r[0].Y + r[1].X) / s, Z: (r[0].Z + r[2].X) / s}
	case r[1].Y > r[2].Z:
		s := math.Sqrt(1+r[1].Y-r[0].X-r[2].Z) * 2
		q = Quaternion{W: (r[0].Z - r[2].X) / s, X: (r[0].Y + r[1].X) / s, Y: s / 4, Z: (r[1].Z + r[2].Y) / s}
	default:
		s := math.Sqrt(1+r[2].Z-r[0].X-r[1].Y) * 2
		q = Quaternion{W: (r[1].X - r[0].Y) / s, X: (r[0].Z + r[2].X) / s, Y: (r[1].Z + r[2].Y) / s, Z: s / 4}
	}
	n := math.Sqrt(q.X*q.X + q.Y*q.Y + q.Z*q.Z + q.W*q.W)
	if n == 0 || !isFinite(n) {
		return Quaternion{W: 1}
	}
	q = Quaternion{q.X / n, q.Y / n, q.Z / n, q.W / n}
	if q.W < 0 {
		q = Quaternion{-q.X, -q.Y, -q.Z, -q.W}
	}
	return q
}

// Basis returns the rotation matrix of q (normalised first; the zero
// quaternion gives the identity).
func (q Quaternion) Basis() Basis {
	n := math.Sqrt(q.X*q.X + q.Y*q.Y + q.Z*q.Z + q.W*q.W)
	if n == 0 || !isFinite(n) {
		return identityBasis
	}
	x, y, z, w := q.X/n, q.Y/n, q.Z/n, q.W/n
	return Basis{Rows: [3]Vector3{
		{1 - 2*(y*y+z*z), 2 * (x*y - z*w), 2 * (x*z + y*w)},
		{2 * (x*y + z*w), 1 - 2*(x*x+z*z), 2 * (y*z - x*w)},
		{2 * (x*z - y*w), 2 * (y*z + x*w), 1 - 2*(x*x+y*y)},
	}}
}

// EulerOrder is Godot's rotation_order: the order in which the Euler
// rotations multiply. The default for Node3D is EulerYXZ.
type EulerOrder int

// Euler orders, numbered as Godot's EulerOrder enum.
const (
	EulerXYZ EulerOrder = iota
	EulerXZY
	EulerYXZ
	EulerYZX
	EulerZXY
	EulerZYX
)

// BasisFromEuler returns the rotation for Euler angles e (radians) in the
// given order, as Godot's Basis.from_euler: for EulerYXZ the result is
// Ry·Rx·Rz.
func BasisFromEuler(e Vector3, order EulerOrder) Basis {
	cx, sx := math.Cos(e.X), math.Sin(e.X)
	cy, sy := math.Cos(e.Y), math.Sin(e.Y)
	cz, sz := math.Cos(e.Z), math.Sin(e.Z)
	x := Basis{Rows: [3]Vector3{{1, 0, 0}, {0, cx, -sx}, {0, sx, cx}}}
	y := Basis{Rows: [3]Vector3{{cy, 0, sy}, {0, 1, 0}, {-sy, 0, cy}}}
	z := Basis{Rows: [3]Vector3{{cz, -sz, 0}, {sz, cz, 0}, {0, 0, 1}}}
	switch order {
	case EulerXYZ:
		return x.Mul(y).Mul(z)
	case EulerXZY:
		return x.Mul(z).Mul(y)
	case EulerYZX:
		return y.Mul(z).Mul(x)
	case EulerZXY:
		return z.Mul(x).Mul(y)
	case EulerZYX:
		return z.Mul(y).Mul(x)
	default:
		return y.Mul(x).Mul(z)
	}
}

// Mul composes t·u: u applied first, then t (parent·child gives the
// child's global transform).
func (t Transform3D) Mul(u Transform3D) Transform3D {
	return Transform3D{Basis: t.Basis.Mul(u.Basis), Origin: t.Xform(u.Origin)}
}

// Xform maps the point p by t.
func (t Transform3D) Xform(p Vector3) Vector3 { return t.Basis.Xform(p).Add(t.Origin) }
