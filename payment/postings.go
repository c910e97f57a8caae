package payment

import (
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ledger"
)

// leg is one ledger transfer of a hop or a reversal, before ids and flags.
type leg struct {
	debit, credit ledger.AccountID
	amountFen     int64
	code          uint16
}

// houseOf returns the clearing layer a channel settles through: the first
// institution it names in Via, or Bilateral.
func houseOf(ch *ecosystem.Channel) string {
	if len(ch.Via) > 0 {
		return ch.Via[0]
	}
	return Bilateral
}

// move returns the legs that move amountFen from account src on srcInst's
// books to account dst on dstInst's books. Between institutions it adds the
// settlement that keeps both books balanced (dstInst's position at the
// clearing house goes down, srcInst's up) and the clearing house's mirror
// record (member srcInst owes, member dstInst is owed).
func move(srcInst string, src ledger.AccountID, dstInst string, dst ledger.AccountID, amountFen int64, house string, code uint16) []leg {
	if amountFen <= 0 {
		return nil
	}
	legs := []leg{{src, dst, amountFen, code}}
	if srcInst != dstInst {
		legs = append(legs,
			leg{ClearingAccount(dstInst, house), ClearingAccount(srcInst, house), amountFen, CodeSettlement},
			leg{MemberAccount(house, srcInst), MemberAccount(house, dstInst), amountFen, CodeClearing})
	}
	return legs
}

// hopEnds is where a hop's money comes from and goes to.
type hopEnds struct {
	ch               *ecosystem.Channel
	srcInst, dstInst string
	src, dst         ledger.AccountID
}

// endsOf resolves a route hop's accounts. ok is false if a product or
// channel is unknown to the ecosystem.
func endsOf(eco *ecosystem.Ecosystem, fromHolder, toHolder, channel string) (hopEnds, bool) {
	ch, ok := eco.Channel(channel)
	if !ok {
		return hopEnds{}, false
	}
	fp, ok1 := eco.Product(ch.From)
	tp, ok2 := eco.Product(ch.To)
	if !ok1 || !ok2 {
		return hopEnds{}, false
	}
	return hopEnds{ch: ch, srcInst: fp.Institution, dstInst: tp.Institution,
		src: HolderAccount(fromHolder, fp.ID), dst: HolderAccount(toHolder, tp.ID)}, true
}

// hopLegs returns a hop's legs: amountFen−feeFen to the destination account,
// feeFen to the operator's fee income.
func hopLegs(e hopEnds, amountFen, feeFen int64) []leg {
	house := houseOf(e.ch)
	legs := move(e.srcInst, e.src, e.dstInst, e.dst, amountFen-feeFen, house, CodePrincipal)
	return append(legs, move(e.srcInst, e.src, e.ch.Institution, FeeAccount(e.ch.Institution), feeFen, house, CodeFee)...)
}

// reversalLegs returns the legs that undo a posted hop: carryFen from the
// hop's destination back to its source, and refundFen of the fee from the
// operator's fee income back to the source.
func reversalLegs(e hopEnds, carryFen, refundFen int64) []leg {
	house := houseOf(e.ch)
	legs := move(e.dstInst, e.dst, e.srcInst, e.src, carryFen, house, CodeReversal)
	return append(legs, move(e.ch.Institution, FeeAccount(e.ch.Institution), e.srcInst, e.src, refundFen, house, CodeReversal)...)
}
