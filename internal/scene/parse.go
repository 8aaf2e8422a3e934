package scene

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of the parser and loader. They bound the memory and time an
// untrusted scene can cost.
const (
	// MaxFileSize is the largest .tscn file read, in bytes.
	MaxFileSize = 16 << 20
	// MaxDepth is the deepest nesting of arrays, dictionaries and
	// constructors inside one value.
	MaxDepth = 100
	// MaxArrayLen is the most elements in one array or dictionary, or
	// numbers in one packed array or constructor.
	MaxArrayLen = 1 << 22
)

// File is one parsed .tscn file, in file order.
type File struct {
	// Path is the res:// path the file was loaded from, or the name given
	// to Parse.
	Path string
	// Format is the header's format: 3 for Godot 4 (4 for Godot 4 files
	// with base64 byte arrays), 2 for Godot 3 (read with a warning).
	Format    int
	UID       string
	LoadSteps int
	// Header holds every attribute of the [gd_scene] tag.
	Header       Attrs
	ExtResources []*ExtResource
	SubResources []*Resource
	Nodes        []*NodeDecl
	Connections  []*Connection
	Editables    []*Editable
	// Warnings are problems that do not stop the file from being used.
	Warnings []Issue

	extByID map[string]*ExtResource
	subByID map[string]*Resource
}

// Ext returns the ext_resource with the given id.
func (f *File) Ext(id string) (*ExtResource, bool) {
	r, ok := f.extByID[id]
	return r, ok
}

// Sub returns the sub_resource with the given id.
func (f *File) Sub(id string) (*Resource, bool) {
	r, ok := f.subByID[id]
	return r, ok
}

// Attr is one key=value attribute of a section tag.
type Attr struct {
	Key   string
	Value Value
}

// Attrs is the list of attributes of a tag, in file order.
type Attrs []Attr

// Get returns the value of attribute key.
func (a Attrs) Get(key string) (Value, bool) {
	for i := len(a) - 1; i >= 0; i-- {
		if a[i].Key == key {
			return a[i].Value, true
		}
	}
	return Value{}, false
}

// Property is one "key = value" line. Keys may contain '/' and ':'
// ("metadata/mass", "surface_material_override/0").
type Property struct {
	Key   string
	Value Value
	Line  int
	Col   int
	file  *File
}

// File returns the file the property was read from (where its
// ExtResource and SubResource ids are declared); nil for properties not
// read from a file.
func (p Property) File() *File { return p.file }

// Props is a list of properties in file order.
type Props []Property

// Get returns the value of the last property named key.
func (p Props) Get(key string) (Value, bool) {
	if i := p.index(key); i >= 0 {
		return p[i].Value, true
	}
	return Value{}, false
}

func (p Props) index(key string) int {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i].Key == key {
			return i
		}
	}
	return -1
}

// ExtResource is an [ext_resource] declaration: a file the scene uses.
type ExtResource struct {
	ID    string
	Type  string // e.g. "PackedScene", "Script"
	Path  string // as written, normally res://...
	UID   string
	Line  int
	Attrs Attrs
}

// Resource is a [sub_resource] declaration: a resource stored inside the
// scene (a SphereMesh, a material), with its properties.
type Resource struct {
	ID    string
	Type  string
	Line  int
	Attrs Attrs
	Props Props
}

// NodeDecl is a [node] declaration as written in the file.
type NodeDecl struct {
	Name string
	Type string // "" for an instance or an override of an inherited node
	// Parent is the parent's path relative to the root ("." for the root
	// itself); HasParent is false only for the root node.
	Parent    string
	HasParent bool
	// Instance is the id of the ext_resource (a PackedScene) this node
	// instances, or "".
	Instance string
	// InstancePlaceholder is the path of a scene loaded later at run time.
	InstancePlaceholder string
	Owner               string
	Groups              []string
	Index               int // -1 when absent
	Line                int
	Attrs               Attrs
	Props               Props
}

// Connection is a [connection] of a signal to a method.
type Connection struct {
	Signal, From, To, Method string
	Flags                    int64
	Line                     int
	Attrs                    Attrs
}

// Editable is an [editable path=...] marker: the children of an instanced
// scene at Path are editable (overridable) in this scene.
type Editable struct {
	Path string
	Line int
}

// ParseValue parses one value written in Godot's text syntax, such as
// "Vector3(1, 2, 3)" or "{\"a\": [1, 2.5]}". ExtResource and SubResource
// references are not checked against any declaration.
func ParseValue(src string) (Value, error) {
	if len(src) > MaxFileSize {
		return Value{}, &SyntaxError{File: "value", Line: 1, Col: 1, Msg: "value too large"}
	}
	p := &parser{src: []byte(src), name: "value"}
	v, err := p.value()
	if err != nil {
		return Value{}, err
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		return Value{}, p.errf(p.pos, "unexpected %s after value", p.describe(p.pos))
	}
	return v, nil
}

// Parse reads a Godot text scene. name is used in errors and as
// File.Path. The result is independent of src.
func Parse(name string, src []byte) (*File, error) {
	if len(src) > MaxFileSize {
		return nil, &SyntaxError{File: name, Line: 1, Col: 1,
			Msg: fmt.Sprintf("file is %d bytes, over the %d-byte limit", len(src), MaxFileSize)}
	}
	p := &parser{src: src, name: name, f: &File{
		Path:    name,
		extByID: map[string]*ExtResource{},
		subByID: map[string]*Resource{},
	}}
	if err := p.file(); err != nil {
		return nil, err
	}
	return p.f, nil
}

type section int

const (
	secNone section = iota
	secHeader
	secExt
	secSub
	secNode
	secConnection
	secEditable
)

type parser struct {
	src   []byte
	pos   int
	name  string
	depth int
	f     *File // nil for ParseValue

	// line cache: the line number of lcPos, moved forward monotonically.
	lcPos, lcLine, lcStart int
}

