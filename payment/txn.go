package payment

import (
	"context"
	"fmt"

	"github.com/paybridge/paybridge/ledger"
)

// txn collects one all-or-none ledger commit of a payment: its transfers,
// counters and the events that describe them.
type txn struct {
	p      *Payment
	cur    string // currency of new transfers
	next   uint64
	b      ledger.Batch
	events []Event
}

func (x *Executor) newTxn(p *Payment) *txn {
	// Room for one hop's posts or holds (four to six rows) and two events,
	// what most commits carry, so that they do not grow their slices.
	return &txn{p: p, cur: x.ecosystem().Currency, next: p.nextTransfer, events: make([]Event, 0, 2),
		b: ledger.Batch{AllOrNone: true, Transfers: make([]ledger.Transfer, 0, 6)}}
}

// transfer adds tr with the payment's next transfer id and the ledger's
// currency (for new transfers) and returns the id.
func (t *txn) transfer(tr ledger.Transfer) ledger.TransferID {
	tr.ID = ledger.TransferID(transferID(t.p.Spec.Num, t.next))
	t.next++
	if tr.Flags&(ledger.TransferPostPending|ledger.TransferVoidPending) == 0 {
		tr.Currency = t.cur
	}
	t.b.Transfers = append(t.b.Transfers, tr)
	return tr.ID
}

func (t *txn) event(ev Event) {
	ev.Payment = t.p.ID
	if ev.TransferIDs == nil {
		ev.TransferIDs = []ledger.TransferID{}
	}
	t.events = append(t.events, ev)
}

// commit submits t. On success it folds t's events into the payment and
// returns "". When the ledger refuses the batch it returns why, in words,
// and changes nothing. err is for the ledger itself failing.
func (x *Executor) commit(ctx context.Context, t *txn) (reason string, err error) {
	if t.next >= MaxTransfersPerPayment {
		return "", fmt.Errorf("payment %s: more than %d transfers", t.p.ID, MaxTransfersPerPayment)
	}
	// All events are encoded into one buffer; each record holds its part.
	// Room for every event at once (a created event carries the route).
	size := 0
	for i := range t.events {
		size += 384
		if sp := t.events[i].Spec; sp != nil {
			size += 512 + len(sp.routeJSON)
		}
	}
	buf := make([]byte, 0, size)
	ends := make([]int, len(t.events))
	for i := range t.events {
		var err error
		if buf, err = appendEvent(buf, &t.events[i]); err != nil {
			return "", fmt.Errorf("payment %s: encode event: %w", t.p.ID, err)
		}
		ends[i] = len(buf)
	}
	t.b.Records = make([]ledger.Record, 0, len(t.events)+1)
	start := 0
	for i, end := range ends {
		t.b.Records = append(t.b.Records, ledger.Record{Kind: RecordKind, Key: t.p.ID, Data: buf[start:end:end]})
		start = end
		if ev := &t.events[i]; ev.Type == EventCreated && ev.Spec != nil && ev.Spec.Key != "" {
			t.b.Records = append(t.b.Records, keyRecord(ev.Spec.Key, t.p.ID))
		}
	}
	res, err := x.led.Submit(ctx, &t.b)
	if err != nil {
		return "", fmt.Errorf("payment %s: %w", t.p.ID, err)
	}
	if f := res.Failure; f != nil {
		return x.describe(&t.b, f), nil
	}
	old := t.p.State
	for _, ev := range t.events {
		t.p.apply(ev)
	}
	x.mu.Lock()
	for _, ev := range t.events {
		if ev.At.After(x.lastAt) {
			x.lastAt = ev.At
		}
	}
	x.counted(t.p.ID, t.p.Spec.Key, old, t.p.State)
	x.mu.Unlock()
	return "", nil
}

// describe turns a refused batch's failing item into words.
func (x *Executor) describe(b *ledger.Batch, f *ledger.Failure) string {
	switch {
	case f.Part == "transfers" && f.Index < len(b.Transfers):
		tr := b.Transfers[f.Index]
		acc := tr.DebitAccount
		if f.Code == ledger.ResultCreditAccountClosed || f.Code == ledger.ResultCreditAccountNotFound {
			acc = tr.CreditAccount
		}
		name := fmt.Sprint(acc)
		if a, ok := x.led.Account(acc); ok {
			name = a.Product + " of " + a.Holder
		}
		switch f.Code {
		case ledger.ResultExceedsFloor:
			return "insufficient funds in " + name + " (" + f.Code.String() + ")"
		case ledger.ResultDebitAccountFrozen:
			return name + " is frozen (" + f.Code.String() + ")"
		}
		return f.Code.String() + " on " + name
	case f.Part == "counters" && f.Index < len(b.Counters):
		c := b.Counters[f.Index]
		return fmt.Sprintf("limit reached: %s would pass %d (%s)", c.Key, c.MaxValue, f.Code)
	}
	return fmt.Sprintf("%s[%d]: %s", f.Part, f.Index, f.Code)
}
