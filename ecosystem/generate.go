package ecosystem

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/paybridge/paybridge/money"
)

// Bounds of Generate's institution count.
const (
	MinGenerated = 10
	MaxGenerated = 100_000
)

// Generate builds a large, valid, plausible ecosystem of about `institutions`
// institutions (clamped to [MinGenerated, MaxGenerated]) for benchmarks and
// what-if experiments: the central bank's e-CNY wallet, two clearing houses,
// then banks (35%), wallets (15%), credit issuers (10%), merchants (35%) and
// cash-out intermediaries (5%), linked by about 20 channels per institution.
// Holders are "me" (default) and "friend"; its rules have the bundled world's
// shape. The same count and seed give the same ecosystem, field for field.
func Generate(institutions int, seed int64) *Ecosystem {
	n := min(max(institutions, MinGenerated), MaxGenerated)
	g := &generator{rng: rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)), width: len(fmt.Sprint(n))}
	g.e = &Ecosystem{
		ID:          fmt.Sprintf("generated-%d-%d", n, seed),
		Name:        fmt.Sprintf("Generated world: %d institutions, seed %d", n, seed),
		Description: "Synthetic ecosystem from `paybridge ecosystem generate`; figures are plausible, not measured.",
		Currency:    money.CNY,
		Timezone:    "Asia/Shanghai",
		Holders: []Holder{
			{ID: "me", Name: "Me", Kind: HolderPerson, KYCLevel: 3, Default: true},
			{ID: "friend", Name: "A friend", Kind: HolderPerson, KYCLevel: 2},
		},
		Rules: generatedRules(),
	}
	g.core()
	rest := n - len(g.e.Institutions)
	counts := []int{rest * 35 / 100, rest * 15 / 100, rest * 10 / 100, rest * 35 / 100}
	counts = append(counts, rest-counts[0]-counts[1]-counts[2]-counts[3])
	for i := range counts[0] {
		g.bank(i + 1)
	}
	for i := range counts[1] {
		g.wallet(i + 1)
	}
	for i := range counts[2] {
		g.creditIssuer(i + 1)
	}
	for i := range counts[3] {
		g.merchant(i + 1)
	}
	for i := range counts[4] {
		g.intermediary(i + 1)
	}
	g.link()
	g.e.Reindex()
	return g.e
}

type generator struct {
	e     *Ecosystem
	rng   *rand.Rand
	width int
	// product ids by role, in creation order
	debits, bankCredits, wallets, walletCredits, creditLines, receivables, pockets []string
}

func (g *generator) name(prefix string, i int) string {
	return fmt.Sprintf("%s%0*d", prefix, g.width, i)
}

func (g *generator) institution(id, name, kind, app string, licences ...string) {
	g.e.Institutions = append(g.e.Institutions, Institution{ID: id, Name: name, Kind: kind, App: app, Licences: licences, Protocol: "sm2-sm4"})
}

func (g *generator) product(inst, name, kind string, cash bool) string {
	p := Product{ID: inst + "." + name, Institution: inst, Name: name, Kind: kind, CashWithdrawable: cash}
	if kind == ProductCredit {
		p.Purpose = "consumption"
		p.CreditLimitFen = int64(1+g.rng.IntN(50)) * 1000_00
	}
	g.e.Products = append(g.e.Products, p)
	return p.ID
}

func (g *generator) core() {
	g.institution("pboc", "Digital currency (e-CNY)", "central_bank", "e-CNY", "digital_currency")
	g.institution("unionpay", "UnionPay", "clearing_house", "", "clearing")
	g.institution("netsunion", "NetsUnion", "clearing_house", "", "clearing")
	g.product("pboc", "wallet", ProductStoredValue, true)
	p := &g.e.Products[len(g.e.Products)-1]
	p.Tiers = []Tier{
		{Name: "class_iv", MinKYCLevel: 0, BalanceCapFen: 10_000_00, Limits: Limits{PerTxnFen: 2_000_00, PerDayFen: 5_000_00, PerYearFen: 50_000_00}},
		{Name: "class_ii", MinKYCLevel: 2, BalanceCapFen: 500_000_00, Limits: Limits{PerTxnFen: 50_000_00, PerDayFen: 100_000_00}},
	}
}

func (g *generator) bank(i int) {
	id := g.name("bank", i)
	g.institution(id, fmt.Sprintf("Bank %d", i), "bank", fmt.Sprintf("Bank %d app", i), "deposit", "credit")
	in := &g.e.Institutions[len(g.e.Institutions)-1]
	if g.rng.IntN(4) == 0 {
		in.Clearing = Clearing{Mode: ClearingT1, Days: "weekdays", Windows: []Window{{Open: "09:00", Close: "17:00"}}}
	}
	g.debits = append(g.debits, g.product(id, "debit", ProductDeposit, true))
	if g.rng.IntN(2) == 0 {
		g.bankCredits = append(g.bankCredits, g.product(id, "credit", ProductCredit, false))
	}
}

