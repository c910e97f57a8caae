package risk

import "time"

// Feature windows.
const (
	ShortWindow = time.Hour
	DayWindow   = 24 * time.Hour
	// RoundUnitMajor: an amount is "round" when it is a whole multiple of this
	// many major units (100 yuan) and at least one such unit.
	RoundUnitMajor = 100
)

// Features are the values rules see for one event: sliding-window features
// of the sending and receiving holders and the outputs of the detectors.
// Sums are in minor units of the event's currency and count only edges in
// that currency. Every field is a CEL variable of the same name (snake_case).
type Features struct {
	Amount         int64   `json:"amount"`           // minor units
	Kind           string  `json:"kind"`             // event kind
	CreditShare    float64 `json:"credit_share"`     // sender's credit-derived share of outflow over DayWindow, 0..1
	RoundAmount    bool    `json:"round_amount"`     // amount is a whole multiple of RoundUnitMajor
	Velocity1h     int64   `json:"velocity_1h"`      // sender's payments in the last hour, this one included
	OutCount24h    int64   `json:"out_count_24h"`    // sender's payments over DayWindow, this one included
	OutSum24h      int64   `json:"out_sum_24h"`      // their sum
	InCount24h     int64   `json:"in_count_24h"`     // sender's receipts over DayWindow
	InSum24h       int64   `json:"in_sum_24h"`       // their sum
	ToInCount24h   int64   `json:"to_in_count_24h"`  // receiver's receipts over DayWindow, this one included
	NewCounterpart bool    `json:"new_counterparty"` // sender has not paid this receiver within PatternWindow
	NewCounterpts  int64   `json:"new_counterparties_24h"`
	PairCount      int64   `json:"pair_count"`   // sender → receiver payments over PatternWindow, this one included
	OnwardSeconds  float64 `json:"onward_s"`     // seconds since the sender last received money (-1: none in window)
	InOutRatio     float64 `json:"in_out_ratio"` // sender's outflow / inflow over PatternWindow (-1: no inflow)

	OutCountWindow   int64   `json:"out_count_w"`        // sender's payments over PatternWindow (day buckets, uncapped), this one included
	ToInCountWindow  int64   `json:"to_in_count_w"`      // receiver's receipts over PatternWindow (day buckets, uncapped), this one included
	FanOut           int64   `json:"fan_out"`            // sender's distinct payees over PatternWindow
	FanIn            int64   `json:"fan_in"`             // receiver's distinct payers over PatternWindow
	CycleLen         int64   `json:"cycle_len"`          // hops of a cycle this payment closes (0: none)
	CycleReturnRatio float64 `json:"cycle_return_ratio"` // amount coming back / amount sent out (-1: unknown)
	GSIn             int64   `json:"gs_in"`              // sender as intermediary: distinct payers into it
	GSOut            int64   `json:"gs_out"`             // and distinct payees out of it
	GSPayoutRatio    float64 `json:"gs_payout_ratio"`    // its payout / intake over PatternWindow (-1: unknown)
	SGPaths          int64   `json:"sg_paths"`           // scatter-gather: distinct intermediaries from one source to the receiver
	RingLink         bool    `json:"ring_link"`          // both holders were in a held/refused pattern within PatternWindow
	FromWatched      bool    `json:"from_watched"`       // the sender was in a held/refused pattern within PatternWindow
	ToWatched        bool    `json:"to_watched"`         // the receiver was
	MuleDiffBps      int64   `json:"mule_diff_bps"`      // amount difference to the linked transfer/cash-out (-1: none)
	MuleGapSeconds   float64 `json:"mule_gap_s"`         // time between them
	MuleSameAccount  bool    `json:"mule_same_account"`  // the cash-out left the account the transfer reached
}

// featureVar describes one CEL variable backed by a Features field.
type featureVar struct {
	name string
	kind byte // 'i' int, 'f' double, 'b' bool, 's' string
	get  func(*Features) any
}

