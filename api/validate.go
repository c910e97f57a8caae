package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"unicode"

	"github.com/paybridge/paybridge/ecosystem"
)

// MaxEcosystemBytes bounds an ecosystem file sent to POST
// /v1/ecosystems/validate (the bundled worlds are about 35 KB each).
const MaxEcosystemBytes = 1 << 20

// ecosystemTypes are the media types POST /v1/ecosystems/validate takes
// (YAML, and JSON, which is YAML too).
var ecosystemTypes = []string{"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "application/json"}

// validationView is the answer of POST /v1/ecosystems/validate, the same
// object as paybridge ecosystem validate --json.
type validationView struct {
	OK       bool                `json:"ok"`
	Counts   *ecosystem.Counts   `json:"counts,omitempty"`
	Problems []ecosystem.Problem `json:"problems"`
	Omitted  int                 `json:"omitted,omitempty"`
}

// validateEcosystem answers POST /v1/ecosystems/validate: it loads the
// body as an ecosystem file with every check the server's worlds pass and
// answers 200 with ok and counts, or with every problem found (a file with
// problems is a valid request: the answer is the report, not an error).
func (s *Server) validateEcosystem(w http.ResponseWriter, r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || !slices.Contains(ecosystemTypes, mt) {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeMediaType,
			Message: fmt.Sprintf("Content-Type %s: send the ecosystem file as application/yaml", quote(ct))}
	}
	name := r.URL.Query().Get("filename")
	if name == "" {
		name = "ecosystem.yaml"
	}
	if len(name) > 200 || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return invalid("filename", "filename is only a name for the problem lines: at most 200 printable characters")
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxEcosystemBytes))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
				Message: fmt.Sprintf("the ecosystem file is more than %d bytes", MaxEcosystemBytes)}
		}
		return invalid("", "cannot read the request body: %v", err)
	}
	if strings.TrimSpace(string(data)) == "" {
		return invalid("", "request body is empty: send an ecosystem file (see paybridge ecosystem show --json, or the bundled YAML)")
	}
	out := validationView{Problems: []ecosystem.Problem{}}
	e, err := ecosystem.Load(name, data, s.cfg.EcosystemChecks...)
	var ee *ecosystem.Error
	switch {
	case err == nil:
		out.OK = true
		c := e.Counts()
		out.Counts = &c
	case errors.As(err, &ee):
		out.Problems, out.Omitted = ee.Problems, ee.Omitted
	default:
		return invalid("", "%v", err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
