package ecosystem

// TierFor returns the class of a tiered product that a holder's identity
// level gives (the highest whose minimum level the holder meets), or nil when
// the product has no tiers or the holder qualifies for none. The planner and
// payments both apply it, so a plan and its execution see the same limits.
func (p *Product) TierFor(h *Holder) *Tier {
	var best *Tier
	for i := range p.Tiers {
		t := &p.Tiers[i]
		if t.MinKYCLevel <= h.KYCLevel && (best == nil || t.MinKYCLevel > best.MinKYCLevel) {
			best = t
		}
	}
	return best
}
