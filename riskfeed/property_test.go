package riskfeed

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/paybridge/paybridge/payment"
	"github.com/paybridge/paybridge/risk"
)

// TestPropertyPollingAndRestartsChangeNothing: whatever the payments, and
// wherever the feed polls or restarts (new engine, same cursor and case
// store; restored from the last snapshot or replaying the whole outbox),
// each posted hop is reported exactly once with the decision a
// single poll at the end gives, and the case store holds the same alerts.
func TestPropertyPollingAndRestartsChangeNothing(t *testing.T) {
	payers, payees := []string{"p1", "p2", "p3", "p4"}, []string{"q1", "q2", "q3", "q4"}
	type move struct {
		from, to, fromHolder, toHolder, channel string
		yuan                                    int64
	}
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		w := open(t)
		n := rapid.IntRange(1, 16).Draw(rt, "payments")
		var got []Result
		store := &memSnapshots{}
		w.feed.Snapshots = store
		feed := w.feed
		for i := range n {
			// Steps of the seed's schemes in any order and mix, so that
			// some runs complete a pattern and most do not.
			p := payers[rapid.IntRange(0, 3).Draw(rt, "payer")]
			q := payees[rapid.IntRange(0, 3).Draw(rt, "payee")]
			m := []move{
				{"alipay.huabei", "alipay.balance", p, p, "huabei_topup_balance", 5000},
				{"alipay.balance", "alipay.balance", p, "mid", "alipay_transfer", 5000},
				{"alipay.balance", "alipay.balance", "mid", q, "alipay_transfer", 4400},
				{"alipay.huabei", "alipay.merchant", "me", "taobao_shop", "huabei_pay_taobao", 1000},
				{"alipay.merchant", "alipay.balance", "taobao_shop", "me", "taobao_cashback", 950},
				{"alipay.balance", "alipay.balance", "me", "friend", "alipay_transfer", 200},
			}[rapid.IntRange(0, 5).Draw(rt, "move")]
			at := epoch.Add(time.Duration(i*rapid.IntRange(1, 10).Draw(rt, "gap")) * time.Minute)
			w.clk.Set(at)
			if _, err := w.x.Pay(ctx, payment.Request{From: m.from, To: m.to, FromHolder: m.fromHolder, ToHolder: m.toHolder, Channels: []string{m.channel}, AmountFen: m.yuan * 100, At: at}); err != nil {
				rt.Fatalf("pay: %v", err)
			}
			switch rapid.IntRange(0, 3).Draw(rt, "then") {
			case 1: // poll
			case 2: // restart, then poll; from the last snapshot or by a full replay
				var snaps SnapshotStore
				if rapid.Bool().Draw(rt, "from snapshot") {
					snaps = store
				}
				feed = &Feed{Outbox: feed.Outbox, Engine: risk.NewEngine(risk.DefaultRules()), Conv: NewConverter(feed.Conv.eco), Cases: feed.Cases,
					Snapshots: snaps, SnapshotEvery: uint64(rapid.IntRange(0, 8).Draw(rt, "snapshot every")),
					Logf: func(format string, args ...any) { rt.Fatalf("snapshot: "+format, args...) }}
			default:
				continue
			}
			rs, err := feed.Poll(ctx)
			if err != nil {
				rt.Fatal(err)
			}
			got = append(got, rs...)
		}
		rs, err := feed.Poll(ctx)
		if err != nil {
			rt.Fatal(err)
		}
		got = append(got, rs...)

		ref, err := risk.OpenSQLite(filepath.Join(t.TempDir(), "ref.db"))
		if err != nil {
			rt.Fatal(err)
		}
		defer ref.Close()
		once := &Feed{Outbox: feed.Outbox, Engine: risk.NewEngine(risk.DefaultRules()), Conv: NewConverter(feed.Conv.eco), Cases: ref,
			Cursor: StoreCursor{Store: ref, Name: "ref"}}
		want, err := once.Poll(ctx)
		if err != nil {
			rt.Fatal(err)
		}
		if !slices.Equal(summary(got), summary(want)) {
			rt.Fatalf("incremental %v\nsingle poll %v", summary(got), summary(want))
		}
		if a, b := alertCount(rt, w.feed.Cases), alertCount(rt, ref); a != b {
			rt.Fatalf("case store holds %d alerts, single poll %d", a, b)
		}
	})
}

func summary(rs []Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprintf("%d %s %s %d %d", r.Seq, r.Event.ID, r.Decision.Verdict, r.Decision.Score, len(r.Decision.Matches))
	}
	return out
}

func alertCount(rt *rapid.T, cs risk.CaseStore) int {
	cases, err := cs.Cases(context.Background(), "")
	if err != nil {
		rt.Fatal(err)
	}
	n := 0
	for _, c := range cases {
		n += c.Alerts
	}
	return n
}
