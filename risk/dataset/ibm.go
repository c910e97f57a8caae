package dataset

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/paybridge/paybridge/risk"
)

// ibmTimeLayout is the IBM AML timestamp format ("2022/09/01 00:20", UTC assumed).
const ibmTimeLayout = "2006/01/02 15:04"

// ibmScale is the number of decimals of a currency in the IBM data (Bitcoin to the satoshi).
func ibmScale(currency string) int {
	if currency == "Bitcoin" {
		return 8
	}
	return 2
}

var ibmKinds = map[string]risk.Kind{
	"ACH": risk.KindTransfer, "Wire": risk.KindTransfer, "Bitcoin": risk.KindTransfer,
	"Cheque": risk.KindPay, "Credit Card": risk.KindPay, "Cash": risk.KindCashOut, "Reinvestment": risk.KindInternal,
}

// IBMAccount is the account id of a (bank, account) pair: the bank code
// without leading zeros, a slash, the account ("10/8000EBD30").
func IBMAccount(bank, account string) string {
	b := strings.TrimLeft(bank, "0")
	if b == "" {
		b = "0"
	}
	return b + "/" + account
}

// IBMKey identifies an IBM transaction across the sample and the patterns file.
func IBMKey(timestamp, from, to string, amountMinor int64, currency string) string {
	return fmt.Sprintf("%s|%s|%s|%d|%s", timestamp, from, to, amountMinor, currency)
}

var ibmCols = []string{"Timestamp", "From Bank", "Account", "To Bank", "Account.1", "Amount Received", "Receiving Currency", "Amount Paid", "Payment Currency", "Payment Format", "Is Laundering"}

// LoadIBM reads an IBM AML transactions CSV (HI-Small and friends). The
// event ID is the IBMKey so the patterns file can be joined to it.
func LoadIBM(r io.Reader) (*Set, error) {
	const f = "ibm-aml"
	t, err := newCSV(f, r, ibmCols...)
	if err != nil {
		return nil, err
	}
	var events []risk.Event
	seen := map[string]int{}
	for {
		rec, err := t.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		v, err := t.getAll(rec, ibmCols...)
		if err != nil {
			return nil, err
		}
		e, err := ibmEvent(t.line, v)
		if err != nil {
			return nil, err
		}
		if n := seen[e.ID]; n > 0 {
			e.ID = fmt.Sprintf("%s#%d", e.ID, n)
		}
		seen[e.ID]++
		if err := validate(f, t.line, &e); err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return finish(f, events), nil
}

func ibmEvent(line int, v []string) (risk.Event, error) {
	const f = "ibm-aml"
	ts, err := time.Parse(ibmTimeLayout, v[0])
	if err != nil {
		return risk.Event{}, lineErr(f, line, "Timestamp", fmt.Sprintf("%q is not YYYY/MM/DD HH:MM", v[0]))
	}
	from, to := IBMAccount(v[1], v[2]), IBMAccount(v[3], v[4])
	received, err := ParseMinor(v[5], ibmScale(v[6]), false)
	if err != nil {
		return risk.Event{}, lineErr(f, line, "Amount Received", err.Error())
	}
	paid, err := ParseMinor(v[7], ibmScale(v[8]), false)
	if err != nil {
		return risk.Event{}, lineErr(f, line, "Amount Paid", err.Error())
	}
	kind, ok := ibmKinds[v[9]]
	if !ok {
		return risk.Event{}, lineErr(f, line, "Payment Format", fmt.Sprintf("%q is not one of ACH, Wire, Bitcoin, Cheque, Credit Card, Cash, Reinvestment", v[9]))
	}
	fraud, ok := parseFlag(v[10])
	if !ok {
		return risk.Event{}, lineErr(f, line, "Is Laundering", fmt.Sprintf("%q is not 0 or 1", v[10]))
	}
	e := risk.Event{Time: ts, ID: IBMKey(v[0], from, to, paid, v[8]), FromAccount: from, ToAccount: to,
		AmountMinor: paid, Currency: v[8], Kind: kind, Labels: &risk.Labels{Fraud: fraud}}
	if v[6] != v[8] || received != paid {
		e.ReceivedMinor, e.ReceivedCurrency = received, v[6]
	}
	if v[9] == "Credit Card" {
		e.CreditShareBps = risk.MaxCreditShareBps
	}
	return e, nil
}

// IBMPatternTx is one row of the IBM patterns answer key.
type IBMPatternTx struct {
	PatternID string
	Family    string // CYCLE, FAN-IN, FAN-OUT, GATHER-SCATTER, SCATTER-GATHER, STACK, BIPARTITE, RANDOM
	Key       string // IBMKey of the transaction
}

// LoadIBMPatterns reads the flattened IBM patterns file
// (pattern_id,pattern_family,…,timestamp,from_bank,from_account,to_bank,to_account,…,amount_paid,payment_currency,…).
func LoadIBMPatterns(r io.Reader) ([]IBMPatternTx, error) {
	const f = "ibm-aml patterns"
	cols := []string{"pattern_id", "pattern_family", "timestamp", "from_bank", "from_account", "to_bank", "to_account", "amount_paid", "payment_currency"}
	t, err := newCSV(f, r, cols...)
	if err != nil {
		return nil, err
	}
	var out []IBMPatternTx
	for {
		rec, err := t.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		v, err := t.getAll(rec, cols...)
		if err != nil {
			return nil, err
		}
		if v[0] == "" || v[1] == "" {
			return nil, lineErr(f, t.line, "pattern_id", "pattern_id and pattern_family must not be empty")
		}
		if _, err := time.Parse(ibmTimeLayout, v[2]); err != nil {
			return nil, lineErr(f, t.line, "timestamp", fmt.Sprintf("%q is not YYYY/MM/DD HH:MM", v[2]))
		}
		paid, err := ParseMinor(v[7], ibmScale(v[8]), false)
		if err != nil {
			return nil, lineErr(f, t.line, "amount_paid", err.Error())
		}
		out = append(out, IBMPatternTx{PatternID: v[0], Family: strings.ToUpper(v[1]),
			Key: IBMKey(v[2], IBMAccount(v[3], v[4]), IBMAccount(v[5], v[6]), paid, v[8])})
	}
}
