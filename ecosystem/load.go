package ecosystem

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// MaxFileBytes is the largest ecosystem file Load accepts.
const MaxFileBytes = 64 << 20

// Check is an extra validation a caller runs during LoadWith, after the
// built-in one passes the structure (for example compiling rule expressions,
// which the compliance package does). Problems it returns need only a Path;
// LoadWith adds the file, line and column.
type Check func(e *Ecosystem) []Problem

// LoadFile reads and loads the ecosystem file at path; see Load.
func LoadFile(path string, checks ...Check) (*Ecosystem, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("ecosystem file: %w", err)
	}
	if info.Size() > MaxFileBytes {
		return nil, &Error{Problems: []Problem{{File: path, Reason: fmt.Sprintf("file is %d bytes, more than the %d-byte limit", info.Size(), MaxFileBytes)}}}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ecosystem file: %w", err)
	}
	return Load(path, data, checks...)
}

// Load parses an ecosystem from YAML data (filename is only used in messages)
// and validates it. Unknown fields are errors; durations are Go durations
// ("30m", "2h30m"); times are RFC 3339 or YYYY-MM-DD. On failure it returns an
// *Error listing every problem found, each as "file:line:column: path: reason".
// The checks run after the built-in validation finds nothing wrong.
func Load(filename string, data []byte, checks ...Check) (e *Ecosystem, err error) {
	defer func() { // a bug here or in the YAML library must not crash the caller
		if r := recover(); r != nil {
			e, err = nil, &Error{Problems: []Problem{{File: filename, Reason: fmt.Sprintf("internal error while reading this file (%v); please report it", r)}}}
		}
	}()
	return load(filename, data, checks)
}

func load(filename string, data []byte, checks []Check) (*Ecosystem, error) {
	if filename == "" {
		filename = "<input>"
	}
	if len(data) > MaxFileBytes {
		return nil, &Error{Problems: []Problem{{File: filename, Reason: fmt.Sprintf("file is %d bytes, more than the %d-byte limit", len(data), MaxFileBytes)}}}
	}
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, &Error{Problems: []Problem{yamlProblem(filename, err)}}
	}
	body, ps := documentBody(file)
	if body == nil {
		return nil, locate(filename, nil, ps)
	}
	var e Ecosystem
	typeProblems := decodeInto(body, len(data), &e, &ps)
	if ps.err() != nil {
		if typeProblems == 0 { // only unknown fields: the model is still worth checking
			ps = withValidation(&e, ps)
		}
		return nil, locate(filename, body, ps)
	}
	if err := e.Validate(); err != nil {
		return nil, locate(filename, body, problemsOf(err))
	}
	for _, check := range checks {
		for _, p := range check(&e) {
			ps.addAt(p)
		}
	}
	if ps.err() != nil {
		return nil, locate(filename, body, ps)
	}
	e.Reindex()
	return &e, nil
}

// withValidation adds, to unknown-field problems, what Validate finds, so
// that one run reports both kinds. Problems at or under a path already
// reported are dropped.
func withValidation(e *Ecosystem, shape problems) problems {
	err := e.Validate()
	if err == nil {
		return shape
	}
	bad := map[string]bool{}
	for _, p := range shape.list {
		bad[p.Path] = true
	}
	for _, p := range problemsOf(err).list {
		if !underAny(p.Path, bad) {
			shape.addAt(p)
		}
	}
	return shape
}

// underAny reports whether path or one of its parents is in paths.
func underAny(path string, paths map[string]bool) bool {
	for {
		if paths[path] {
			return true
		}
		if path == "" {
			return false
		}
		path = parentPath(path)
	}
}

// problemsOf turns Validate's error back into a problem list.
func problemsOf(err error) problems {
	var ee *Error
	if errors.As(err, &ee) {
		return problems{list: ee.Problems, omitted: ee.Omitted}
	}
	return problems{list: []Problem{{Reason: err.Error()}}}
}

