package payment

import "fmt"

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
func paymentID(num uint64) string { return fmt.Sprintf("p%06d", num) }

// parseID returns the number behind a payment id.
func parseID(id string) (uint64, bool) {
	var n uint64
	if _, err := fmt.Sscanf(id, "p%d", &n); err != nil || n == 0 || paymentID(n) != id {
		return 0, false
	}
	return n, true
}

// transferID is the id of a payment's n-th transfer: high bit 62 set (the
// payment space), the payment number, then the index.
func transferID(num, n uint64) uint64 { return 1<<62 | num<<16 | n }
