package ledger

import (
	"reflect"
	"testing"
)

// FuzzMachine decodes arbitrary bytes into a sequence of batches (the
// engine's outside input) and applies them to the state machine and to the
// reference model: no panic, identical results, invariants after each batch.
func FuzzMachine(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte("\x01\x02\x03\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xb0\xc0\xd0\xe0\xf0"))
	f.Add([]byte("two-phase expiry linked allornone retry freeze"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := byteReader{data: data}
		m, mod := newMachine(), newModel()
		now := int64(1_800_000_000e9)
		setup := &Batch{Accounts: []Account{
			{ID: 1, Currency: "CNY", Flags: AccountNoFloor}, {ID: 2, Currency: "CNY"},
			{ID: 3, Currency: "CNY", FloorFen: -1000}, {ID: 4, Currency: "USD"},
		}, Transfers: []Transfer{{ID: 100, DebitAccount: 1, CreditAccount: 2, AmountFen: 5000, Currency: "CNY"}}}
		m.apply(setup, now)
		mod.apply(setup, now)
		for batches := 0; !r.done() && batches < 64; batches++ {
			now += int64(r.next()%8) * 1e9
			b := &Batch{AllOrNone: r.next()%5 == 0}
			for n := r.next() % 5; n > 0 && !r.done(); n-- {
				b.Transfers = append(b.Transfers, fuzzTransfer(&r))
			}
			if r.next()%4 == 0 {
				b.Updates = append(b.Updates, AccountUpdate{ID: AccountID(r.next() % 5), Flags: AccountFlags(r.next() % 16),
					SetFloor: r.next()%2 == 0, FloorFen: -int64(r.next()) * 10})
			}
			if r.next()%4 == 0 {
				b.Counters = append(b.Counters, CounterDelta{Key: "c", Delta: int64(int8(r.next())) * 10, MaxValue: 500})
			}
			got, want := m.apply(b, now), mod.apply(b, now)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("batch %+v\nmachine: %+v\nmodel:   %+v", b, got, want)
			}
			if rec := m.finishGroup(now); rec != nil {
				m.recycle(rec)
			}
			if v := CheckAccounts(m.accs); len(v) > 0 {
				t.Fatalf("invariants: %v", v)
			}
		}
	})
}

func fuzzTransfer(r *byteReader) Transfer {
	t := Transfer{ID: TransferID(r.next() % 24), Code: uint16(r.next() % 3)}
	if k := r.next() % 6; k < 3 {
		t.Key = string(rune('a' + k))
	}
	flags := r.next()
	if flags&1 != 0 {
		t.Flags |= TransferLinked
	}
	switch (flags >> 1) % 6 {
	case 0, 1, 2:
		t.DebitAccount, t.CreditAccount = AccountID(r.next()%5), AccountID(r.next()%5)
		t.AmountFen = int64(r.next())*20 - 10
		t.Currency = []string{"CNY", "CNY", "USD", "x"}[r.next()%4]
		if flags&16 != 0 {
			t.Flags |= TransferPending
			t.TimeoutSeconds = int64(r.next() % 20)
		}
	case 3, 4:
		t.Flags |= TransferPostPending
		t.PendingID = TransferID(r.next() % 24)
		t.AmountFen = int64(r.next())*20 - 10
	case 5:
		t.Flags |= TransferVoidPending
		t.PendingID = TransferID(r.next() % 24)
	}
	return t
}

type byteReader struct {
	data []byte
	i    int
}

func (r *byteReader) done() bool { return r.i >= len(r.data) }

func (r *byteReader) next() byte {
	if r.done() {
		return 0
	}
	b := r.data[r.i]
	r.i++
	return b
}
