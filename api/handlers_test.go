package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestHandlerErrors(t *testing.T) {
	h := newHarness(t)
	good := `{"from":"alipay.balance","to":"wechat.change","amount_fen":100000}`
	cases := []struct {
		name, method, path, body string
		headers                  []string
		noKey                    bool
		code                     int
		errCode, field           string
	}{
		{name: "plan ok", method: "POST", path: "/v1/plans", body: good, code: 200},
		{name: "unknown field", method: "POST", path: "/v1/plans", body: `{"from":"alipay.balance","to":"wechat.change","amount_fen":1,"bogus":1}`, code: 400, errCode: CodeInvalid, field: "bogus"},
		{name: "amount as string", method: "POST", path: "/v1/plans", body: `{"from":"a","to":"b","amount_fen":"100"}`, code: 400, errCode: CodeInvalid, field: "amount_fen"},
		{name: "amount as float", method: "POST", path: "/v1/plans", body: `{"from":"a","to":"b","amount_fen":1.5}`, code: 400, errCode: CodeInvalid, field: "amount_fen"},
		{name: "two values", method: "POST", path: "/v1/plans", body: good + good, code: 400, errCode: CodeInvalid},
		{name: "not JSON", method: "POST", path: "/v1/plans", body: `{"from":`, code: 400, errCode: CodeInvalid},
		{name: "empty body", method: "POST", path: "/v1/plans", body: "", code: 400, errCode: CodeInvalid},
		{name: "array body", method: "POST", path: "/v1/plans", body: `[1]`, code: 400, errCode: CodeInvalid},
		{name: "text/plain", method: "POST", path: "/v1/plans", body: good, headers: []string{"Content-Type", "text/plain"}, code: 415, errCode: CodeMediaType},
		{name: "no content type", method: "POST", path: "/v1/plans", body: good, headers: []string{"Content-Type", ""}, code: 415, errCode: CodeMediaType},
		{name: "too large", method: "POST", path: "/v1/plans", body: `{"from":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, code: 413, errCode: CodeTooLarge},
		{name: "missing from", method: "POST", path: "/v1/plans", body: `{"to":"wechat.change","amount_fen":1}`, code: 400, errCode: CodeInvalid, field: "from"},
		{name: "zero amount", method: "POST", path: "/v1/plans", body: `{"from":"alipay.balance","to":"wechat.change"}`, code: 400, errCode: CodeInvalid, field: "amount_fen"},
		{name: "unknown product", method: "POST", path: "/v1/plans", body: `{"from":"nope.x","to":"wechat.change","amount_fen":1}`, code: 400, errCode: CodeInvalid, field: "from"},
		{name: "bad objective", method: "POST", path: "/v1/plans", body: `{"from":"alipay.balance","to":"wechat.change","amount_fen":1,"objective":"fast"}`, code: 400, errCode: CodeInvalid, field: "objective"},
		{name: "max hops", method: "POST", path: "/v1/plans", body: `{"from":"alipay.balance","to":"wechat.change","amount_fen":1,"max_hops":99}`, code: 400, errCode: CodeInvalid, field: "max_hops"},
		{name: "bad at", method: "POST", path: "/v1/plans", body: `{"from":"alipay.balance","to":"wechat.change","amount_fen":1,"at":"friday"}`, code: 400, errCode: CodeInvalid, field: "at"},
		{name: "no key", method: "GET", path: "/v1/clock", noKey: true, code: 401, errCode: CodeUnauthenticated},
		{name: "wrong key", method: "GET", path: "/v1/clock", headers: []string{"Authorization", "Bearer pbk_00_11"}, code: 401, errCode: CodeUnauthenticated},
		{name: "not bearer", method: "GET", path: "/v1/clock", headers: []string{"Authorization", "Basic abc"}, code: 401, errCode: CodeUnauthenticated},
		{name: "unknown path", method: "GET", path: "/v1/nothing", code: 404, errCode: CodeNotFound},
		{name: "wrong method", method: "DELETE", path: "/v1/payments/p000001", code: 405, errCode: CodeMethod},
		{name: "GET on a POST route", method: "GET", path: "/v1/plans", code: 405, errCode: CodeMethod},
		{name: "unknown plan", method: "POST", path: "/v1/payments", body: `{"plan_id":"pl_x"}`, code: 400, errCode: CodeInvalid, field: "plan_id"},
		{name: "payment zero amount", method: "POST", path: "/v1/payments", body: `{"from":"alipay.balance","to":"wechat.change","amount_fen":0}`, code: 400, errCode: CodeInvalid, field: "amount_fen"},
		{name: "payment negative amount", method: "POST", path: "/v1/payments", body: `{"from":"alipay.balance","to":"wechat.change","amount_fen":-5}`, code: 400, errCode: CodeInvalid, field: "amount_fen"},
		{name: "payment bad on_failure", method: "POST", path: "/v1/payments", body: `{"from":"alipay.balance","to":"wechat.change","amount_fen":100,"on_failure":"cry"}`, code: 400, errCode: CodeInvalid, field: "on_failure"},
		{name: "payment unknown holder", method: "POST", path: "/v1/payments", body: `{"from":"alipay.balance","to":"wechat.change","amount_fen":100,"from_holder":"ghost"}`, code: 400, errCode: CodeInvalid, field: "from_holder"},
		{name: "payment route and channels", method: "POST", path: "/v1/payments", body: `{"from":"alipay.balance","to":"wechat.change","amount_fen":100,"route_id":"x","channels":["y"]}`, code: 400, errCode: CodeInvalid, field: "channels"},
		{name: "payment unknown route", method: "POST", path: "/v1/payments", body: `{"from":"alipay.balance","to":"wechat.change","amount_fen":100,"route_id":"zzz"}`, code: 400, errCode: CodeInvalid, field: "route_id"},
		{name: "payment unknown channel", method: "POST", path: "/v1/payments", body: `{"from":"alipay.balance","to":"wechat.change","amount_fen":100,"channels":["teleport"]}`, code: 400, errCode: CodeInvalid, field: "channels"},
		{name: "payment key too long", method: "POST", path: "/v1/payments", body: `{"from":"alipay.balance","to":"wechat.change","amount_fen":100}`, headers: []string{"Idempotency-Key", strings.Repeat("k", 65)}, code: 400, errCode: CodeInvalid, field: "Idempotency-Key"},
		{name: "channels that do not lead there", method: "POST", path: "/v1/payments", body: `{"from":"alipay.huabei","to":"wechat.change","to_holder":"friend","amount_fen":100000,"channels":["huabei_pay_merchant"]}`, code: 400, errCode: CodeInvalid, field: "channels"},
		{name: "unknown payment", method: "GET", path: "/v1/payments/p999999", code: 404, errCode: CodeNotFound},
		{name: "list bad state", method: "GET", path: "/v1/payments?state=lost", code: 400, errCode: CodeInvalid, field: "state"},
		{name: "list bad limit", method: "GET", path: "/v1/payments?limit=0", code: 400, errCode: CodeInvalid, field: "limit"},
		{name: "list bad cursor", method: "GET", path: "/v1/payments?cursor=p9", code: 400, errCode: CodeInvalid, field: "cursor"},
		{name: "resume unknown", method: "POST", path: "/v1/payments/p999999/resume", code: 404, errCode: CodeNotFound},
		{name: "resume with body", method: "POST", path: "/v1/payments/p999999/resume", body: `{"x":1}`, code: 400, errCode: CodeInvalid, field: "x"},
		{name: "unknown holder", method: "GET", path: "/v1/holders/ghost", code: 404, errCode: CodeNotFound},
		{name: "unknown account product", method: "GET", path: "/v1/accounts/me/nope", code: 404, errCode: CodeNotFound},
		{name: "accounts bad holder", method: "GET", path: "/v1/accounts?holder=ghost", code: 400, errCode: CodeInvalid, field: "holder"},
		{name: "history bad cursor", method: "GET", path: "/v1/accounts/me/alipay.balance/history?cursor=-1", code: 400, errCode: CodeInvalid, field: "cursor"},
		{name: "history bad limit", method: "GET", path: "/v1/accounts/me/alipay.balance/history?limit=5000", code: 400, errCode: CodeInvalid, field: "limit"},
		{name: "events bad after", method: "GET", path: "/v1/events?after=x", code: 400, errCode: CodeInvalid, field: "after"},
		{name: "events bad Last-Event-ID", method: "GET", path: "/v1/events", headers: []string{"Last-Event-ID", "-3"}, code: 400, errCode: CodeInvalid, field: "Last-Event-ID"},
		{name: "advance zero", method: "POST", path: "/v1/clock/advance", body: `{"seconds":0}`, code: 400, errCode: CodeInvalid, field: "seconds"},
		{name: "advance too far", method: "POST", path: "/v1/clock/advance", body: `{"seconds":99999999999}`, code: 400, errCode: CodeInvalid, field: "seconds"},
		{name: "key bad role", method: "POST", path: "/v1/keys", body: `{"role":"king"}`, code: 400, errCode: CodeInvalid, field: "role"},
		{name: "key operator needs institution", method: "POST", path: "/v1/keys", body: `{"role":"operator"}`, code: 400, errCode: CodeInvalid, field: "institution"},
		{name: "key holder unknown", method: "POST", path: "/v1/keys", body: `{"role":"holder","holder":"ghost"}`, code: 400, errCode: CodeInvalid, field: "holder"},
		{name: "key admin scoped", method: "POST", path: "/v1/keys", body: `{"role":"admin","holder":"me"}`, code: 400, errCode: CodeInvalid, field: "role"},
		{name: "healthz", method: "GET", path: "/healthz", noKey: true, code: 200},
		{name: "readyz", method: "GET", path: "/readyz", noKey: true, code: 200},
		{name: "metrics", method: "GET", path: "/metrics", noKey: true, code: 200},
		{name: "calibration", method: "GET", path: "/v1/calibration", code: 200},
		{name: "ecosystem", method: "GET", path: "/v1/ecosystem", code: 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := h.admin
			if c.noKey {
				key = ""
			}
			code, b := h.do(c.method, c.path, key, c.body, c.headers...)
			if code != c.code {
				t.Fatalf("%s %s: status %d, want %d: %s", c.method, c.path, code, c.code, b)
			}
			if c.errCode == "" {
				if !json.Valid(b) && !strings.HasPrefix(c.path, "/metrics") {
					t.Fatalf("not JSON: %s", b)
				}
				return
			}
			e := errorOf(t, b)
			if e.Code != c.errCode || e.Field != c.field || e.Message == "" {
				t.Fatalf("error %+v, want code %s field %q", e, c.errCode, c.field)
			}
		})
	}
}

func TestRefusedPaymentIs422WithFindings(t *testing.T) {
	h := newHarness(t)
	// Huabei credit to a friend's WeChat change: every route is a cash-out.
	code, b := h.do("POST", "/v1/payments", h.admin, `{"from":"alipay.huabei","to":"wechat.change","to_holder":"friend","amount_fen":100000}`)
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("status %d: %s", code, b)
	}
	e := errorOf(t, b)
	if e.Code != CodeRefused || e.Message == "" {
		t.Fatalf("%+v", e)
	}
	d, _ := e.Details.(map[string]any)
	if d == nil || d["payment"] == nil {
		t.Fatalf("details %v: want findings and the rejected payment", e.Details)
	}
}

func TestIdempotencyKey(t *testing.T) {
	h := newHarness(t)
	body := `{"from":"alipay.balance","to":"wechat.change","amount_fen":1000}`
	c1, b1 := h.do("POST", "/v1/payments", h.admin, body, "Idempotency-Key", "order-1")
	c2, b2 := h.do("POST", "/v1/payments", h.admin, body, "Idempotency-Key", "order-1")
	if c1 != 201 || c2 != 200 {
		t.Fatalf("statuses %d, %d: %s %s", c1, c2, b1, b2)
	}
	var p1, p2 paymentView
	json.Unmarshal(b1, &p1)
	json.Unmarshal(b2, &p2)
	if p1.ID == "" || p1.ID != p2.ID {
		t.Fatalf("retry made another payment: %s vs %s", p1.ID, p2.ID)
	}
	c3, b3 := h.do("POST", "/v1/payments", h.admin, `{"from":"alipay.balance","to":"wechat.change","amount_fen":2000}`, "Idempotency-Key", "order-1")
	if c3 != http.StatusConflict || errorOf(t, b3).Code != CodeConflict {
		t.Fatalf("other body, same key: %d %s", c3, b3)
	}
	if n := len(h.x.List()); n != 1 {
		t.Fatalf("%d payments, want 1", n)
	}
	// A request that fails validation does not reserve its key.
	if c, b := h.do("POST", "/v1/payments", h.admin, `{"from":"alipay.balance","to":"wechat.change","amount_fen":-1}`, "Idempotency-Key", "order-2"); c != 400 {
		t.Fatalf("%d %s", c, b)
	}
	if c, b := h.do("POST", "/v1/payments", h.admin, body, "Idempotency-Key", "order-2"); c != 201 {
		t.Fatalf("key of a refused request: %d %s", c, b)
	}
}

func TestPlanIDTakesThePlansRoute(t *testing.T) {
	h := newHarness(t)
	code, b := h.do("POST", "/v1/plans", h.admin, `{"from":"alipay.balance","to":"cmb.debit","amount_fen":50000,"objective":"cost"}`)
	if code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	var pl struct {
		PlanID    string `json:"plan_id"`
		ExpiresAt string `json:"expires_at"`
		Result    struct {
			Routes []struct {
				ID   string `json:"id"`
				Hops []struct {
					Channel string `json:"channel"`
				} `json:"hops"`
			} `json:"routes"`
		} `json:"result"`
	}
	if err := json.Unmarshal(b, &pl); err != nil || !strings.HasPrefix(pl.PlanID, "pl_") || len(pl.Result.Routes) < 2 || pl.ExpiresAt == "" {
		t.Fatalf("plan: %v %s", err, b)
	}
	second := pl.Result.Routes[1]
	p := h.pay(`{"plan_id":"` + pl.PlanID + `","route_id":"` + second.ID + `"}`)
	if p.Route.Route == nil || len(p.Route.Hops) != len(second.Hops) || p.Route.Hops[0].Channel != second.Hops[0].Channel {
		t.Fatalf("payment took %+v, want the plan's route %s", p.Route, second.ID)
	}
	if p.From != "alipay.balance" || p.AmountFen != 50000 {
		t.Fatalf("payment %+v does not carry the plan's query", p)
	}
	if c, b := h.do("POST", "/v1/payments", h.admin, `{"plan_id":"`+pl.PlanID+`","amount_fen":1}`); c != 400 || errorOf(t, b).Field != "amount_fen" {
		t.Fatalf("amount differing from the plan: %d %s", c, b)
	}
	if c, b := h.do("POST", "/v1/payments", h.admin, `{"plan_id":"`+pl.PlanID+`","route_id":"nope"}`); c != 400 || errorOf(t, b).Field != "route_id" {
		t.Fatalf("route not in the plan: %d %s", c, b)
	}
}
