package config

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Source says where a value came from.
type Source struct {
	// Origin is a file path (e.g. "config/production.json"), "env NAME" or
	// "flag --name".
	Origin string `json:"origin"`
	// Key is the key path within Origin: relative to the file for files
	// (security_<env>.json says "rate_limiting.enabled"), the full dotted
	// path otherwise.
	Key string `json:"key"`
}

// Sources maps full dotted key paths ("performance.godot.physics_fps",
// "security.rate_limiting.per_endpoint_limits./scene") to where their value
// came from. Absent keys hold defaults.
type Sources map[string]Source

// Lookup returns the source of path, or of the nearest enclosing key that
// has one (a map or list set as a whole).
// The returned Key is extended by the rest of path (a list element's index,
// a map entry's key).
func (s Sources) Lookup(path string) (Source, bool) {
	for p := path; p != ""; {
		if src, ok := s[p]; ok {
			src.Key += path[len(p):]
			return src, true
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return Source{}, false
}

// FieldError is one configuration problem, tied to a key where possible.
// Load and Validate return them joined with errors.Join; use errors.As or
// the Unwrap() []error of the joined error to inspect them.
type FieldError struct {
	// Origin is the file, "env NAME" or "flag --name" that set the value;
	// "" when the value is a default or its origin is unknown.
	Origin string
	// Key is the key path within Origin (see Source.Key).
	Key string
	// Msg says what is wrong.
	Msg string
	// keyInMsg formats the error as `Origin: Msg "Key"` (unknown and
	// duplicate keys) instead of `Origin: Key: Msg`.
	keyInMsg bool
	// fullKey is the key's full dotted path within Config, when known.
	fullKey string
}

// Error formats the problem as "origin: key: message".
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Origin != "" {
		b.WriteString(e.Origin)
		b.WriteString(": ")
	}
	switch {
	case e.keyInMsg:
		fmt.Fprintf(&b, "%s %q", e.Msg, e.Key)
	case e.Key != "":
		b.WriteString(e.Key)
		b.WriteString(": ")
		b.WriteString(e.Msg)
	default:
		b.WriteString(e.Msg)
	}
	return b.String()
}

// The parsed form of a JSON document: object (ordered members), []any,
// string, json.Number, bool or nil.
type (
	object []member
	member struct {
		key string
		val any
	}
)

// maxDepth bounds JSON nesting; config files are a few levels deep.
const maxDepth = 32

// parseJSON parses one JSON object, keeping numbers exact and member order,
// refusing duplicate keys and trailing data.
func parseJSON(data []byte, origin string) (object, error) {
	// A full scan first: its syntax errors carry absolute offsets, which
	// the token stream's do not.
	var probe any
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, &FieldError{Origin: origin, Msg: syntaxMessage(data, err)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	p := parser{dec: dec, data: data, origin: origin}
	v, err := p.value("", 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, p.syntax(errors.New("data after the top-level object"))
	}
	obj, ok := v.(object)
	if !ok {
		return nil, &FieldError{Origin: origin, Msg: "want a JSON object at the top level, got " + kindOf(v)}
	}
	return obj, nil
}

type parser struct {
	dec    *json.Decoder
	data   []byte
	origin string
}

// syntax wraps an error found while walking the (already valid) token
// stream with the decoder's position.
func (p *parser) syntax(err error) error {
	return &FieldError{Origin: p.origin, Msg: position(p.data, p.dec.InputOffset()) + ": " + err.Error()}
}

// syntaxMessage describes a json.Unmarshal error with its line and column.
func syntaxMessage(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// Offset counts the bytes read, the offending one included.
		return position(data, se.Offset-1) + ": " + se.Error()
	}
	return err.Error()
}

// position formats the 1-based line and column of byte offset off.
func position(data []byte, off int64) string {
	off = min(max(off, 0), int64(len(data)))
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := int(off) - bytes.LastIndexByte(data[:off], '\n')
	return fmt.Sprintf("line %d, column %d", line, col)
}

func (p *parser) value(path string, depth int) (any, error) {
	if depth > maxDepth {
		return nil, p.syntax(fmt.Errorf("nesting deeper than %d", maxDepth))
	}
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.syntax(err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch d {
	case '{':
		obj := object{}
		seen := map[string]bool{}
		for p.dec.More() {
			kt, err := p.dec.Token()
			if err != nil {
				return nil, p.syntax(err)
			}
			key := kt.(string) // the decoder only yields string keys inside objects
			kp := joinKey(path, key)
			if seen[key] {
				return nil, &FieldError{Origin: p.origin, Key: kp, Msg: "duplicate key", keyInMsg: true}
			}
			seen[key] = true
			v, err := p.value(kp, depth+1)
			if err != nil {
				return nil, err
			}
			obj = append(obj, member{key: key, val: v})
		}
		if _, err := p.dec.Token(); err != nil {
			return nil, p.syntax(err)
		}
		return obj, nil
	case '[':
		arr := []any{}
		for p.dec.More() {
			v, err := p.value(fmt.Sprintf("%s[%d]", path, len(arr)), depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := p.dec.Token(); err != nil {
			return nil, p.syntax(err)
		}
		return arr, nil
	}
	return nil, p.syntax(fmt.Errorf("unexpected %v", d))
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindOf(v any) string {
	switch v := v.(type) {
	case object:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number " + v.String()
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// decoder applies a parsed document onto a struct, strictly, recording
// where each value came from and collecting every problem.
type decoder struct {
	origin  string  // file name as shown to the operator
	prefix  string  // full key path of the file's root within Config
	sources Sources // receives full path -> Source for each value set
	inMap   int     // > 0 while decoding map or list elements
	errs    []error
}

// show formats a value for a conflict message.
func show(v reflect.Value) string {
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		if b, err := m.MarshalText(); err == nil {
			return strconv.Quote(string(b))
		}
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return fmt.Sprint(v.Interface())
	}
	return string(b)
}

func (d *decoder) fail(rel, msg string) {
	d.errs = append(d.errs, &FieldError{Origin: d.origin, Key: rel, Msg: msg, fullKey: joinKey(d.prefix, rel)})
}

func (d *decoder) record(rel string) {
	d.sources[joinKey(d.prefix, rel)] = Source{Origin: d.origin, Key: rel}
}

var (
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	secretType          = reflect.TypeFor[Secret]()
)

// decodeInto applies obj onto dst (a pointer to a struct).
func decodeInto(obj object, dst any, origin, prefix string, sources Sources) error {
	d := &decoder{origin: origin, prefix: prefix, sources: sources}
	d.assign("", obj, reflect.ValueOf(dst).Elem())
	return errors.Join(d.errs...)
}

// assign sets dst from v; rel is the key path within the file. A value
// that an earlier file already set differently is a conflict: layering
// files must not hide an edit.
func (d *decoder) assign(rel string, v any, dst reflect.Value) {
	t := dst.Type()
	if t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		full := joinKey(d.prefix, rel)
		if prior, had := d.sources[full]; had && d.inMap == 0 {
			old := reflect.New(t).Elem()
			old.Set(dst)
			defer func() {
				if !reflect.DeepEqual(old.Interface(), dst.Interface()) {
					d.fail(rel, fmt.Sprintf("%s conflicts with %s set by %s: %s; set it in one file",
						show(dst), show(old), prior.Origin, prior.Key))
				}
			}()
		}
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		s, ok := v.(string)
		if !ok {
			d.fail(rel, "want string, got "+kindOf(v))
			return
		}
		if err := dst.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.fail(rel, err.Error())
			return
		}
		d.record(rel)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(object)
		if !ok {
			d.fail(rel, "want object, got "+kindOf(v))
			return
		}
		d.assignStruct(rel, obj, dst)
	case reflect.Map:
		obj, ok := v.(object)
		if !ok {
			d.fail(rel, "want object, got "+kindOf(v))
			return
		}
		// A map in a file replaces the earlier map as a whole, entry
		// sources included.
		full := joinKey(d.prefix, rel)
		for k := range d.sources {
			if strings.HasPrefix(k, full+".") {
				delete(d.sources, k)
			}
		}
		m := reflect.MakeMapWithSize(t, len(obj))
		d.inMap++
		for _, mb := range obj {
			elem := reflect.New(t.Elem()).Elem()
			d.assign(joinKey(rel, mb.key), mb.val, elem)
			m.SetMapIndex(reflect.ValueOf(mb.key).Convert(t.Key()), elem)
		}
		d.inMap--
		dst.Set(m)
		d.record(rel)
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			d.fail(rel, "want array, got "+kindOf(v))
			return
		}
		s := reflect.MakeSlice(t, len(arr), len(arr))
		d.inMap++
		for i, e := range arr {
			d.assign(fmt.Sprintf("%s[%d]", rel, i), e, s.Index(i))
		}
		d.inMap--
		dst.Set(s)
		d.record(rel)
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			d.fail(rel, "want string, got "+kindOf(v))
			return
		}
		dst.SetString(s)
		d.record(rel)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			d.fail(rel, "want boolean, got "+kindOf(v))
			return
		}
		dst.SetBool(b)
		d.record(rel)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			d.fail(rel, "want number, got "+kindOf(v))
			return
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			// 1e3 is an integer too; 1.5 is not.
			f, ferr := strconv.ParseFloat(n.String(), 64)
			switch {
			case ferr == nil && f == math.Trunc(f) && math.Abs(f) < 1<<63:
				i = int64(f)
			case ferr == nil && f != math.Trunc(f):
				d.fail(rel, "want integer, got "+n.String())
				return
			default:
				d.fail(rel, n.String()+" out of range for an integer")
				return
			}
		}
		if dst.OverflowInt(i) {
			d.fail(rel, fmt.Sprintf("%d out of range for an integer", i))
			return
		}
		dst.SetInt(i)
		d.record(rel)
	case reflect.Float32, reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			d.fail(rel, "want number, got "+kindOf(v))
			return
		}
		f, err := strconv.ParseFloat(n.String(), 64)
		if err != nil || dst.OverflowFloat(f) {
			d.fail(rel, n.String()+" out of range for a number")
			return
		}
		dst.SetFloat(f)
		d.record(rel)
	default:
		// Unreachable for the Config types; a programming error if not.
		d.fail(rel, "cannot be set from a file (type "+t.String()+")")
	}
}

func (d *decoder) assignStruct(rel string, obj object, dst reflect.Value) {
	t := dst.Type()
	for _, mb := range obj {
		kp := joinKey(rel, mb.key)
		f, ok := fieldByJSONName(t, mb.key)
		if !ok {
			d.errs = append(d.errs, &FieldError{Origin: d.origin, Key: kp, Msg: "unknown key", keyInMsg: true})
			continue
		}
		if f.Type == secretType {
			d.fail(kp, fmt.Sprintf("secrets are not read from files: set %s in the environment", f.Tag.Get("env")))
			continue
		}
		d.assign(kp, mb.val, dst.FieldByIndex(f.Index))
	}
}

// fieldByJSONName finds the exported field whose json name is name,
// skipping fields tagged file:"-".
func fieldByJSONName(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Tag.Get("file") == "-" {
			continue
		}
		jn, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if jn == "-" {
			continue
		}
		if jn == "" {
			jn = f.Name
		}
		if jn == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
