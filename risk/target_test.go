package risk

import (
	"strings"
	"testing"
)

// TestActionTargets: each pattern family addresses its actions and alert to
// the holder the pattern names (the cycle's credit holder, the
// intermediary, the mule, the hub), not to whoever paid the closing hop.
func TestActionTargets(t *testing.T) {
	tests := []struct {
		name   string
		events []Event
		rule   string
		holder string // want Target.Holder
		role   string
		tx     string // want Target.TxID ("" = none expected)
		payer  string // the decided event's payer, for contrast
	}{
		{"credit cycle through a merchant: the card holder, not the shop", []Event{
			hop("h1", 0, "huabei:u1", "u1", "shop:m", "m", 100000, KindPay, MaxCreditShareBps),
			hop("h2", 30, "shop:m", "m", "wallet:u1", "u1", 90000, KindTransfer, 0),
		}, "cycle", "u1", RoleCreditHolder, "h1", "m"},
		{"cycle of three funded on its second hop", []Event{
			hop("c1", 0, "a", "a", "b", "b", 100000, KindTransfer, 0),
			hop("c2", 10, "b", "b", "c", "c", 99000, KindTransfer, MaxCreditShareBps),
			hop("c3", 20, "c", "c", "a", "a", 92000, KindTransfer, 0),
		}, "cycle", "b", RoleCreditHolder, "c2", "c"},
		{"cycle without credit: where the money left and came back", []Event{
			hop("n1", 0, "a", "a", "b", "b", 100000, KindTransfer, 0),
			hop("n2", 10, "b", "b", "c", "c", 99000, KindTransfer, 0),
			hop("n3", 20, "c", "c", "a", "a", 92000, KindTransfer, 0),
		}, "cycle", "a", RoleCreditHolder, "n1", "c"},
		{"gather-scatter: the intermediary", []Event{
			ev("1", "p1", "m", 0, 10000, KindPay), ev("2", "p2", "m", 1, 10000, KindPay), ev("3", "p3", "m", 2, 10000, KindPay),
			ev("4", "m", "w1", 10, 8800, KindTransfer), ev("5", "m", "w2", 11, 8800, KindTransfer), ev("6", "m", "w3", 12, 8800, KindTransfer),
		}, "gather-scatter", "m", RoleIntermediary, "", "m"},
		{"scatter-gather: the intermediary paying the gatherer", []Event{
			ev("1", "s", "x1", 0, 10000, KindTransfer), ev("2", "s", "x2", 1, 10000, KindTransfer), ev("3", "s", "x3", 2, 10000, KindTransfer),
			ev("4", "x1", "r", 10, 9900, KindTransfer), ev("5", "x2", "r", 11, 9900, KindTransfer), ev("6", "x3", "r", 12, 9900, KindTransfer),
		}, "scatter-gather", "x3", RoleIntermediary, "", "x3"},
		{"mule chain: the holder cashing out", []Event{
			ev("1", "victim", "mule", 0, 1234567, KindTransfer), ev("2", "other", "agent", 0, 1234567, KindCashOut),
		}, "mule-exact", "other", RoleMule, "1", "other"},
		{"mule chain decided on the transfer: the mule, not the sender", []Event{
			ev("1", "other", "agent", 0, 777700, KindCashOut), ev("2", "victim", "mule", 0, 777700, KindTransfer),
		}, "mule-exact", "other", RoleMule, "1", "victim"},
		{"fan-in: the hub collecting, not the fifth payer", []Event{
			ev("1", "p1", "h", 0, 5000, KindTransfer), ev("2", "p2", "h", 1, 5000, KindTransfer), ev("3", "p3", "h", 2, 5000, KindTransfer), ev("4", "p4", "h", 3, 5000, KindTransfer), ev("5", "p5", "h", 4, 5000, KindTransfer),
		}, "fan-in", "h", RoleHub, "", "p5"},
		{"fan-out: the hub paying", []Event{
			ev("1", "h", "p1", 0, 5000, KindTransfer), ev("2", "h", "p2", 1, 5000, KindTransfer), ev("3", "h", "p3", 2, 5000, KindTransfer), ev("4", "h", "p4", 3, 5000, KindTransfer), ev("5", "h", "p5", 4, 5000, KindTransfer),
		}, "fan-out", "h", RoleHub, "", "h"},
		{"credit cash-out of forwarded credit: whose credit it was", []Event{
			hop("f1", 0, "huabei:u1", "u1", "shop:s", "s", 100000, KindPay, MaxCreditShareBps),
			hop("f2", 10, "shop:s", "s", "bank:x", "x", 95000, KindTransfer, MaxCreditShareBps),
		}, "credit-cash-out", "u1", RoleCreditHolder, "f1", "s"},
		{"credit cash-out of own credit: the payer", []Event{
			hop("o1", 0, "bank:z", "z", "wallet:u", "u", 100, KindTransfer, 0),
			hop("o2", 10, "wallet:u", "u", "bank:x", "x", 95000, KindTransfer, MaxCreditShareBps),
		}, "credit-cash-out", "u", RoleCreditHolder, "", "u"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := replay(t, NewEngine(nil), tc.events)
			m := matched(d, tc.rule)
			if m == nil {
				t.Fatalf("rule %s did not match: %+v", tc.rule, d.Matches)
			}
			if d.Subject != tc.payer {
				t.Errorf("subject %s, want the payer %s", d.Subject, tc.payer)
			}
			tg := m.Target
			if tg.Holder != tc.holder || tg.Role != tc.role || tg.TxID != tc.tx {
				t.Errorf("target %+v, want holder %s role %s tx %q", tg, tc.holder, tc.role, tc.tx)
			}
			if !strings.Contains(tg.Reason, tc.holder) {
				t.Errorf("reason %q does not name %s", tg.Reason, tc.holder)
			}
			if m.Pattern != nil && !containsString(m.Pattern.Holders, tc.holder) {
				t.Errorf("target %s is not a member of the pattern %v", tc.holder, m.Pattern.Holders)
			}
			for _, a := range Alerts(d) {
				if a.RuleID == tc.rule && a.Holder != tc.holder {
					t.Errorf("alert filed against %s, want %s", a.Holder, tc.holder)
				}
			}
			for _, at := range d.ActionTargets() {
				if at.RuleID == tc.rule && at.Holder != tc.holder {
					t.Errorf("action %s of %s addressed to %s, want %s", at.Action, tc.rule, at.Holder, tc.holder)
				}
			}
		})
	}
}

// TestActionTargetsDedupAndFallback: a decision built without targets
// (before they existed) addresses the payer; one action per holder.
func TestActionTargetsDedupAndFallback(t *testing.T) {
	cut := Action{Kind: ActionCutCreditLimit, Percent: 80}
	d := Decision{Subject: "payer", Matches: []Match{
		{RuleID: "a", Actions: []Action{{Kind: ActionHold}, cut}},
		{RuleID: "b", Actions: []Action{cut, {Kind: ActionFreeze}}, Target: Target{Holder: "mule", Role: RoleMule}},
		{RuleID: "c", Actions: []Action{cut}},
	}}
	got := d.ActionTargets()
	want := []string{"payer cut_credit_limit:80 a", "mule cut_credit_limit:80 b", "mule freeze b"}
	if len(got) != len(want) {
		t.Fatalf("action targets %+v, want %v", got, want)
	}
	for i, at := range got {
		if s := at.Holder + " " + at.Action.String() + " " + at.RuleID; s != want[i] {
			t.Errorf("[%d] %s, want %s", i, s, want[i])
		}
	}
}
