package dataset

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/paybridge/paybridge/risk"
)

// AMLSimStep is the length of one AMLSim time step (the simulator counts days).
const AMLSimStep = 24 * time.Hour

// LoadAMLSim reads an AMLSim folder holding transactions.csv
// (sourceNodeId,targetNodeId,value,time) and nodes.csv (ACCOUNT_ID,isFraud,init_balance).
func LoadAMLSim(dir string) (*Set, error) {
	tx, err := os.Open(filepath.Join(dir, "transactions.csv"))
	if err != nil {
		return nil, fmt.Errorf("amlsim: %w (the folder must hold transactions.csv and nodes.csv)", err)
	}
	defer tx.Close()
	nodes, err := os.Open(filepath.Join(dir, "nodes.csv"))
	if err != nil {
		return nil, fmt.Errorf("amlsim: %w (the folder must hold transactions.csv and nodes.csv)", err)
	}
	defer nodes.Close()
	return LoadAMLSimReaders(tx, nodes)
}

// LoadAMLSimReaders is LoadAMLSim over readers. A transaction is labelled
// positive by its own is_sar/isSAR/isFraud column when the file has one,
// else when both its accounts are isFraud; values are rounded half up
// to two decimals (exact decimal arithmetic); step s becomes Epoch + s days.
func LoadAMLSimReaders(transactions, nodes io.Reader) (*Set, error) {
	fraud, all, err := loadAMLSimNodes(nodes)
	if err != nil {
		return nil, err
	}
	const f = "amlsim transactions.csv"
	t, err := newCSV(f, transactions, "sourceNodeId", "targetNodeId", "value", "time")
	if err != nil {
		return nil, err
	}
	labelCol := ""
	for _, c := range []string{"is_sar", "isSAR", "IS_SAR", "isFraud", "is_fraud"} {
		if _, ok := t.cols[c]; ok {
			labelCol = c
			break
		}
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
		v, err := t.getAll(rec, "sourceNodeId", "targetNodeId", "value", "time")
		if err != nil {
			return nil, err
		}
		amount, err := ParseMinor(v[2], 2, true)
		if err != nil {
			return nil, lineErr(f, t.line, "value", err.Error())
		}
		step, err := strconv.ParseInt(strings.TrimSuffix(v[3], ".0"), 10, 64)
		if err != nil || step < 0 || step > maxStep {
			return nil, lineErr(f, t.line, "time", fmt.Sprintf("%q is not a step count 0..%d", v[3], maxStep))
		}
		e := risk.Event{Time: Epoch.Add(time.Duration(step) * AMLSimStep), ID: fmt.Sprintf("amlsim-%d", t.line),
			FromAccount: v[0], ToAccount: v[1], AmountMinor: amount, Currency: PaySimCurrency, Kind: risk.KindTransfer,
			Labels: &risk.Labels{Fraud: fraud[v[0]] && fraud[v[1]]}}
		if labelCol != "" { // a per-transaction label, when the file has one, beats the account rule
			raw, err := t.get(rec, labelCol)
			if err != nil {
				return nil, err
			}
			sar, ok := parseFlag(raw)
			if !ok {
				return nil, lineErr(f, t.line, labelCol, fmt.Sprintf("%q is not true/false or 0/1", raw))
			}
			e.Labels.Fraud = sar
		}
		if err := validate(f, t.line, &e); err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	s := finish("amlsim", events)
	s.PositiveAccounts = fraud
	for a := range all {
		s.Accounts[a] = true
	}
	return s, nil
}

func loadAMLSimNodes(r io.Reader) (fraud, all map[string]bool, err error) {
	const f = "amlsim nodes.csv"
	t, err := newCSV(f, r, "ACCOUNT_ID", "isFraud")
	if err != nil {
		return nil, nil, err
	}
	fraud, all = map[string]bool{}, map[string]bool{}
	for {
		rec, err := t.next()
		if err == io.EOF {
			return fraud, all, nil
		}
		if err != nil {
			return nil, nil, err
		}
		v, err := t.getAll(rec, "ACCOUNT_ID", "isFraud")
		if err != nil {
			return nil, nil, err
		}
		if v[0] == "" {
			return nil, nil, lineErr(f, t.line, "ACCOUNT_ID", "is empty")
		}
		isFraud, ok := parseFlag(v[1])
		if !ok {
			return nil, nil, lineErr(f, t.line, "isFraud", fmt.Sprintf("%q is not true/false or 0/1", v[1]))
		}
		all[v[0]] = true
		if isFraud {
			fraud[v[0]] = true
		}
	}
}
