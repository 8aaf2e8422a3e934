package scene

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Limits of instancing.
const (
	// MaxInstanceDepth is the deepest chain of scenes instancing scenes.
	MaxInstanceDepth = 16
	// MaxNodes is the most nodes a loaded tree may have after instancing.
	MaxNodes = 200_000
)

// Node is one node of a loaded scene tree.
type Node struct {
	Name string
	// Type is the node's class ("Node3D", "MeshInstance3D"); for an
	// instance it is the instanced scene root's type. It is "" for a
	// placeholder and for an instance of a file that is not inlined.
	Type string
	// Path is the node's path from the root, the root's name first
	// ("Main/Sun/Mesh").
	Path     string
	Parent   *Node
	Children []*Node
	// Props are the node's properties in order: an instanced scene's own
	// values first, then the overrides written where it is instanced.
	Props  Props
	Groups []string
	// File and Line say where the node was declared (for an instance: the
	// [node ... instance=...] line that placed it).
	File string
	Line int
	// Instance is the res:// path of the scene instanced at this node, or "".
	Instance string
	// Inlined is true when Instance was read and its nodes are below this
	// one; false for instances of files that are not text scenes (.glb,
	// .scn), which are kept as leaves.
	Inlined bool
	// InstancePlaceholder is the scene path of an instance_placeholder node.
	InstancePlaceholder string
	// Placeholder is true for a node that was not declared anywhere the
	// loader could read but is needed as the parent of a declared node
	// (inside a .glb instance, for example).
	Placeholder bool

	kids  map[string]*Node
	owner int // the instantiation that created the node
}

// Prop returns the value of the node's property key.
func (n *Node) Prop(key string) (Value, bool) { return n.Props.Get(key) }

// Resource returns the sub_resource that property key refers to with
// SubResource("id"), looked up in the file the property was written in.
func (n *Node) Resource(key string) (*Resource, bool) {
	i := n.Props.index(key)
	if i < 0 {
		return nil, false
	}
	return subResourceOf(n.Props[i])
}

func subResourceOf(p Property) (*Resource, bool) {
	if p.Value.Kind() != KindSubResource || p.file == nil {
		return nil, false
	}
	return p.file.Sub(p.Value.s)
}

// ExtResource returns the ext_resource that property key refers to with
// ExtResource("id").
func (n *Node) ExtResource(key string) (*ExtResource, bool) {
	i := n.Props.index(key)
	if i < 0 || n.Props[i].Value.Kind() != KindExtResource || n.Props[i].file == nil {
		return nil, false
	}
	return n.Props[i].file.Ext(n.Props[i].Value.s)
}

