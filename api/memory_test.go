package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPaymentsOutOfMemory: with an executor that keeps two finished
// payments in memory, payments that left it are still served whole by GET,
// listed in order by cursor pages (with state and holder filters), found by
// a retried Idempotency-Key (a different body is refused) and counted by
// the metrics.
func TestPaymentsOutOfMemory(t *testing.T) {
	h := newHarnessCache(t, 2)
	const n = 7
	var made []string
	bodies := map[string]string{}
	for i := range n {
		body := fmt.Sprintf(`{"from":"alipay.balance","to":"alipay.yuebao","amount_fen":%d,"channels":["alipay_to_yuebao"]}`, 100+i)
		key := fmt.Sprintf("order-%d", i)
		code, b := h.do("POST", "/v1/payments", h.admin, body, "Idempotency-Key", key)
		if code != http.StatusCreated {
			t.Fatalf("create %d: %d %s", i, code, b)
		}
		var v paymentView
		if err := json.Unmarshal(b, &v); err != nil || v.State != "completed" {
			t.Fatalf("create %d: %s", i, b)
		}
		made = append(made, v.ID)
		bodies[v.ID] = string(b)
	}
	// GET: the same answer as at creation, from the ledger for the old ones.
	for _, id := range made {
		code, b := h.do("GET", "/v1/payments/"+id, h.admin, "")
		if code != http.StatusOK || strings.TrimSpace(string(b)) != strings.TrimSpace(bodies[id]) {
			t.Errorf("GET %s: %d\n%s\nwant\n%s", id, code, b, bodies[id])
		}
	}
	// A retry of the first key: the same payment, nothing new; another body: 409.
	code, b := h.do("POST", "/v1/payments", h.admin, `{"from":"alipay.balance","to":"alipay.yuebao","amount_fen":100,"channels":["alipay_to_yuebao"]}`, "Idempotency-Key", "order-0")
	if code != http.StatusOK || strings.TrimSpace(string(b)) != strings.TrimSpace(bodies[made[0]]) {
		t.Errorf("retry: %d %s", code, b)
	}
	code, b = h.do("POST", "/v1/payments", h.admin, `{"from":"alipay.balance","to":"alipay.yuebao","amount_fen":100,"channels":["alipay_to_yuebao"],"seed":7}`, "Idempotency-Key", "order-0")
	if code != http.StatusConflict || errorOf(t, b).Code != CodeConflict {
		t.Errorf("retry with another body: %d %s", code, b)
	}
	if got := h.x.Count(); got != n {
		t.Errorf("Count() = %d after retries, want %d", got, n)
	}
	// Pages of 3, in creation order, each payment once.
	list := func(query string) []string {
		var ids []string
		cursor := ""
		for range 10 {
			code, b := h.do("GET", "/v1/payments?limit=3"+query+"&cursor="+cursor, h.admin, "")
			var page struct {
				Payments   []paymentView `json:"payments"`
				NextCursor string        `json:"next_cursor"`
			}
			if code != http.StatusOK || json.Unmarshal(b, &page) != nil || len(page.Payments) > 3 {
				t.Fatalf("list%s: %d %s", query, code, b)
			}
			for _, p := range page.Payments {
				ids = append(ids, p.ID)
			}
			if page.NextCursor == "" {
				return ids
			}
			cursor = page.NextCursor
		}
		t.Fatalf("list%s: more than 10 pages", query)
		return nil
	}
	if got := list(""); strings.Join(got, ",") != strings.Join(made, ",") {
		t.Errorf("list = %v, want %v", got, made)
	}
	if got := list("&state=completed&holder=me"); strings.Join(got, ",") != strings.Join(made, ",") {
		t.Errorf("list completed of me = %v, want %v", got, made)
	}
	if got := list("&state=refunded"); len(got) != 0 {
		t.Errorf("list refunded = %v, want none", got)
	}
	if got := list("&holder=friend"); len(got) != 0 {
		t.Errorf("list of friend = %v, want none", got)
	}
	if code, b := h.do("GET", "/v1/payments?cursor=nope", h.admin, ""); code != http.StatusBadRequest || errorOf(t, b).Field != "cursor" {
		t.Errorf("bad cursor: %d %s", code, b)
	}
	// Metrics count every payment, in memory or not.
	code, b = h.do("GET", "/metrics", "", "")
	if code != http.StatusOK || !strings.Contains(string(b), fmt.Sprintf(`paybridge_payments{state="completed"} %d`, n)) {
		t.Errorf("metrics: %d, no completed count of %d", code, n)
	}
	// The ledger's group commits are measured: batches, transfers, time.
	for _, name := range []string{"paybridge_ledger_commit_batches_count", "paybridge_ledger_commit_transfers_sum", "paybridge_ledger_commit_duration_seconds_bucket"} {
		if !strings.Contains(string(b), name) || strings.Contains(string(b), name+" 0\n") {
			t.Errorf("metrics: no %s or it is zero", name)
		}
	}
}

// TestWritePaymentViewSameBytes: the spliced encoding of a payment is the
// bytes encoding/json gives for its view (with and without a memoised
// route, and for a rejected one's fields).
func TestWritePaymentViewSameBytes(t *testing.T) {
	h := newHarness(t)
	for _, body := range []string{
		`{"from":"alipay.balance","to":"alipay.yuebao","amount_fen":100,"channels":["alipay_to_yuebao"]}`,
		`{"from":"alipay.balance","to":"wechat.change","amount_fen":100,"seed":3,"on_failure":"strand"}`,
	} {
		v := h.pay(body)
		p, err := h.x.Get(v.ID)
		if err != nil {
			t.Fatal(err)
		}
		view := viewPayment(p)
		if view.Route.js == nil {
			t.Fatalf("%s: no memoised route JSON", v.ID)
		}
		rec := httptest.NewRecorder()
		writePaymentView(rec, 201, view)
		want, _ := json.Marshal(view)
		if got := rec.Body.String(); got != string(want)+"\n" || rec.Code != 201 || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s:\n%s\nwant\n%s", v.ID, got, want)
		}
		plain := view
		plain.Route.js = nil
		if b, _ := json.Marshal(plain); string(b) != string(want) {
			t.Errorf("%s: the route encoded by reflection differs from the memoised JSON", v.ID)
		}
	}
}
