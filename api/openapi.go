package api

import (
	"encoding/json"
	"strings"

	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/payment"
)

// op documents one operation of the OpenAPI document.
type op struct {
	pattern     string // as registered: "METHOD /path"
	summary     string
	roles       string
	params      []param
	request     string // schema name of the JSON body ("" none)
	example     any    // an example request body the tests send
	status      string // success status
	response    string // success schema name
	contentType string // success media type (default application/json)
	yamlBody    bool   // the body may also be sent as application/yaml
	errors      []string
}

type param struct {
	name, in, desc, example string
	required                bool
}

var pathID = param{"id", "path", "payment id", "p000001", true}

// operations is every route of the server with its documentation.
var operations = []op{
	{pattern: "GET /healthz", summary: "Liveness: the process answers", roles: "none", status: "200", response: "Status"},
	{pattern: "GET /readyz", summary: "Readiness: the scheduler runs payments", roles: "none", status: "200", response: "Status", errors: []string{"503"}},
	{pattern: "GET /metrics", summary: "Prometheus metrics (text exposition format)", roles: "none", status: "200", contentType: "text/plain"},
	{pattern: "GET /openapi.json", summary: "This document", roles: "none", status: "200", response: "Object"},
	{pattern: "GET /v1/ecosystem", summary: "The ecosystem the server runs: institutions, products, channels, rules", roles: "every role", status: "200", response: "Object"},
	{pattern: "GET /v1/holders", summary: "Holders (a holder key sees itself only)", roles: "every role", status: "200", response: "HolderList"},
	{pattern: "GET /v1/holders/{id}", summary: "One holder", roles: "every role; holder: own only", params: []param{{"id", "path", "holder id", "me", true}}, status: "200", response: "Holder", errors: []string{"403", "404"}},
	{pattern: "POST /v1/holders", summary: "Create a holder, optionally with accounts and their opening balances: one ledger commit, kept across restarts", roles: "admin; operator: only together with accounts at its own institution",
		request: "HolderRequest", example: map[string]any{"id": "alice", "name": "Alice", "kind": "person", "kyc_level": 2,
			"accounts": []any{map[string]any{"product": "alipay.balance", "opening_balance_fen": 100000}, map[string]any{"product": "alipay.huabei"}}},
		status: "201", response: "CreatedHolder", errors: []string{"400", "403", "409", "413", "415"}},
	{pattern: "POST /v1/holders/{id}/accounts", summary: "Open a holder's account of a product the ecosystem allows it, at zero or an opening balance (409 if open)", roles: "admin; operator: its institution's products",
		params: []param{{"id", "path", "holder id", "alice", true}}, request: "AccountRequest", example: map[string]any{"product": "wechat.change", "opening_balance_fen": 20000},
		status: "201", response: "Account", errors: []string{"400", "403", "404", "409", "413", "415"}},
	{pattern: "GET /v1/accounts", summary: "Holders' accounts with balances and provenance", roles: "admin, auditor: all; operator: its institution's; holder: own",
		params: []param{{"holder", "query", "only this holder's accounts", "me", false}}, status: "200", response: "AccountList", errors: []string{"400", "403"}},
	{pattern: "GET /v1/accounts/{holder}/{product}", summary: "One account: balance, available, pending, credit-derived share (provenance)", roles: "admin, auditor; operator of the product's institution; the holder",
		params: []param{{"holder", "path", "holder id", "me", true}, {"product", "path", "product id", "alipay.balance", true}}, status: "200", response: "Account", errors: []string{"403", "404"}},
	{pattern: "GET /v1/accounts/{holder}/{product}/history", summary: "An account's committed transfers, oldest first, cursor-paginated", roles: "as the account",
		params: []param{{"holder", "path", "holder id", "me", true}, {"product", "path", "product id", "alipay.balance", true},
			{"cursor", "query", "next_cursor of the previous page", "", false}, {"limit", "query", "1 to 1000 (default 50)", "10", false}},
		status: "200", response: "History", errors: []string{"400", "403", "404"}},
	{pattern: "POST /v1/plans", summary: "Plan routes (the planner's JSON) and keep them as a quote for 10 minutes", roles: "every role; holder: own money only",
		request: "PlanRequest", example: map[string]any{"from": "alipay.balance", "to": "wechat.change", "amount_fen": 100000, "objective": "balanced"},
		status: "200", response: "Plan", errors: []string{"400", "403", "413", "415"}},
	{pattern: "POST /v1/payments", summary: "Create a payment; it runs in the background on the server's clock", roles: "admin; operator: from or to its products; holder: own money",
		params:  []param{{"Idempotency-Key", "header", "a retry with the same key and body returns the same payment (200)", "order-42", false}},
		request: "PaymentRequest", example: map[string]any{"from": "alipay.balance", "to": "cmb.debit", "amount_fen": 50000, "seed": 1},
		status: "201", response: "Payment", errors: []string{"400", "403", "409", "413", "415", "422"}},
	{pattern: "GET /v1/payments", summary: "Payments the key sees, oldest first", roles: "every role, scoped",
		params: []param{{"state", "query", "running, held, completed, refunded, stranded or rejected", "", false}, {"holder", "query", "from or to this holder", "", false},
			{"limit", "query", "1 to 1000 (default 50)", "", false}, {"cursor", "query", "next_cursor of the previous page", "", false}},
		status: "200", response: "PaymentList", errors: []string{"400"}},
	{pattern: "GET /v1/payments/{id}", summary: "One payment with its route and timeline (404 also for payments outside the key's scope)", roles: "every role, scoped",
		params: []param{pathID}, status: "200", response: "Payment", errors: []string{"404"}},
	{pattern: "POST /v1/payments/{id}/resume", summary: "Resume a stranded payment (a new attempt of the failed hop) or a held one, and run it on", roles: "admin, operator, holder (scoped)",
		params: []param{{"id", "path", "payment id", "p000002", true}}, request: "Empty", example: map[string]any{}, status: "200", response: "Payment", errors: []string{"403", "404", "409"}},
	{pattern: "POST /v1/payments/{id}/refund", summary: "Return a stranded or held payment's money to its origin", roles: "admin, operator, holder (scoped)",
		params: []param{{"id", "path", "payment id", "p000003", true}}, request: "Empty", example: map[string]any{}, status: "200", response: "Payment", errors: []string{"403", "404", "409"}},
	{pattern: "GET /v1/payments/{id}/events", summary: "Server-Sent Events of one payment (id: outbox seq; resumable with Last-Event-ID or ?after=)", roles: "every role, scoped",
		params: []param{pathID, {"after", "query", "outbox seq to resume after", "", false}, {"Last-Event-ID", "header", "outbox seq to resume after", "", false}},
		status: "200", contentType: "text/event-stream", errors: []string{"400", "404"}},
	{pattern: "GET /v1/events", summary: "Server-Sent Events of every payment the key sees", roles: "every role, scoped",
		params: []param{{"after", "query", "outbox seq to resume after", "", false}, {"Last-Event-ID", "header", "outbox seq to resume after", "", false}},
		status: "200", contentType: "text/event-stream", errors: []string{"400"}},
	{pattern: "GET /v1/clock", summary: "The server's clock and its mode", roles: "every role", status: "200", response: "Clock"},
	{pattern: "POST /v1/clock/advance", summary: "Move a manual clock forward (serve --clock manual)", roles: "admin",
		request: "ClockAdvance", example: map[string]any{"seconds": 3600}, status: "200", response: "Clock", errors: []string{"400", "403", "409"}},
	{pattern: "GET /v1/calibration", summary: "The calibration report of the ecosystem (as paybridge calibrate --json)", roles: "every role", status: "200", response: "Object", errors: []string{"503"}},
	{pattern: "GET /v1/books", summary: "Check that every institution's own books balance (as paybridge payments books --json)", roles: "admin, auditor", status: "200", response: "Books", errors: []string{"403"}},
	{pattern: "POST /v1/keys", summary: "Create an API key (shown once)", roles: "admin",
		request: "KeyRequest", example: map[string]any{"role": "holder", "holder": "me"}, status: "201", response: "Key", errors: []string{"400", "403"}},
	{pattern: "GET /v1/keys", summary: "Every API key, active and revoked, oldest first: ids, roles, scopes and times, never the keys (as paybridge keys list)", roles: "admin",
		params: []param{{"active", "query", "true: active keys only; false: revoked only", "", false},
			{"limit", "query", "1 to 1000 (default 50)", "", false}, {"cursor", "query", "next_cursor of the previous page", "", false}},
		status: "200", response: "KeyList", errors: []string{"400", "403", "503"}},
	{pattern: "DELETE /v1/keys/{id}", summary: "Revoke a key (as paybridge keys revoke); the last active admin key is refused with 409", roles: "admin",
		params: []param{{"id", "path", "key id (16 hex digits)", "3f2a9c01d4e5b678", true}}, status: "200", response: "KeyInfo", errors: []string{"403", "404", "409", "503"}},
	{pattern: "POST /v1/ecosystems/validate", summary: "Check an ecosystem file with every check paybridge runs before planning (as paybridge ecosystem validate --json): 200 with ok and counts, or with every problem as file:line:column, field path and reason", roles: "every role",
		params:  []param{{"filename", "query", "the name problem lines give the file (default ecosystem.yaml)", "", false}},
		request: "EcosystemFile", yamlBody: true, example: map[string]any{"id": "my-world", "name": "a what-if", "currency": "CNY"},
		status: "200", response: "Validation", errors: []string{"400", "413", "415"}},
	{pattern: "GET /v1/risk/rules", summary: "The risk rules the server's engine runs (id, CEL expression, score, actions), whether --risk is on, and where the rules came from (as paybridge risk rules)", roles: "every role",
		status: "200", response: "RiskRules"},
	{pattern: "GET /v1/risk/cases", summary: "Risk cases the key sees, newest first (as paybridge risk cases --json)", roles: "admin, auditor: all; operator: cases of holders with an account at its institution; holder: own",
		params: []param{{"state", "query", "open, reviewing, confirmed or dismissed", "", false}, {"holder", "query", "only this holder's cases", "", false},
			{"limit", "query", "1 to 1000 (default 50)", "", false}, {"cursor", "query", "next_cursor of the previous page", "", false}},
		status: "200", response: "CaseList", errors: []string{"400", "403", "503"}},
	{pattern: "GET /v1/risk/cases/{id}", summary: "One risk case with its alerts and their explanations (as paybridge risk case --json); 404 also outside the key's scope", roles: "as GET /v1/risk/cases",
		params: []param{{"id", "path", "case number", "1", true}}, status: "200", response: "CaseDetail", errors: []string{"400", "404", "503"}},
	{pattern: "POST /v1/risk/cases/{id}/resolve", summary: "Move a case to reviewing, confirmed or dismissed (reason required for the last two)", roles: "admin; operator whose scope holds the case (holders and auditors may not)",
		params: []param{{"id", "path", "case number", "1", true}}, request: "CaseResolve", example: map[string]any{"state": "reviewing", "reason": "checking the credit cycle"},
		status: "200", response: "CaseDetail", errors: []string{"400", "403", "404", "409", "503"}},
	{pattern: "POST /v1/ledger/verify", summary: "Check the ledger invariants and the journal's hash chain over the whole database (as paybridge ledger verify --json)", roles: "admin, auditor",
		request: "Empty", example: map[string]any{}, status: "200", response: "LedgerReport", errors: []string{"403", "503"}},
	{pattern: "GET /v1/ecosystems", summary: "The bundled worlds (as paybridge ecosystem list --json), the default and the one this server runs", roles: "every role", status: "200", response: "EcosystemList"},
	{pattern: "GET /v1/ecosystems/diff", summary: "Where two bundled worlds differ, and optionally how one query plans in each (as paybridge ecosystem diff --json)", roles: "every role",
		params: []param{{"a", "query", "bundled world A", "cn-2023", true}, {"b", "query", "bundled world B", "cn-facts", true},
			{"from", "query", "with to and amount_fen: plan this query in both worlds", "alipay.huabei", false}, {"to", "query", "product the money should reach", "wechat.change", false},
			{"amount_fen", "query", "amount in fen", "100000", false}, {"to_holder", "query", "holder who should receive it", "friend", false},
			{"at", "query", "RFC 3339 start time (default: the server's clock)", "", false}},
		status: "200", response: "EcosystemDiff", errors: []string{"400"}},
}

