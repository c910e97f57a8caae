package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzHandlers sends random methods, paths, bodies and headers to every
// route: the server must never panic or answer 500.
func FuzzHandlers(f *testing.F) {
	h := newHarness(f)
	h.pay(`{"from":"alipay.balance","to":"wechat.change","amount_fen":1000}`)
	holder := h.key(Principal{Role: RoleHolder, Holder: "me"})
	for _, pat := range h.srv.Routes() {
		m, p, ok := strings.Cut(pat, " ")
		if !ok {
			m, p = "GET", "/v1/x"
		}
		p = strings.NewReplacer("{id}", "p000001", "{holder}", "me", "{product}", "alipay.balance").Replace(p)
		f.Add(m, p, `{}`, "application/json", uint8(0))
	}
	for _, o := range operations {
		if o.request != "" {
			m, p, _ := strings.Cut(o.pattern, " ")
			f.Add(m, strings.Replace(p, "{id}", "p000001", 1), `{"from":"alipay.balance","to":"x","amount_fen":9223372036854775807,"plan_id":"pl_1","channels":[""],"seed":-1}`, "application/json", uint8(1))
		}
	}
	f.Add("POST", "/v1/payments?state=%zz", `{"from":1e999}`, "application/json; charset=utf-8", uint8(2))
	f.Add("GET", "/v1/accounts/%00/..%2f", "", "", uint8(0))
	f.Add("POST", "/v1/ecosystems/validate?filename=w.yaml", "id: x\nholders: &a [*a, {id: 1}]\nchannels: [{fee: {rate_bps: -1}}]\n", "application/yaml", uint8(0))
	methods := []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}
	f.Fuzz(func(t *testing.T, method, path, body, ctype string, who uint8) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		found := false
		for _, m := range methods {
			found = found || m == method
		}
		if !found {
			method = methods[int(who)%len(methods)]
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond) // event streams end
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, method, "http://x", strings.NewReader(body))
		if err != nil {
			return
		}
		req.URL.Path = path
		req.RequestURI = path
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		switch who % 3 {
		case 0:
			req.Header.Set("Authorization", "Bearer "+h.admin)
		case 1:
			req.Header.Set("Authorization", "Bearer "+holder)
		}
		req.Header.Set("Idempotency-Key", body[:min(len(body), 10)])
		w := httptest.NewRecorder()
		h.srv.ServeHTTP(w, req) // a panic fails the fuzz test
		if w.Code >= 500 && w.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %q %q: %d %s", method, path, body, w.Code, w.Body.String())
		}
	})
}