func (g *generator) wallet(i int) {
	id := g.name("wallet", i)
	g.institution(id, fmt.Sprintf("Wallet %d", i), "payment_institution", fmt.Sprintf("Wallet %d", i), "internet_payment", "mobile_payment")
	g.wallets = append(g.wallets, g.product(id, "balance", ProductStoredValue, true))
	if g.rng.IntN(5) < 2 {
		g.walletCredits = append(g.walletCredits, g.product(id, "credit", ProductCredit, false))
	}
}

func (g *generator) creditIssuer(i int) {
	id := g.name("credit", i)
	g.institution(id, fmt.Sprintf("Consumer credit %d", i), "credit_issuer", fmt.Sprintf("Credit %d", i), "credit")
	g.creditLines = append(g.creditLines, g.product(id, "line", ProductCredit, false))
}

func (g *generator) merchant(i int) {
	id := g.name("merchant", i)
	g.institution(id, fmt.Sprintf("Merchant acquirer %d", i), "merchant_acquirer", fmt.Sprintf("Merchant %d", i), "acquiring")
	g.receivables = append(g.receivables, g.product(id, "receivable", ProductReceivable, false))
}

func (g *generator) intermediary(i int) {
	id := g.name("mover", i)
	g.institution(id, fmt.Sprintf("Money mover %d", i), "intermediary", "second-hand marketplace")
	g.pockets = append(g.pockets, g.product(id, "pocket", ProductExternal, false))
}

// pick returns k distinct elements of list (all of it when shorter).
func (g *generator) pick(list []string, k int) []string {
	if k >= len(list) {
		return list
	}
	idx := g.rng.Perm(len(list))[:k]
	out := make([]string, k)
	for i, j := range idx {
		out[i] = list[j]
	}
	return out
}

// between returns a uniform integer in [lo, hi].
func (g *generator) between(lo, hi int) int { return lo + g.rng.IntN(hi-lo+1) }

func instOf(productID string) string {
	for i := range productID {
		if productID[i] == '.' {
			return productID[:i]
		}
	}
	return productID
}

// channel adds a channel with a plausible latency and success for its kind.
func (g *generator) channel(kind, from, to, inst string, fee money.FeeSchedule, req Requires, tags ...string) *Channel {
	c := Channel{
		ID: fmt.Sprintf("c%06d", len(g.e.Channels)+1), Kind: kind, From: from, To: to, Institution: inst,
		Fee: fee, Requires: req, Tags: tags, Effort: 1,
		Success: float64(950+g.rng.IntN(50)) / 1000,
	}
	switch kind {
	case "transfer", "pay", "repay":
		c.Latency = Latency{Dist: LatencyInstant}
	default:
		p50 := time.Duration(g.between(1, 30)) * time.Minute
		c.Latency = Latency{Dist: LatencyLogNormal, P50: p50, P95: p50 * time.Duration(g.between(2, 6))}
	}
	g.e.Channels = append(g.e.Channels, c)
	return &g.e.Channels[len(g.e.Channels)-1]
}

var (
	withdrawFee = money.FeeSchedule{RateBps: 10, MinFen: 10}
	same        = Requires{SameHolder: true}
	other       = Requires{OtherHolder: true}
)

// link adds the channels: wallets to banks, interbank, payments to merchants,
// repayments, settlement, e-CNY and the intermediaries' cash-out services.
func (g *generator) link() {
	for _, w := range g.wallets {
		inst := instOf(w)
		for _, d := range g.pick(g.debits, g.between(14, 28)) {
			g.channel("top_up", d, w, inst, money.FeeSchedule{}, Requires{SameHolder: true, BoundCard: true}, "official").Via = []string{"netsunion"}
			c := g.channel("withdraw", w, d, inst, withdrawFee, Requires{SameHolder: true, BoundCard: true}, "official")
			c.Via = []string{"netsunion"}
			c.Limits = Limits{PerTxnFen: 50_000_00, PerDayFen: 50_000_00}
		}
		g.channel("transfer", w, w, inst, money.FeeSchedule{}, other, "official")
		for _, m := range g.pick(g.receivables, g.between(10, 20)) {
			g.channel("pay", w, m, inst, money.FeeSchedule{}, other, "official", "purchase")
		}
	}
	for _, c := range g.walletCredits {
		inst := instOf(c)
		for _, m := range g.pick(g.receivables, g.between(5, 10)) {
			g.channel("pay", c, m, inst, money.FeeSchedule{}, other, "official", "purchase")
		}
		g.channel("repay", inst+".balance", c, inst, money.FeeSchedule{}, same, "official")
	}
	for _, d := range g.debits {
		inst := instOf(d)
		for _, to := range g.pick(g.debits, g.between(12, 24)) {
			if to == d {
				continue
			}
			c := g.channel("interbank", d, to, inst, money.FeeSchedule{RateBps: int64(g.rng.IntN(6))}, Requires{}, "official")
			c.Via = []string{"unionpay"}
			c.Limits = Limits{PerTxnFen: 200_000_00, PerDayFen: 500_000_00}
		}
		if g.rng.IntN(10) < 3 {
			g.channel("top_up", d, "pboc.wallet", inst, money.FeeSchedule{}, same, "official", "ecny")
			g.channel("withdraw", "pboc.wallet", d, inst, money.FeeSchedule{}, same, "official", "ecny")
		}
	}
	for _, c := range append(append([]string{}, g.bankCredits...), g.creditLines...) {
		inst := instOf(c)
		for _, m := range g.pick(g.receivables, g.between(5, 12)) {
			g.channel("pay", c, m, inst, money.FeeSchedule{}, other, "official", "purchase")
		}
		for _, d := range g.pick(g.debits, g.between(1, 3)) {
			g.channel("repay", d, c, inst, money.FeeSchedule{}, same, "official")
		}
	}
	for _, r := range g.receivables {
		for _, d := range g.pick(g.debits, g.between(1, 2)) {
			g.channel("withdraw", r, d, instOf(r), money.FeeSchedule{RateBps: 60}, Requires{}, "settlement")
		}
	}
	for _, m := range g.pick(g.receivables, 20) {
		g.channel("pay", "pboc.wallet", m, "pboc", money.FeeSchedule{}, other, "official", "ecny", "purchase")
	}
	g.channel("transfer", "pboc.wallet", "pboc.wallet", "pboc", money.FeeSchedule{}, other, "official", "ecny")
	g.movers()
}