func obj(props map[string]any, required ...string) map[string]any {
	m := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		m["required"] = required
	}
	return m
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

var (
	str      = map[string]any{"type": "string"}
	fen      = map[string]any{"type": "integer", "format": "int64", "description": "money in integer fen (1 yuan = 100 fen)"}
	integ    = map[string]any{"type": "integer"}
	anyObj   = map[string]any{"type": "object"}
	dateTime = map[string]any{"type": "string", "format": "date-time"}
)

func schemas() map[string]any {
	return map[string]any{
		"Error": obj(map[string]any{"error": obj(map[string]any{
			"code":    map[string]any{"type": "string", "enum": []string{CodeInvalid, CodeUnauthenticated, CodeForbidden, CodeNotFound, CodeMethod, CodeConflict, CodeTooLarge, CodeMediaType, CodeRefused, CodeOverloaded, CodeUnavailable, CodeInternal}},
			"message": str, "field": map[string]any{"type": "string", "description": "the JSON field (or header) that is wrong"},
			"details": map[string]any{"type": "object", "description": "refused: {findings, payment}"}}, "code", "message")}, "error"),
		"Status": obj(map[string]any{"status": str}),
		"Object": anyObj,
		"Empty":  map[string]any{"type": "object", "additionalProperties": false},
		"PlanRequest": obj(map[string]any{"from": str, "to": str, "amount_fen": fen, "from_holder": str, "to_holder": str,
			"objective": map[string]any{"type": "string", "enum": []string{"balanced", "cost", "time", "reliability", "effort"}},
			"at":        map[string]any{"type": "string", "format": "date-time"}, "max_hops": integ}, "from", "to", "amount_fen"),
		"Plan": obj(map[string]any{"plan_id": str, "expires_at": map[string]any{"type": "string", "format": "date-time"},
			"result": map[string]any{"type": "object", "description": "the planner's result, as paybridge route --json prints it: {query, routes[], alternative?}"}}),
		"PaymentRequest": obj(map[string]any{"from": str, "to": str, "amount_fen": fen, "from_holder": str, "to_holder": str,
			"plan_id":  map[string]any{"type": "string", "description": "take this plan's route (from, to, amount and holders come from the plan)"},
			"route_id": str, "channels": map[string]any{"type": "array", "items": str}, "objective": str,
			"on_failure": map[string]any{"type": "string", "enum": []string{"refund", "strand"}},
			"seed":       map[string]any{"type": "integer", "description": "seed of the hop delay and failure draws (default 1)"},
			"fail_hop":   map[string]any{"type": "integer", "description": "test hook: force the first attempt of this hop to fail"}}),
		"Event": obj(map[string]any{"at": str, "type": str, "hop": integ, "transfer_ids": map[string]any{"type": "array", "items": integ},
			"reason": str, "amount_fen": fen, "fee_fen": fen, "due": str}),
		"Payment": obj(map[string]any{"id": str, "state": map[string]any{"type": "string", "enum": states}, "reason": str,
			"from": str, "to": str, "from_holder": str, "to_holder": str, "amount_fen": fen, "seed": integ, "on_failure": str,
			"idempotency_key": str, "route": anyObj, "events": map[string]any{"type": "array", "items": ref("Event")},
			"delivered_fen": fen, "fee_fen": fen, "refunded_fen": fen, "due": str}, "id", "state", "events"),
		"PaymentList": obj(map[string]any{"payments": map[string]any{"type": "array", "items": ref("Payment")}, "next_cursor": str}),
		"Holder":      obj(map[string]any{"id": str, "name": str, "kind": str, "kyc_level": integ, "default": map[string]any{"type": "boolean"}}),
		"HolderRequest": obj(map[string]any{"id": map[string]any{"type": "string", "description": "letters, digits, '_' and '-', at most 64 bytes; not an existing holder's or institution's id"},
			"name": str, "kind": map[string]any{"type": "string", "enum": ecosystem.HolderKinds},
			"kyc_level": map[string]any{"type": "integer", "minimum": 0, "maximum": ecosystem.MaxKYCLevel, "description": "identity-verification level (default 0); tiered products pick their class by it"},
			"accounts":  map[string]any{"type": "array", "items": ref("AccountRequest"), "maxItems": payment.MaxOpenings}}, "id", "name", "kind"),
		"AccountRequest": obj(map[string]any{"product": map[string]any{"type": "string", "description": "a product the ecosystem allows this holder (its holder_kind, holders and tiers)"},
			"opening_balance_fen": map[string]any{"type": "integer", "format": "int64", "minimum": 0, "maximum": payment.MaxOpeningFen,
				"description": "fen funded from the institution's external account, as the seeding funds the ecosystem's holders; stored-value and deposit products only, within their balance cap"}}, "product"),
		"CreatedHolder": obj(map[string]any{"id": str, "name": str, "kind": str, "kyc_level": integ, "accounts": map[string]any{"type": "array", "items": ref("Account")}}),
		"HolderList":    obj(map[string]any{"holders": map[string]any{"type": "array", "items": ref("Holder")}}),
		"Account": obj(map[string]any{"holder": str, "product": str, "institution": str, "currency": str, "balance_fen": fen,
			"available_fen": fen, "debits_pending_fen": fen, "credits_pending_fen": fen, "floor_fen": fen,
			"credit_share_fen": map[string]any{"type": "integer", "description": "credit-derived part of the balance (provenance)"},
			"own_fen":          fen, "frozen": map[string]any{"type": "boolean"}, "closed": map[string]any{"type": "boolean"}}),
		"AccountList":  obj(map[string]any{"accounts": map[string]any{"type": "array", "items": ref("Account")}}),
		"History":      obj(map[string]any{"transfers": map[string]any{"type": "array", "items": anyObj}, "next_cursor": str}),
		"Clock":        obj(map[string]any{"now": map[string]any{"type": "string", "format": "date-time"}, "mode": str}),
		"ClockAdvance": obj(map[string]any{"seconds": integ}, "seconds"),
		"KeyRequest": obj(map[string]any{"role": map[string]any{"type": "string", "enum": []string{RoleAdmin, RoleOperator, RoleHolder, RoleAuditor}},
			"institution": str, "holder": str}, "role"),
		"Books": obj(map[string]any{"ok": map[string]any{"type": "boolean"}, "accounts": integ, "violations": map[string]any{"type": "array", "items": str}}),
		"Key":   obj(map[string]any{"key": str, "key_id": str, "role": str, "institution": str, "holder": str}),
		"KeyInfo": obj(map[string]any{"key_id": str, "role": str, "institution": str, "holder": str, "created": dateTime,
			"revoked": map[string]any{"type": []string{"string", "null"}, "format": "date-time", "description": "null while the key is active"}}),
		"KeyList": obj(map[string]any{"keys": map[string]any{"type": "array", "items": ref("KeyInfo")}, "next_cursor": str}),
		"Case": obj(map[string]any{"id": integ, "holder": str, "family": map[string]any{"type": "string", "description": "pattern family, or the rule id for a rule without a pattern"},
			"state": map[string]any{"type": "string", "enum": caseStates}, "opened": dateTime, "updated": dateTime,
			"alerts": map[string]any{"type": "integer", "description": "how many alerts the case holds"}, "max_score": integ, "reason": str}),
		"RiskRules": obj(map[string]any{"risk": map[string]any{"type": "string", "enum": []string{"on", "off"}},
			"source": map[string]any{"type": "string", "description": "bundled, or the --risk-rules file"},
			"rules": map[string]any{"type": "array", "items": obj(map[string]any{"id": str, "description": str, "pattern": str, "expr": str, "score": integ,
				"actions": map[string]any{"type": "array", "items": obj(map[string]any{"kind": str, "percent": integ}, "kind")}}, "id", "expr", "score", "actions")}}, "risk", "source", "rules"),
		"EcosystemFile": map[string]any{"type": "object", "description": "an ecosystem file, fields as in the bundled worlds' YAML (docs/ecosystem.md); at most 1 MiB"},
		"Validation": obj(map[string]any{"ok": map[string]any{"type": "boolean"},
			"counts":   obj(map[string]any{"institutions": integ, "products": integ, "channels": integ, "rules": integ}),
			"problems": map[string]any{"type": "array", "items": obj(map[string]any{"file": str, "line": integ, "column": integ, "path": str, "reason": str}, "reason")},
			"omitted":  map[string]any{"type": "integer", "description": "problems found beyond those listed"}}, "ok", "problems"),
		"CaseList": obj(map[string]any{"cases": map[string]any{"type": "array", "items": ref("Case")}, "next_cursor": str}),
		"Alert": obj(map[string]any{"event_id": str, "time": dateTime, "holder": str, "family": str, "rule": str, "score": integ,
			"detail": map[string]any{"type": "object", "description": "the rule match: values read, pattern and members"}}),
		"CaseDetail": obj(map[string]any{"case": ref("Case"), "alerts": map[string]any{"type": "array", "items": ref("Alert"), "description": "the first 1000 alerts"}}),
		"CaseResolve": obj(map[string]any{"state": map[string]any{"type": "string", "enum": []string{"reviewing", "confirmed", "dismissed"}},
			"reason": map[string]any{"type": "string", "description": "why; required for confirmed and dismissed (at most 2000 bytes)"}}, "state"),
		"LedgerReport": obj(map[string]any{"ok": map[string]any{"type": "boolean"}, "commits": integ, "accounts": integ, "transfers": integ,
			"violations":       map[string]any{"type": "array", "items": obj(map[string]any{"check": str, "detail": str}), "description": "at most 1000"},
			"violations_total": integ}),
		"EcosystemList": obj(map[string]any{"ecosystems": map[string]any{"type": "array", "items": obj(map[string]any{"id": str, "name": str, "description": str, "file": str})},
			"default": str, "serving": str}),
		"EcosystemDiff": obj(map[string]any{"a": obj(map[string]any{"id": str, "name": str}), "b": obj(map[string]any{"id": str, "name": str}),
			"summary": obj(map[string]any{"added": integ, "removed": integ, "changed": integ}),
			"differences": map[string]any{"type": "array", "items": obj(map[string]any{"section": str, "id": str, "change": map[string]any{"type": "string", "enum": []string{"added", "removed", "changed"}},
				"field": str, "a": str, "b": str, "source_a": str, "source_b": str})},
			"routes": map[string]any{"type": "object", "description": "with a query: {a, b}, each the planner's result as paybridge route --json prints it, or {error}"}}),
	}
}

