package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paybridge/paybridge/route"
)

// TestPlanStore: a plan is found by its id until it expires; ids that are
// malformed, tampered with or of a slot reused since are unknown; identical
// plans share one quote; the store keeps at most MaxPlans, the newest.
func TestPlanStore(t *testing.T) {
	now := time.Date(2026, 11, 29, 5, 0, 0, 0, time.UTC)
	s := newPlanStore(func() time.Time { return now })
	res := &route.Result{}
	q := route.Query{From: "alipay.balance", To: "wechat.change", AmountFen: 100}
	p := Principal{KeyID: "k", Role: RoleAdmin}
	id, exp := s.put(q, res, p)
	if !exp.Equal(now.Add(PlanTTL)) {
		t.Errorf("expires %s, want %s", exp, now.Add(PlanTTL))
	}
	if len(id) != planIDLen || !strings.HasPrefix(id, "pl_") {
		t.Fatalf("id %q", id)
	}
	pl, ok := s.get(id)
	if !ok || pl.query != q || pl.result != res || pl.principal != p || !pl.expiresAt.Equal(exp) {
		t.Fatalf("get(%s) = %+v, %v", id, pl, ok)
	}
	id2, _ := s.put(q, res, p)
	if id2 == id {
		t.Fatal("two plans got the same id")
	}
	if a, b := s.slot(0), s.slot(1); a.q != b.q {
		t.Error("identical plans do not share a quote")
	}
	q3 := q
	q3.AmountFen++
	id3, _ := s.put(q3, res, p)
	if pl, _ := s.get(id3); pl == nil || pl.query.AmountFen != q3.AmountFen {
		t.Errorf("a plan of another query: %+v", pl)
	}
	flip := func(c byte) byte {
		if c == '0' {
			return '1'
		}
		return '0'
	}
	for _, bad := range []string{"", "pl_", "pl_x", id[:len(id)-1], id + "0", strings.ToUpper(id[3:]), "pl_" + strings.ToUpper(id[3:]),
		id[:len(id)-1] + string(flip(id[len(id)-1])), // another tag
		id[:3] + "00000005" + id[11:],                // another slot
		id[:3] + "ffffffff" + id[11:],                // no such slot
		"pl_000000000000000000000000",                // tag 0: an empty slot's
	} {
		if _, ok := s.get(bad); ok {
			t.Errorf("get(%q) found a plan", bad)
		}
	}
	if n := s.len(); n != 3 {
		t.Errorf("len %d, want 3", n)
	}
	now = now.Add(PlanTTL - time.Nanosecond)
	if _, ok := s.get(id); !ok {
		t.Error("a plan expired before PlanTTL")
	}
	now = now.Add(time.Nanosecond)
	if _, ok := s.get(id); ok {
		t.Error("a plan outlived PlanTTL")
	}
	if n := s.len(); n != 0 {
		t.Errorf("len %d after expiry, want 0", n)
	}
	if s.slot(0).q != nil {
		t.Error("len kept an expired plan's quote")
	}

	// The ring: MaxPlans later, the first plan's slot is reused.
	s = newPlanStore(func() time.Time { return now })
	first, _ := s.put(q, res, p)
	var last string
	for range MaxPlans - 1 {
		last, _ = s.put(q, res, p)
	}
	if _, ok := s.get(first); !ok {
		t.Fatal("the oldest plan went before the store was full")
	}
	s.put(q, res, p)
	if _, ok := s.get(first); ok {
		t.Error("the oldest plan outlived MaxPlans newer ones")
	}
	if _, ok := s.get(last); !ok {
		t.Error("a recent plan went")
	}
	if n := s.len(); n != MaxPlans {
		t.Errorf("len %d, want MaxPlans", n)
	}
}

// TestPlanStoreConcurrent: plans put from many goroutines are all found
// with their own query (run with -race).
func TestPlanStoreConcurrent(t *testing.T) {
	s := newPlanStore(time.Now)
	res := &route.Result{}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				q := route.Query{From: "a", To: "b", AmountFen: int64(g*1000 + i%3)}
				id, _ := s.put(q, res, Principal{})
				pl, ok := s.get(id)
				if !ok || pl.query != q {
					t.Errorf("plan %s: %+v %v, want %+v", id, pl, ok, q)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := s.len(); n != 4000 {
		t.Errorf("len %d, want 4000", n)
	}
}

// planBodyCases are bodies parsePlanBody must parse or leave to decode.
var planBodyCases = []struct {
	body string
	fast bool
}{
	{`{"from":"alipay.balance","to":"wechat.change","amount_fen":100,"from_holder":"me","to_holder":"me"}`, true},
	{` { "from" : "a" ,"to":"b",	"amount_fen": -5 , "max_hops" : 3, "objective":"cost", "at":"2023-05-05T10:00:00Z"}` + "\r\n", true},
	{`{}`, true},
	{`{"from":"a","from":"b"}`, true}, // the last wins, as in encoding/json
	{`{"amount_fen":0}`, true},
	{`{"amount_fen":-0}`, true},
	{`{"From":"a"}`, false},                   // encoding/json matches names without case
	{`{"from":"a\u002e"}`, false},             // an escape
	{`{"from":"caf` + "\u00e9" + `"}`, false}, // not ASCII
	{`{"from":null}`, false},
	{`{"amount_fen":1.0}`, false},
	{`{"amount_fen":1e3}`, false},
	{`{"amount_fen":01}`, false},
	{`{"amount_fen":"1"}`, false},
	{`{"amount_fen":9223372036854775808}`, false},
	{`{"from":"a",}`, false},
	{`{"from":"a"}{}`, false},
	{`{"from":"a"} x`, false},
	{`{"bogus":1}`, false},
	{`[]`, false},
	{``, false},
	{`{"from":"a"`, false},
	{`{"from" "a"}`, false},
	{`{"max_hops":-}`, false},
}

// TestParsePlanBody: the direct parser takes the common shapes and leaves
// the rest to decode; what it takes, encoding/json decodes the same.
func TestParsePlanBody(t *testing.T) {
	for _, c := range planBodyCases {
		var got planBody
		ok := parsePlanBody([]byte(c.body), &got, func(b []byte) string { return string(b) })
		if ok != c.fast {
			t.Errorf("%s: parsed %v, want %v", c.body, ok, c.fast)
			continue
		}
		if ok {
			checkLikeJSON(t, c.body, got)
		}
	}
}

func checkLikeJSON(t *testing.T, body string, got planBody) {
	t.Helper()
	var want planBody
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("%q: parsePlanBody took what encoding/json refuses: %v", body, err)
	}
	if dec.More() {
		t.Fatalf("%q: parsePlanBody took trailing data", body)
	}
	if got != want {
		t.Fatalf("%q: parsePlanBody %+v, encoding/json %+v", body, got, want)
	}
}