// lineCol returns the 1-based line and column (in runes) of byte offset pos.
func (p *parser) lineCol(pos int) (int, int) {
	if pos > len(p.src) {
		pos = len(p.src)
	}
	if pos < p.lcPos {
		p.lcPos, p.lcLine, p.lcStart = 0, 0, 0
	}
	for {
		i := bytes.IndexByte(p.src[p.lcPos:pos], '\n')
		if i < 0 {
			break
		}
		p.lcPos += i + 1
		p.lcLine++
		p.lcStart = p.lcPos
	}
	p.lcPos = pos
	return p.lcLine + 1, utf8.RuneCount(p.src[p.lcStart:pos]) + 1
}

func (p *parser) line(pos int) int {
	l, _ := p.lineCol(pos)
	return l
}

func (p *parser) errf(pos int, format string, args ...any) *SyntaxError {
	l, c := p.lineCol(pos)
	return &SyntaxError{File: p.name, Line: l, Col: c, Msg: fmt.Sprintf(format, args...)}
}

// describe names the character at pos for an error message.
func (p *parser) describe(pos int) string {
	if pos >= len(p.src) {
		return "end of file"
	}
	c := p.src[pos]
	switch {
	case c == '\n':
		return "end of line"
	case c == 0:
		return "NUL byte"
	case c < 0x20 || c == 0x7f:
		return fmt.Sprintf("control character %#02x", c)
	case c < utf8.RuneSelf:
		return strconv.Quote(string(c))
	}
	r, _ := utf8.DecodeRune(p.src[pos:])
	return strconv.QuoteRune(r)
}

// skipSpace skips blanks, newlines and ';' comments.
func (p *parser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\r', '\n':
			p.pos++
		case ';':
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.pos++
			}
		default:
			return
		}
	}
}

// skipBlanks skips spaces and tabs on the current line.
func (p *parser) skipBlanks() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\r') {
		p.pos++
	}
}

func (p *parser) file() error {
	if bytes.HasPrefix(p.src, []byte("\xef\xbb\xbf")) {
		p.pos = 3
	}
	cur := secNone
	var props *Props
	for {
		p.skipSpace()
		if p.pos >= len(p.src) {
			break
		}
		if p.src[p.pos] == '[' {
			start := p.pos
			name, attrs, err := p.tag()
			if err != nil {
				return err
			}
			cur, props, err = p.section(start, name, attrs, cur)
			if err != nil {
				return err
			}
			continue
		}
		start := p.pos
		prop, err := p.property()
		if err != nil {
			return err
		}
		if props == nil {
			what := "before any section"
			if cur != secNone {
				what = "in this section (only [node] and [sub_resource] take properties)"
			}
			return p.errf(start, "property %q %s", prop.Key, what)
		}
		*props = append(*props, prop)
	}
	if cur == secNone {
		return p.errf(p.pos, "empty file: expected a [gd_scene] header")
	}
	return nil
}

// tag reads "[name key=value ...]".
func (p *parser) tag() (string, Attrs, error) {
	p.pos++ // '['
	p.skipSpace()
	start := p.pos
	name := p.ident()
	if name == "" {
		return "", nil, p.errf(start, "expected a tag name after '[', found %s", p.describe(start))
	}
	var attrs Attrs
	for {
		p.skipSpace()
		if p.pos >= len(p.src) {
			return "", nil, p.errf(p.pos, "unterminated [%s tag: expected ']'", name)
		}
		if p.src[p.pos] == ']' {
			p.pos++
			return name, attrs, nil
		}
		kpos := p.pos
		key := p.ident()
		if key == "" {
			return "", nil, p.errf(kpos, "expected an attribute name or ']' in [%s], found %s", name, p.describe(kpos))
		}
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != '=' {
			return "", nil, p.errf(p.pos, "expected '=' after attribute %q, found %s", key, p.describe(p.pos))
		}
		p.pos++
		v, err := p.value()
		if err != nil {
			return "", nil, err
		}
		attrs = append(attrs, Attr{Key: key, Value: v})
	}
}

func isIdentStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentChar(c byte) bool  { return isIdentStart(c) || (c >= '0' && c <= '9') }

// ident reads an identifier ([A-Za-z_][A-Za-z0-9_]*) or returns "".
func (p *parser) ident() string {
	start := p.pos
	if p.pos >= len(p.src) || !isIdentStart(p.src[p.pos]) {
		return ""
	}
	for p.pos < len(p.src) && isIdentChar(p.src[p.pos]) {
		p.pos++
	}
	return string(p.src[start:p.pos])
}

// attrString returns attribute key as a string (String, StringName or
// NodePath), or an error at the tag when it has another type.
func (p *parser) attrString(tagPos int, tag string, attrs Attrs, key string, required bool) (string, bool, error) {
	v, ok := attrs.Get(key)
	if !ok {
		if required {
			return "", false, p.errf(tagPos, "[%s] lacks the %s attribute", tag, key)
		}
		return "", false, nil
	}
	s, ok := v.AsString()
	if !ok {
		return "", false, p.errf(tagPos, "[%s] attribute %s must be a string, not %s", tag, key, v.Kind())
	}
	return s, true, nil
}

// attrID returns an id attribute: a string, or an int in format 2 files.
func (p *parser) attrID(tagPos int, tag string, attrs Attrs) (string, error) {
	v, ok := attrs.Get("id")
	if !ok {
		return "", p.errf(tagPos, "[%s] lacks the id attribute", tag)
	}
	if n, ok := v.AsInt(); ok {
		return strconv.FormatInt(n, 10), nil
	}
	if s, ok := v.AsString(); ok && s != "" {
		return s, nil
	}
	return "", p.errf(tagPos, "[%s] attribute id must be a non-empty string", tag)
}

