package route

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ecosystems"
)

// bundled loads the bundled default world and its rules.
func bundled(tb testing.TB, policy compliance.Policy) (*ecosystem.Ecosystem, *compliance.Checker) {
	tb.Helper()
	eco, err := ecosystems.Load(ecosystems.Default)
	if err != nil {
		tb.Fatalf("loading the bundled world: %v", err)
	}
	c, err := compliance.NewChecker(eco.Rules, policy)
	if err != nil {
		tb.Fatal(err)
	}
	return eco, c
}

// benchPlan plans q b.N times and reports the median and 99th-percentile
// wall time of one query besides the mean, and the process CPU time per
// query (robust to other load on a shared machine; it includes the GC).
func benchPlan(b *testing.B, eco *ecosystem.Ecosystem, rules RuleChecker, q Query) {
	b.Helper()
	res, err := Plan(eco, q, rules)
	if err != nil {
		b.Fatal(err)
	}
	times := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for range b.N {
		start := time.Now()
		if _, err := Plan(eco, q, rules); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(float64(res.Search.Labels), "labels")
	b.ReportMetric(float64(res.Search.Labels+res.Search.Pruned), "extensions")
	b.ReportMetric(float64(res.Search.HopChecks), "hop-checks")
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkPlanBundled plans the seed's question on cn-2023, statistics included.
func BenchmarkPlanBundled(b *testing.B) {
	eco, rules := bundled(b, compliance.PolicyStrict)
	for _, q := range []struct {
		name string
		q    Query
	}{
		{"huabei-to-friend", Query{From: "alipay.huabei", To: "wechat.change", ToHolder: "friend", AmountFen: 1000 * yuan, Seed: 1}},
		{"balance-to-wechat", Query{From: "alipay.balance", To: "wechat.change", AmountFen: 1000 * yuan, Seed: 1}},
		{"balance-to-wechat-at", Query{From: "alipay.balance", To: "wechat.change", AmountFen: 1000 * yuan, Seed: 1,
			At: time.Date(2023, 5, 5, 18, 30, 0, 0, time.FixedZone("CST", 8*3600))}},
	} {
		b.Run(q.name, func(b *testing.B) { benchPlan(b, eco, rules, q.q) })
	}
}

// BenchmarkPlanGenerated1000 plans on a generated world of 1,000 institutions.
func BenchmarkPlanGenerated1000(b *testing.B) {
	eco := ecosystem.Generate(1000, 1)
	rules, err := compliance.NewChecker(eco.Rules, compliance.PolicyStrict)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d institutions, %d products, %d channels", len(eco.Institutions), len(eco.Products), len(eco.Channels))
	for _, q := range generatedQueries(eco) {
		b.Run(q.name, func(b *testing.B) { benchPlan(b, eco, rules, q.q) })
	}
}

type namedQuery struct {
	name string
	q    Query
}

// generatedQueries picks a wallet-to-wallet and a credit-to-wallet query.
func generatedQueries(eco *ecosystem.Ecosystem) []namedQuery {
	var wallets []string
	for _, p := range eco.Products {
		if p.Kind == ecosystem.ProductStoredValue && p.Institution != "pboc" {
			wallets = append(wallets, p.ID)
		}
	}
	// a credit line an intermediary cashes out into a wallet
	var credit, wallet string
	for _, ch := range eco.Channels {
		if ch.Kind == "cash_out_service" && credit == "" {
			for _, out := range eco.ChannelsFrom(ch.To) {
				credit, wallet = ch.From, out.To
				break
			}
		}
	}
	return []namedQuery{
		{"wallet-to-friend-wallet", Query{From: wallets[0], To: wallets[len(wallets)-1], ToHolder: "friend", AmountFen: 1000 * yuan, Seed: 1}},
		{"bank-to-wallet", Query{From: eco.Products[3].ID, To: wallets[1], AmountFen: 1000 * yuan, Seed: 1}},
		{"credit-to-friend-wallet", Query{From: credit, To: wallet, ToHolder: "friend", AmountFen: 1000 * yuan, Seed: 1}},
	}
}

// BenchmarkPlanGeneratedScaling shows how one query's cost grows with the
// world: the wallet-to-friend query on generated worlds of 250 to 4,000
// institutions (about 20 channels each).
func BenchmarkPlanGeneratedScaling(b *testing.B) {
	for _, n := range []int{250, 500, 1000, 2000, 4000} {
		eco := ecosystem.Generate(n, 1)
		rules, err := compliance.NewChecker(eco.Rules, compliance.PolicyStrict)
		if err != nil {
			b.Fatal(err)
		}
		q := generatedQueries(eco)[0]
		b.Run(fmt.Sprintf("institutions=%d/channels=%d", n, len(eco.Channels)), func(b *testing.B) { benchPlan(b, eco, rules, q.q) })
	}
}
