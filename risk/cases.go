package risk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"
)

// CaseState is where a case is in review: open → reviewing → confirmed | dismissed.
type CaseState string

// Case states.
const (
	CaseOpen      CaseState = "open"
	CaseReviewing CaseState = "reviewing"
	CaseConfirmed CaseState = "confirmed"
	CaseDismissed CaseState = "dismissed"
)

// Errors returned by CaseStore implementations.
var (
	ErrCaseNotFound   = errors.New("case not found")
	ErrBadTransition  = errors.New("case state change not allowed (open → reviewing → confirmed | dismissed)")
	ErrReasonRequired = errors.New("reason is required")
)

// CanMove reports whether a case may go from one state to another.
func CanMove(from, to CaseState) bool {
	switch from {
	case CaseOpen:
		return to == CaseReviewing || to == CaseConfirmed || to == CaseDismissed
	case CaseReviewing:
		return to == CaseConfirmed || to == CaseDismissed
	}
	return false
}

// Alert is one alerting rule match, as stored in a case.
type Alert struct {
	EventID string          `json:"event_id"`
	Time    time.Time       `json:"time"`
	Holder  string          `json:"holder"`
	Family  string          `json:"family"` // pattern family, or the rule id for rules without a pattern
	RuleID  string          `json:"rule"`
	Score   int             `json:"score"`
	Detail  json.RawMessage `json:"detail"` // the Match (values, pattern and members) as JSON
}

// Case groups the alerts of one holder and pattern family while it is open or in review.
type Case struct {
	ID       int64     `json:"id"`
	Holder   string    `json:"holder"`
	Family   string    `json:"family"`
	State    CaseState `json:"state"`
	Opened   time.Time `json:"opened"`
	Updated  time.Time `json:"updated"`
	Alerts   int       `json:"alerts"`
	MaxScore int       `json:"max_score"`
	Reason   string    `json:"reason,omitempty"`
}

// CaseStore persists cases. Implementations: SQLiteStore (casestore_sqlite.go).
type CaseStore interface {
	// AddAlert files a into the open or reviewing case of (a.Holder, a.Family),
	// opening one if there is none, and returns the case id.
	AddAlert(ctx context.Context, a Alert) (int64, error)
	// Cases lists cases, newest first; state "" lists all.
	Cases(ctx context.Context, state CaseState) ([]Case, error)
	// Case returns a case and its alerts, or ErrCaseNotFound.
	Case(ctx context.Context, id int64) (Case, []Alert, error)
	// Resolve moves a case to state with a reason at time at. It returns
	// ErrCaseNotFound, ErrBadTransition or ErrReasonRequired.
	Resolve(ctx context.Context, id int64, state CaseState, reason string, at time.Time) error
	// Close releases the store.
	Close() error
}

// Alerts turns an alerting decision into one Alert per matched rule that asks
// for more than allow, filed against the holder the match targets (Match.Target).
func Alerts(d Decision) []Alert {
	var out []Alert
	for i := range d.Matches {
		m := &d.Matches[i]
		if len(m.Actions) == 1 && m.Actions[0].Kind == ActionAllow {
			continue
		}
		family := m.RuleID
		if m.Pattern != nil {
			family = m.Pattern.Family
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(m) // a Match holds only JSON-safe values
		detail := bytes.TrimSpace(buf.Bytes())
		out = append(out, Alert{EventID: d.EventID, Time: d.Time, Holder: d.TargetOf(m), Family: family, RuleID: m.RuleID, Score: m.Score, Detail: detail})
	}
	return out
}