// section records a parsed tag and returns the new section and where its
// properties go.
func (p *parser) section(pos int, name string, attrs Attrs, cur section) (section, *Props, error) {
	f := p.f
	line := p.line(pos)
	if cur == secNone {
		switch name {
		case "gd_scene":
			return secHeader, nil, p.header(pos, attrs)
		case "gd_resource":
			return 0, nil, p.errf(pos, "this is a resource file ([gd_resource]), not a scene")
		default:
			return 0, nil, p.errf(pos, "expected a [gd_scene] header, found [%s]", name)
		}
	}
	switch name {
	case "gd_scene":
		return 0, nil, p.errf(pos, "second [gd_scene] header")
	case "ext_resource":
		id, err := p.attrID(pos, name, attrs)
		if err != nil {
			return 0, nil, err
		}
		if _, dup := f.extByID[id]; dup {
			return 0, nil, p.errf(pos, "duplicate ext_resource id %q", id)
		}
		typ, _, err := p.attrString(pos, name, attrs, "type", false)
		if err != nil {
			return 0, nil, err
		}
		path, hasPath, err := p.attrString(pos, name, attrs, "path", false)
		if err != nil {
			return 0, nil, err
		}
		uid, hasUID, err := p.attrString(pos, name, attrs, "uid", false)
		if err != nil {
			return 0, nil, err
		}
		if !hasPath && !hasUID {
			return 0, nil, p.errf(pos, "[ext_resource] needs a path or a uid")
		}
		r := &ExtResource{ID: id, Type: typ, Path: path, UID: uid, Line: line, Attrs: attrs}
		f.ExtResources = append(f.ExtResources, r)
		f.extByID[id] = r
		return secExt, nil, nil
	case "sub_resource":
		id, err := p.attrID(pos, name, attrs)
		if err != nil {
			return 0, nil, err
		}
		if _, dup := f.subByID[id]; dup {
			return 0, nil, p.errf(pos, "duplicate sub_resource id %q", id)
		}
		typ, _, err := p.attrString(pos, name, attrs, "type", true)
		if err != nil {
			return 0, nil, err
		}
		r := &Resource{ID: id, Type: typ, Line: line, Attrs: attrs}
		f.SubResources = append(f.SubResources, r)
		f.subByID[id] = r
		return secSub, &r.Props, nil
	case "node":
		n, err := p.node(pos, attrs)
		if err != nil {
			return 0, nil, err
		}
		n.Line = line
		f.Nodes = append(f.Nodes, n)
		return secNode, &n.Props, nil
	case "connection":
		c := &Connection{Line: line, Attrs: attrs}
		for _, a := range []struct {
			key string
			dst *string
		}{{"signal", &c.Signal}, {"from", &c.From}, {"to", &c.To}, {"method", &c.Method}} {
			s, _, err := p.attrString(pos, name, attrs, a.key, true)
			if err != nil {
				return 0, nil, err
			}
			*a.dst = s
		}
		if v, ok := attrs.Get("flags"); ok {
			fl, ok := v.AsInt()
			if !ok {
				return 0, nil, p.errf(pos, "[connection] attribute flags must be an int, not %s", v.Kind())
			}
			c.Flags = fl
		}
		f.Connections = append(f.Connections, c)
		return secConnection, nil, nil
	case "editable":
		path, _, err := p.attrString(pos, name, attrs, "path", true)
		if err != nil {
			return 0, nil, err
		}
		f.Editables = append(f.Editables, &Editable{Path: path, Line: line})
		return secEditable, nil, nil
	}
	return 0, nil, p.errf(pos, "unknown section [%s] in a scene", name)
}

func (p *parser) header(pos int, attrs Attrs) error {
	f := p.f
	f.Header = attrs
	v, ok := attrs.Get("format")
	if !ok {
		return p.errf(pos, "[gd_scene] lacks the format attribute")
	}
	format, ok := v.AsInt()
	if !ok {
		return p.errf(pos, "[gd_scene] format must be an int, not %s", v.Kind())
	}
	switch format {
	case 3, 4:
	case 2:
		l, c := p.lineCol(pos)
		f.Warnings = append(f.Warnings, Issue{File: p.name, Line: l, Column: c,
			Message: "format=2 (Godot 3) scene: read with compatibility names (Transform, Pool*Array, integer ids)"})
	default:
		return p.errf(pos, "unsupported scene format %d (want 3; 2 and 4 are also read)", format)
	}
	f.Format = int(format)
	if v, ok := attrs.Get("load_steps"); ok {
		n, ok := v.AsInt()
		if !ok || n < 0 || n > math.MaxInt32 {
			return p.errf(pos, "[gd_scene] load_steps must be a non-negative int")
		}
		f.LoadSteps = int(n)
	}
	if v, ok := attrs.Get("uid"); ok {
		s, ok := v.AsString()
		if !ok {
			return p.errf(pos, "[gd_scene] uid must be a string")
		}
		f.UID = s
	}
	return nil
}

