package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkCreatePayment measures POST /v1/payments in process (no
// network): a single-hop instant payment, decoded, authenticated, created,
// committed to the in-memory ledger and encoded.
func BenchmarkCreatePayment(b *testing.B) {
	h := newHarness(b)
	body := `{"from":"alipay.balance","to":"alipay.yuebao","amount_fen":1,"channels":["alipay_to_yuebao"]}`
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("POST", "/v1/payments", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+h.admin)
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.srv.ServeHTTP(w, req)
			if w.Code != http.StatusCreated {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
	})
}

// BenchmarkPlan measures POST /v1/plans in process.
func BenchmarkPlan(b *testing.B) {
	h := newHarness(b)
	body := `{"from":"alipay.balance","to":"wechat.change","amount_fen":100000}`
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("POST", "/v1/plans", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+h.admin)
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.srv.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
	})
}
