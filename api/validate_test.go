package api

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestValidateEcosystem: a good file answers ok with its counts, a broken
// one every problem with its line, and a bad request names what is wrong.
func TestValidateEcosystem(t *testing.T) {
	h := newHarness(t)
	good, err := os.ReadFile("../ecosystems/cn-facts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yaml := []string{"Content-Type", "application/yaml"}
	type answer struct {
		OK     bool `json:"ok"`
		Counts *struct {
			Institutions, Products, Channels, Rules int
		} `json:"counts"`
		Problems []struct {
			File   string `json:"file"`
			Line   int    `json:"line"`
			Path   string `json:"path"`
			Reason string `json:"reason"`
		} `json:"problems"`
	}
	read := func(code int, b []byte) answer {
		t.Helper()
		var a answer
		if code != http.StatusOK || json.Unmarshal(b, &a) != nil {
			t.Fatalf("%d %s", code, b)
		}
		return a
	}

	a := read(h.do("POST", "/v1/ecosystems/validate", h.admin, string(good), yaml...))
	if !a.OK || a.Counts == nil || a.Counts.Channels == 0 || a.Counts.Institutions == 0 || len(a.Problems) != 0 {
		t.Fatalf("cn-facts: %+v", a)
	}

	// A fee rate as a word, and an unknown field, in an otherwise good file.
	broken := strings.Replace(string(good), "fee: { rate_bps: 10 }", "fee: { rate_bps: ten }", 1)
	broken = strings.Replace(broken, "\ncurrency: CNY\n", "\ncurrency: CNY\ncolour: blue\n", 1)
	if broken == string(good) {
		t.Fatal("the test's edit did not apply")
	}
	a = read(h.do("POST", "/v1/ecosystems/validate?filename=what-if.yaml", h.admin, broken, yaml...))
	if a.OK || len(a.Problems) == 0 {
		t.Fatalf("broken file: %+v", a)
	}
	for _, p := range a.Problems {
		if p.File != "what-if.yaml" || p.Line == 0 || p.Reason == "" {
			t.Errorf("problem without its place: %+v", p)
		}
	}

	// JSON is YAML too; a tiny document gets its missing fields listed.
	a = read(h.do("POST", "/v1/ecosystems/validate", h.admin, `{"id":"my-world"}`))
	if a.OK || len(a.Problems) == 0 {
		t.Fatalf("tiny document: %+v", a)
	}

	for _, c := range []struct {
		name, path, body string
		headers          []string
		code             int
		field            string
	}{
		{"no content type", "/v1/ecosystems/validate", "id: x", []string{"Content-Type", ""}, http.StatusUnsupportedMediaType, ""},
		{"form", "/v1/ecosystems/validate", "id=x", []string{"Content-Type", "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType, ""},
		{"empty", "/v1/ecosystems/validate", "  \n", yaml, http.StatusBadRequest, ""},
		{"too large", "/v1/ecosystems/validate", "# " + strings.Repeat("x", MaxEcosystemBytes) + "\n", yaml, http.StatusRequestEntityTooLarge, ""},
		{"filename with a newline", "/v1/ecosystems/validate?filename=a%0Ab", "id: x", yaml, http.StatusBadRequest, "filename"},
	} {
		code, b := h.do("POST", c.path, h.admin, c.body, c.headers...)
		if code != c.code {
			t.Errorf("%s: %d %s, want %d", c.name, code, b, c.code)
			continue
		}
		if e := errorOf(t, b); e.Field != c.field {
			t.Errorf("%s: field %q, want %q", c.name, e.Field, c.field)
		}
	}
	if code, _ := h.do("POST", "/v1/ecosystems/validate", "", "id: x", yaml...); code != http.StatusUnauthorized {
		t.Errorf("without a key: %d", code)
	}
}