func validNodeName(s string) bool {
	if s == "" || s == "." || s == ".." || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == '/' || r == ':' || r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func (p *parser) node(pos int, attrs Attrs) (*NodeDecl, error) {
	const tag = "node"
	n := &NodeDecl{Attrs: attrs, Index: -1}
	var err error
	if n.Name, _, err = p.attrString(pos, tag, attrs, "name", true); err != nil {
		return nil, err
	}
	if !validNodeName(n.Name) {
		return nil, p.errf(pos, "invalid node name %q (empty, \".\", \"..\", or containing '/', ':' or control characters)", n.Name)
	}
	if n.Type, _, err = p.attrString(pos, tag, attrs, "type", false); err != nil {
		return nil, err
	}
	if n.Parent, n.HasParent, err = p.attrString(pos, tag, attrs, "parent", false); err != nil {
		return nil, err
	}
	if n.Owner, _, err = p.attrString(pos, tag, attrs, "owner", false); err != nil {
		return nil, err
	}
	if n.InstancePlaceholder, _, err = p.attrString(pos, tag, attrs, "instance_placeholder", false); err != nil {
		return nil, err
	}
	if v, ok := attrs.Get("instance"); ok {
		if v.Kind() != KindExtResource {
			return nil, p.errf(pos, "[node] attribute instance must be ExtResource(...), not %s", v.Kind())
		}
		n.Instance = v.s
	}
	if v, ok := attrs.Get("index"); ok {
		i, ok := v.AsInt()
		if !ok {
			if s, isStr := v.AsString(); isStr {
				var perr error
				i, perr = strconv.ParseInt(s, 10, 32)
				ok = perr == nil
			}
		}
		if !ok || i < 0 || i > math.MaxInt32 {
			return nil, p.errf(pos, "[node] attribute index must be a non-negative integer")
		}
		n.Index = int(i)
	}
	if v, ok := attrs.Get("groups"); ok {
		switch v.Kind() {
		case KindArray:
			for _, g := range v.Elems() {
				s, ok := g.AsString()
				if !ok {
					return nil, p.errf(pos, "[node] groups must hold strings, not %s", g.Kind())
				}
				n.Groups = append(n.Groups, s)
			}
		case KindPackedStringArray:
			n.Groups = append(n.Groups, v.Strings()...)
		default:
			return nil, p.errf(pos, "[node] attribute groups must be an array, not %s", v.Kind())
		}
	}
	nodes := p.f.Nodes
	switch {
	case len(nodes) == 0 && n.HasParent:
		return nil, p.errf(pos, "the first node is the scene root and takes no parent attribute")
	case len(nodes) > 0 && !n.HasParent:
		return nil, p.errf(pos, "node %q has no parent attribute: a scene has one root", n.Name)
	case n.HasParent && n.Parent == "":
		return nil, p.errf(pos, "node %q has an empty parent", n.Name)
	}
	return n, nil
}

// property reads "key = value" up to the end of the line.
func (p *parser) property() (Property, error) {
	start := p.pos
	var key string
	if p.src[p.pos] == '"' {
		s, err := p.str()
		if err != nil {
			return Property{}, err
		}
		key = s
		p.skipBlanks()
	} else {
		for p.pos < len(p.src) {
			c := p.src[p.pos]
			if c == '=' || c == '\n' {
				break
			}
			if c < 0x20 && c != '\t' && c != '\r' || c == 0x7f {
				return Property{}, p.errf(p.pos, "unexpected %s in property name", p.describe(p.pos))
			}
			p.pos++
		}
		key = strings.TrimRight(string(p.src[start:p.pos]), " \t\r")
		if strings.ContainsAny(key, " \t\"[];") {
			return Property{}, p.errf(start, "malformed property name %q (expected key = value)", key)
		}
	}
	if p.pos >= len(p.src) || p.src[p.pos] != '=' {
		return Property{}, p.errf(p.pos, "expected '=' after property name %q, found %s", key, p.describe(p.pos))
	}
	if key == "" {
		return Property{}, p.errf(start, "empty property name")
	}
	p.pos++
	v, err := p.value()
	if err != nil {
		return Property{}, err
	}
	p.skipBlanks()
	if p.pos < len(p.src) && p.src[p.pos] == ';' {
		for p.pos < len(p.src) && p.src[p.pos] != '\n' {
			p.pos++
		}
	}
	if p.pos < len(p.src) && p.src[p.pos] != '\n' {
		return Property{}, p.errf(p.pos, "unexpected %s after the value of %q (one property per line)", p.describe(p.pos), key)
	}
	l, c := p.lineCol(start)
	return Property{Key: key, Value: v, Line: l, Col: c, file: p.f}, nil
}

// value parses one value, skipping leading blanks and newlines.
func (p *parser) value() (Value, error) {
	p.skipSpace()
	if p.depth >= MaxDepth {
		return Value{}, p.errf(p.pos, "values nested deeper than %d levels", MaxDepth)
	}
	p.depth++
	defer func() { p.depth-- }()
	if p.pos >= len(p.src) {
		return Value{}, p.errf(p.pos, "expected a value, found end of file")
	}
	start := p.pos
	c := p.src[p.pos]
	switch {
	case c == '{':
		p.pos++
		pairs, err := p.dict()
		if err != nil {
			return Value{}, err
		}
		return Value{kind: KindDictionary, data: &dictData{pairs: pairs}}, nil
	case c == '[':
		p.pos++
		elems, err := p.array()
		if err != nil {
			return Value{}, err
		}
		return Value{kind: KindArray, data: elems}, nil
	case c == '"':
		s, err := p.str()
		if err != nil {
			return Value{}, err
		}
		return stringValue(s), nil
	case c == '&' || c == '@' || c == '^':
		p.pos++
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return Value{}, p.errf(p.pos, "expected '\"' after '%c'", c)
		}
		s, err := p.str()
		if err != nil {
			return Value{}, err
		}
		if c == '^' {
			return nodePathValue(s), nil
		}
		return Value{kind: KindStringName, s: s}, nil
	case c == '#':
		return p.hexColor()
	case c == '-' || (c >= '0' && c <= '9'):
		if c == '-' && p.pos+1 < len(p.src) && isIdentStart(p.src[p.pos+1]) {
			p.pos++
			id := p.ident()
			if id == "inf" {
				return floatValue(math.Inf(-1)), nil
			}
			return Value{}, p.errf(start, "unexpected identifier \"-%s\"", id)
		}
		return p.number()
	case isIdentStart(c):
		return p.identValue()
	}
	return Value{}, p.errf(start, "expected a value, found %s", p.describe(start))
}

func (p *parser) number() (Value, error) {
	start := p.pos
	if p.src[p.pos] == '-' {
		p.pos++
	}
	digits := func() int {
		s := p.pos
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
		}
		return p.pos - s
	}
	if digits() == 0 {
		return Value{}, p.errf(start, "malformed number: expected a digit after '-'")
	}
	isFloat := false
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		isFloat = true
		p.pos++
		digits()
	}
	if p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		isFloat = true
		p.pos++
		if p.pos < len(p.src) && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return Value{}, p.errf(start, "malformed number %q: expected exponent digits", string(p.src[start:p.pos]))
		}
	}
	if p.pos < len(p.src) && (isIdentChar(p.src[p.pos]) || p.src[p.pos] == '.') {
		return Value{}, p.errf(start, "malformed number %q", string(p.src[start:p.pos+1]))
	}
	text := string(p.src[start:p.pos])
	if !isFloat {
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return Value{}, p.errf(start, "integer %s out of range", text)
		}
		return intValue(n), nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return Value{}, p.errf(start, "malformed number %q", text)
	}
	return floatValue(f), nil
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// hexColor reads "#rgb", "#rgba", "#rrggbb" or "#rrggbbaa".
func (p *parser) hexColor() (Value, error) {
	start := p.pos
	p.pos++
	var h []byte
	for p.pos < len(p.src) {
		d, ok := hexVal(p.src[p.pos])
		if !ok {
			break
		}
		h = append(h, d)
		p.pos++
	}
	c := []float64{0, 0, 0, 1}
	switch len(h) {
	case 3, 4:
		for i, d := range h {
			c[i] = float64(d*17) / 255
		}
	case 6, 8:
		for i := 0; i < len(h); i += 2 {
			c[i/2] = float64(h[i]<<4|h[i+1]) / 255
		}
	default:
		return Value{}, p.errf(start, "malformed colour: want #rgb, #rgba, #rrggbb or #rrggbbaa")
	}
	return Value{kind: KindColor, data: c}, nil
}

