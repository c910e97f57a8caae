package payment

import "strconv"

// apply folds one committed event into the payment's state. It is the only
// place state changes, so a payment rebuilt from its stored events is the
// payment that wrote them.
func (p *Payment) apply(ev Event) {
	p.Events = append(p.Events, ev)
	for _, id := range ev.TransferIDs {
		if n := uint64(id) & (MaxTransfersPerPayment - 1); n+1 > p.nextTransfer {
			p.nextTransfer = n + 1
		}
	}
	switch ev.Type {
	case EventCreated:
		if ev.Spec != nil {
			p.Spec = *ev.Spec
		}
		p.State = StateRunning
	case EventHopStarted:
		h := hopRun{amountFen: ev.AmountFen, feeFen: ev.FeeFen, attempt: ev.Attempt,
			down: ev.Down, pending: ev.TransferIDs, counters: ev.Counters}
		if ev.Due != nil {
			h.due = *ev.Due
		}
		if ev.Hop-1 < len(p.hops) {
			p.hops[ev.Hop-1] = h // a resumed attempt replaces the failed one
		} else {
			p.hops = append(p.hops, h)
		}
		p.cur = ev.Hop
		p.State = StateRunning
	case EventHopPosted:
		if ev.Hop-1 < len(p.hops) {
			p.hops[ev.Hop-1].posted = true
		}
	case EventHopFailed:
		p.cur = ev.Hop
	case EventReversal:
		p.refundedFen += ev.AmountFen
		p.feeBackFen += ev.FeeFen
	case EventResumed:
		p.State = StateRunning
	case EventHeld:
		p.State, p.Reason, p.cur = StateHeld, ev.Reason, ev.Hop
	case EventCompleted:
		p.State, p.Reason = StateCompleted, ev.Reason
	case EventRefunded:
		p.State, p.Reason = StateRefunded, ev.Reason
	case EventStranded:
		p.State, p.Reason = StateStranded, ev.Reason
	case EventRejected:
		p.State, p.Reason = StateRejected, ev.Reason
	}
}

// paymentID formats a payment number as its id.
func paymentID(num uint64) string {
	var b [24]byte
	d := strconv.AppendUint(b[:0], num, 10)
	out := append(make([]byte, 0, 1+max(6, len(d))), 'p')
	for range 6 - len(d) {
		out = append(out, '0')
	}
	return string(append(out, d...))
}

// parseID returns the number behind a payment id.
func parseID(id string) (uint64, bool) {
	if len(id) < 7 || id[0] != 'p' || id[1] == '+' {
		return 0, false
	}
	n, err := strconv.ParseUint(id[1:], 10, 64)
	if err != nil || n == 0 || paymentID(n) != id {
		return 0, false
	}
	return n, true
}

// transferID is the id of a payment's n-th transfer: high bit 62 set (the
// payment space), the payment number, then the index.
func transferID(num, n uint64) uint64 { return 1<<62 | num<<16 | n }
