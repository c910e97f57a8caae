package compliance

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/paybridge/paybridge/ecosystem"
)

// cashOutHop is Huabei money arriving in a cash-withdrawable Alipay balance.
func cashOutHop() Hop {
	return Hop{
		Index:          1,
		Channel:        "huabei_topup_balance",
		ChannelKind:    "top_up",
		Institution:    "alipay",
		Licences:       []string{"internet_payment", "mobile_payment"},
		Tags:           []string{"cash_out"},
		From:           Account{Product: "alipay.huabei", Institution: "alipay", Kind: "credit", Purpose: "consumption", Holder: "me", HolderKind: "person", KYCLevel: 3},
		To:             Account{Product: "alipay.balance", Institution: "alipay", Kind: "stored_value", CashWithdrawable: true, Holder: "me", HolderKind: "person", KYCLevel: 3},
		AmountFen:      100000,
		FeeFen:         100,
		CreditShareBps: 10000,
		CreditIssuer:   "alipay",
		CreditPurpose:  "consumption",
		SameHolder:     true,
	}
}

func rule(id, scope, when, effect string, advisory bool) ecosystem.Rule {
	return ecosystem.Rule{ID: id, Scope: scope, When: when, Effect: effect, Advisory: advisory,
		Citation: "cite " + id, Message: "message " + id}
}

const cashOutWhen = `hop.credit_share_bps > 0 && hop.to.cash_withdrawable && hop.to.kind != "credit"`

func TestCheckHopEffectsAndPolicies(t *testing.T) {
	tests := []struct {
		name     string
		rule     ecosystem.Rule
		policy   Policy
		hop      Hop
		want     string // effect of the one finding, "" for none
		wantMsg  string // substring of the finding's message
		wantRule string
	}{
		{"refuse strict", rule("cash-out", "hop", cashOutWhen, "refuse", true), PolicyStrict, cashOutHop(), "refuse", "message cash-out", "cash-out"},
		{"advisory refuse warns under advisory", rule("cash-out", "hop", cashOutWhen, "refuse", true), PolicyAdvisory, cashOutHop(), "warn", "message cash-out", "cash-out"},
		{"non-advisory refuse stays refuse under advisory", rule("same-name", "hop", "!hop.same_holder", "refuse", false), PolicyAdvisory, Hop{Index: 3}, "refuse", "message same-name", "same-name"},
		{"empty policy is strict", rule("cash-out", "hop", cashOutWhen, "refuse", true), "", cashOutHop(), "refuse", "message cash-out", "cash-out"},
		{"warn", rule("big", "hop", "hop.amount_fen >= 100000", "warn", false), PolicyStrict, cashOutHop(), "warn", "message big", "big"},
		{"require", rule("kyc", "hop", "hop.kyc_required > hop.from.kyc_level", "require", false), PolicyStrict, Hop{Index: 1, KYCRequired: 3, From: Account{KYCLevel: 1}}, "require", "message kyc", "kyc"},
		{"no match", rule("cash-out", "hop", cashOutWhen, "refuse", true), PolicyStrict, Hop{Index: 1, To: Account{CashWithdrawable: true}}, "", "", ""},
		{"list membership", rule("intermediary", "hop", `"cash_out_service" in hop.tags`, "refuse", false), PolicyStrict, Hop{Index: 2, Tags: []string{"third_party", "cash_out_service"}}, "refuse", "message intermediary", "intermediary"},
		{"limit flag", rule("per-txn", "hop", "hop.over_per_txn", "refuse", false), PolicyStrict, Hop{Index: 4, OverPerTxn: true}, "refuse", "message per-txn", "per-txn"},
		{"evaluation error refuses even advisory", rule("bad-index", "hop", `hop.tags[3] == "x"`, "warn", false), PolicyAdvisory, Hop{Index: 2}, "refuse", "could not be evaluated", "bad-index"},
		{"evaluation error under strict", rule("div", "hop", "100 / hop.fee_fen > 1", "warn", false), PolicyStrict, Hop{Index: 2}, "refuse", "division by zero", "div"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewChecker([]ecosystem.Rule{tc.rule}, tc.policy)
			if err != nil {
				t.Fatalf("NewChecker: %v", err)
			}
			got := c.CheckHop(tc.hop)
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("findings = %+v, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("findings = %+v, want one", got)
			}
			f := got[0]
			if f.Effect != tc.want || f.Rule != tc.wantRule || f.Hop != tc.hop.Index || f.Citation != "cite "+tc.wantRule || !strings.Contains(f.Message, tc.wantMsg) {
				t.Errorf("finding = %+v, want effect %s rule %s hop %d message containing %q", f, tc.want, tc.wantRule, tc.hop.Index, tc.wantMsg)
			}
		})
	}
}