// str reads a double-quoted string with Godot's escapes; raw newlines
// are part of the string.
func (p *parser) str() (string, error) {
	start := p.pos
	p.pos++ // opening quote
	var b []byte
	var lead rune // pending UTF-16 lead surrogate from a \u escape
	for {
		if p.pos >= len(p.src) {
			return "", p.errf(start, "unterminated string")
		}
		c := p.src[p.pos]
		if c == 0 {
			return "", p.errf(p.pos, "NUL byte in string")
		}
		if c == '"' && lead == 0 {
			p.pos++
			return string(b), nil
		}
		if c != '\\' {
			if lead != 0 {
				return "", p.errf(p.pos, "unpaired UTF-16 lead surrogate in string")
			}
			b = append(b, c)
			p.pos++
			continue
		}
		escPos := p.pos
		p.pos++
		if p.pos >= len(p.src) {
			return "", p.errf(start, "unterminated string")
		}
		e := p.src[p.pos]
		var r rune
		switch e {
		case 'b':
			r = '\b'
		case 't':
			r = '\t'
		case 'n':
			r = '\n'
		case 'f':
			r = '\f'
		case 'r':
			r = '\r'
		case 'u', 'U':
			n := 4
			if e == 'U' {
				n = 6
			}
			for range n {
				p.pos++
				if p.pos >= len(p.src) {
					return "", p.errf(start, "unterminated string")
				}
				d, ok := hexVal(p.src[p.pos])
				if !ok {
					return "", p.errf(escPos, "malformed \\%c escape: expected %d hex digits", e, n)
				}
				r = r<<4 | rune(d)
			}
		case 0:
			return "", p.errf(p.pos, "NUL byte in string")
		default:
			// Any other escaped character stands for itself (\" \\ \').
			rr, size := utf8.DecodeRune(p.src[p.pos:])
			r = rr
			p.pos += size - 1
			if rr == utf8.RuneError && size == 1 {
				b = append(b, p.src[p.pos])
				p.pos++
				continue
			}
		}
		p.pos++
		switch {
		case r >= 0xd800 && r <= 0xdbff:
			if lead != 0 {
				return "", p.errf(escPos, "unpaired UTF-16 lead surrogate in string")
			}
			lead = r
			continue
		case r >= 0xdc00 && r <= 0xdfff:
			if lead == 0 {
				return "", p.errf(escPos, "unpaired UTF-16 trail surrogate in string")
			}
			r = (lead-0xd800)<<10 + (r - 0xdc00) + 0x10000
			lead = 0
		case lead != 0:
			return "", p.errf(escPos, "unpaired UTF-16 lead surrogate in string")
		case r > utf8.MaxRune:
			return "", p.errf(escPos, "escape \\U%06X is beyond U+10FFFF", r)
		}
		b = utf8.AppendRune(b, r)
	}
}

func (p *parser) array() ([]Value, error) {
	elems := []Value{}
	need := false
	for {
		p.skipSpace()
		if p.pos >= len(p.src) {
			return nil, p.errf(p.pos, "unterminated array: expected ']'")
		}
		if p.src[p.pos] == ']' {
			p.pos++
			return elems, nil
		}
		if need {
			if p.src[p.pos] != ',' {
				return nil, p.errf(p.pos, "expected ',' or ']' in array, found %s", p.describe(p.pos))
			}
			p.pos++
			need = false
			continue
		}
		if len(elems) >= MaxArrayLen {
			return nil, p.errf(p.pos, "array longer than %d elements", MaxArrayLen)
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		elems = append(elems, v)
		need = true
	}
}

func (p *parser) dict() ([]Pair, error) {
	pairs := []Pair{}
	need := false
	for {
		p.skipSpace()
		if p.pos >= len(p.src) {
			return nil, p.errf(p.pos, "unterminated dictionary: expected '}'")
		}
		if p.src[p.pos] == '}' {
			p.pos++
			return pairs, nil
		}
		if need {
			if p.src[p.pos] != ',' {
				return nil, p.errf(p.pos, "expected ',' or '}' in dictionary, found %s", p.describe(p.pos))
			}
			p.pos++
			need = false
			continue
		}
		if len(pairs) >= MaxArrayLen {
			return nil, p.errf(p.pos, "dictionary longer than %d entries", MaxArrayLen)
		}
		k, err := p.value()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return nil, p.errf(p.pos, "expected ':' after dictionary key, found %s", p.describe(p.pos))
		}
		p.pos++
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, Pair{Key: k, Value: v})
		need = true
	}
}