// Child returns the direct child called name, or nil.
func (n *Node) Child(name string) *Node {
	if n.kids != nil {
		return n.kids[name]
	}
	for _, c := range n.Children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Get resolves a NodePath relative to n, as Godot does: segments are child
// names, ".." the parent and "." the node itself; a ":property" suffix is
// ignored. Absolute paths ("/root/...") are not supported. It returns nil
// when no node matches.
func (n *Node) Get(nodePath string) *Node {
	if i := strings.IndexByte(nodePath, ':'); i >= 0 {
		nodePath = nodePath[:i]
	}
	if strings.HasPrefix(nodePath, "/") {
		return nil
	}
	cur := n
	for seg := range strings.SplitSeq(nodePath, "/") {
		switch seg {
		case "", ".":
		case "..":
			cur = cur.Parent
		default:
			cur = cur.Child(seg)
		}
		if cur == nil {
			return nil
		}
	}
	return cur
}

// Local returns the node's transform relative to its parent, from its
// properties applied in order as Godot's Node3D setters do: transform sets
// basis and origin; basis sets the basis; position sets the origin;
// rotation (radians, in rotation_order, default YXZ), rotation_degrees and
// quaternion set the rotation keeping the scale; scale sets the scale
// keeping the rotation. Values of other types (a Control's Vector2
// position) are ignored, so non-3D nodes are the identity.
func (n *Node) Local() Transform3D {
	t := IdentityTransform()
	order := EulerYXZ
	if v, ok := n.Prop("rotation_order"); ok {
		if o, ok := v.AsInt(); ok && o >= 0 && o <= int64(EulerZYX) {
			order = EulerOrder(o)
		}
	}
	for _, p := range n.Props {
		switch p.Key {
		case "transform":
			if tr, ok := p.Value.AsTransform3D(); ok {
				t = tr
			}
		case "basis":
			if b, ok := p.Value.AsBasis(); ok {
				t.Basis = b
			}
		case "position":
			if v, ok := p.Value.AsVector3(); ok {
				t.Origin = v
			}
		case "rotation":
			if v, ok := p.Value.AsVector3(); ok {
				t.Basis = BasisFromEuler(v, order).scaled(t.Basis.Scale())
			}
		case "rotation_degrees":
			if v, ok := p.Value.AsVector3(); ok {
				t.Basis = BasisFromEuler(v.Scale(math.Pi/180), order).scaled(t.Basis.Scale())
			}
		case "quaternion":
			if q, ok := p.Value.AsQuaternion(); ok {
				t.Basis = q.Basis().scaled(t.Basis.Scale())
			}
		case "scale":
			if v, ok := p.Value.AsVector3(); ok {
				t.Basis = t.Basis.rotationPart().scaled(v)
			}
		}
	}
	return t
}

// Global returns the node's transform in the scene frame: the product of
// the local transforms from the root down, restarting at a node with
// top_level = true.
func (n *Node) Global() Transform3D {
	var chain []*Node
	for c := n; c != nil; c = c.Parent {
		chain = append(chain, c)
		if v, ok := c.Prop("top_level"); ok {
			if b, _ := v.AsBool(); b {
				break
			}
		}
	}
	t := IdentityTransform()
	for i := len(chain) - 1; i >= 0; i-- {
		t = t.Mul(chain[i].Local())
	}
	return t
}

// Tree is a loaded scene: the main file's nodes with every instanced
// scene inlined.
type Tree struct {
	// Path is the res:// path of the main scene.
	Path string
	Root *Node
	// File is the main scene as parsed; Files holds it first and then
	// every instanced file, each once.
	File  *File
	Files []*File
	// Warnings are problems that did not stop the load: instances of
	// files that are not text scenes, placeholders, format-2 files.
	Warnings []Issue
	count    int
}

// Len returns the number of nodes.
func (t *Tree) Len() int { return t.count }

// Walk calls fn for every node in depth-first pre-order (document order);
// when fn returns false the node's children are skipped.
func (t *Tree) Walk(fn func(*Node) bool) {
	if t.Root == nil {
		return
	}
	stack := []*Node{t.Root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !fn(n) {
			continue
		}
		for i := len(n.Children) - 1; i >= 0; i-- {
			stack = append(stack, n.Children[i])
		}
	}
}

// Nodes returns every node in pre-order.
func (t *Tree) Nodes() []*Node {
	out := make([]*Node, 0, t.count)
	t.Walk(func(n *Node) bool { out = append(out, n); return true })
	return out
}

// Find returns the node at path, written from the root ("Main/Sun") or
// relative to it ("Sun", "." for the root), or nil.
func (t *Tree) Find(path string) *Node {
	if t.Root == nil {
		return nil
	}
	if path == t.Root.Name {
		return t.Root
	}
	if rest, ok := strings.CutPrefix(path, t.Root.Name+"/"); ok {
		if n := t.Root.Get(rest); n != nil {
			return n
		}
	}
	return t.Root.Get(path)
}

// Types counts the nodes of each type; placeholders and instances of
// files that are not inlined count under "" .
func (t *Tree) Types() map[string]int {
	m := map[string]int{}
	t.Walk(func(n *Node) bool { m[n.Type]++; return true })
	return m
}

// Load reads the scene at scenePath, parses it and inlines every scene it
// instances. Errors: ErrInvalidPath, ErrForbiddenPath or ErrNotFound for
// scenePath itself; ErrInvalidScene (a *SyntaxError or *SceneError) for
// anything wrong inside the scene or the scenes it instances.
func (p *Project) Load(scenePath string) (*Tree, error) {
	res, err := Resolve(scenePath)
	if err != nil {
		return nil, err
	}
	data, err := p.read(res)
	if err != nil {
		return nil, fmt.Errorf("load scene: %w", err)
	}
	return p.LoadSource(res, data)
}

// LoadSource is Load for a scene whose text is src, as if it were stored
// at scenePath; the scenes it instances are read from the project.
func (p *Project) LoadSource(scenePath string, src []byte) (*Tree, error) {
	res, err := Resolve(scenePath)
	if err != nil {
		return nil, err
	}
	f, err := Parse(res, src)
	if err != nil {
		return nil, err
	}
	return p.loadParsed(res, f)
}

// loadParsed instances the parsed main scene f stored at res.
func (p *Project) loadParsed(res string, f *File) (*Tree, error) {
	l := &loader{proj: p, files: map[string]*File{res: f}, tree: &Tree{Path: res, File: f, Files: []*File{f}}}
	l.tree.Warnings = append(l.tree.Warnings, f.Warnings...)
	root, err := l.instantiate(res, f, []string{res})
	if err != nil {
		return nil, err
	}
	l.tree.Root = root
	l.tree.count = finalize(root)
	return l.tree, nil
}

type loader struct {
	proj     *Project
	files    map[string]*File
	tree     *Tree
	nodes    int
	nextInst int
	warned   map[Issue]bool
}

// finalize sets every node's Path and returns the node count.
func finalize(root *Node) int {
	count := 0
	stack := []*Node{root}
	root.Path = root.Name
	root.Parent = nil
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		count++
		for _, c := range n.Children {
			c.Path = n.Path + "/" + c.Name
			c.Parent = n
			stack = append(stack, c)
		}
	}
	return count
}

