package scene

import (
	"bytes"
	"encoding/base64"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind is the type of a [Value], named as Godot names its Variant types.
type Kind uint8

// Value kinds. The math kinds keep their components in text order; the
// integer math kinds (Vector2i, ...) keep int64 components.
const (
	KindNil Kind = iota
	KindBool
	KindInt
	KindFloat
	KindString
	KindStringName
	KindNodePath
	KindVector2
	KindVector2i
	KindRect2
	KindRect2i
	KindVector3
	KindVector3i
	KindTransform2D
	KindVector4
	KindVector4i
	KindPlane
	KindQuaternion
	KindAABB
	KindBasis
	KindTransform3D
	KindProjection
	KindColor
	KindArray
	KindDictionary
	KindPackedByteArray
	KindPackedInt32Array
	KindPackedInt64Array
	KindPackedFloat32Array
	KindPackedFloat64Array
	KindPackedStringArray
	KindPackedVector2Array
	KindPackedVector3Array
	KindPackedColorArray
	KindPackedVector4Array
	// KindExtResource is ExtResource("id"): a reference to an
	// [ext_resource] of the same file.
	KindExtResource
	// KindSubResource is SubResource("id"): a reference to a
	// [sub_resource] of the same file.
	KindSubResource
	// KindResource is Resource("path") or Resource("uid://...", "path").
	KindResource
	// KindObject is Object(Type, "key": value, ...).
	KindObject
	// KindConstructor is any other Name(args...) (RID, Signal, Callable,
	// constructors of newer Godot versions), kept as written.
	KindConstructor
	kindCount
)

var kindNames = [kindCount]string{
	KindNil: "Nil", KindBool: "bool", KindInt: "int", KindFloat: "float",
	KindString: "String", KindStringName: "StringName", KindNodePath: "NodePath",
	KindVector2: "Vector2", KindVector2i: "Vector2i", KindRect2: "Rect2", KindRect2i: "Rect2i",
	KindVector3: "Vector3", KindVector3i: "Vector3i", KindTransform2D: "Transform2D",
	KindVector4: "Vector4", KindVector4i: "Vector4i", KindPlane: "Plane", KindQuaternion: "Quaternion",
	KindAABB: "AABB", KindBasis: "Basis", KindTransform3D: "Transform3D", KindProjection: "Projection",
	KindColor: "Color", KindArray: "Array", KindDictionary: "Dictionary",
	KindPackedByteArray: "PackedByteArray", KindPackedInt32Array: "PackedInt32Array",
	KindPackedInt64Array: "PackedInt64Array", KindPackedFloat32Array: "PackedFloat32Array",
	KindPackedFloat64Array: "PackedFloat64Array", KindPackedStringArray: "PackedStringArray",
	KindPackedVector2Array: "PackedVector2Array", KindPackedVector3Array: "PackedVector3Array",
	KindPackedColorArray: "PackedColorArray", KindPackedVector4Array: "PackedVector4Array",
	KindExtResource: "ExtResource", KindSubResource: "SubResource", KindResource: "Resource",
	KindObject: "Object", KindConstructor: "Constructor",
}

// String returns the Godot name of the kind ("Vector3", "PackedFloat32Array").
func (k Kind) String() string {
	if k < kindCount {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// floatArity is the number of components of the float math kinds.
var floatArity = map[Kind]int{
	KindVector2: 2, KindRect2: 4, KindVector3: 3, KindTransform2D: 6, KindVector4: 4,
	KindPlane: 4, KindQuaternion: 4, KindAABB: 6, KindBasis: 9, KindTransform3D: 12,
	KindProjection: 16, KindColor: 4,
}

// intArity is the number of components of the integer math kinds.
var intArity = map[Kind]int{KindVector2i: 2, KindRect2i: 4, KindVector3i: 3, KindVector4i: 4}

// packedStride is the number of numbers per element of the packed float kinds.
var packedStride = map[Kind]int{
	KindPackedFloat32Array: 1, KindPackedFloat64Array: 1, KindPackedVector2Array: 2,
	KindPackedVector3Array: 3, KindPackedVector4Array: 4, KindPackedColorArray: 4,
}

// Pair is one entry of a Dictionary or one property of an Object.
type Pair struct {
	Key   Value
	Value Value
}

type dictData struct {
	keyType, valueType string // "" when untyped
	pairs              []Pair
}

// Value is one parsed Godot value. The zero Value is null. Values are
// immutable: accessors that return slices return the parsed storage, which
// callers must not modify.
type Value struct {
	kind Kind
	i    int64   // bool (0/1), int
	f    float64 // float
	s    string  // strings, ids, array element type, constructor name, object type
	data any     // []float64, []int64, []byte, []string, []Value, []Pair, *dictData
}

// Kind returns the value's kind.
func (v Value) Kind() Kind { return v.kind }

// IsNil reports whether v is null.
func (v Value) IsNil() bool { return v.kind == KindNil }

// AsBool returns a bool value.
func (v Value) AsBool() (bool, bool) { return v.i != 0, v.kind == KindBool }

// AsInt returns an int value (not a float).
func (v Value) AsInt() (int64, bool) { return v.i, v.kind == KindInt }

// AsFloat returns a float or int value as float64.
func (v Value) AsFloat() (float64, bool) {
	switch v.kind {
	case KindFloat:
		return v.f, true
	case KindInt:
		return float64(v.i), true
	}
	return 0, false
}

// AsString returns the text of a String, StringName or NodePath.
func (v Value) AsString() (string, bool) {
	switch v.kind {
	case KindString, KindStringName, KindNodePath:
		return v.s, true
	}
	return "", false
}

// AsNodePath returns the path of a NodePath; a String or StringName is
// accepted as a path too.
func (v Value) AsNodePath() (string, bool) { return v.AsString() }

// ResourceID returns the id of an ExtResource or SubResource reference.
func (v Value) ResourceID() (string, bool) {
	if v.kind == KindExtResource || v.kind == KindSubResource {
		return v.s, true
	}
	return "", false
}

// Name returns the constructor name of a KindConstructor value, the type of
// a KindObject, or the element type of a typed Array ("" when untyped).
func (v Value) Name() string {
	switch v.kind {
	case KindConstructor, KindObject, KindArray:
		return v.s
	}
	return ""
}

// DictTypes returns the key and value types of a typed Dictionary ("" when
// untyped).
func (v Value) DictTypes() (key, value string) {
	if d, ok := v.data.(*dictData); ok {
		return d.keyType, d.valueType
	}
	return "", ""
}

// Numbers returns the components of a float math value (Vector3,
// Transform3D, Color, ...) in text order, or the flat contents of a packed
// float, vector or colour array. Nil for other kinds.
func (v Value) Numbers() []float64 {
	if _, ok := floatArity[v.kind]; ok {
		return v.data.([]float64)
	}
	if _, ok := packedStride[v.kind]; ok {
		return v.data.([]float64)
	}
	return nil
}

// Ints returns the components of an integer math value (Vector3i, ...) or
// the contents of a PackedInt32Array or PackedInt64Array.
func (v Value) Ints() []int64 {
	if _, ok := intArity[v.kind]; ok || v.kind == KindPackedInt32Array || v.kind == KindPackedInt64Array {
		return v.data.([]int64)
	}
	return nil
}

// Bytes returns the contents of a PackedByteArray.
func (v Value) Bytes() []byte {
	if v.kind == KindPackedByteArray {
		return v.data.([]byte)
	}
	return nil
}

// Strings returns the contents of a PackedStringArray, or the arguments of
// a Resource(...) reference.
func (v Value) Strings() []string {
	if v.kind == KindPackedStringArray || v.kind == KindResource {
		return v.data.([]string)
	}
	return nil
}

// Elems returns the elements of an Array or the arguments of a
// KindConstructor value.
func (v Value) Elems() []Value {
	if v.kind == KindArray || v.kind == KindConstructor {
		return v.data.([]Value)
	}
	return nil
}

// Pairs returns the entries of a Dictionary (in file order) or the
// properties of an Object.
func (v Value) Pairs() []Pair {
	switch v.kind {
	case KindDictionary:
		return v.data.(*dictData).pairs
	case KindObject:
		return v.data.([]Pair)
	}
	return nil
}

// Get returns the value of the Dictionary or Object entry whose key is the
// string (or StringName) key.
func (v Value) Get(key string) (Value, bool) {
	pairs := v.Pairs()
	for i := len(pairs) - 1; i >= 0; i-- {
		if s, ok := pairs[i].Key.AsString(); ok && s == key && pairs[i].Key.kind != KindNodePath {
			return pairs[i].Value, true
		}
	}
	return Value{}, false
}

// Len returns the number of elements of an array kind (for packed vector
// and colour arrays, the number of vectors or colours), of entries of a
// Dictionary or Object, or of arguments of a constructor; 0 otherwise.
func (v Value) Len() int {
	if st, ok := packedStride[v.kind]; ok {
		return len(v.data.([]float64)) / st
	}
	switch v.kind {
	case KindPackedInt32Array, KindPackedInt64Array:
		return len(v.data.([]int64))
	case KindPackedByteArray:
		return len(v.data.([]byte))
	case KindPackedStringArray:
		return len(v.data.([]string))
	case KindArray, KindConstructor:
		return len(v.data.([]Value))
	case KindDictionary, KindObject:
		return len(v.Pairs())
	}
	return 0
}

func (v Value) nums(k Kind) ([]float64, bool) {
	if v.kind != k {
		return nil, false
	}
	return v.data.([]float64), true
}

func (v Value) intsToFloat(k Kind) ([]float64, bool) {
	if v.kind != k {
		return nil, false
	}
	in := v.data.([]int64)
	out := make([]float64, len(in))
	for i, x := range in {
		out[i] = float64(x)
	}
	return out, true
}

// AsVector2 returns a Vector2 or Vector2i.
func (v Value) AsVector2() (Vector2, bool) {
	n, ok := v.nums(KindVector2)
	if !ok {
		n, ok = v.intsToFloat(KindVector2i)
	}
	if !ok {
		return Vector2{}, false
	}
	return Vector2{n[0], n[1]}, true
}

// AsVector3 returns a Vector3 or Vector3i.
func (v Value) AsVector3() (Vector3, bool) {
	n, ok := v.nums(KindVector3)
	if !ok {
		n, ok = v.intsToFloat(KindVector3i)
	}
	if !ok {
		return Vector3{}, false
	}
	return Vector3{n[0], n[1], n[2]}, true
}

// AsVector4 returns a Vector4 or Vector4i.
func (v Value) AsVector4() (Vector4, bool) {
	n, ok := v.nums(KindVector4)
	if !ok {
		n, ok = v.intsToFloat(KindVector4i)
	}
	if !ok {
		return Vector4{}, false
	}
	return Vector4{n[0], n[1], n[2], n[3]}, true
}

// AsRect2 returns a Rect2 or Rect2i.
func (v Value) AsRect2() (Rect2, bool) {
	n, ok := v.nums(KindRect2)
	if !ok {
		n, ok = v.intsToFloat(KindRect2i)
	}
	if !ok {
		return Rect2{}, false
	}
	return Rect2{Vector2{n[0], n[1]}, Vector2{n[2], n[3]}}, true
}

// AsQuaternion returns a Quaternion.
func (v Value) AsQuaternion() (Quaternion, bool) {
	n, ok := v.nums(KindQuaternion)
	if !ok {
		return Quaternion{}, false
	}
	return Quaternion{n[0], n[1], n[2], n[3]}, true
}

// AsColor returns a Color.
func (v Value) AsColor() (Color, bool) {
	n, ok := v.nums(KindColor)
	if !ok {
		return Color{}, false
	}
	return Color{n[0], n[1], n[2], n[3]}, true
}

// AsPlane returns a Plane.
func (v Value) AsPlane() (Plane, bool) {
	n, ok := v.nums(KindPlane)
	if !ok {
		return Plane{}, false
	}
	return Plane{Vector3{n[0], n[1], n[2]}, n[3]}, true
}

// AsAABB returns an AABB.
func (v Value) AsAABB() (AABB, bool) {
	n, ok := v.nums(KindAABB)
	if !ok {
		return AABB{}, false
	}
	return AABB{Vector3{n[0], n[1], n[2]}, Vector3{n[3], n[4], n[5]}}, true
}

func basisFromRows(n []float64) Basis {
	return Basis{Rows: [3]Vector3{{n[0], n[1], n[2]}, {n[3], n[4], n[5]}, {n[6], n[7], n[8]}}}
}

// AsBasis returns a Basis.
func (v Value) AsBasis() (Basis, bool) {
	n, ok := v.nums(KindBasis)
	if !ok {
		return Basis{}, false
	}
	return basisFromRows(n), true
}

// AsTransform3D returns a Transform3D.
func (v Value) AsTransform3D() (Transform3D, bool) {
	n, ok := v.nums(KindTransform3D)
	if !ok {
		return Transform3D{}, false
	}
	return Transform3D{Basis: basisFromRows(n), Origin: Vector3{n[9], n[10], n[11]}}, true
}

// AsTransform2D returns a Transform2D.
func (v Value) AsTransform2D() (Transform2D, bool) {
	n, ok := v.nums(KindTransform2D)
	if !ok {
		return Transform2D{}, false
	}
	return Transform2D{Vector2{n[0], n[1]}, Vector2{n[2], n[3]}, Vector2{n[4], n[5]}}, true
}

// AsProjection returns a Projection.
func (v Value) AsProjection() (Projection, bool) {
	n, ok := v.nums(KindProjection)
	if !ok {
		return Projection{}, false
	}
	var p Projection
	for i := range 4 {
		p.Columns[i] = Vector4{n[4*i], n[4*i+1], n[4*i+2], n[4*i+3]}
	}
	return p, true
}

// Constructors used by the parser and by tests.

func nilValue() Value              { return Value{} }
func boolValue(b bool) Value       { v := Value{kind: KindBool}; v.i = b2i(b); return v }
func intValue(i int64) Value       { return Value{kind: KindInt, i: i} }
func floatValue(f float64) Value   { return Value{kind: KindFloat, f: f} }
func stringValue(s string) Value   { return Value{kind: KindString, s: s} }
func nodePathValue(s string) Value { return Value{kind: KindNodePath, s: s} }

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Equal reports whether v and w are the same value: same kind and same
// contents, floats compared bit for bit (so NaN equals the same NaN).
func (v Value) Equal(w Value) bool {
	if v.kind != w.kind || v.i != w.i || math.Float64bits(v.f) != math.Float64bits(w.f) || v.s != w.s {
		return false
	}
	switch a := v.data.(type) {
	case nil:
		return w.data == nil
	case []float64:
		b, ok := w.data.([]float64)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
				return false
			}
		}
		return true
	case []int64:
		b, ok := w.data.([]int64)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	case []byte:
		b, ok := w.data.([]byte)
		return ok && bytes.Equal(a, b)
	case []string:
		b, ok := w.data.([]string)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	case []Value:
		b, ok := w.data.([]Value)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !a[i].Equal(b[i]) {
				return false
			}
		}
		return true
	case []Pair:
		b, ok := w.data.([]Pair)
		return ok && pairsEqual(a, b)
	case *dictData:
		b, ok := w.data.(*dictData)
		return ok && a.keyType == b.keyType && a.valueType == b.valueType && pairsEqual(a.pairs, b.pairs)
	}
	return false
}

