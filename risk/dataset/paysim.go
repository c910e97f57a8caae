package dataset

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/paybridge/paybridge/risk"
)

// PaySimCurrency is the currency code given to PaySim amounts (the simulator names none).
const PaySimCurrency = "XXX"

// maxStep bounds step counters (PaySim hours, AMLSim days): about 100 years of hours.
const maxStep = 1_000_000

var paysimKinds = map[string]risk.Kind{
	"PAYMENT": risk.KindPay, "TRANSFER": risk.KindTransfer, "CASH_OUT": risk.KindCashOut,
	"CASH_IN": risk.KindTopUp, "DEBIT": risk.KindWithdraw,
}

// LoadPaySim reads a PaySim CSV (step,type,amount,nameOrig,…,nameDest,…,isFraud).
// Step s becomes Epoch + s hours; amounts must have at most two decimals.
func LoadPaySim(r io.Reader) (*Set, error) {
	const f = "paysim"
	t, err := newCSV(f, r, "step", "type", "amount", "nameOrig", "nameDest", "isFraud")
	if err != nil {
		return nil, err
	}
	var events []risk.Event
	for {
		rec, err := t.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		v, err := t.getAll(rec, "step", "type", "amount", "nameOrig", "nameDest", "isFraud")
		if err != nil {
			return nil, err
		}
		step, err := strconv.Atoi(v[0])
		if err != nil || step < 0 || step > maxStep {
			return nil, lineErr(f, t.line, "step", fmt.Sprintf("%q is not an hour count 0..%d", v[0], maxStep))
		}
		kind, ok := paysimKinds[v[1]]
		if !ok {
			return nil, lineErr(f, t.line, "type", fmt.Sprintf("%q is not PAYMENT, TRANSFER, CASH_OUT, CASH_IN or DEBIT", v[1]))
		}
		amount, err := ParseMinor(v[2], 2, false)
		if err != nil {
			return nil, lineErr(f, t.line, "amount", err.Error())
		}
		fraud, ok := parseFlag(v[5])
		if !ok {
			return nil, lineErr(f, t.line, "isFraud", fmt.Sprintf("%q is not 0 or 1", v[5]))
		}
		e := risk.Event{Time: Epoch.Add(time.Duration(step) * time.Hour), ID: fmt.Sprintf("paysim-%d", t.line),
			FromAccount: v[3], ToAccount: v[4], AmountMinor: amount, Currency: PaySimCurrency, Kind: kind,
			Labels: &risk.Labels{Fraud: fraud}}
		if fraud {
			e.Labels.Pattern = risk.FamilyMuleChain
		}
		if err := validate(f, t.line, &e); err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return finish(f, events), nil
}
