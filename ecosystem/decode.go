package ecosystem

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// decodeStepsBase and decodeStepsPerByte bound the values one decode visits,
// counting every expansion of an alias, so that "billion laughs" documents
// fail fast: 1,000,000 plus 2 per byte of input (a document without aliases
// has fewer values than bytes).
const (
	decodeStepsBase    = 1_000_000
	decodeStepsPerByte = 2
)

// maxAliasChain bounds aliases of aliases.
const maxAliasChain = 64

// decoder turns the YAML tree into the model's structs in one walk and
// reports every unknown field and every value of the wrong type, each with
// its path and position, instead of stopping at the first (goccy's decoder
// stops at the first, and was 40% of the load time of a 20,000-channel file).
type decoder struct {
	ps        *problems
	anchors   map[string]ast.Node
	expanding map[string]bool // anchors being decoded: an alias to one of them is a cycle
	steps     int
	maxSteps  int
	// typeProblems counts problems other than unknown fields.
	typeProblems int
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	timeType     = reflect.TypeOf(time.Time{})
)

// decodeInto decodes body into e; problems go to ps.
func decodeInto(body ast.Node, size int, e *Ecosystem, ps *problems) (typeProblems int) {
	d := &decoder{ps: ps, anchors: map[string]ast.Node{}, expanding: map[string]bool{}, maxSteps: decodeStepsBase + decodeStepsPerByte*size}
	d.decode(body, reflect.ValueOf(e).Elem(), "")
	return d.typeProblems
}

func (d *decoder) problem(node ast.Node, path, format string, args ...any) {
	d.typeProblems++
	p := pos(node)
	d.ps.addAt(Problem{Path: path, Line: p.Line, Column: p.Column, Reason: fmt.Sprintf(format, args...)})
}

// resolve looks through tags and anchors (recording them) and follows
// aliases; it returns nil for a null value or a problem already reported.
func (d *decoder) resolve(node ast.Node, path string) (n ast.Node, anchor string) {
	for hops := 0; ; {
		switch v := node.(type) {
		case *ast.TagNode:
			node = v.Value
		case *ast.AnchorNode:
			anchor = scalarText(v.Name)
			d.anchors[anchor] = v.Value
			node = v.Value
		case *ast.AliasNode:
			name := scalarText(v.Value)
			target, ok := d.anchors[name]
			switch {
			case !ok:
				d.problem(v, path, "alias *%s names no anchor defined before it", name)
				return nil, ""
			case d.expanding[name] || hops > maxAliasChain:
				d.problem(v, path, "alias *%s refers to a value that contains it", name)
				return nil, ""
			}
			node, anchor = target, name
			hops++
		case *ast.NullNode, nil:
			return nil, ""
		default:
			return node, anchor
		}
	}
}

// decode sets v from node, reporting what does not fit.
func (d *decoder) decode(node ast.Node, v reflect.Value, path string) {
	if d.steps++; d.steps > d.maxSteps {
		if d.steps == d.maxSteps+1 {
			d.problem(node, path, "the document expands to more than %d values through aliases", d.maxSteps)
		}
		return
	}
	node, anchor := d.resolve(node, path)
	if node == nil {
		return
	}
	if anchor != "" {
		d.expanding[anchor] = true
		defer delete(d.expanding, anchor)
	}
	t := v.Type()
	switch {
	case t == durationType:
		s, ok := node.(*ast.StringNode)
		if !ok {
			d.problem(node, path, `must be a Go duration such as "30m" or "2h30m"`)
			return
		}
		dur, err := time.ParseDuration(s.Value)
		if err != nil {
			d.problem(node, path, `%q is not a Go duration; write e.g. "90s", "30m" or "2h30m"`, s.Value)
			return
		}
		v.SetInt(int64(dur))
	case t == timeType:
		tm, err := parseTime(strings.TrimSpace(scalarText(node)))
		if err != nil || !isScalar(node) {
			d.problem(node, path, "%q is not a time; write RFC 3339 (2023-01-01T00:00:00+08:00) or a date (2023-01-01)", scalarText(node))
			return
		}
		v.Set(reflect.ValueOf(tm))
	case t.Kind() == reflect.Pointer:
		elem := reflect.New(t.Elem())
		d.decode(node, elem.Elem(), path)
		v.Set(elem)
	case t.Kind() == reflect.Struct:
		d.decodeStruct(node, v, path)
	case t.Kind() == reflect.Slice:
		seq, ok := node.(*ast.SequenceNode)
		if !ok {
			d.problem(node, path, "must be a list")
			return
		}
		s := reflect.MakeSlice(t, len(seq.Values), len(seq.Values))
		for i, item := range seq.Values {
			d.decode(item, s.Index(i), elem(path, i))
		}
		v.Set(s)
	case t.Kind() == reflect.String:
		if !isScalar(node) {
			d.problem(node, path, "must be text, not a list or mapping")
			return
		}
		v.SetString(scalarText(node))
	case t.Kind() == reflect.Bool:
		b, ok := node.(*ast.BoolNode)
		if !ok {
			d.problem(node, path, "must be true or false")
			return
		}
		v.SetBool(b.Value)
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		d.decodeInt(node, v, path)
	case t.Kind() == reflect.Float64:
		switch n := node.(type) {
		case *ast.IntegerNode:
			f, _ := intValue(n)
			v.SetFloat(f)
		case *ast.FloatNode:
			v.SetFloat(n.Value)
		case *ast.InfinityNode, *ast.NanNode:
			d.problem(node, path, "must be a finite number")
		default:
			d.problem(node, path, "must be a number")
		}
	default:
		d.problem(node, path, "cannot be decoded (a %s field)", t)
	}
}

