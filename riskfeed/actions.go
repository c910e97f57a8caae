package riskfeed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/money"
	"github.com/paybridge/paybridge/risk"
)

// ActionRecordKind is the ledger record kind of the risk actions committed
// on the ledger (freeze, cut_credit_limit): the action's own event, in the
// same commit as the account updates it makes.
const ActionRecordKind = "risk.action"

// ActionRecord is the event committed with a risk action's account updates.
type ActionRecord struct {
	Action   string             `json:"action"`
	Percent  int                `json:"percent,omitempty"` // cut_credit_limit
	Holder   string             `json:"holder"`
	EventID  string             `json:"event_id"`
	Rules    []string           `json:"rules"`
	Accounts []ledger.AccountID `json:"accounts"`
	// Limits are the credit lines cut (cut_credit_limit only).
	Limits []LimitCut `json:"limits,omitempty"`
}

// LimitCut is one credit line's limit before and after a cut, in fen.
// TargetFen is (100-percent)% of BeforeFen; AfterFen is higher when more
// than the target is already drawn (a cut never makes a drawn line overdrawn).
type LimitCut struct {
	Account   ledger.AccountID `json:"account"`
	BeforeFen int64            `json:"before_fen"`
	TargetFen int64            `json:"target_fen"`
	AfterFen  int64            `json:"after_fen"`
}

// ErrNotApplicable wraps the error of an action that does not apply to its
// holder (no account on the ledger, no credit line to cut). A Feed records
// it in the Result and goes on; other errors stop the poll, to be retried.
var ErrNotApplicable = errors.New("action does not apply")

// LedgerActions applies the state-changing actions of risk decisions as
// ledger operations: freeze (Freezer) and cut_credit_limit
// (CreditLimitCutter). Other actions (downgrade_rating, report, and the
// verdicts) have no ledger state and return nil without effect; their
// owners (a credit bureau feed, a regulator report) read them from the
// decision and the case store.
type LedgerActions struct{ Ledger *ledger.Engine }

var _ risk.ActionApplier = LedgerActions{}

// Apply implements risk.ActionApplier.
func (la LedgerActions) Apply(ctx context.Context, holder string, a risk.Action, d risk.Decision) error {
	switch a.Kind {
	case risk.ActionFreeze:
		return Freezer(la).Apply(ctx, holder, a, d)
	case risk.ActionCutCreditLimit:
		return CreditLimitCutter(la).Apply(ctx, holder, a, d)
	}
	return nil
}

// Freezer applies the freeze action on the ledger: every account of the
// holder gets the frozen flag in one all-or-none commit with a risk.action
// record naming the rules that froze it. A frozen account refuses new
// debits, so the holder's next payment is rejected with nothing moved
// ("… is frozen"); money can still arrive. Other actions return nil
// without effect. Freezing an already frozen holder commits nothing, so
// applying the same action twice is a no-op.
type Freezer struct{ Ledger *ledger.Engine }

var _ risk.ActionApplier = Freezer{}

// Apply implements risk.ActionApplier.
func (fz Freezer) Apply(ctx context.Context, holder string, a risk.Action, d risk.Decision) error {
	if a.Kind != risk.ActionFreeze {
		return nil
	}
	var ups []ledger.AccountUpdate
	var ids []ledger.AccountID
	known := false
	for _, acc := range fz.Ledger.Accounts() {
		if acc.Holder != holder {
			continue
		}
		known = true
		if acc.Flags&ledger.AccountFrozen != 0 {
			continue
		}
		ups = append(ups, ledger.AccountUpdate{ID: acc.ID, Flags: acc.Flags | ledger.AccountFrozen})
		ids = append(ids, acc.ID)
	}
	if !known {
		return fmt.Errorf("riskfeed: freeze %q: the ledger has no account of that holder: %w", holder, ErrNotApplicable)
	}
	if len(ups) == 0 {
		return nil
	}
	rec := ActionRecord{Action: string(a.Kind), Holder: holder, EventID: d.EventID, Rules: ruleIDs(d), Accounts: ids}
	return commitAction(ctx, fz.Ledger, &ledger.Batch{Updates: ups}, rec, "freeze/"+d.EventID)
}