// Constructor tables: Godot 4 names and the Godot 3 names it still reads.
var (
	floatCtors = map[string]Kind{
		"Vector2": KindVector2, "Rect2": KindRect2, "Vector3": KindVector3,
		"Transform2D": KindTransform2D, "Matrix32": KindTransform2D, "Vector4": KindVector4,
		"Plane": KindPlane, "Quaternion": KindQuaternion, "Quat": KindQuaternion,
		"AABB": KindAABB, "Rect3": KindAABB, "Basis": KindBasis, "Matrix3": KindBasis,
		"Transform3D": KindTransform3D, "Transform": KindTransform3D,
		"Projection": KindProjection, "Color": KindColor,
	}
	intCtors = map[string]Kind{
		"Vector2i": KindVector2i, "Rect2i": KindRect2i, "Vector3i": KindVector3i, "Vector4i": KindVector4i,
	}
	packedFloatCtors = map[string]Kind{
		"PackedFloat32Array": KindPackedFloat32Array, "PackedRealArray": KindPackedFloat32Array,
		"PoolRealArray": KindPackedFloat32Array, "FloatArray": KindPackedFloat32Array,
		"PackedFloat64Array": KindPackedFloat64Array,
		"PackedVector2Array": KindPackedVector2Array, "PoolVector2Array": KindPackedVector2Array,
		"Vector2Array":       KindPackedVector2Array,
		"PackedVector3Array": KindPackedVector3Array, "PoolVector3Array": KindPackedVector3Array,
		"Vector3Array":       KindPackedVector3Array,
		"PackedVector4Array": KindPackedVector4Array, "PoolVector4Array": KindPackedVector4Array,
		"Vector4Array":     KindPackedVector4Array,
		"PackedColorArray": KindPackedColorArray, "PoolColorArray": KindPackedColorArray,
		"ColorArray": KindPackedColorArray,
	}
	packedIntCtors = map[string]Kind{
		"PackedInt32Array": KindPackedInt32Array, "PackedIntArray": KindPackedInt32Array,
		"PoolIntArray": KindPackedInt32Array, "IntArray": KindPackedInt32Array,
		"PackedInt64Array": KindPackedInt64Array,
	}
	byteCtors   = map[string]bool{"PackedByteArray": true, "PoolByteArray": true, "ByteArray": true}
	stringCtors = map[string]bool{"PackedStringArray": true, "PoolStringArray": true, "StringArray": true}
)

// open expects '(' after a constructor name.
func (p *parser) open(name string) error {
	p.skipSpace()
	if p.pos >= len(p.src) || p.src[p.pos] != '(' {
		return p.errf(p.pos, "expected '(' after %s, found %s", name, p.describe(p.pos))
	}
	p.pos++
	return nil
}

// sep reads ',' (returns false) or ')' (returns true) in an argument list.
func (p *parser) sep(name string) (bool, error) {
	p.skipSpace()
	if p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ',':
			p.pos++
			return false, nil
		case ')':
			p.pos++
			return true, nil
		}
	}
	return false, p.errf(p.pos, "expected ',' or ')' in %s(...), found %s", name, p.describe(p.pos))
}

// closeParen reports whether the next token is ')' and consumes it.
func (p *parser) closeParen() bool {
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ')' {
		p.pos++
		return true
	}
	return false
}

// numArg reads one number of a constructor: an int, a float, inf, -inf,
// inf_neg or nan. isInt tells whether it was written as an integer.
func (p *parser) numArg(name string) (f float64, i int64, isInt bool, err error) {
	p.skipSpace()
	start := p.pos
	if p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '-' || (c >= '0' && c <= '9') {
			if c == '-' && p.pos+1 < len(p.src) && isIdentStart(p.src[p.pos+1]) {
				p.pos++
				if p.ident() == "inf" {
					return math.Inf(-1), 0, false, nil
				}
			} else {
				v, err := p.number()
				if err != nil {
					return 0, 0, false, err
				}
				if v.kind == KindInt {
					return float64(v.i), v.i, true, nil
				}
				return v.f, 0, false, nil
			}
		} else if isIdentStart(c) {
			switch p.ident() {
			case "inf":
				return math.Inf(1), 0, false, nil
			case "inf_neg":
				return math.Inf(-1), 0, false, nil
			case "nan":
				return math.NaN(), 0, false, nil
			}
		}
	}
	return 0, 0, false, p.errf(start, "expected a number in %s(...), found %s", name, p.describe(start))
}

// numbers reads "(n, n, ...)" after a constructor name.
func (p *parser) numbers(name string, ints bool) ([]float64, []int64, error) {
	if err := p.open(name); err != nil {
		return nil, nil, err
	}
	return p.numberList(name, ints)
}

// numberList reads "n, n, ...)" once the '(' has been read.
func (p *parser) numberList(name string, ints bool) ([]float64, []int64, error) {
	var fs []float64
	var is []int64
	if p.closeParen() {
		return fs, is, nil
	}
	for {
		if len(fs)+len(is) >= MaxArrayLen {
			return nil, nil, p.errf(p.pos, "%s(...) longer than %d numbers", name, MaxArrayLen)
		}
		p.skipSpace()
		start := p.pos
		f, i, isInt, err := p.numArg(name)
		if err != nil {
			return nil, nil, err
		}
		if ints {
			if !isInt {
				return nil, nil, p.errf(start, "%s(...) takes integers, found %s", name, formatFloat(f))
			}
			is = append(is, i)
		} else {
			fs = append(fs, f)
		}
		done, err := p.sep(name)
		if err != nil {
			return nil, nil, err
		}
		if done {
			return fs, is, nil
		}
	}
}

