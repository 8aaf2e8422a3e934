package scene

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseValueGood(t *testing.T) {
	tests := []struct {
		name string
		in   string
		kind Kind
		want string // canonical text (Value.String)
	}{
		{"int", "42", KindInt, "42"},
		{"negative int", "-7", KindInt, "-7"},
		{"max int64", "9223372036854775807", KindInt, "9223372036854775807"},
		{"float", "1.5", KindFloat, "1.5"},
		{"negative float", "-0.25", KindFloat, "-0.25"},
		{"exponent", "1e-05", KindFloat, "1e-05"},
		{"exponent with sign and dot", "1.0e+10", KindFloat, "1e+10"},
		{"capital exponent", "2E3", KindFloat, "2000.0"},
		{"trailing dot", "3.", KindFloat, "3.0"},
		{"float that looks whole", "4.0", KindFloat, "4.0"},
		{"inf", "inf", KindFloat, "inf"},
		{"minus inf", "-inf", KindFloat, "-inf"},
		{"inf_neg (Godot 3)", "inf_neg", KindFloat, "-inf"},
		{"nan", "nan", KindFloat, "nan"},
		{"float overflow is inf", "1e400", KindFloat, "inf"},
		{"true", "true", KindBool, "true"},
		{"false", "false", KindBool, "false"},
		{"null", "null", KindNil, "null"},
		{"nil", "nil", KindNil, "null"},
		{"string escapes", `"a\"b\\c\n\t"`, KindString, `"a\"b\\c\n\t"`},
		{"string with raw newline", "\"multi\nline\"", KindString, `"multi\nline"`},
		{"unicode escape", `"\u00e9"`, KindString, `"é"`},
		{"long unicode escape", `"\U01F600"`, KindString, `"😀"`},
		{"surrogate pair", `"\ud83d\ude00"`, KindString, `"😀"`},
		{"other escape is the char", `"\q\'"`, KindString, `"q'"`},
		{"utf-8 kept", `"Ω"`, KindString, `"Ω"`},
		{"string name", `&"left_hand"`, KindStringName, `&"left_hand"`},
		{"string name Godot 3", `@"x"`, KindStringName, `&"x"`},
		{"node path", `NodePath("../Sun:position")`, KindNodePath, `NodePath("../Sun:position")`},
		{"node path caret", `^"A/B"`, KindNodePath, `NodePath("A/B")`},
		{"string name ctor", `StringName("s")`, KindStringName, `&"s"`},
		{"vector2", "Vector2(1, 2)", KindVector2, "Vector2(1, 2)"},
		{"vector2i", "Vector2i(1, -2)", KindVector2i, "Vector2i(1, -2)"},
		{"vector3", "Vector3(1, 2.5, -3)", KindVector3, "Vector3(1, 2.5, -3)"},
		{"vector3 with inf", "Vector3(inf, -inf, nan)", KindVector3, "Vector3(inf, -inf, nan)"},
		{"vector3 spread over lines", "Vector3( 1 ,\n 2 , 3 )", KindVector3, "Vector3(1, 2, 3)"},
		{"vector3i", "Vector3i(1, 2, 3)", KindVector3i, "Vector3i(1, 2, 3)"},
		{"vector4", "Vector4(1, 2, 3, 4)", KindVector4, "Vector4(1, 2, 3, 4)"},
		{"vector4i", "Vector4i(1, 2, 3, 4)", KindVector4i, "Vector4i(1, 2, 3, 4)"},
		{"quaternion", "Quaternion(0, 0, 0, 1)", KindQuaternion, "Quaternion(0, 0, 0, 1)"},
		{"quat (Godot 3)", "Quat(0, 0, 0, 1)", KindQuaternion, "Quaternion(0, 0, 0, 1)"},
		{"basis", "Basis(1, 0, 0, 0, 1, 0, 0, 0, 1)", KindBasis, "Basis(1, 0, 0, 0, 1, 0, 0, 0, 1)"},
		{"transform2d", "Transform2D(1, 0, 0, 1, 5, 6)", KindTransform2D, "Transform2D(1, 0, 0, 1, 5, 6)"},
		{"transform3d", "Transform3D(1, 0, 0, 0, 1, 0, 0, 0, 1, 1e+11, -2, 3)", KindTransform3D,
			"Transform3D(1, 0, 0, 0, 1, 0, 0, 0, 1, 1e+11, -2, 3)"},
		{"transform (Godot 3)", "Transform(1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0)", KindTransform3D,
			"Transform3D(1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0)"},
		{"plane", "Plane(0, 1, 0, 5)", KindPlane, "Plane(0, 1, 0, 5)"},
		{"aabb", "AABB(-1, -1, -1, 2, 2, 2)", KindAABB, "AABB(-1, -1, -1, 2, 2, 2)"},
		{"rect2", "Rect2(0, 0, 10, 20)", KindRect2, "Rect2(0, 0, 10, 20)"},
		{"rect2i", "Rect2i(0, 0, 10, 20)", KindRect2i, "Rect2i(0, 0, 10, 20)"},
		{"color", "Color(1, 0.5, 0, 1)", KindColor, "Color(1, 0.5, 0, 1)"},
		{"color of three", "Color(1, 0, 0)", KindColor, "Color(1, 0, 0, 1)"},
		{"hex color", "#ff000080", KindColor, "Color(1, 0, 0, 0.5019607843137255)"},
		{"short hex color", "#f00", KindColor, "Color(1, 0, 0, 1)"},
		{"projection", "Projection(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1)", KindProjection,
			"Projection(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1)"},
		{"empty array", "[]", KindArray, "[]"},
		{"mixed array", `[1, 2.5, "x"]`, KindArray, `[1, 2.5, "x"]`},
		{"array trailing comma", "[1, 2,]", KindArray, "[1, 2]"},
		{"nested array", "[[1], {}]", KindArray, "[[1], {}]"},
		{"array with comment", "[1, ; one\n 2]", KindArray, "[1, 2]"},
		{"typed array", "Array[int]([1, 2])", KindArray, "Array[int]([1, 2])"},
		{"script typed array", `Array[ExtResource("1_a")]([])`, KindArray, `Array[ExtResource("1_a")]([])`},
		{"variant typed array is untyped", "Array[Variant]([1])", KindArray, "[1]"},
		{"empty dictionary", "{}", KindDictionary, "{}"},
		{"dictionary", `{"a": 1, 2: [3]}`, KindDictionary, "{\n\"a\": 1,\n2: [3]\n}"},
		{"dictionary trailing comma", `{"a": 1,}`, KindDictionary, "{\n\"a\": 1\n}"},
		{"typed dictionary", `Dictionary[String, int]({"a": 1})`, KindDictionary, "Dictionary[String, int]({\n\"a\": 1\n})"},
		{"byte array of numbers", "PackedByteArray(1, 2, 255)", KindPackedByteArray, `PackedByteArray("AQL/")`},
		{"byte array base64", `PackedByteArray("AQL/")`, KindPackedByteArray, `PackedByteArray("AQL/")`},
		{"empty byte array", "PackedByteArray()", KindPackedByteArray, "PackedByteArray()"},
		{"int32 array", "PackedInt32Array(1, -2)", KindPackedInt32Array, "PackedInt32Array(1, -2)"},
		{"int64 array", "PackedInt64Array(9007199254740993)", KindPackedInt64Array, "PackedInt64Array(9007199254740993)"},
		{"float32 array", "PackedFloat32Array(0.5, inf)", KindPackedFloat32Array, "PackedFloat32Array(0.5, inf)"},
		{"empty float64 array", "PackedFloat64Array()", KindPackedFloat64Array, "PackedFloat64Array()"},
		{"string array", `PackedStringArray("a", "b")`, KindPackedStringArray, `PackedStringArray("a", "b")`},
		{"vector2 array", "PackedVector2Array(1, 2, 3, 4)", KindPackedVector2Array, "PackedVector2Array(1, 2, 3, 4)"},
		{"vector3 array", "PackedVector3Array(1, 2, 3)", KindPackedVector3Array, "PackedVector3Array(1, 2, 3)"},
		{"vector4 array", "PackedVector4Array(1, 2, 3, 4)", KindPackedVector4Array, "PackedVector4Array(1, 2, 3, 4)"},
		{"color array", "PackedColorArray(1, 1, 1, 1)", KindPackedColorArray, "PackedColorArray(1, 1, 1, 1)"},
		{"pool int array (Godot 3)", "PoolIntArray(1)", KindPackedInt32Array, "PackedInt32Array(1)"},
		{"pool real array (Godot 3)", "PoolRealArray(1)", KindPackedFloat32Array, "PackedFloat32Array(1)"},
		{"ext resource", `ExtResource("1_abc")`, KindExtResource, `ExtResource("1_abc")`},
		{"ext resource int id (Godot 3)", "ExtResource( 3 )", KindExtResource, `ExtResource("3")`},
		{"sub resource", `SubResource("Mesh_1")`, KindSubResource, `SubResource("Mesh_1")`},
		{"resource path", `Resource("res://a.tres")`, KindResource, `Resource("res://a.tres")`},
		{"resource uid and path", `Resource("uid://x", "res://a.tres")`, KindResource, `Resource("uid://x", "res://a.tres")`},
		{"object", `Object(Curve, "k": 1, "v": [2])`, KindObject, `Object(Curve, "k": 1, "v": [2])`},
		{"empty object", "Object(Node,)", KindObject, "Object(Node)"},
		{"rid", "RID()", KindConstructor, "RID()"},
		{"callable", "Callable()", KindConstructor, "Callable()"},
		{"unknown constructor kept", `Foo(1, "a", Vector2(1, 2))`, KindConstructor, `Foo(1, "a", Vector2(1, 2))`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseValue(tt.in)
			if err != nil {
				t.Fatalf("ParseValue(%q): %v", tt.in, err)
			}
			if got.Kind() != tt.kind {
				t.Errorf("kind = %v, want %v", got.Kind(), tt.kind)
			}
			if s := got.String(); s != tt.want {
				t.Errorf("String() = %q, want %q", s, tt.want)
			}
			again, err := ParseValue(got.String())
			if err != nil {
				t.Fatalf("reparse of %q: %v", got.String(), err)
			}
			if !again.Equal(got) {
				t.Errorf("reparse of %q = %v, want Equal to the first parse", got.String(), again)
			}
		})
	}
}

