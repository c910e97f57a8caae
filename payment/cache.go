package payment

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"slices"

	"github.com/paybridge/paybridge/ledger"
)

// Memory: the executor keeps every payment that may still change (running,
// held, stranded) in memory, and of the finished ones (completed, refunded,
// rejected, which never change again) only the last Config.CacheSize; the
// others are read back from the ledger's records on demand (Get, Page). So
// its memory depends on the payments in flight, not on how many were ever
// made. Counts by state are kept as numbers.

// DefaultCacheSize is Config.CacheSize's default: how many finished
// payments stay in memory.
const DefaultCacheSize = 1024

// MaxPageScan bounds how many payments one Page call examines: a page
// whose filter matches few payments may come back short, with a cursor to
// go on from.
const MaxPageScan = 10_000

// pageWindow is how many payments Page reads from the ledger at once.
const pageWindow = ledger.MaxRecordKeys

// Final reports whether state is one a payment never leaves (completed,
// refunded, rejected). Stranded and held payments are not final: Resume
// and Refund act on them.
func Final(state string) bool {
	return state == StateCompleted || state == StateRefunded || state == StateRejected
}

// finished is a final payment kept in memory: its id and idempotency key.
type finished struct{ id, key string }

// counted updates the counts for a payment that went from state old to
// new ("" for a payment just created) and, once it is final, keeps it
// among the recent finished ones, dropping the oldest from memory. x.mu
// is held.
func (x *Executor) counted(id, key, old, new string) {
	if old == new {
		return
	}
	if old == "" {
		x.total++
	} else {
		x.byState[old]--
	}
	x.byState[new]++
	if Final(new) && !Final(old) {
		x.retire(finished{id, key})
	}
}

// retire adds a final payment to the ring of recent ones; the oldest one
// leaves memory. x.mu is held.
func (x *Executor) retire(f finished) {
	if x.cacheSize <= 0 {
		x.evict(f)
		return
	}
	if len(x.recent) < x.cacheSize {
		x.recent = append(x.recent, f)
		return
	}
	old := x.recent[x.recentHead]
	x.recent[x.recentHead] = f
	x.recentHead = (x.recentHead + 1) % len(x.recent)
	x.evict(old)
}

// evict drops a final payment from memory (its events are in the ledger).
// x.mu is held.
func (x *Executor) evict(f finished) {
	delete(x.entries, f.id)
	if f.key != "" && x.keys[f.key] == f.id {
		delete(x.keys, f.key)
	}
}

// Count returns how many payments the ledger holds.
func (x *Executor) Count() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.total
}

// CountByState returns how many payments are in each state (every state
// is present, 0 if none).
func (x *Executor) CountByState() map[string]int {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make(map[string]int, len(States))
	for _, s := range States {
		out[s] = x.byState[s]
	}
	return out
}

// States lists every payment state.
var States = []string{StateRunning, StateHeld, StateCompleted, StateRefunded, StateStranded, StateRejected}

// Live returns snapshots of the payments in state (running, held or
// stranded: those all stay in memory), in creation order.
func (x *Executor) Live(state string) []*Payment {
	x.mu.Lock()
	es := make([]*entry, 0, len(x.entries))
	for _, e := range x.entries {
		es = append(es, e)
	}
	x.mu.Unlock()
	var out []*Payment
	for _, e := range es {
		e.mu.Lock()
		if e.p.State == state && len(e.p.Events) > 0 {
			out = append(out, e.p.snapshot())
		}
		e.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b *Payment) int { return cmpNum(a.Spec.Num, b.Spec.Num) })
	return out
}