// featureVars lists every variable rules may use, in a stable order.
var featureVars = []featureVar{
	{"amount", 'i', func(f *Features) any { return f.Amount }},
	{"kind", 's', func(f *Features) any { return f.Kind }},
	{"credit_share", 'f', func(f *Features) any { return f.CreditShare }},
	{"round_amount", 'b', func(f *Features) any { return f.RoundAmount }},
	{"velocity_1h", 'i', func(f *Features) any { return f.Velocity1h }},
	{"out_count_24h", 'i', func(f *Features) any { return f.OutCount24h }},
	{"out_sum_24h", 'i', func(f *Features) any { return f.OutSum24h }},
	{"in_count_24h", 'i', func(f *Features) any { return f.InCount24h }},
	{"in_sum_24h", 'i', func(f *Features) any { return f.InSum24h }},
	{"to_in_count_24h", 'i', func(f *Features) any { return f.ToInCount24h }},
	{"new_counterparty", 'b', func(f *Features) any { return f.NewCounterpart }},
	{"new_counterparties_24h", 'i', func(f *Features) any { return f.NewCounterpts }},
	{"pair_count", 'i', func(f *Features) any { return f.PairCount }},
	{"onward_s", 'f', func(f *Features) any { return f.OnwardSeconds }},
	{"in_out_ratio", 'f', func(f *Features) any { return f.InOutRatio }},
	{"out_count_w", 'i', func(f *Features) any { return f.OutCountWindow }},
	{"to_in_count_w", 'i', func(f *Features) any { return f.ToInCountWindow }},
	{"fan_out", 'i', func(f *Features) any { return f.FanOut }},
	{"fan_in", 'i', func(f *Features) any { return f.FanIn }},
	{"cycle_len", 'i', func(f *Features) any { return f.CycleLen }},
	{"cycle_return_ratio", 'f', func(f *Features) any { return f.CycleReturnRatio }},
	{"gs_in", 'i', func(f *Features) any { return f.GSIn }},
	{"gs_out", 'i', func(f *Features) any { return f.GSOut }},
	{"gs_payout_ratio", 'f', func(f *Features) any { return f.GSPayoutRatio }},
	{"sg_paths", 'i', func(f *Features) any { return f.SGPaths }},
	{"ring_link", 'b', func(f *Features) any { return f.RingLink }},
	{"from_watched", 'b', func(f *Features) any { return f.FromWatched }},
	{"to_watched", 'b', func(f *Features) any { return f.ToWatched }},
	{"mule_diff_bps", 'i', func(f *Features) any { return f.MuleDiffBps }},
	{"mule_gap_s", 'f', func(f *Features) any { return f.MuleGapSeconds }},
	{"mule_same_account", 'b', func(f *Features) any { return f.MuleSameAccount }},
}

// roundUnitMinor is RoundUnitMajor in minor units, assuming two decimals
// (the currencies paybridge moves); other scales are documented as a limit.
const roundUnitMinor = RoundUnitMajor * 100

// computeFeatures fills the sliding-window features of e for sender u and receiver v (either may be nil).
func computeFeatures(f *Features, peers []uint32, e *Event, now int64, u, v *node, vID uint32, uID uint32, hasU, hasV bool) []uint32 {
	f.Amount = e.AmountMinor
	f.Kind = string(e.Kind)
	f.RoundAmount = e.AmountMinor >= roundUnitMinor && e.AmountMinor%roundUnitMinor == 0
	f.OnwardSeconds, f.InOutRatio = -1, -1
	hour, day := now-int64(ShortWindow/time.Second), now-int64(DayWindow/time.Second)
	win := now - int64(PatternWindow/time.Second)
	f.Velocity1h, f.OutCount24h, f.OutSum24h = 1, 1, e.AmountMinor
	creditSum := e.AmountMinor / MaxCreditShareBps * e.CreditShareBps
	creditSum += e.AmountMinor % MaxCreditShareBps * e.CreditShareBps / MaxCreditShareBps
	f.NewCounterpart, f.PairCount = true, 1
	var outWin, inWin int64
	outWin = e.AmountMinor
	if hasU {
		newPeers := peers[:0]
		for i := range u.out {
			ed := &u.out[i]
			if ed.t < win {
				continue
			}
			if hasV && ed.peer == vID && ed.peerGen == v.gen {
				f.NewCounterpart = false
				f.PairCount++
			}
			if ed.cur == e.Currency {
				outWin += ed.amount
			}
			if ed.t < day {
				continue
			}
			f.OutCount24h++
			if !containsID(newPeers, ed.peer) {
				newPeers = append(newPeers, ed.peer)
			}
			if ed.cur == e.Currency {
				f.OutSum24h += ed.amount
				creditSum += ed.amount / MaxCreditShareBps * int64(ed.creditBp)
			}
			if ed.t >= hour {
				f.Velocity1h++
			}
		}
		f.NewCounterpts = int64(len(newPeers))
		peers = newPeers
		lastIn := int64(-1)
		for i := range u.in {
			ed := &u.in[i]
			if ed.t < win {
				continue
			}
			lastIn = max(lastIn, ed.t)
			if ed.cur == e.Currency {
				inWin += ed.amount
			}
			if ed.t >= day {
				f.InCount24h++
				if ed.cur == e.Currency {
					f.InSum24h += ed.amount
				}
			}
		}
		if lastIn >= 0 {
			f.OnwardSeconds = float64(now - lastIn)
		}
	}
	if f.NewCounterpart {
		f.NewCounterpts++
	}
	if f.OutSum24h > 0 {
		f.CreditShare = float64(creditSum) / float64(f.OutSum24h)
	}
	if inWin > 0 {
		f.InOutRatio = float64(outWin) / float64(inWin)
	}
	f.ToInCount24h, f.OutCountWindow, f.ToInCountWindow = 1, 1, 1
	if hasU {
		f.OutCountWindow += u.outDays.total(now)
	}
	if hasV {
		f.ToInCountWindow += v.inDays.total(now)
		for i := range v.in {
			if v.in[i].t >= day {
				f.ToInCount24h++
			}
		}
	}
	f.FromWatched = hasU && u.watchUntil >= now
	f.ToWatched = hasV && v.watchUntil >= now
	f.RingLink = f.FromWatched && f.ToWatched && uID != vID
	return peers
}

func containsID(s []uint32, x uint32) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}
