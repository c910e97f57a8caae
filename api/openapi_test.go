package api

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// TestOpenAPICoversEveryRoute checks that every route the mux registers is
// in the served document (and nothing else is), and that every example
// request in it is accepted (2xx).
func TestOpenAPICoversEveryRoute(t *testing.T) {
	h := newHarness(t)
	code, b := h.do("GET", "/openapi.json", "", "")
	if code != 200 {
		t.Fatalf("%d", code)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			Parameters []struct {
				Name, In string
				Example  string
			} `json:"parameters"`
			RequestBody *struct {
				Content map[string]struct {
					Example json.RawMessage `json:"example"`
				} `json:"content"`
			} `json:"requestBody"`
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.OpenAPI != "3.1.0" {
		t.Fatalf("document: %v %s", err, doc.OpenAPI)
	}
	registered := map[string]bool{}
	for _, pat := range h.srv.Routes() {
		if pat == "/" {
			continue // the JSON 404 for everything else
		}
		registered[pat] = true
		method, path, _ := strings.Cut(pat, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("route %s is not in /openapi.json", pat)
		}
	}
	for path, ops := range doc.Paths {
		for m := range ops {
			if !registered[strings.ToUpper(m)+" "+path] {
				t.Errorf("/openapi.json documents %s %s, which the server does not register", m, path)
			}
		}
	}
	// Payments the examples act on: p000001 running, p000002 and p000003 stranded.
	h.pay(`{"from":"alipay.balance","to":"wechat.change","amount_fen":1000}`)
	for range 2 {
		p := h.pay(`{"from":"alipay.balance","to":"cmb.debit","amount_fen":50000,"on_failure":"strand","fail_hop":2}`)
		h.waitState(p.ID, "stranded")
	}
	n := 0
	for _, o := range operations {
		if o.example == nil || o.request == "" {
			continue
		}
		method, path, _ := strings.Cut(o.pattern, " ")
		op := doc.Paths[path][strings.ToLower(method)]
		var headers []string
		for _, p := range op.Parameters {
			switch {
			case p.In == "path":
				path = strings.Replace(path, "{"+p.Name+"}", p.Example, 1)
			case p.In == "header" && p.Example != "":
				headers = append(headers, p.Name, p.Example)
			}
		}
		ex := op.RequestBody.Content["application/json"].Example
		code, b := h.do(method, path, h.admin, string(ex), append(headers, "Content-Type", "application/json")...)
		if code/100 != 2 {
			t.Errorf("example %s %s %s: %d %s", method, path, ex, code, b)
		}
		if _, documented := op.Responses[strconv.Itoa(code)]; !documented {
			t.Errorf("example %s %s answered %d, which the document does not list", method, path, code)
		}
		n++
	}
	if n < 5 {
		t.Fatalf("only %d example requests", n)
	}
}
