package dataset

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/paybridge/paybridge/risk"
)

// MaxEvents caps the events one load returns; larger files are refused.
const MaxEvents = 20_000_000

// Epoch is the time of step 0 for formats whose clock is a step counter (PaySim, AMLSim).
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Formats lists the loadable formats.
var Formats = []string{"paysim", "ibm-aml", "amlsim", "paybridge"}

// Set is a loaded data set: events in time order and the account-level answer key.
type Set struct {
	Format string
	Events []risk.Event
	// PositiveAccounts are the accounts the answer key marks (parties of
	// labelled transactions, or AMLSim's isFraud nodes).
	PositiveAccounts map[string]bool
	// Accounts is every account seen.
	Accounts map[string]bool
}

// ErrFormat is wrapped by every loader error; the message names the line and column.
var ErrFormat = errors.New("bad data")

func lineErr(format string, line int, column, reason string) error {
	return fmt.Errorf("%w: %s line %d: %s: %s", ErrFormat, format, line, column, reason)
}

// finish sorts events by time (stable: ties keep file order) and builds the account sets.
func finish(format string, events []risk.Event) *Set {
	slices.SortStableFunc(events, func(a, b risk.Event) int { return a.Time.Compare(b.Time) })
	s := &Set{Format: format, Events: events, PositiveAccounts: map[string]bool{}, Accounts: map[string]bool{}}
	for i := range events {
		e := &events[i]
		s.Accounts[e.FromAccount], s.Accounts[e.ToAccount] = true, true
		if e.Labels != nil && e.Labels.Fraud {
			s.PositiveAccounts[e.FromAccount], s.PositiveAccounts[e.ToAccount] = true, true
		}
	}
	return s
}

// csvTable reads a header line and returns the column index of each wanted name.
type csvTable struct {
	r      *csv.Reader
	format string
	cols   map[string]int
	line   int
}

func newCSV(format string, r io.Reader, want ...string) (*csvTable, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: %s: the file is empty (expected a header line)", ErrFormat, format)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s line 1: %v", ErrFormat, format, err)
	}
	t := &csvTable{r: cr, format: format, cols: map[string]int{}, line: 1}
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := t.cols[h]; !dup {
			t.cols[h] = i
		} else {
			t.cols[h+".1"] = i // pandas-style name for a repeated column
		}
	}
	for _, w := range want {
		if _, ok := t.cols[w]; !ok {
			return nil, fmt.Errorf("%w: %s line 1: header has no %q column (need %s)", ErrFormat, format, w, strings.Join(want, ","))
		}
	}
	return t, nil
}

// next returns the next record or io.EOF.
func (t *csvTable) next() ([]string, error) {
	rec, err := t.r.Read()
	t.line++
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s line %d: %v", ErrFormat, t.format, t.line, err)
	}
	if t.line > MaxEvents+1 {
		return nil, fmt.Errorf("%w: %s: more than %d rows", ErrFormat, t.format, MaxEvents)
	}
	return rec, nil
}

// get returns column name of rec, or an error naming it.
func (t *csvTable) get(rec []string, name string) (string, error) {
	i := t.cols[name]
	if i >= len(rec) {
		return "", lineErr(t.format, t.line, name, "missing (row is too short)")
	}
	v := strings.TrimSpace(rec[i])
	if len(v) > risk.MaxIDLen {
		return "", lineErr(t.format, t.line, name, fmt.Sprintf("longer than %d bytes", risk.MaxIDLen))
	}
	return v, nil
}

// getAll returns the named columns of rec.
func (t *csvTable) getAll(rec []string, names ...string) ([]string, error) {
	out := make([]string, len(names))
	for i, n := range names {
		v, err := t.get(rec, n)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// parseFlag reads 0/1/0.0/1.0/true/false.
func parseFlag(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "1", "1.0", "true", "t", "yes":
		return true, true
	case "0", "0.0", "false", "f", "no", "":
		return false, true
	}
	return false, false
}

// validate checks an event built by a loader and wraps the error with the line.
func validate(format string, line int, e *risk.Event) error {
	if err := e.Validate(); err != nil {
		return fmt.Errorf("%w: %s line %d: %v", ErrFormat, format, line, err)
	}
	return nil
}