func cmpNum(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Filter selects payments for Page.
type Filter struct {
	// State keeps only payments in this state ("" keeps every state).
	State string
	// Keep, if set, keeps only the payments it returns true for.
	Keep func(*Payment) bool
}

// Page returns up to limit (≥ 1) payments that match f, in creation order,
// starting after cursor (a payment id; "" starts from the first), and the
// cursor of the next page: "" when no payment after the last one returned
// is left to examine. Finished payments no longer in memory are read from
// the ledger; nothing is materialised beyond the page. One call examines at
// most MaxPageScan payments, so a page may hold fewer than limit with a
// next cursor (follow it). Errors: *RequestError (field cursor) for a
// cursor that is not a payment id, the ledger's.
func (x *Executor) Page(ctx context.Context, cursor string, limit int, f Filter) ([]*Payment, string, error) {
	var after uint64
	if cursor != "" {
		n, ok := parseID(cursor)
		if !ok {
			return nil, "", &RequestError{"cursor", fmt.Sprintf("%q is not a payment id", cursor)}
		}
		after = n
	}
	limit = max(limit, 1)
	keep := func(p *Payment) bool {
		return len(p.Events) > 0 && (f.State == "" || p.State == f.State) && (f.Keep == nil || f.Keep(p))
	}
	if f.State != "" && !Final(f.State) {
		// Every payment in a state that may change is in memory.
		var out []*Payment
		for _, p := range x.Live(f.State) {
			if p.Spec.Num > after && keep(p) {
				if len(out) == limit {
					return out, out[len(out)-1].ID, nil
				}
				out = append(out, p)
			}
		}
		return out, "", nil
	}
	x.mu.Lock()
	last := x.nextNum - 1
	x.mu.Unlock()
	var out []*Payment
	for n := after + 1; n <= last; {
		hi := min(last, n+pageWindow-1, after+MaxPageScan)
		ps, err := x.window(ctx, n, hi)
		if err != nil {
			return nil, "", err
		}
		for _, p := range ps {
			if keep(p) {
				out = append(out, p)
				if len(out) == limit {
					if p.Spec.Num == last {
						return out, "", nil
					}
					return out, p.ID, nil
				}
			}
		}
		n = hi + 1
		if n > after+MaxPageScan && n <= last {
			return out, paymentID(hi), nil // scanned enough for one call
		}
	}
	return out, "", nil
}

// window returns the payments numbered lo…hi that exist, in order: from
// memory, else from the ledger in one read.
func (x *Executor) window(ctx context.Context, lo, hi uint64) ([]*Payment, error) {
	ids := make([]string, 0, hi-lo+1)
	es := make([]*entry, 0, hi-lo+1)
	x.mu.Lock()
	for n := lo; n <= hi; n++ {
		id := paymentID(n)
		ids = append(ids, id)
		es = append(es, x.entries[id])
	}
	x.mu.Unlock()
	var missing []string
	for i, e := range es {
		if e == nil {
			missing = append(missing, ids[i])
		}
	}
	stored, err := x.readStored(ctx, missing)
	if err != nil {
		return nil, err
	}
	out := make([]*Payment, 0, len(ids))
	for i, e := range es {
		var p *Payment
		if e != nil {
			e.mu.Lock()
			if len(e.p.Events) > 0 {
				p = e.p.snapshot()
			}
			e.mu.Unlock()
		} else {
			p = stored[ids[i]]
		}
		if p != nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// readStored folds the stored events of the payments ids (at most
// ledger.MaxRecordKeys) into payments; ids without events are left out.
func (x *Executor) readStored(ctx context.Context, ids []string) (map[string]*Payment, error) {
	out := map[string]*Payment{}
	if len(ids) == 0 {
		return out, nil
	}
	var after uint64
	for {
		recs, err := x.led.KeyRecords(ctx, RecordKind, ids, after, ledger.MaxHistoryPage)
		if err != nil {
			return nil, fmt.Errorf("payment: read payments %s…: %w", ids[0], err)
		}
		for _, r := range recs {
			var ev Event
			if err := json.Unmarshal(r.Data, &ev); err != nil {
				return nil, fmt.Errorf("payment: event record %d: %w", r.Seq, err)
			}
			ev.Seq = r.Seq
			p := out[ev.Payment]
			if p == nil {
				p = &Payment{ID: ev.Payment}
				out[ev.Payment] = p
			}
			p.apply(ev)
		}
		if len(recs) < ledger.MaxHistoryPage {
			return out, nil
		}
		after = recs[len(recs)-1].Seq
	}
}

// FirstSeq returns the outbox Seq of payment id's created event (0 if
// the ledger has none), so a stream of its events starts there.
func (x *Executor) FirstSeq(ctx context.Context, id string) (uint64, error) {
	recs, err := x.led.KeyRecords(ctx, RecordKind, []string{id}, 0, 1)
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	return recs[0].Seq, nil
}

// keyFilter is a Bloom filter of every idempotency key stored, of fixed
// size (keyFilterBits bits, 4 hashes): a key it has never seen is known to
// be new without reading the ledger, and a false positive only costs one
// read. About 0.2% false positives after a million keys, 23% after five
// million; it never grows.
type keyFilter struct {
	seed maphash.Seed
	bits []uint64
}

const keyFilterBits = 1 << 24 // 2 MiB

func (f *keyFilter) hashes(key string) (h1, h2 uint64) {
	h := maphash.String(f.seed, key)
	return h, h>>32 | h<<32 | 1
}

func (f *keyFilter) add(key string) {
	if f.bits == nil {
		f.seed = maphash.MakeSeed()
		f.bits = make([]uint64, keyFilterBits/64)
	}
	h1, h2 := f.hashes(key)
	for i := range uint64(4) {
		b := (h1 + i*h2) % keyFilterBits
		f.bits[b/64] |= 1 << (b % 64)
	}
}

func (f *keyFilter) has(key string) bool {
	if f.bits == nil {
		return false
	}
	h1, h2 := f.hashes(key)
	for i := range uint64(4) {
		b := (h1 + i*h2) % keyFilterBits
		if f.bits[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
}

// storedKey returns the id of the payment stored under idempotency key
// ("" if none).
func (x *Executor) storedKey(ctx context.Context, key string) (string, error) {
	recs, err := x.led.KeyRecords(ctx, KeyKind, []string{key}, 0, 1)
	if err != nil {
		return "", fmt.Errorf("payment: key %q: %w", key, err)
	}
	if len(recs) == 0 {
		return "", nil
	}
	return string(recs[0].Data), nil
}

// keyRecord is the record that maps key to payment id.
func keyRecord(key, id string) ledger.Record {
	return ledger.Record{Kind: KeyKind, Key: key, Data: []byte(id)}
}