// documentBody returns the single document's body, or problems when the file
// holds no document or more than one.
func documentBody(file *ast.File) (ast.Node, problems) {
	var ps problems
	var bodies []ast.Node
	for _, doc := range file.Docs {
		if doc.Body != nil {
			bodies = append(bodies, doc.Body)
		}
	}
	switch len(bodies) {
	case 0:
		ps.add("", "the file is empty; an ecosystem needs at least id, name, currency, holders, institutions, products and channels")
		return nil, ps
	case 1:
		return bodies[0], ps
	}
	ps.addAt(Problem{Line: pos(bodies[1]).Line, Column: pos(bodies[1]).Column, Reason: "more than one YAML document; an ecosystem file holds exactly one"})
	return nil, ps
}

// yamlProblem turns a goccy parse or decode error into one problem on one line.
func yamlProblem(filename string, err error) Problem {
	p := Problem{File: filename, Reason: err.Error()}
	var ye yaml.Error
	if errors.As(err, &ye) {
		p.Reason = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			p.Line, p.Column = tk.Position.Line, tk.Position.Column
		}
	}
	if i := strings.IndexByte(p.Reason, '\n'); i >= 0 { // goccy may append a source excerpt
		p.Reason = p.Reason[:i]
	}
	if strings.HasPrefix(p.Reason, "[") { // "[3:5] message": position already taken from the token
		if i := strings.Index(p.Reason, "] "); i > 0 {
			p.Reason = p.Reason[i+2:]
		}
	}
	return p
}

// timeLayouts are the accepted time formats, most specific first.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"}

func parseTime(s string) (time.Time, error) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time; write RFC 3339 (2023-01-01T00:00:00+08:00) or a date (2023-01-01)", s)
}

// locate gives each problem the file and the line:column of its path, or of
// the nearest parent path present in the file, and sorts them in file order.
func locate(filename string, body ast.Node, ps problems) *Error {
	var positions map[string]*token.Position
	if body != nil {
		positions = map[string]*token.Position{}
		recordPositions(body, "", positions)
	}
	out := make([]Problem, len(ps.list))
	for i, p := range ps.list {
		p.File = filename
		if p.Line == 0 {
			if at := lookupPosition(positions, p.Path); at != nil {
				p.Line, p.Column = at.Line, at.Column
			}
		}
		out[i] = p
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Line != out[j].Line {
			return out[i].Line < out[j].Line
		}
		return out[i].Column < out[j].Column
	})
	return &Error{Problems: out, Omitted: ps.omitted}
}

// lookupPosition finds path, else its nearest recorded parent.
func lookupPosition(positions map[string]*token.Position, path string) *token.Position {
	for {
		if at, ok := positions[path]; ok {
			return at
		}
		if path == "" {
			return nil
		}
		path = parentPath(path)
	}
}

// parentPath drops the last element: "a.b[3]" -> "a.b", "a.b" -> "a", "a" -> "".
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

// recordPositions maps every path in the document to where it is written:
// scalar values at the value, mappings and lists at their key.
func recordPositions(node ast.Node, path string, out map[string]*token.Position) {
	node = unwrap(node)
	if node == nil {
		return
	}
	if _, ok := out[path]; !ok {
		out[path] = pos(node)
	}
	switch n := node.(type) {
	case *ast.MappingNode:
		for _, mv := range n.Values {
			key := keyString(mv.Key)
			child := field(path, key)
			if isScalar(unwrap(mv.Value)) {
				out[child] = pos(mv.Value)
			} else {
				out[child] = pos(mv.Key)
			}
			recordPositions(mv.Value, child, out)
		}
	case *ast.SequenceNode:
		for i, v := range n.Values {
			recordPositions(v, elem(path, i), out)
		}
	}
}

// pos returns a node's start position, never nil.
func pos(n ast.Node) *token.Position {
	if n == nil {
		return &token.Position{}
	}
	if m, ok := n.(*ast.MappingNode); ok && len(m.Values) > 0 {
		return pos(m.Values[0].Key)
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position
	}
	return &token.Position{}
}

// unwrap looks through anchors and tags to the value node.
func unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		default:
			return n
		}
	}
}

func isScalar(n ast.Node) bool {
	switch n.(type) {
	case *ast.MappingNode, *ast.SequenceNode, nil:
		return false
	}
	return true
}

func keyString(k ast.MapKeyNode) string {
	if s, ok := unwrap(k).(*ast.StringNode); ok {
		return s.Value
	}
	return k.String()
}