// FuzzPlanBody: whatever parsePlanBody takes, encoding/json (strict)
// decodes to the same planBody.
func FuzzPlanBody(f *testing.F) {
	for _, c := range planBodyCases {
		f.Add(c.body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var got planBody
		if parsePlanBody([]byte(body), &got, func(b []byte) string { return string(b) }) {
			checkLikeJSON(t, body, got)
		}
	})
}

// TestPlanRequestShapes: bodies the direct parser leaves to decode get the
// same answers as before (over HTTP, through the server).
func TestPlanRequestShapes(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct {
		body, ctype string
		code        int
		field       string
	}{
		{`{"from":"alipay.balance","to":"wechat.change","amount_fen":100}`, "", 200, ""},
		{`{"from":"alipay\u002ebalance","to":"wechat.change","amount_fen":100}`, "", 200, ""},
		{`{"FROM":"alipay.balance","to":"wechat.change","amount_fen":100}`, "", 200, ""},
		{`{"from":"alipay.balance","to":"wechat.change","amount_fen":100}`, "application/json; charset=utf-8", 200, ""},
		{`{"from":"alipay.balance","to":"wechat.change","amount_fen":100,"max_hops":1.5}`, "", 400, "max_hops"},
		{`{"from":"alipay.balance","to":"wechat.change","amount_fen":1,"x":1}`, "", 400, "x"},
		{`{"from":"alipay.balance","to":"wechat.change","amount_fen":100} {}`, "", 400, ""},
		{`  `, "", 400, ""},
	} {
		var hdr []string
		if c.ctype != "" {
			hdr = []string{"Content-Type", c.ctype}
		}
		code, b := h.do("POST", "/v1/plans", h.admin, c.body, hdr...)
		if code != c.code {
			t.Errorf("%s: %d %s, want %d", c.body, code, b, c.code)
			continue
		}
		if code != 200 {
			if e := errorOf(t, b); e.Field != c.field {
				t.Errorf("%s: field %q, want %q", c.body, e.Field, c.field)
			}
			continue
		}
		var pl struct {
			ExpiresAt string          `json:"expires_at"`
			PlanID    string          `json:"plan_id"`
			Result    json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(b, &pl); err != nil || len(pl.Result) == 0 {
			t.Fatalf("%s: %v %s", c.body, err, b)
		}
		if _, err := time.Parse(time.RFC3339, pl.ExpiresAt); err != nil {
			t.Errorf("expires_at %q: %v", pl.ExpiresAt, err)
		}
		if _, ok := h.srv.plans.get(pl.PlanID); !ok {
			t.Errorf("plan %s is not stored", pl.PlanID)
		}
	}
}

// TestPlanAnswersShareResults: identical plan requests in one clock second
// get distinct plan ids over one stored quote, and their answers differ only
// in the id.
func TestPlanAnswersShareResults(t *testing.T) {
	h := newHarness(t)
	body := `{"from":"alipay.balance","to":"wechat.change","amount_fen":100}`
	var ids []string
	var rest []string
	for range 3 {
		code, b := h.do("POST", "/v1/plans", h.admin, body)
		if code != 200 {
			t.Fatalf("%d %s", code, b)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, string(m["plan_id"]))
		delete(m, "plan_id")
		rest = append(rest, fmt.Sprint(m))
	}
	if ids[0] == ids[1] || ids[1] == ids[2] || rest[0] != rest[1] || rest[1] != rest[2] {
		t.Errorf("ids %v; answers equal besides the id: %v", ids, rest[0] == rest[1] && rest[1] == rest[2])
	}
	if a, b := h.srv.plans.slot(0), h.srv.plans.slot(2); a.q != b.q {
		t.Error("identical plans in one second do not share a quote")
	}
}