// intValue returns an integer node's value as float64, and as int64 when it fits.
func intValue(n *ast.IntegerNode) (float64, *int64) {
	switch x := n.Value.(type) {
	case int64:
		return float64(x), &x
	case uint64:
		if x <= math.MaxInt64 {
			i := int64(x)
			return float64(x), &i
		}
		return float64(x), nil
	}
	return 0, nil
}

func (d *decoder) decodeInt(node ast.Node, v reflect.Value, path string) {
	n, ok := node.(*ast.IntegerNode)
	if !ok {
		if isDigits(strings.TrimPrefix(scalarText(node), "-")) {
			d.problem(node, path, "is too large (more than 9223372036854775807)")
			return
		}
		d.problem(node, path, "must be a whole number")
		return
	}
	if _, i := intValue(n); i != nil {
		v.SetInt(*i)
		return
	}
	d.problem(node, path, "is too large (more than 9223372036854775807)")
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// decodeStruct decodes a mapping into a struct: merge keys ("<<") first,
// then the mapping's own keys, which override them.
func (d *decoder) decodeStruct(node ast.Node, v reflect.Value, path string) {
	m, ok := node.(*ast.MappingNode)
	if !ok {
		d.problem(node, path, "must be a mapping of fields (%s)", strings.Join(yamlFields(v.Type()), ", "))
		return
	}
	fields := structFields(v.Type())
	for _, mv := range m.Values {
		if _, ok := mv.Key.(*ast.MergeKeyNode); ok {
			d.merge(mv.Value, v, path)
		}
	}
	for _, mv := range m.Values {
		if _, ok := mv.Key.(*ast.MergeKeyNode); ok {
			continue
		}
		key := keyString(mv.Key)
		i, ok := fields.index[key]
		if !ok {
			p := pos(mv.Key)
			d.ps.addAt(Problem{Path: field(path, key), Line: p.Line, Column: p.Column, Reason: "unknown field" + suggestField(key, v.Type())})
			continue
		}
		d.decode(mv.Value, v.Field(i), field(path, key))
	}
}

// merge applies a merge key's value: a mapping, an alias of one, or a list of them.
func (d *decoder) merge(value ast.Node, v reflect.Value, path string) {
	node, _ := d.resolve(value, path)
	if seq, ok := node.(*ast.SequenceNode); ok {
		for _, item := range seq.Values {
			d.merge(item, v, path)
		}
		return
	}
	if node != nil {
		d.decodeStruct(node, v, path)
	}
}

// scalarText is a scalar node's text as written (unquoted).
func scalarText(n ast.Node) string {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value
	case *ast.LiteralNode:
		if v.Value != nil {
			return v.Value.Value
		}
		return ""
	case nil:
		return ""
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return n.String()
}

// fieldsOf is a struct type's yaml field names and their indexes.
type fieldsOf struct {
	index map[string]int
	names []string // declaration order
}

var fieldCache sync.Map // reflect.Type -> *fieldsOf

func structFields(t reflect.Type) *fieldsOf {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*fieldsOf)
	}
	f := &fieldsOf{index: map[string]int{}}
	for i := range t.NumField() {
		if name := yamlName(t.Field(i)); name != "" {
			f.index[name] = i
			f.names = append(f.names, name)
		}
	}
	fieldCache.Store(t, f)
	return f
}

// yamlFields lists the yaml names of a struct's fields in declaration order.
func yamlFields(t reflect.Type) []string { return structFields(t).names }

func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	switch tag {
	case "-":
		return ""
	case "":
		return strings.ToLower(f.Name)
	}
	return tag
}

// suggestField names the nearest known field, or lists them all.
func suggestField(key string, t reflect.Type) string {
	names := yamlFields(t)
	if near := nearest(key, names, 1); len(near) > 0 {
		return fmt.Sprintf(" (did you mean %q?)", near[0])
	}
	for _, name := range names {
		if len(key) >= 3 && (strings.HasPrefix(name, key) || strings.HasPrefix(key, name)) {
			return fmt.Sprintf(" (did you mean %q?)", name)
		}
	}
	return " (known: " + strings.Join(names, ", ") + ")"
}
