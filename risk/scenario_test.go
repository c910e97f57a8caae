package risk

import (
	"fmt"
	"testing"
	"time"
)

// hop is one movement between accounts of named holders on different platforms.
func hop(id string, minutes int, fromAcct, fromHolder, toAcct, toHolder string, amount int64, kind Kind, creditBps int64) Event {
	return Event{Time: t0.Add(time.Duration(minutes) * time.Minute), ID: id, FromAccount: fromAcct, FromHolder: fromHolder,
		ToAccount: toAcct, ToHolder: toHolder, AmountMinor: amount, Currency: "CNY", Kind: kind, CreditShareBps: creditBps}
}

func matched(d Decision, rule string) *Match {
	for i := range d.Matches {
		if d.Matches[i].RuleID == rule {
			return &d.Matches[i]
		}
	}
	return nil
}

// TestSeedCreditCycleNeedsTheHolderView: credit spent at a merchant comes back
// to the payer's other wallet minus a 10% fee. Only the holder graph sees a
// cycle; with accounts alone (each platform's view) there is none.
func TestSeedCreditCycleNeedsTheHolderView(t *testing.T) {
	spend := hop("h1", 0, "alipay.huabei:u1", "u1", "alipay.merchant:m", "m", 100000, KindPay, MaxCreditShareBps)
	back := hop("h2", 30, "wechat.merchant:m", "m", "wechat.change:u1", "u1", 90000, KindTransfer, 0)
	d := replay(t, NewEngine(nil), []Event{spend, back})
	m := matched(d, "cycle")
	if m == nil || m.Values["cycle_return_ratio"] != 0.9 || len(m.Pattern.Members) != 2 {
		t.Fatalf("holder view: cycle not explained: %+v", d.Matches)
	}
	spend.FromHolder, spend.ToHolder, back.FromHolder, back.ToHolder = "", "", "", ""
	if d := replay(t, NewEngine(nil), []Event{spend, back}); matched(d, "cycle") != nil {
		t.Fatal("account view found a cycle it cannot see")
	}
}

// TestSeedMoveMoneyService: five payers spend credit at an intermediary that
// pays 88% back to each payer's wallet on another platform (the seed's 8-15% service).
func TestSeedMoveMoneyService(t *testing.T) {
	var events []Event
	for i := 1; i <= 5; i++ {
		u := fmt.Sprintf("u%d", i)
		events = append(events, hop("in"+u, i, "huabei:"+u, u, "shop:s", "svc", 10000, KindPay, MaxCreditShareBps))
	}
	for i := 1; i <= 5; i++ {
		u := fmt.Sprintf("u%d", i)
		events = append(events, hop("out"+u, 60+i, "bank:s", "svc", "wechat:"+u, u, 8800, KindTransfer, 0))
	}
	en := NewEngine(nil)
	var last Decision
	hits := map[string]int{}
	for _, e := range events {
		d, err := en.Observe(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range d.Matches {
			hits[m.RuleID]++
		}
		last = d
	}
	gs := matched(last, "gather-scatter")
	if gs == nil || gs.Values["gs_payout_ratio"] != 0.88 || len(gs.Pattern.Holders) != 6 {
		t.Fatalf("gather-scatter not explained on the last payout: %+v", last.Matches)
	}
	if hits["cycle"] != 5 || last.Verdict != ActionHold {
		t.Fatalf("rule hits %v, verdict %s", hits, last.Verdict)
	}
}