func TestParseValueBad(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		line, col int
		msg       string // a substring of the message
	}{
		{"empty", "", 1, 1, "expected a value, found end of file"},
		{"two dots", "1.5.3", 1, 1, "malformed number"},
		{"digits then letters", "12abc", 1, 1, "malformed number"},
		{"exponent without digits", "1e", 1, 1, "exponent digits"},
		{"lone minus", "-", 1, 1, "digit after '-'"},
		{"minus identifier", "-foo", 1, 1, `unexpected identifier "-foo"`},
		{"int overflow", "99999999999999999999", 1, 1, "out of range"},
		{"unterminated string", `"abc`, 1, 1, "unterminated string"},
		{"bad unicode escape", `"a\u12G4"`, 1, 3, `malformed \u escape`},
		{"lone lead surrogate", `"\ud83d"`, 1, 8, "unpaired UTF-16 lead surrogate"},
		{"lone trail surrogate", `"\udc00"`, 1, 2, "unpaired UTF-16 trail surrogate"},
		{"code point too large", `"\U110000"`, 1, 2, "beyond U+10FFFF"},
		{"NUL in string", "\"a\x00b\"", 1, 3, "NUL byte"},
		{"too few numbers", "Vector3(1, 2)", 1, 1, "takes 3 numbers, found 2"},
		{"unclosed constructor", "Vector3(1, 2, 3", 1, 16, "expected ',' or ')'"},
		{"missing number", "Vector3(1, , 3)", 1, 12, "expected a number"},
		{"string in vector", `Vector3(1, 2, "x")`, 1, 15, "expected a number"},
		{"trailing comma in constructor", "Vector2(1, 2,)", 1, 14, "expected a number"},
		{"float in vector2i", "Vector2i(1.5, 2)", 1, 10, "takes integers"},
		{"vector2i overflow", "Vector2i(1, 3000000000)", 1, 1, "32-bit range"},
		{"color of two", "Color(1, 2)", 1, 1, "takes 4 numbers"},
		{"constructor without parens", "Vector3", 1, 8, "expected '(' after Vector3"},
		{"array missing comma", "[1 2]", 1, 4, "expected ',' or ']'"},
		{"unterminated array", "[1, 2", 1, 6, "unterminated array"},
		{"array leading comma", "[,1]", 1, 2, `expected a value, found ","`},
		{"dictionary missing colon", `{"a" 1}`, 1, 6, "expected ':'"},
		{"dictionary missing comma", `{"a": 1 "b": 2}`, 1, 9, "expected ',' or '}'"},
		{"dictionary missing value", "{1: }", 1, 5, `expected a value, found "}"`},
		{"unterminated dictionary", `{"a": 1`, 1, 8, "unterminated dictionary"},
		{"vector3 array of two", "PackedVector3Array(1, 2)", 1, 1, "multiple of 3"},
		{"byte out of range", "PackedByteArray(256)", 1, 1, "not a byte"},
		{"bad base64", `PackedByteArray("!!")`, 1, 17, "invalid base64"},
		{"number in string array", "PackedStringArray(1)", 1, 19, "takes strings"},
		{"float in int32 array", "PackedInt32Array(1, 2.5)", 1, 21, "takes integers"},
		{"int32 array overflow", "PackedInt32Array(2147483648)", 1, 1, "32-bit range"},
		{"node path of a number", "NodePath(1)", 1, 10, "takes a string"},
		{"empty ext resource", "ExtResource()", 1, 13, "takes a string id"},
		{"object without type", `Object("x")`, 1, 8, "starts with a type name"},
		{"object property not a string", "Object(Node, 1: 2)", 1, 14, "property name string"},
		{"typed array without values", "Array[int]", 1, 11, "expected '('"},
		{"array constructor", "Array([1])", 1, 6, "expected '['"},
		{"typed dictionary with one type", "Dictionary[int]({})", 1, 15, "expected ','"},
		{"unknown identifier", "foo", 1, 1, `unexpected identifier "foo"`},
		{"ampersand without quote", "&x", 1, 2, `expected '"' after '&'`},
		{"bad hex colour", "#12345", 1, 1, "malformed colour"},
		{"dollar", "$", 1, 1, `expected a value, found "$"`},
		{"nested too deep", strings.Repeat("[", MaxDepth+1), 1, MaxDepth + 1, "nested deeper than"},
		{"error on a later line", "[\n1,\n2 3]", 3, 3, "expected ',' or ']'"},
		{"text after value", "1 2", 1, 3, `unexpected "2" after value`},
		{"column counts characters", `["é", é]`, 1, 7, `expected a value, found 'é'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ParseValue(tt.in)
			if err == nil {
				t.Fatalf("ParseValue(%q) = %v, want an error", tt.in, v)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *SyntaxError", err, err)
			}
			if !errors.Is(err, ErrInvalidScene) {
				t.Errorf("errors.Is(%v, ErrInvalidScene) = false", err)
			}
			if se.Line != tt.line || se.Col != tt.col {
				t.Errorf("position = %d:%d, want %d:%d (%v)", se.Line, se.Col, tt.line, tt.col, err)
			}
			if !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("message %q does not contain %q", se.Msg, tt.msg)
			}
		})
	}
}

func TestValueAccessors(t *testing.T) {
	mustParse := func(t *testing.T, s string) Value {
		t.Helper()
		v, err := ParseValue(s)
		if err != nil {
			t.Fatalf("ParseValue(%q): %v", s, err)
		}
		return v
	}
	t.Run("float accepts int", func(t *testing.T) {
		got, ok := mustParse(t, "3").AsFloat()
		if !ok || got != 3 {
			t.Errorf("AsFloat = %v, %v; want 3, true", got, ok)
		}
		if _, ok := mustParse(t, "3.5").AsInt(); ok {
			t.Error("AsInt of a float succeeded")
		}
	})
	t.Run("vector3 from vector3i", func(t *testing.T) {
		got, ok := mustParse(t, "Vector3i(1, 2, 3)").AsVector3()
		if want := (Vector3{1, 2, 3}); !ok || got != want {
			t.Errorf("AsVector3 = %v, %v; want %v", got, ok, want)
		}
	})
	t.Run("transform3d rows", func(t *testing.T) {
		got, ok := mustParse(t, "Transform3D(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)").AsTransform3D()
		want := Transform3D{Basis: Basis{Rows: [3]Vector3{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}}, Origin: Vector3{10, 11, 12}}
		if !ok || got != want {
			t.Errorf("AsTransform3D = %v, %v; want %v", got, ok, want)
		}
		if col := got.Basis.Column(0); col != (Vector3{1, 4, 7}) {
			t.Errorf("Column(0) = %v, want (1, 4, 7)", col)
		}
	})
	t.Run("other math types", func(t *testing.T) {
		if q, ok := mustParse(t, "Quaternion(1, 2, 3, 4)").AsQuaternion(); !ok || q != (Quaternion{1, 2, 3, 4}) {
			t.Errorf("AsQuaternion = %v", q)
		}
		if c, ok := mustParse(t, "Color(0.1, 0.2, 0.3, 0.4)").AsColor(); !ok || c != (Color{0.1, 0.2, 0.3, 0.4}) {
			t.Errorf("AsColor = %v", c)
		}
		if p, ok := mustParse(t, "Plane(0, 1, 0, 2)").AsPlane(); !ok || p != (Plane{Vector3{0, 1, 0}, 2}) {
			t.Errorf("AsPlane = %v", p)
		}
		if a, ok := mustParse(t, "AABB(1, 2, 3, 4, 5, 6)").AsAABB(); !ok || a != (AABB{Vector3{1, 2, 3}, Vector3{4, 5, 6}}) {
			t.Errorf("AsAABB = %v", a)
		}
		if r, ok := mustParse(t, "Rect2i(1, 2, 3, 4)").AsRect2(); !ok || r != (Rect2{Vector2{1, 2}, Vector2{3, 4}}) {
			t.Errorf("AsRect2 = %v", r)
		}
		if v, ok := mustParse(t, "Vector2(1, 2)").AsVector2(); !ok || v != (Vector2{1, 2}) {
			t.Errorf("AsVector2 = %v", v)
		}
		if v, ok := mustParse(t, "Vector4i(1, 2, 3, 4)").AsVector4(); !ok || v != (Vector4{1, 2, 3, 4}) {
			t.Errorf("AsVector4 = %v", v)
		}
		if tr, ok := mustParse(t, "Transform2D(1, 2, 3, 4, 5, 6)").AsTransform2D(); !ok || tr != (Transform2D{Vector2{1, 2}, Vector2{3, 4}, Vector2{5, 6}}) {
			t.Errorf("AsTransform2D = %v", tr)
		}
		if b, ok := mustParse(t, "Basis(1, 2, 3, 4, 5, 6, 7, 8, 9)").AsBasis(); !ok || b.Rows[2] != (Vector3{7, 8, 9}) {
			t.Errorf("AsBasis = %v", b)
		}
		if pr, ok := mustParse(t, "Projection(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)").AsProjection(); !ok || pr.Columns[3] != (Vector4{13, 14, 15, 16}) {
			t.Errorf("AsProjection = %v", pr)
		}
	})
	t.Run("wrong kind", func(t *testing.T) {
		v := mustParse(t, `"x"`)
		if _, ok := v.AsVector3(); ok {
			t.Error("AsVector3 of a string succeeded")
		}
		if _, ok := v.AsFloat(); ok {
			t.Error("AsFloat of a string succeeded")
		}
		if _, ok := v.AsTransform3D(); ok {
			t.Error("AsTransform3D of a string succeeded")
		}
	})
	t.Run("containers", func(t *testing.T) {
		d := mustParse(t, `{"a": 1, &"b": [true, null]}`)
		if got, ok := d.Get("b"); !ok || got.Len() != 2 || !got.Elems()[1].IsNil() {
			t.Errorf(`Get("b") = %v, %v`, got, ok)
		}
		if d.Len() != 2 || len(d.Pairs()) != 2 {
			t.Errorf("Len = %d, want 2", d.Len())
		}
		a := mustParse(t, "PackedVector3Array(1, 2, 3, 4, 5, 6)")
		if a.Len() != 2 || len(a.Numbers()) != 6 {
			t.Errorf("Len = %d, Numbers = %v", a.Len(), a.Numbers())
		}
		if got := mustParse(t, "PackedInt64Array(5, 6)").Ints(); len(got) != 2 || got[1] != 6 {
			t.Errorf("Ints = %v", got)
		}
		if got := mustParse(t, "PackedByteArray(7)").Bytes(); len(got) != 1 || got[0] != 7 {
			t.Errorf("Bytes = %v", got)
		}
		if got := mustParse(t, `PackedStringArray("x")`).Strings(); len(got) != 1 || got[0] != "x" {
			t.Errorf("Strings = %v", got)
		}
		if id, ok := mustParse(t, `SubResource("m")`).ResourceID(); !ok || id != "m" {
			t.Errorf("ResourceID = %q, %v", id, ok)
		}
		if name := mustParse(t, "Array[int]([])").Name(); name != "int" {
			t.Errorf("Name = %q, want int", name)
		}
		k, vt := mustParse(t, "Dictionary[String, Vector3]({})").DictTypes()
		if k != "String" || vt != "Vector3" {
			t.Errorf("DictTypes = %q, %q", k, vt)
		}
		o := mustParse(t, `Object(Curve, "bake_interval": 5)`)
		if got, ok := o.Get("bake_interval"); !ok || got.String() != "5" || o.Name() != "Curve" {
			t.Errorf("object Get = %v, %v, name %q", got, ok, o.Name())
		}
	})
	t.Run("nan equals itself", func(t *testing.T) {
		a, b := mustParse(t, "nan"), mustParse(t, "nan")
		if !a.Equal(b) {
			t.Error("nan is not Equal to nan")
		}
		f, _ := a.AsFloat()
		if !math.IsNaN(f) {
			t.Errorf("AsFloat(nan) = %v", f)
		}
	})
	t.Run("json is the text form", func(t *testing.T) {
		got, err := mustParse(t, "Vector3(1, 2, 3)").MarshalText()
		if err != nil || string(got) != "Vector3(1, 2, 3)" {
			t.Errorf("MarshalText = %q, %v", got, err)
		}
	})
}