// warn records a warning once, however many times the scene that causes
// it is instanced.
func (l *loader) warn(file string, line int, node, format string, args ...any) {
	is := Issue{File: file, Line: line, Node: node, Message: fmt.Sprintf(format, args...)}
	if l.warned[is] {
		return
	}
	if l.warned == nil {
		l.warned = map[Issue]bool{}
	}
	l.warned[is] = true
	l.tree.Warnings = append(l.tree.Warnings, is)
}

func (l *loader) newNode(f *File, d *NodeDecl, inst int) (*Node, error) {
	l.nodes++
	if l.nodes > MaxNodes {
		return nil, &SceneError{File: f.Path, Line: d.Line, Node: d.Name,
			Msg: fmt.Sprintf("scene has more than %d nodes after instancing", MaxNodes)}
	}
	return &Node{
		Name:                d.Name,
		Type:                d.Type,
		Props:               slices.Clone(d.Props),
		Groups:              slices.Clone(d.Groups),
		File:                f.Path,
		Line:                d.Line,
		InstancePlaceholder: d.InstancePlaceholder,
		owner:               inst,
	}, nil
}

// override applies a declaration's properties and groups to an existing node.
func override(n *Node, d *NodeDecl) {
	for _, p := range d.Props {
		if i := n.Props.index(p.Key); i >= 0 {
			n.Props[i] = p
		} else {
			n.Props = append(n.Props, p)
		}
	}
	for _, g := range d.Groups {
		if !slices.Contains(n.Groups, g) {
			n.Groups = append(n.Groups, g)
		}
	}
}

func addChild(parent, child *Node, index int) {
	child.Parent = parent
	if parent.kids == nil {
		parent.kids = make(map[string]*Node, len(parent.Children)+1)
		for _, c := range parent.Children {
			parent.kids[c.Name] = c
		}
	}
	parent.kids[child.Name] = child
	if index >= 0 && index < len(parent.Children) {
		parent.Children = slices.Insert(parent.Children, index, child)
		return
	}
	parent.Children = append(parent.Children, child)
}

// instantiate builds the nodes of file f (at res) and returns its root.
// chain is the list of scenes being instanced, outermost first, ending
// with res.
func (l *loader) instantiate(res string, f *File, chain []string) (*Node, error) {
	if len(f.Nodes) == 0 {
		return nil, &SceneError{File: res, Msg: "scene has no nodes"}
	}
	l.nextInst++
	inst := l.nextInst
	var root *Node
	for _, d := range f.Nodes {
		if !d.HasParent {
			n, err := l.declNode(f, d, inst, chain)
			if err != nil {
				return nil, err
			}
			root = n
			continue
		}
		parent, err := l.parentOf(root, f, d, inst)
		if err != nil {
			return nil, err
		}
		if existing := parent.Child(d.Name); existing != nil {
			if existing.owner == inst || d.Instance != "" {
				return nil, &SceneError{File: f.Path, Line: d.Line, Node: d.Name,
					Msg: fmt.Sprintf("duplicate node: %q already has a child %q", parent.Name, d.Name)}
			}
			if d.Type != "" && existing.Type == "" {
				existing.Type = d.Type
			} else if d.Type != "" && d.Type != existing.Type {
				l.warn(f.Path, d.Line, d.Name, "type %s of an inherited node ignored: it is a %s", d.Type, existing.Type)
			}
			override(existing, d)
			continue
		}
		n, err := l.declNode(f, d, inst, chain)
		if err != nil {
			return nil, err
		}
		addChild(parent, n, d.Index)
	}
	return root, nil
}

