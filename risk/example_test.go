package risk_test

import (
	"fmt"
	"time"

	"github.com/paybridge/paybridge/risk"
)

// A transfer reaches a mule; an unrelated account then cashes out exactly the
// same amount in the same hour. The inline check on the cash-out holds it and
// names both transactions.
func ExampleEngine_Check() {
	en := risk.NewEngine(nil) // the bundled default rules
	at := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	_, _ = en.Observe(risk.Event{Time: at, ID: "t1", FromAccount: "victim", ToAccount: "mule",
		AmountMinor: 1234500, Currency: "CNY", Kind: risk.KindTransfer})
	d, err := en.Check(risk.Event{Time: at.Add(20 * time.Minute), ID: "c1", FromAccount: "agent-7", ToAccount: "cash",
		AmountMinor: 1234500, Currency: "CNY", Kind: risk.KindCashOut})
	if err != nil {
		fmt.Println(err)
		return
	}
	m := d.Matches[0]
	fmt.Println(d.Verdict, m.RuleID, m.Values["mule_diff_bps"], m.Values["mule_gap_s"])
	for _, mem := range m.Pattern.Members {
		fmt.Println(mem.TxID, mem.From, "->", mem.To, mem.AmountMinor)
	}
	// Output:
	// hold mule-exact 0 1200
	// t1 victim -> mule 1234500
	// c1 agent-7 -> cash 1234500
}
