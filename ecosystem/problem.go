package ecosystem

import (
	"fmt"
	"strings"
)

// MaxProblems is the most problems one Load or Validate reports; past it the
// error says how many more there were.
const MaxProblems = 200

// Problem is one thing wrong with an ecosystem: where it is (file, line,
// column, when known) and which field (Path, e.g. "channels[12].fee.rate_bps")
// with the reason ("must be ≥ 0").
type Problem struct {
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"` // 1-based; 0 when unknown
	Column int    `json:"column,omitempty"`
	Path   string `json:"path,omitempty"` // field path from the document root; "" for the whole document
	Reason string `json:"reason"`
}

// Error renders the problem on one line: "cn.yaml:412:17: channels[12].fee.rate_bps: must be ≥ 0".
func (p Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteString(":")
	}
	if p.Line > 0 {
		fmt.Fprintf(&b, "%d:%d:", p.Line, p.Column)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Reason)
	return strings.ReplaceAll(b.String(), "\n", `\n`) // one problem, one line

}

// Error lists every problem found in one ecosystem, in file order when
// positions are known. Its message has one line per problem.
type Error struct {
	Problems []Problem
	// Omitted counts problems found beyond MaxProblems.
	Omitted int
}

// Error renders every problem, one per line.
func (e *Error) Error() string {
	lines := make([]string, 0, len(e.Problems)+1)
	for _, p := range e.Problems {
		lines = append(lines, p.Error())
	}
	if e.Omitted > 0 {
		lines = append(lines, fmt.Sprintf("… and %d more problems", e.Omitted))
	}
	return strings.Join(lines, "\n")
}

// problems collects problems up to MaxProblems.
type problems struct {
	list    []Problem
	omitted int
}

func (ps *problems) add(path, format string, args ...any) {
	ps.addAt(Problem{Path: path, Reason: fmt.Sprintf(format, args...)})
}

func (ps *problems) addAt(p Problem) {
	if len(ps.list) >= MaxProblems {
		ps.omitted++
		return
	}
	ps.list = append(ps.list, p)
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	return &Error{Problems: ps.list, Omitted: ps.omitted}
}

// field joins a path and a field name: field("channels[3]", "fee") = "channels[3].fee".
func field(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// elem joins a path and a list index: elem("channels", 3) = "channels[3]".
func elem(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}