func TestCheckRoute(t *testing.T) {
	hops := []Hop{cashOutHop(), {Index: 2, From: Account{Product: "alipay.balance", Holder: "me"}, To: Account{Product: "bank_a.debit", Holder: "me"}}}
	r := Route{Hops: hops, From: hops[0].From, To: hops[1].To, SentFen: 100000, DeliveredFen: 99800, FeeFen: 200, Institutions: []string{"alipay", "bank_a"}}
	tests := []struct {
		name   string
		when   string
		effect string
		policy Policy
		match  bool
		want   string
	}{
		{"any hop credit", "route.hops.exists(h, h.credit_share_bps > 0)", "refuse", PolicyStrict, true, "refuse"},
		{"advisory route rule", "route.hops.exists(h, h.credit_share_bps > 0)", "refuse", PolicyAdvisory, true, "warn"},
		{"cost ratio", "route.fee_fen * 1000 > route.sent_fen", "warn", PolicyStrict, true, "warn"},
		{"size", "size(route.institutions) > 2", "warn", PolicyStrict, false, ""},
		{"holder change", "route.holder_changes > 0", "require", PolicyStrict, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewChecker([]ecosystem.Rule{rule("r", "route", tc.when, tc.effect, true && tc.effect == "refuse")}, tc.policy)
			if err != nil {
				t.Fatal(err)
			}
			got := c.CheckRoute(r)
			if !tc.match {
				if got != nil {
					t.Fatalf("findings = %+v, want none", got)
				}
				return
			}
			if len(got) != 1 || got[0].Effect != tc.want || got[0].Hop != 0 {
				t.Fatalf("findings = %+v, want one route finding with effect %s", got, tc.want)
			}
		})
	}
}

// TestFindingsInRuleOrder checks that findings come in rule order, hop and
// route rules kept apart, whatever their effects.
func TestFindingsInRuleOrder(t *testing.T) {
	rules := []ecosystem.Rule{
		rule("c", "hop", "true", "warn", false),
		rule("route-1", "route", "true", "warn", false),
		rule("a", "hop", "hop.index == 1", "refuse", false),
		rule("b", "hop", "false", "refuse", false),
		rule("d", "hop", "true", "require", false),
	}
	c, err := NewChecker(rules, PolicyStrict)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range c.CheckHop(Hop{Index: 1}) {
		ids = append(ids, f.Rule)
	}
	if want := []string{"c", "a", "d"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("hop findings = %v, want %v", ids, want)
	}
	if got := c.CheckRoute(Route{}); len(got) != 1 || got[0].Rule != "route-1" {
		t.Errorf("route findings = %+v, want route-1 only", got)
	}
	if !c.HasRouteRules() || c.Policy() != PolicyStrict {
		t.Errorf("HasRouteRules = %v, Policy = %q", c.HasRouteRules(), c.Policy())
	}
}

func TestNewCheckerErrorsNameTheRule(t *testing.T) {
	tests := []struct {
		name string
		rule ecosystem.Rule
		want string
	}{
		{"undeclared variable", rule("x", "hop", "hopp.amount_fen > 0", "refuse", false), "rules[3].when: undeclared reference to 'hopp'"},
		{"unknown field", rule("x", "hop", "hop.credit_shar_bps > 0", "refuse", false), "rules[3].when: undefined field 'credit_shar_bps'"},
		{"not bool", rule("x", "hop", "hop.amount_fen", "refuse", false), "rules[3].when: must be a true/false expression, but it gives int"},
		{"type mismatch", rule("x", "hop", `hop.amount_fen > "10"`, "refuse", false), "rules[3].when: found no matching overload for '_>_'"},
		{"syntax", rule("x", "hop", "hop.amount_fen >", "refuse", false), "rules[3].when: Syntax error"},
		{"wrong scope variable", rule("x", "hop", "route.fee_fen > 0", "refuse", false), "a rule with scope hop sees only the variable hop"},
		{"route rule using hop", rule("x", "route", "hop.fee_fen > 0", "refuse", false), "a rule with scope route sees only the variable route"},
		{"empty", rule("x", "hop", "  ", "refuse", false), "rules[3].when: must not be empty"},
		{"bad scope", rule("x", "channel", "true", "refuse", false), `rules[3].scope: "channel" is not one of hop, route`},
		{"bad effect", rule("x", "hop", "true", "deny", false), `rules[3].effect: "deny" is not one of refuse, warn, require`},
		{"too long", rule("x", "hop", "true"+strings.Repeat(" ", MaxExpressionBytes), "refuse", false), "rules[3].when: is 4100 bytes long; the limit is 4096"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok := rule("ok", "hop", "true", "warn", false)
			rules := []ecosystem.Rule{ok, ok, ok, tc.rule}
			_, err := NewChecker(rules, PolicyStrict)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewChecker error = %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			var ee *ecosystem.Error
			if !errors.As(err, &ee) || len(ee.Problems) != 1 {
				t.Errorf("error %T is not an *ecosystem.Error with one problem", err)
			}
			if ps := Validate(rules); len(ps) != 1 || !strings.Contains(ps[0].Error(), tc.want) {
				t.Errorf("Validate = %v, want one problem containing %q", ps, tc.want)
			}
		})
	}
}