func pairsEqual(a, b []Pair) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Key.Equal(b[i].Key) || !a[i].Value.Equal(b[i].Value) {
			return false
		}
	}
	return true
}

// String returns the value in Godot's text syntax; parsing the result
// gives a value Equal to v.
func (v Value) String() string {
	var b strings.Builder
	v.write(&b)
	return b.String()
}

// MarshalText implements encoding.TextMarshaler with the Godot text form,
// so a Value encodes to JSON as a string.
func (v Value) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case f == 0 && math.Signbit(f):
		return "-0.0" // "-0" would read back as the integer 0
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func writeFloatLiteral(b *strings.Builder, f float64) {
	s := formatFloat(f)
	b.WriteString(s)
	if !strings.ContainsAny(s, ".en") { // "e" covers exponents, "n" inf and nan
		b.WriteString(".0")
	}
}

func quote(s string) string {
	var b strings.Builder
	writeQuoted(&b, s)
	return b.String()
}

func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			// Invalid UTF-8 is kept byte for byte.
			b.WriteByte(s[i])
			i++
			continue
		}
		i += size
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 || r == 0x7f {
				b.WriteString(`\u`)
				h := strconv.FormatInt(int64(r), 16)
				b.WriteString(strings.Repeat("0", 4-len(h)))
				b.WriteString(h)
				continue
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

func (v Value) write(b *strings.Builder) {
	switch v.kind {
	case KindNil:
		b.WriteString("null")
	case KindBool:
		if v.i != 0 {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case KindInt:
		b.WriteString(strconv.FormatInt(v.i, 10))
	case KindFloat:
		writeFloatLiteral(b, v.f)
	case KindString:
		writeQuoted(b, v.s)
	case KindStringName:
		b.WriteByte('&')
		writeQuoted(b, v.s)
	case KindNodePath:
		b.WriteString("NodePath(")
		writeQuoted(b, v.s)
		b.WriteByte(')')
	case KindExtResource, KindSubResource:
		b.WriteString(v.kind.String())
		b.WriteByte('(')
		writeQuoted(b, v.s)
		b.WriteByte(')')
	case KindResource:
		b.WriteString("Resource(")
		for i, s := range v.data.([]string) {
			if i > 0 {
				b.WriteString(", ")
			}
			writeQuoted(b, s)
		}
		b.WriteByte(')')
	case KindArray:
		elems := v.data.([]Value)
		if v.s != "" {
			b.WriteString("Array[")
			b.WriteString(v.s)
			b.WriteString("](")
		}
		b.WriteByte('[')
		for i, e := range elems {
			if i > 0 {
				b.WriteString(", ")
			}
			e.write(b)
		}
		b.WriteByte(']')
		if v.s != "" {
			b.WriteByte(')')
		}
	case KindDictionary:
		d := v.data.(*dictData)
		typed := d.keyType != "" || d.valueType != ""
		if typed {
			b.WriteString("Dictionary[")
			b.WriteString(orVariant(d.keyType))
			b.WriteString(", ")
			b.WriteString(orVariant(d.valueType))
			b.WriteString("](")
		}
		b.WriteByte('{')
		for i, p := range d.pairs {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n")
			p.Key.write(b)
			b.WriteString(": ")
			p.Value.write(b)
		}
		if len(d.pairs) > 0 {
			b.WriteString("\n")
		}
		b.WriteByte('}')
		if typed {
			b.WriteByte(')')
		}
	case KindObject:
		b.WriteString("Object(")
		b.WriteString(v.s)
		for _, p := range v.data.([]Pair) {
			b.WriteString(", ")
			p.Key.write(b)
			b.WriteString(": ")
			p.Value.write(b)
		}
		b.WriteByte(')')
	case KindConstructor:
		b.WriteString(v.s)
		b.WriteByte('(')
		for i, e := range v.data.([]Value) {
			if i > 0 {
				b.WriteString(", ")
			}
			e.write(b)
		}
		b.WriteByte(')')
	case KindPackedByteArray:
		b.WriteString("PackedByteArray(")
		data := v.data.([]byte)
		if len(data) > 0 {
			b.WriteByte('"')
			b.WriteString(base64.StdEncoding.EncodeToString(data))
			b.WriteByte('"')
		}
		b.WriteByte(')')
	case KindPackedStringArray:
		b.WriteString("PackedStringArray(")
		for i, s := range v.data.([]string) {
			if i > 0 {
				b.WriteString(", ")
			}
			writeQuoted(b, s)
		}
		b.WriteByte(')')
	default:
		b.WriteString(v.kind.String())
		b.WriteByte('(')
		switch d := v.data.(type) {
		case []float64:
			for i, f := range d {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(formatFloat(f))
			}
		case []int64:
			for i, n := range d {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(strconv.FormatInt(n, 10))
			}
		}
		b.WriteByte(')')
	}
}

func orVariant(t string) string {
	if t == "" {
		return "Variant"
	}
	return t
}
