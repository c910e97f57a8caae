package dataset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/paybridge/paybridge/risk"
)

// MaxJSONLLine caps one JSONL line.
const MaxJSONLLine = 1 << 20

// LoadJSONL reads paybridge's own format: one risk.Event as JSON per line
// (blank lines ignored, unknown fields refused). See docs/risk.md.
func LoadJSONL(r io.Reader) (*Set, error) {
	const f = "paybridge"
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), MaxJSONLLine)
	var events []risk.Event
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if len(events) >= MaxEvents {
			return nil, fmt.Errorf("%w: %s: more than %d events", ErrFormat, f, MaxEvents)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var e risk.Event
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("%w: %s line %d: %v", ErrFormat, f, line, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("%w: %s line %d: more than one JSON value on the line", ErrFormat, f, line)
		}
		if err := validate(f, line, &e); err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s line %d: %v", ErrFormat, f, line+1, err)
	}
	return finish(f, events), nil
}