func (p *parser) identValue() (Value, error) {
	start := p.pos
	id := p.ident()
	switch id {
	case "true":
		return boolValue(true), nil
	case "false":
		return boolValue(false), nil
	case "null", "nil":
		return nilValue(), nil
	case "inf":
		return floatValue(math.Inf(1)), nil
	case "inf_neg":
		return floatValue(math.Inf(-1)), nil
	case "nan":
		return floatValue(math.NaN()), nil
	}
	if k, ok := floatCtors[id]; ok {
		fs, _, err := p.numbers(id, false)
		if err != nil {
			return Value{}, err
		}
		want := floatArity[k]
		if k == KindColor && len(fs) == 3 {
			fs = append(fs, 1)
		}
		if len(fs) != want {
			return Value{}, p.errf(start, "%s(...) takes %d numbers, found %d", id, want, len(fs))
		}
		return Value{kind: k, data: fs}, nil
	}
	if k, ok := intCtors[id]; ok {
		_, is, err := p.numbers(id, true)
		if err != nil {
			return Value{}, err
		}
		if want := intArity[k]; len(is) != want {
			return Value{}, p.errf(start, "%s(...) takes %d integers, found %d", id, want, len(is))
		}
		for _, n := range is {
			if n < math.MinInt32 || n > math.MaxInt32 {
				return Value{}, p.errf(start, "%s(...) component %d is out of the 32-bit range", id, n)
			}
		}
		return Value{kind: k, data: is}, nil
	}
	if k, ok := packedFloatCtors[id]; ok {
		fs, _, err := p.numbers(id, false)
		if err != nil {
			return Value{}, err
		}
		if fs == nil {
			fs = []float64{}
		}
		if st := packedStride[k]; len(fs)%st != 0 {
			return Value{}, p.errf(start, "%s(...) needs a multiple of %d numbers, found %d", id, st, len(fs))
		}
		return Value{kind: k, data: fs}, nil
	}
	if k, ok := packedIntCtors[id]; ok {
		_, is, err := p.numbers(id, true)
		if err != nil {
			return Value{}, err
		}
		if is == nil {
			is = []int64{}
		}
		if k == KindPackedInt32Array {
			for _, n := range is {
				if n < math.MinInt32 || n > math.MaxInt32 {
					return Value{}, p.errf(start, "%s(...) element %d is out of the 32-bit range", id, n)
				}
			}
		}
		return Value{kind: k, data: is}, nil
	}
	if byteCtors[id] {
		return p.byteArray(start, id)
	}
	if stringCtors[id] {
		return p.stringArray(id)
	}
	switch id {
	case "NodePath", "StringName":
		if err := p.open(id); err != nil {
			return Value{}, err
		}
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return Value{}, p.errf(p.pos, "%s(...) takes a string, found %s", id, p.describe(p.pos))
		}
		s, err := p.str()
		if err != nil {
			return Value{}, err
		}
		if !p.closeParen() {
			return Value{}, p.errf(p.pos, "expected ')' after %s(\"...\", found %s", id, p.describe(p.pos))
		}
		if id == "StringName" {
			return Value{kind: KindStringName, s: s}, nil
		}
		return nodePathValue(s), nil
	case "ExtResource", "SubResource":
		return p.resourceRef(start, id)
	case "Resource":
		return p.resourcePath()
	case "Object":
		return p.object()
	case "Array":
		return p.typedArray()
	case "Dictionary":
		return p.typedDict()
	}
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == '(' {
		return p.genericCtor(id)
	}
	return Value{}, p.errf(start, "unexpected identifier %q", id)
}

func (p *parser) byteArray(start int, id string) (Value, error) {
	if err := p.open(id); err != nil {
		return Value{}, err
	}
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == '"' {
		spos := p.pos
		s, err := p.str()
		if err != nil {
			return Value{}, err
		}
		data, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return Value{}, p.errf(spos, "%s(...): invalid base64", id)
		}
		if !p.closeParen() {
			return Value{}, p.errf(p.pos, "expected ')' after the base64 string, found %s", p.describe(p.pos))
		}
		return Value{kind: KindPackedByteArray, data: data}, nil
	}
	_, is, err := p.numberList(id, true)
	if err != nil {
		return Value{}, err
	}
	data := make([]byte, len(is))
	for i, n := range is {
		if n < 0 || n > 255 {
			return Value{}, p.errf(start, "%s(...) element %d is not a byte (0-255)", id, n)
		}
		data[i] = byte(n)
	}
	return Value{kind: KindPackedByteArray, data: data}, nil
}

func (p *parser) stringArray(id string) (Value, error) {
	if err := p.open(id); err != nil {
		return Value{}, err
	}
	ss := []string{}
	if p.closeParen() {
		return Value{kind: KindPackedStringArray, data: ss}, nil
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return Value{}, p.errf(p.pos, "%s(...) takes strings, found %s", id, p.describe(p.pos))
		}
		if len(ss) >= MaxArrayLen {
			return Value{}, p.errf(p.pos, "%s(...) longer than %d strings", id, MaxArrayLen)
		}
		s, err := p.str()
		if err != nil {
			return Value{}, err
		}
		ss = append(ss, s)
		done, err := p.sep(id)
		if err != nil {
			return Value{}, err
		}
		if done {
			return Value{kind: KindPackedStringArray, data: ss}, nil
		}
	}
}

// resourceRef reads ExtResource("id") or SubResource("id") (an int id in
// format 2) and checks that the id is declared earlier in the file.
func (p *parser) resourceRef(start int, id string) (Value, error) {
	if err := p.open(id); err != nil {
		return Value{}, err
	}
	p.skipSpace()
	var ref string
	switch {
	case p.pos < len(p.src) && p.src[p.pos] == '"':
		s, err := p.str()
		if err != nil {
			return Value{}, err
		}
		ref = s
	case p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9':
		v, err := p.number()
		if err != nil {
			return Value{}, err
		}
		if v.kind != KindInt {
			return Value{}, p.errf(start, "%s(...) takes a string id", id)
		}
		ref = strconv.FormatInt(v.i, 10)
	default:
		return Value{}, p.errf(p.pos, "%s(...) takes a string id, found %s", id, p.describe(p.pos))
	}
	if !p.closeParen() {
		return Value{}, p.errf(p.pos, "expected ')' after the %s id, found %s", id, p.describe(p.pos))
	}
	if p.f != nil {
		if id == "ExtResource" {
			if _, ok := p.f.extByID[ref]; !ok {
				return Value{}, p.errf(start, "ExtResource(%q) refers to no ext_resource declared before it", ref)
			}
		} else if _, ok := p.f.subByID[ref]; !ok {
			return Value{}, p.errf(start, "SubResource(%q) refers to no sub_resource declared before it", ref)
		}
	}
	k := KindExtResource
	if id == "SubResource" {
		k = KindSubResource
	}
	return Value{kind: k, s: ref}, nil
}