var errorText = map[string]string{
	"400": "invalid_request: error.field names the JSON field", "401": "unauthenticated: no or unknown key",
	"403": "forbidden: the key's role or scope does not allow it", "404": "not_found", "409": "conflict",
	"413": "too_large: body over 64 KiB", "415": "unsupported_media_type: send application/json",
	"422": "refused: a rule, limit or missing funds refused the payment (error.details.findings)", "503": "overloaded (Retry-After) or unavailable",
}

// openAPIDocument builds the OpenAPI 3.1 document from operations.
func openAPIDocument() []byte {
	paths := map[string]map[string]any{}
	for _, o := range operations {
		method, path, _ := strings.Cut(o.pattern, " ")
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		resp := map[string]any{"description": "success"}
		ct := o.contentType
		if ct == "" {
			ct = "application/json"
		}
		schema := map[string]any{"type": "string"}
		if o.response != "" {
			schema = ref(o.response)
		}
		resp["content"] = map[string]any{ct: map[string]any{"schema": schema}}
		responses := map[string]any{o.status: resp}
		errs := o.errors
		if strings.HasPrefix(path, "/v1/") {
			errs = append([]string{"401"}, errs...)
		}
		for _, code := range errs {
			responses[code] = map[string]any{"description": errorText[code],
				"content": map[string]any{"application/json": map[string]any{"schema": ref("Error")}}}
		}
		operation := map[string]any{"summary": o.summary, "description": "Roles: " + o.roles + ".",
			"operationId": strings.NewReplacer("/", "_", "{", "", "}", "", ".", "_", " ", "").Replace(strings.ToLower(o.pattern)),
			"responses":   responses}
		if strings.HasPrefix(path, "/v1/") {
			operation["security"] = []any{map[string]any{"bearer": []string{}}}
		} else {
			operation["security"] = []any{}
		}
		var ps []any
		for _, p := range o.params {
			pm := map[string]any{"name": p.name, "in": p.in, "description": p.desc, "required": p.required, "schema": str}
			if p.example != "" {
				pm["example"] = p.example
			}
			ps = append(ps, pm)
		}
		if len(ps) > 0 {
			operation["parameters"] = ps
		}
		if o.request != "" {
			content := map[string]any{"application/json": map[string]any{"schema": ref(o.request), "example": o.example}}
			if o.yamlBody {
				content["application/yaml"] = map[string]any{"schema": map[string]any{"type": "string", "description": "the same, as YAML"}}
			}
			operation["requestBody"] = map[string]any{"required": o.request != "Empty", "content": content}
		}
		paths[path][strings.ToLower(method)] = operation
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "paybridge API", "version": "1",
			"description": "Plan routes through a closed payment ecosystem and execute them on a double-entry ledger. " +
				"Money is integer fen. Every /v1 request sends Authorization: Bearer KEY. Errors: {\"error\":{\"code\",\"message\",\"field\"}}."},
		"servers":    []any{map[string]any{"url": "http://127.0.0.1:8080"}},
		"paths":      paths,
		"components": map[string]any{"schemas": schemas(), "securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}}},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err) // static data: a bug
	}
	return b
}

var openAPIDoc = openAPIDocument()

// OpenAPI returns the OpenAPI 3.1 document the server serves.
func OpenAPI() []byte { return openAPIDoc }
