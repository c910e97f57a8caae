package payment

import (
	"math"
	"time"

	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/route"
)

// Counter keys: kind/period/holder/scope, where scope is "c:"+channel or
// "p:"+product (a product tier's limits). Periods are calendar days, months
// and years in the ecosystem's time zone, of the hop's start.
func counterKey(kind, period, holder, scope string) string {
	return "pay/" + kind + "/" + period + "/" + holder + "/" + scope
}

// limitScopes returns the limit sets a hop of ch by holder h is subject to:
// the channel's and the source product tier's.
func limitScopes(eco *ecosystem.Ecosystem, ch *ecosystem.Channel, h *ecosystem.Holder) []struct {
	scope  string
	limits ecosystem.Limits
} {
	out := []struct {
		scope  string
		limits ecosystem.Limits
	}{{"c:" + ch.ID, ch.Limits}}
	if p, ok := eco.Product(ch.From); ok {
		if t := p.TierFor(h); t != nil {
			out = append(out, struct {
				scope  string
				limits ecosystem.Limits
			}{"p:" + p.ID, t.Limits})
		}
	}
	return out
}

type periods struct{ day, month, year string }

func periodsAt(t time.Time, loc *time.Location) periods {
	y, m, d := t.In(loc).Date()
	var b [8]byte // yyyymmdd, as Format("20060102") writes it for years 0…9999
	pad := func(i, n, width int) {
		for j := i + width - 1; j >= i; j-- {
			b[j] = byte('0' + n%10)
			n /= 10
		}
	}
	if y < 0 || y > 9999 {
		lt := t.In(loc)
		return periods{lt.Format("20060102"), lt.Format("200601"), lt.Format("2006")}
	}
	pad(0, y, 4)
	pad(4, int(m), 2)
	pad(6, d, 2)
	day := string(b[:])
	return periods{day, day[:6], day[:4]}
}

// hopCounters returns the counter deltas a hop adds: amountFen to each
// period limit and 1 to the daily count, each capped at its limit, and the
// free quota used. The ledger refuses the whole commit if one would pass.
func hopCounters(eco *ecosystem.Ecosystem, loc *time.Location, ch *ecosystem.Channel, h *ecosystem.Holder, at time.Time, amountFen, quotaFen int64) []ledger.CounterDelta {
	var out []ledger.CounterDelta
	ps := periodsAt(at, loc)
	for _, s := range limitScopes(eco, ch, h) {
		l := s.limits
		add := func(kind, period string, limit, delta int64) {
			if limit > 0 {
				out = append(out, ledger.CounterDelta{Key: counterKey(kind, period, h.ID, s.scope), Delta: delta, MaxValue: limit})
			}
		}
		add("day", ps.day, l.PerDayFen, amountFen)
		add("month", ps.month, l.PerMonthFen, amountFen)
		add("year", ps.year, l.PerYearFen, amountFen)
		add("life", "-", l.LifetimeFen, amountFen)
		add("count", ps.day, l.PerDayCount, 1)
	}
	if quotaFen > 0 {
		out = append(out, ledger.CounterDelta{Key: counterKey("quota", "-", h.ID, "c:"+ch.ID), Delta: quotaFen, MaxValue: ch.Fee.FreeQuotaFen})
	}
	return out
}

// releases returns deltas that undo cs (a failed hop does not count).
func releases(cs []ledger.CounterDelta) []ledger.CounterDelta {
	out := make([]ledger.CounterDelta, len(cs))
	for i, c := range cs {
		out[i] = ledger.CounterDelta{Key: c.Key, Delta: -c.Delta, MaxValue: math.MaxInt64}
	}
	return out
}

// usage builds the planner's view of what holder h has used at t, from the
// ledger's counters, and the balances of capped accounts, so a re-check at
// creation gives the planner's own findings. Only channels with limits or a
// free quota, tiered products and capped products are read, and capped
// balances of h and toHolder only (the planner checks the balance caps of
// the accounts a route fills, which are theirs): the planner looks at
// nothing else, and a payment costs the same however many holders exist.
func usage(eco *ecosystem.Ecosystem, led *ledger.Engine, loc *time.Location, h *ecosystem.Holder, toHolder string, at time.Time) *route.Usage {
	u := &route.Usage{Channels: map[string]route.Used{}, Products: map[string]route.Used{}, Balances: map[string]int64{}}
	ps := periodsAt(at, loc)
	read := func(scope string) route.Used {
		return route.Used{
			DayFen: led.Counter(counterKey("day", ps.day, h.ID, scope)), MonthFen: led.Counter(counterKey("month", ps.month, h.ID, scope)),
			YearFen: led.Counter(counterKey("year", ps.year, h.ID, scope)), LifetimeFen: led.Counter(counterKey("life", "-", h.ID, scope)),
			DayCount: led.Counter(counterKey("count", ps.day, h.ID, scope)),
		}
	}
	for i := range eco.Channels {
		ch := &eco.Channels[i]
		var used route.Used
		if ch.Limits != (ecosystem.Limits{}) {
			used = read("c:" + ch.ID)
		}
		if ch.Fee.FreeQuotaFen > 0 {
			used.FreeQuotaFen = led.Counter(counterKey("quota", "-", h.ID, "c:"+ch.ID))
		}
		if used != (route.Used{}) {
			u.Channels[route.UsageKey(h.ID, ch.ID)] = used
		}
	}
	for i := range eco.Products {
		p := &eco.Products[i]
		if len(p.Tiers) > 0 {
			if used := read("p:" + p.ID); used != (route.Used{}) {
				u.Products[route.UsageKey(h.ID, p.ID)] = used
			}
		}
		if !capped(p) {
			continue
		}
		for _, holder := range []string{h.ID, toHolder} {
			if a, ok := led.Account(HolderAccount(holder, p.ID)); ok && a.BalanceFen != 0 {
				u.Balances[route.UsageKey(holder, p.ID)] = a.BalanceFen
			}
		}
	}
	return u
}

// capped reports whether a product has a balance cap (itself or a tier's).
func capped(p *ecosystem.Product) bool {
	if p.BalanceCapFen > 0 {
		return true
	}
	for _, t := range p.Tiers {
		if t.BalanceCapFen > 0 {
			return true
		}
	}
	return false
}