// CreditLimitCutter applies cut_credit_limit:P on the ledger. A credit
// line is a ledger account whose floor is −limit; cutting the limit by P%
// raises the floor to −(limit × (100−P)/100, rounded down), or to the
// drawn balance when more than that is already drawn (the ledger refuses a
// floor above the available balance, and a cut must not make the line
// overdrawn). Every credit line of the holder is cut in one all-or-none
// commit with a risk.action record (limits before, target, after) and a
// marker counter "risk.cut/EVENT/HOLDER" (at most 1), so applying the same
// decision to the same holder twice is a no-op while a later decision cuts
// again. A holder
// without a credit line is an error naming the holder and wrapping
// ErrNotApplicable.
type CreditLimitCutter struct{ Ledger *ledger.Engine }

var _ risk.ActionApplier = CreditLimitCutter{}

// Apply implements risk.ActionApplier.
func (c CreditLimitCutter) Apply(ctx context.Context, holder string, a risk.Action, d risk.Decision) error {
	if a.Kind != risk.ActionCutCreditLimit {
		return nil
	}
	if a.Percent < 1 || a.Percent > 100 {
		return fmt.Errorf("riskfeed: cut_credit_limit %q: percent %d out of 1..100: %w", holder, a.Percent, ErrNotApplicable)
	}
	// One marker per (decision, holder): a decision may cut several
	// holders' lines. Cuts made before markers named the holder used
	// "risk.cut/EVENT" for the payer, which still counts as done.
	marker := clip("risk.cut/" + d.EventID + "/" + holder)
	if c.Ledger.Counter(marker) > 0 || holder == d.Subject && c.Ledger.Counter(clip("risk.cut/"+d.EventID)) > 0 {
		return nil
	}
	rec := ActionRecord{Action: string(a.Kind), Percent: a.Percent, Holder: holder, EventID: d.EventID, Rules: ruleIDs(d)}
	var ups []ledger.AccountUpdate
	for _, acc := range c.Ledger.Accounts() {
		if acc.Holder != holder || acc.FloorFen >= 0 || acc.Flags&ledger.AccountNoFloor != 0 {
			continue
		}
		before := -acc.FloorFen
		target := money.MulRatioFloor(before, int64(100-a.Percent), 100)
		floor := -target
		if avail := acc.BalanceFen - acc.DebitsPendingFen; floor > avail {
			floor = avail
		}
		if floor == acc.FloorFen {
			continue // fully drawn already: nothing to cut
		}
		ups = append(ups, ledger.AccountUpdate{ID: acc.ID, Flags: acc.Flags, SetFloor: true, FloorFen: floor})
		rec.Accounts = append(rec.Accounts, acc.ID)
		rec.Limits = append(rec.Limits, LimitCut{Account: acc.ID, BeforeFen: before, TargetFen: target, AfterFen: -floor})
	}
	if len(rec.Limits) == 0 {
		if !c.hasCreditLine(holder) {
			return fmt.Errorf("riskfeed: cut_credit_limit %q: the holder has no credit line on the ledger: %w", holder, ErrNotApplicable)
		}
	}
	b := &ledger.Batch{Updates: ups, Counters: []ledger.CounterDelta{{Key: marker, Delta: 1, MaxValue: 1}}}
	return commitAction(ctx, c.Ledger, b, rec, "cut/"+d.EventID+"/"+holder)
}

func (c CreditLimitCutter) hasCreditLine(holder string) bool {
	for _, acc := range c.Ledger.Accounts() {
		if acc.Holder == holder && acc.FloorFen < 0 && acc.Flags&ledger.AccountNoFloor == 0 {
			return true
		}
	}
	return false
}

// commitAction commits b with rec as its risk.action record, all or none.
func commitAction(ctx context.Context, led *ledger.Engine, b *ledger.Batch, rec ActionRecord, key string) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	b.Records = []ledger.Record{{Kind: ActionRecordKind, Key: clip(key), Data: data}}
	b.AllOrNone = true
	res, err := led.Submit(ctx, b)
	if err != nil {
		return fmt.Errorf("riskfeed: %s %q: %w", rec.Action, rec.Holder, err)
	}
	if !res.OK() {
		if f := res.Failure; f != nil && f.Part == "counters" && f.Code == ledger.ResultCounterExceeded {
			return nil // the same decision was applied concurrently
		}
		return fmt.Errorf("riskfeed: %s %q refused by the ledger: %+v", rec.Action, rec.Holder, res.Failure)
	}
	return nil
}

func clip(key string) string {
	if len(key) > ledger.MaxKeyLen {
		return key[:ledger.MaxKeyLen]
	}
	return key
}

func ruleIDs(d risk.Decision) []string {
	var s []string
	for _, m := range d.Matches {
		s = append(s, m.RuleID)
	}
	return s
}