func TestNewCheckerBadPolicy(t *testing.T) {
	if _, err := NewChecker(nil, "lenient"); err == nil || !strings.Contains(err.Error(), `policy "lenient" is not one of strict, advisory`) {
		t.Fatalf("error = %v", err)
	}
	for _, s := range []string{"", "strict", "advisory"} {
		if _, err := ParsePolicy(s); err != nil {
			t.Errorf("ParsePolicy(%q) = %v", s, err)
		}
	}
}

func TestValidateReportsEveryRule(t *testing.T) {
	rules := []ecosystem.Rule{
		rule("a", "hop", "hopp", "refuse", false),
		rule("b", "hop", "true", "refuse", false),
		rule("c", "route", "route.nope", "refuse", false),
	}
	ps := Validate(rules)
	if len(ps) != 2 || ps[0].Path != "rules[0].when" || ps[1].Path != "rules[2].when" {
		t.Fatalf("Validate = %+v", ps)
	}
	e := &ecosystem.Ecosystem{Rules: rules}
	if got := LoadCheck(e); !reflect.DeepEqual(got, ps) {
		t.Errorf("LoadCheck = %+v, want %+v", got, ps)
	}
}

func TestCostlyExpressionRejected(t *testing.T) {
	// Doubly nested comprehensions over hop lists are fine; triply nested is not.
	ok := `hop.tags.all(a, hop.licences.exists(b, a == b))`
	if _, err := NewChecker([]ecosystem.Rule{rule("nested2", "hop", ok, "warn", false)}, PolicyStrict); err != nil {
		t.Fatalf("two-level comprehension rejected: %v", err)
	}
	slow := `hop.tags.all(a, hop.tags.all(b, hop.tags.all(c, a + b == c)))`
	_, err := NewChecker([]ecosystem.Rule{rule("nested3", "hop", slow, "warn", false)}, PolicyStrict)
	if err == nil || !strings.Contains(err.Error(), "rules[0].when: may do up to") {
		t.Fatalf("error = %v, want the cost limit named", err)
	}
}

func TestVerdict(t *testing.T) {
	tests := []struct {
		effects []string
		want    string
	}{
		{nil, VerdictAllowed},
		{[]string{"require"}, VerdictAllowed},
		{[]string{"warn", "require"}, VerdictWarned},
		{[]string{"warn", "refuse"}, VerdictRefused},
		{[]string{"refuse"}, VerdictRefused},
	}
	for _, tc := range tests {
		var fs []Finding
		for _, e := range tc.effects {
			fs = append(fs, Finding{Effect: e})
		}
		if got := Verdict(fs); got != tc.want {
			t.Errorf("Verdict(%v) = %s, want %s", tc.effects, got, tc.want)
		}
	}
}

// TestCheckerConcurrent runs one checker from many goroutines (go test -race).
func TestCheckerConcurrent(t *testing.T) {
	c, err := NewChecker([]ecosystem.Rule{rule("cash-out", "hop", cashOutWhen, "refuse", true)}, PolicyStrict)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	for range 4 {
		go func() {
			ok := true
			for range 200 {
				ok = ok && len(c.CheckHop(cashOutHop())) == 1
			}
			done <- ok
		}()
	}
	for range 4 {
		if !<-done {
			t.Error("a concurrent check missed the finding")
		}
	}
}

// TestDocsNameEveryField keeps docs/compliance.md in step with the structs
// rules see: every CEL field name must appear there in backquotes.
func TestDocsNameEveryField(t *testing.T) {
	doc, err := readDoc()
	if err != nil {
		t.Skipf("docs/compliance.md not readable: %v", err)
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[Hop](), reflect.TypeFor[Route](), reflect.TypeFor[Account]()} {
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			if !strings.Contains(doc, "`"+name+"`") {
				t.Errorf("docs/compliance.md does not document %s field `%s`", typ.Name(), name)
			}
		}
	}
}

// TestDocExamplesCompile compiles every expression in docs/compliance.md's
// cel block (comment lines name the scope; indented lines continue one).
func TestDocExamplesCompile(t *testing.T) {
	doc, err := readDoc()
	if err != nil {
		t.Skipf("docs/compliance.md not readable: %v", err)
	}
	_, block, ok := strings.Cut(doc, "```cel\n")
	block, _, _ = strings.Cut(block, "```")
	if !ok || block == "" {
		t.Fatal("docs/compliance.md has no ```cel block")
	}
	var exprs []ecosystem.Rule
	scope := ""
	for _, line := range strings.Split(block, "\n") {
		switch {
		case strings.HasPrefix(line, "// Hop"):
			scope = "hop"
		case strings.HasPrefix(line, "// Route"):
			scope = "route"
		case strings.TrimSpace(line) == "":
		case strings.HasPrefix(line, " ") && len(exprs) > 0:
			exprs[len(exprs)-1].When += " " + strings.TrimSpace(line)
		default:
			exprs = append(exprs, rule("doc", scope, line, "warn", false))
		}
	}
	if len(exprs) < 8 {
		t.Fatalf("found %d examples", len(exprs))
	}
	for _, r := range exprs {
		if ps := Validate([]ecosystem.Rule{r}); len(ps) > 0 {
			t.Errorf("example %q (%s): %v", r.When, r.Scope, ps)
		}
	}
}