// resourcePath reads Resource("path") or Resource("uid://...", "path").
func (p *parser) resourcePath() (Value, error) {
	if err := p.open("Resource"); err != nil {
		return Value{}, err
	}
	var args []string
	for {
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return Value{}, p.errf(p.pos, "Resource(...) takes one or two strings, found %s", p.describe(p.pos))
		}
		s, err := p.str()
		if err != nil {
			return Value{}, err
		}
		args = append(args, s)
		done, err := p.sep("Resource")
		if err != nil {
			return Value{}, err
		}
		if done {
			break
		}
		if len(args) == 2 {
			return Value{}, p.errf(p.pos, "Resource(...) takes at most two strings")
		}
	}
	return Value{kind: KindResource, data: args}, nil
}

// object reads Object(Type, "key": value, ...).
func (p *parser) object() (Value, error) {
	if err := p.open("Object"); err != nil {
		return Value{}, err
	}
	p.skipSpace()
	tpos := p.pos
	typ := p.ident()
	if typ == "" {
		return Value{}, p.errf(tpos, "Object(...) starts with a type name, found %s", p.describe(tpos))
	}
	pairs := []Pair{}
	done, err := p.sep("Object")
	if err != nil {
		return Value{}, err
	}
	for !done {
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == ')' { // Object(Type,) as Godot writes an empty one
			p.pos++
			break
		}
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return Value{}, p.errf(p.pos, "expected a property name string in Object(...), found %s", p.describe(p.pos))
		}
		if len(pairs) >= MaxArrayLen {
			return Value{}, p.errf(p.pos, "Object(...) with more than %d properties", MaxArrayLen)
		}
		k, err := p.str()
		if err != nil {
			return Value{}, err
		}
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return Value{}, p.errf(p.pos, "expected ':' after the property name in Object(...), found %s", p.describe(p.pos))
		}
		p.pos++
		v, err := p.value()
		if err != nil {
			return Value{}, err
		}
		pairs = append(pairs, Pair{Key: stringValue(k), Value: v})
		if done, err = p.sep("Object"); err != nil {
			return Value{}, err
		}
	}
	return Value{kind: KindObject, s: typ, data: pairs}, nil
}

// typeSpec reads the element type of a typed Array or Dictionary: a type
// name, or a script as ExtResource/SubResource/Resource(...). "Variant"
// means untyped and returns "".
func (p *parser) typeSpec(what string) (string, error) {
	p.skipSpace()
	start := p.pos
	id := p.ident()
	if id == "" {
		return "", p.errf(start, "expected a type name in %s[...], found %s", what, p.describe(start))
	}
	switch id {
	case "ExtResource", "SubResource", "Resource":
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == '(' {
			p.pos = start
			if p.depth >= MaxDepth {
				return "", p.errf(p.pos, "values nested deeper than %d levels", MaxDepth)
			}
			v, err := p.identValue()
			if err != nil {
				return "", err
			}
			return v.String(), nil
		}
	case "Variant":
		return "", nil
	}
	return id, nil
}

func (p *parser) expect(c byte, context string) error {
	p.skipSpace()
	if p.pos >= len(p.src) || p.src[p.pos] != c {
		return p.errf(p.pos, "expected '%c' %s, found %s", c, context, p.describe(p.pos))
	}
	p.pos++
	return nil
}

// typedArray reads Array[Type]([...]).
func (p *parser) typedArray() (Value, error) {
	if err := p.expect('[', "after Array (typed arrays are Array[Type]([...]))"); err != nil {
		return Value{}, err
	}
	typ, err := p.typeSpec("Array")
	if err != nil {
		return Value{}, err
	}
	if err := p.expect(']', "after the array element type"); err != nil {
		return Value{}, err
	}
	if err := p.expect('(', "after Array[Type]"); err != nil {
		return Value{}, err
	}
	if err := p.expect('[', "in Array[Type]([...])"); err != nil {
		return Value{}, err
	}
	elems, err := p.array()
	if err != nil {
		return Value{}, err
	}
	if err := p.expect(')', "after Array[Type]([...]"); err != nil {
		return Value{}, err
	}
	return Value{kind: KindArray, s: typ, data: elems}, nil
}

// typedDict reads Dictionary[Key, Value]({...}).
func (p *parser) typedDict() (Value, error) {
	if err := p.expect('[', "after Dictionary (typed dictionaries are Dictionary[K, V]({...}))"); err != nil {
		return Value{}, err
	}
	kt, err := p.typeSpec("Dictionary")
	if err != nil {
		return Value{}, err
	}
	if err := p.expect(',', "between the dictionary key and value types"); err != nil {
		return Value{}, err
	}
	vt, err := p.typeSpec("Dictionary")
	if err != nil {
		return Value{}, err
	}
	if err := p.expect(']', "after the dictionary types"); err != nil {
		return Value{}, err
	}
	if err := p.expect('(', "after Dictionary[K, V]"); err != nil {
		return Value{}, err
	}
	if err := p.expect('{', "in Dictionary[K, V]({...})"); err != nil {
		return Value{}, err
	}
	pairs, err := p.dict()
	if err != nil {
		return Value{}, err
	}
	if err := p.expect(')', "after Dictionary[K, V]({...}"); err != nil {
		return Value{}, err
	}
	return Value{kind: KindDictionary, data: &dictData{keyType: kt, valueType: vt, pairs: pairs}}, nil
}

// genericCtor reads Name(value, ...) for constructors the parser does not
// know (RID, Signal, Callable, ...).
func (p *parser) genericCtor(id string) (Value, error) {
	if err := p.open(id); err != nil {
		return Value{}, err
	}
	args := []Value{}
	if p.closeParen() {
		return Value{kind: KindConstructor, s: id, data: args}, nil
	}
	for {
		if len(args) >= MaxArrayLen {
			return Value{}, p.errf(p.pos, "%s(...) with more than %d arguments", id, MaxArrayLen)
		}
		v, err := p.value()
		if err != nil {
			return Value{}, err
		}
		args = append(args, v)
		done, err := p.sep(id)
		if err != nil {
			return Value{}, err
		}
		if done {
			return Value{kind: KindConstructor, s: id, data: args}, nil
		}
	}
}
