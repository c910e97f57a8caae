package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/paybridge/paybridge/ledger"
)

// Outbox reads the payment events committed to the ledger, in commit
// order, for subscribers (the risk engine, API streams). Delivery is at
// least once: a subscriber reads after its cursor, handles the events, then
// acknowledges the last Seq it handled; after a crash it reads again from
// the acknowledged cursor and may see events it had handled but not acked.
type Outbox struct{ led *ledger.Engine }

// NewOutbox returns the outbox of a ledger.
func NewOutbox(led *ledger.Engine) *Outbox { return &Outbox{led: led} }

// Read returns up to limit (1…ledger.MaxHistoryPage) events with Seq >
// after. Errors: the ledger's.
func (o *Outbox) Read(ctx context.Context, after uint64, limit int) ([]Event, error) {
	recs, err := o.led.Records(ctx, RecordKind, after, limit)
	if err != nil {
		return nil, fmt.Errorf("payment outbox: %w", err)
	}
	out := make([]Event, len(recs))
	for i, r := range recs {
		if err := json.Unmarshal(r.Data, &out[i]); err != nil {
			return nil, fmt.Errorf("payment outbox: record %d: %w", r.Seq, err)
		}
		out[i].Seq = r.Seq
	}
	return out, nil
}

// End returns the seq of the last payment event committed since the ledger
// was opened (0 if none yet): every event up to it is durable, and reading
// after it returns only events committed later.
func (o *Outbox) End() uint64 { return o.led.LastRecordSeq(RecordKind) }

// cursorKey is the ledger counter that holds a subscriber's cursor.
func cursorKey(subscriber string) string { return "outbox/" + subscriber }

// Cursor returns the last Seq subscriber acknowledged (0 if none).
func (o *Outbox) Cursor(subscriber string) uint64 {
	return uint64(o.led.Counter(cursorKey(subscriber)))
}

// Ack durably moves subscriber's cursor forward to seq (a ledger counter,
// committed like money). An older seq leaves it where it is. Errors: the
// subscriber name is empty or too long, the ledger's.
func (o *Outbox) Ack(ctx context.Context, subscriber string, seq uint64) error {
	if subscriber == "" || len(cursorKey(subscriber)) > ledger.MaxKeyLen || seq > math.MaxInt64 {
		return errors.New("payment outbox: subscriber name empty or too long, or seq out of range")
	}
	cur := o.Cursor(subscriber)
	if seq <= cur {
		return nil
	}
	res, err := o.led.Submit(ctx, &ledger.Batch{Counters: []ledger.CounterDelta{{Key: cursorKey(subscriber), Delta: int64(seq - cur), MaxValue: math.MaxInt64}}})
	if err != nil {
		return fmt.Errorf("payment outbox: ack: %w", err)
	}
	if !res.OK() {
		return fmt.Errorf("payment outbox: ack refused: %s", res.Counters[0].Code)
	}
	return nil
}