// movers adds the intermediaries' "move money" services: credit in, a
// wallet balance out, 8–15% fee, success under 3%, hours of delay.
func (g *generator) movers() {
	credits := append(append([]string{}, g.walletCredits...), g.creditLines...)
	for _, p := range g.pockets {
		inst := instOf(p)
		for _, c := range g.pick(credits, g.between(3, 6)) {
			in := g.channel("cash_out_service", c, p, inst, money.FeeSchedule{RateBps: int64(g.between(800, 1500))}, Requires{}, "third_party", "cash_out")
			in.Success = float64(g.between(10, 29)) / 1000
			in.Latency = Latency{Dist: LatencyLogNormal, P50: time.Duration(g.between(121, 360)) * time.Minute, P95: 24 * time.Hour}
		}
		for _, w := range g.pick(g.wallets, g.between(3, 6)) {
			out := g.channel("transfer", p, w, inst, money.FeeSchedule{}, other, "third_party")
			out.Latency = Latency{Dist: LatencyLogNormal, P50: 30 * time.Minute, P95: 6 * time.Hour}
		}
	}
}

// generatedRules have the shape of the bundled world's (cn-2023) rules.
func generatedRules() []Rule {
	const scope = "PBOC Announcement [2015] No. 43 (payment service scope)"
	return []Rule{
		{ID: "credit-cash-out", Scope: RuleScopeHop, Effect: EffectRefuse, Advisory: true,
			When:     `hop.credit_share_bps > 0 && hop.credit_purpose == "consumption" && hop.to.cash_withdrawable && !hop.from.cash_withdrawable && hop.to.holder_kind == "person"`,
			Citation: "CBIRC/PBOC Notice [2022] No. 13, §4(16); " + scope,
			Message:  "This hop turns consumer credit into withdrawable money, which is credit cash-out."},
		{ID: "credit-route-to-cash", Scope: RuleScopeRoute, Effect: EffectRefuse, Advisory: true,
			When:     `route.from.kind == "credit" && route.from.purpose == "consumption" && route.to.cash_withdrawable && route.to.holder_kind == "person"`,
			Citation: "CBIRC/PBOC Notice [2022] No. 13, §4(16); " + scope,
			Message:  "The route starts from a consumer-credit line and ends as a person's withdrawable money: credit cash-out."},
		{ID: "same-name-in-out", Scope: RuleScopeHop, Effect: EffectRefuse,
			When:     `(hop.requires_same_holder || hop.channel_kind == "top_up" || hop.channel_kind == "withdraw") && !hop.same_holder`,
			Citation: scope + ": money enters and leaves a payment account only from and to the same real-name holder",
			Message:  "This channel only moves money between accounts of the same real-name holder."},
		{ID: "kyc-level", Scope: RuleScopeHop, Effect: EffectRefuse,
			When:     "hop.kyc_required > hop.from.kyc_level",
			Citation: scope + ", identity verification",
			Message:  "The sender's identity is not verified enough for this channel."},
		{ID: "per-transaction-limit", Scope: RuleScopeHop, Effect: EffectRefuse,
			When:     "hop.over_per_txn",
			Citation: "The channel's published per-transaction limit",
			Message:  "The amount is above this channel's per-transaction limit."},
		{ID: "period-limit", Scope: RuleScopeHop, Effect: EffectRefuse,
			When:     "hop.over_per_day || hop.over_per_month || hop.over_per_year",
			Citation: "The channel's published daily, monthly and yearly limits",
			Message:  "The amount would pass this channel's daily, monthly or yearly limit."},
		{ID: "unlicensed-intermediary", Scope: RuleScopeHop, Effect: EffectRefuse,
			When:     `hop.channel_kind == "cash_out_service" || "third_party" in hop.tags`,
			Citation: "Administrative Measures for Payment Services of Non-financial Institutions, art. 26",
			Message:  "An unlicensed intermediary moves this money; it may never arrive and accounts that use it get frozen."},
	}
}
