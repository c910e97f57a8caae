package riskfeed

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/risk"
)

// ActionRecordKind is the ledger record kind of the risk actions a Freezer commits.
const ActionRecordKind = "risk.action"

// ActionRecord is the event a Freezer commits with the account updates.
type ActionRecord struct {
	Action   string             `json:"action"`
	Holder   string             `json:"holder"`
	EventID  string             `json:"event_id"`
	Rules    []string           `json:"rules"`
	Accounts []ledger.AccountID `json:"accounts"`
}

// Freezer applies the freeze action on the ledger: every account of the
// holder gets the frozen flag in one all-or-none commit with a risk.action
// record naming the rules that froze it. Other actions are left to their
// owners and return nil without effect. Freezing an already frozen holder
// commits nothing, so applying the same action twice is a no-op.
type Freezer struct{ Ledger *ledger.Engine }

var _ risk.ActionApplier = Freezer{}

// Apply implements risk.ActionApplier.
func (fz Freezer) Apply(ctx context.Context, holder string, a risk.Action, d risk.Decision) error {
	if a.Kind != risk.ActionFreeze {
		return nil
	}
	var ups []ledger.AccountUpdate
	var ids []ledger.AccountID
	for _, acc := range fz.Ledger.Accounts() {
		if acc.Holder != holder || acc.Flags&ledger.AccountFrozen != 0 {
			continue
		}
		ups = append(ups, ledger.AccountUpdate{ID: acc.ID, Flags: acc.Flags | ledger.AccountFrozen})
		ids = append(ids, acc.ID)
	}
	if len(ups) == 0 {
		return nil
	}
	rec := ActionRecord{Action: string(a.Kind), Holder: holder, EventID: d.EventID, Accounts: ids}
	for _, m := range d.Matches {
		rec.Rules = append(rec.Rules, m.RuleID)
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	key := "freeze/" + d.EventID
	if len(key) > ledger.MaxKeyLen {
		key = key[:ledger.MaxKeyLen]
	}
	res, err := fz.Ledger.Submit(ctx, &ledger.Batch{Updates: ups, Records: []ledger.Record{{Kind: ActionRecordKind, Key: key, Data: data}}, AllOrNone: true})
	if err != nil {
		return fmt.Errorf("riskfeed: freeze %s: %w", holder, err)
	}
	if !res.OK() {
		return fmt.Errorf("riskfeed: freeze %s refused by the ledger: %+v", holder, res.Failure)
	}
	return nil
}
