package main

import (
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
)

// scene is a Godot 4 text scene (format=3) being built.
type scene struct {
	path  string // res:// path, also the seed of the uid
	ext   []extResource
	sub   []subResource
	nodes []node
}

// extResource is an [ext_resource] section.
type extResource struct {
	typ, path, id string
}

// subResource is a [sub_resource] section.
type subResource struct {
	typ, id string
	props   []prop
}

// node is a [node] section. The root has parent "".
type node struct {
	name, typ, parent string
	instance          string // ext_resource id of an instanced scene, or ""
	props             []prop
}

// prop is one "key = value" line; value is already in Godot's syntax.
type prop struct{ key, value string }

// addSub appends a sub_resource and returns its id for SubResource(...).
func (s *scene) addSub(typ, id string, props ...prop) string {
	s.sub = append(s.sub, subResource{typ: typ, id: id, props: props})
	return id
}

// addExt appends an ext_resource and returns its id for ExtResource(...).
func (s *scene) addExt(typ, path, id string) string {
	s.ext = append(s.ext, extResource{typ: typ, path: path, id: id})
	return id
}

// addNode appends a node section.
func (s *scene) addNode(n node) { s.nodes = append(s.nodes, n) }

// text renders the scene as Godot 4.x writes it: header, ext_resources,
// sub_resources, nodes, one blank line between sections. load_steps is
// omitted when it would be 1, as Godot does.
func (s *scene) text() string {
	var b strings.Builder
	steps := len(s.ext) + len(s.sub) + 1
	b.WriteString("[gd_scene ")
	if steps > 1 {
		fmt.Fprintf(&b, "load_steps=%d ", steps)
	}
	fmt.Fprintf(&b, "format=3 uid=%q]\n", godotUID(s.path))
	if len(s.ext) > 0 {
		b.WriteString("\n")
	}
	for _, e := range s.ext {
		uid := ""
		if e.typ == "PackedScene" {
			uid = fmt.Sprintf(" uid=%q", godotUID(e.path))
		}
		fmt.Fprintf(&b, "[ext_resource type=%q%s path=%q id=%q]\n", e.typ, uid, e.path, e.id)
	}
	for _, r := range s.sub {
		fmt.Fprintf(&b, "\n[sub_resource type=%q id=%q]\n", r.typ, r.id)
		writeProps(&b, r.props)
	}
	for _, n := range s.nodes {
		fmt.Fprintf(&b, "\n[node name=%q", n.name)
		if n.typ != "" {
			fmt.Fprintf(&b, " type=%q", n.typ)
		}
		if n.parent != "" {
			fmt.Fprintf(&b, " parent=%q", n.parent)
		}
		if n.instance != "" {
			fmt.Fprintf(&b, " instance=ExtResource(%q)", n.instance)
		}
		b.WriteString("]\n")
		writeProps(&b, n.props)
	}
	return b.String()
}

func writeProps(b *strings.Builder, props []prop) {
	for _, p := range props {
		fmt.Fprintf(b, "%s = %s\n", p.key, p.value)
	}
}

// godotUID derives a stable uid://… text from a res:// path: the FNV-1a
// hash of the path, cut to Godot's 63-bit id, written in Godot's own
// base-35 alphabet (ResourceUID::id_to_text: a-z then 0-8).
func godotUID(path string) string {
	h := fnv.New64a()
	h.Write([]byte(path))
	id := h.Sum64() & math.MaxInt64
	const base = 35
	var digits []byte
	for {
		c := byte(id % base)
		if c < 26 {
			digits = append(digits, 'a'+c)
		} else {
			digits = append(digits, '0'+c-26)
		}
		id /= base
		if id == 0 {
			break
		}
	}
	for i, j := 0, len(digits)-1; i < j; i, j = i+1, j-1 {
		digits[i], digits[j] = digits[j], digits[i]
	}
	return "uid://" + string(digits)
}

// num formats a number inside a constructor (Vector3, Transform3D, Color):
// the shortest text that parses back to the same float64.
func num(v float64) string {
	if v == 0 {
		v = 0 // no "-0"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// scalar formats a float property so that it stays a float for Godot's
// parser (which reads "1" as an int): num, with ".0" added when the text
// has neither a point nor an exponent.
func scalar(v float64) string {
	s := num(v)
	if !strings.ContainsAny(s, ".eEnN") {
		s += ".0"
	}
	return s
}

// vector3 formats a Vector3.
func vector3(v vec3) string {
	return "Vector3(" + num(v.X) + ", " + num(v.Y) + ", " + num(v.Z) + ")"
}

// transform3D formats a Transform3D the way Godot serialises it: the basis
// row by row (so the first three numbers are the x components of the
// basis's X, Y and Z axes), then the origin.
func transform3D(b basis, origin vec3) string {
	vals := []float64{
		b.X.X, b.Y.X, b.Z.X,
		b.X.Y, b.Y.Y, b.Z.Y,
		b.X.Z, b.Y.Z, b.Z.Z,
		origin.X, origin.Y, origin.Z,
	}
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = num(v)
	}
	return "Transform3D(" + strings.Join(parts, ", ") + ")"
}

// color formats a Color.
func color(r, g, b, a float64) string {
	return "Color(" + num(r) + ", " + num(g) + ", " + num(b) + ", " + num(a) + ")"
}

// quote formats a String value (Godot escapes like C).
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

// subRef and extRef format references to resources.
func subRef(id string) string { return "SubResource(" + strconv.Quote(id) + ")" }
func extRef(id string) string { return "ExtResource(" + strconv.Quote(id) + ")" }

// nodePath formats a NodePath.
func nodePath(p string) string { return "NodePath(" + quote(p) + ")" }

// stringName formats a StringName (&"...").
func stringName(s string) string { return "&" + quote(s) }

// integer formats an int property.
func integer(v int64) string { return strconv.FormatInt(v, 10) }