// declNode creates the node for declaration d: a plain node, or the root of
// the scene it instances with d's properties applied over it.
func (l *loader) declNode(f *File, d *NodeDecl, inst int, chain []string) (*Node, error) {
	if d.Instance == "" {
		return l.newNode(f, d, inst)
	}
	fail := func(format string, args ...any) error {
		return &SceneError{File: f.Path, Line: d.Line, Node: d.Name, Msg: fmt.Sprintf(format, args...)}
	}
	ext, _ := f.Ext(d.Instance)
	if ext == nil {
		return nil, fail("instance refers to unknown ext_resource %q", d.Instance)
	}
	if ext.Type != "PackedScene" {
		return nil, fail("instance of ext_resource %q, which is a %s, not a PackedScene", ext.ID, ext.Type)
	}
	if ext.Path == "" {
		return nil, fail("instance of %s by uid only: the loader needs a path", ext.UID)
	}
	ref, err := resolveRef(f.Path, ext.Path)
	if err != nil {
		return nil, fail("instance %s: %v", ext.Path, err)
	}
	if !strings.HasSuffix(ref, ".tscn") {
		n, err := l.newNode(f, d, inst)
		if err != nil {
			return nil, err
		}
		n.Instance = ref
		l.warn(f.Path, d.Line, d.Name, "instance of %s kept as a leaf: only .tscn scenes are inlined", ref)
		return n, nil
	}
	if i := slices.Index(chain, ref); i >= 0 {
		return nil, fail("instance cycle: %s", strings.Join(append(slices.Clone(chain[i:]), ref), " -> "))
	}
	if len(chain) >= MaxInstanceDepth {
		return nil, fail("instances nested deeper than %d: %s", MaxInstanceDepth, strings.Join(append(slices.Clone(chain), ref), " -> "))
	}
	sub, err := l.file(ref)
	if err != nil {
		var se *SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, err
		case errors.Is(err, ErrNotFound):
			return nil, fail("instanced scene %s not found", ref)
		case errors.Is(err, ErrForbiddenPath):
			return nil, fail("instanced scene %s is outside the project root", ref)
		}
		return nil, fail("instanced scene %s: %v", ref, err)
	}
	root, err := l.instantiate(ref, sub, append(chain, ref))
	if err != nil {
		return nil, err
	}
	root.Name = d.Name
	root.File, root.Line = f.Path, d.Line
	root.Instance, root.Inlined = ref, true
	root.owner = inst
	if d.Type != "" && d.Type != root.Type {
		l.warn(f.Path, d.Line, d.Name, "type %s ignored: the instanced scene's root is a %s", d.Type, root.Type)
	}
	override(root, d)
	return root, nil
}

// file returns the parsed file at res, reading it once per load.
func (l *loader) file(res string) (*File, error) {
	if f, ok := l.files[res]; ok {
		return f, nil
	}
	data, err := l.proj.read(res)
	if err != nil {
		return nil, err
	}
	f, err := Parse(res, data)
	if err != nil {
		return nil, err
	}
	l.files[res] = f
	l.tree.Files = append(l.tree.Files, f)
	l.tree.Warnings = append(l.tree.Warnings, f.Warnings...)
	return f, nil
}

// parentOf finds the parent of declaration d. Inside an instance whose
// nodes are not known (a .glb) or not found, missing intermediate nodes
// are created as placeholders, with a warning.
func (l *loader) parentOf(root *Node, f *File, d *NodeDecl, inst int) (*Node, error) {
	if root == nil {
		return nil, &SceneError{File: f.Path, Line: d.Line, Node: d.Name, Msg: "node declared before the root"}
	}
	if d.Parent == "." {
		return root, nil
	}
	cur := root
	segs := strings.Split(d.Parent, "/")
	for i, seg := range segs {
		if seg == "" || seg == "." || seg == ".." {
			return nil, &SceneError{File: f.Path, Line: d.Line, Node: d.Name, Msg: fmt.Sprintf("malformed parent path %q", d.Parent)}
		}
		next := cur.Child(seg)
		if next != nil {
			cur = next
			continue
		}
		if !insideInstance(cur, root) {
			return nil, &SceneError{File: f.Path, Line: d.Line, Node: d.Name,
				Msg: fmt.Sprintf("parent %q not found", strings.Join(segs[:i+1], "/"))}
		}
		expected := cur.Placeholder || (cur.Instance != "" && !cur.Inlined) // unknown contents anyway
		if !expected {
			l.warn(f.Path, d.Line, d.Name, "parent %q is not in the instanced scene: placeholder created",
				strings.Join(segs[:i+1], "/"))
		}
		ph, err := l.newNode(f, &NodeDecl{Name: seg, Index: -1, Line: d.Line}, inst)
		if err != nil {
			return nil, err
		}
		ph.Placeholder = true
		ph.owner = -1 // any later declaration may fill it in
		addChild(cur, ph, -1)
		cur = ph
	}
	return cur, nil
}

// insideInstance reports whether n is an instance, a placeholder, or below
// one (up to and including root).
func insideInstance(n, root *Node) bool {
	for c := n; c != nil; c = c.Parent {
		if c.Instance != "" || c.Placeholder {
			return true
		}
		if c == root {
			break
		}
	}
	return false
}
