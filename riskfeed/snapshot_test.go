package riskfeed

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paybridge/paybridge/ecosystems"
	"github.com/paybridge/paybridge/payment"
	"github.com/paybridge/paybridge/risk"
	"github.com/paybridge/paybridge/route"
)

// memSnapshots is a SnapshotStore in memory.
type memSnapshots struct{ data []byte }

func (m *memSnapshots) LoadSnapshot(context.Context) ([]byte, error)   { return m.data, nil }
func (m *memSnapshots) SaveSnapshot(_ context.Context, b []byte) error { m.data = b; return nil }

// restarted is a new feed (new engine and converter) over w's ledger, with
// its own cursor and case store named name, and the given snapshot store.
func restarted(t *testing.T, w *world, snaps SnapshotStore, rules *risk.RuleSet) (*Feed, *[]string) {
	t.Helper()
	var logged []string
	return &Feed{Outbox: w.feed.Outbox, Engine: risk.NewEngine(rules), Conv: NewConverter(w.feed.Conv.eco), Cases: w.feed.Cases,
		Snapshots: snaps, Logf: func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }}, &logged
}

// ownCursor gives f its own case store with its cursor at seq, as the
// feed that saved it left it.
func ownCursor(t *testing.T, f *Feed, seq uint64) {
	t.Helper()
	cs, err := risk.OpenSQLite(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	f.Cases, f.Cursor = cs, StoreCursor{Store: cs, Name: "x"}
	if err := f.Cursor.Save(context.Background(), seq); err != nil {
		t.Fatal(err)
	}
}

// moveMoney makes the seed's move-money scheme's first half (payers into
// mid) or second half (mid paying out), so that a decision after a
// restart depends on state from before it.
func moveMoney(t *testing.T, w *world, payouts bool) {
	min := time.Minute
	if !payouts {
		for i, p := range []string{"p1", "p2", "p3", "p4"} {
			w.pay(t, "alipay.huabei", "alipay.balance", p, p, "huabei_topup_balance", 5000, time.Duration(10+2*i)*min)
			w.pay(t, "alipay.balance", "alipay.balance", p, "mid", "alipay_transfer", 5000, time.Duration(11+2*i)*min)
		}
		return
	}
	for i, q := range []string{"q1", "q2", "q3", "q4"} {
		w.pay(t, "alipay.balance", "alipay.balance", "mid", q, "alipay_transfer", 4400, time.Duration(30+i)*min)
	}
	w.pay(t, "alipay.huabei", "alipay.merchant", "me", "taobao_shop", "huabei_pay_taobao", 1000, 60*min)
	w.pay(t, "alipay.merchant", "alipay.balance", "taobao_shop", "me", "taobao_cashback", 950, 70*min)
}

// TestFeedRestartFromSnapshot: a feed saves a snapshot beside its cursor;
// a feed in a "new process" restores it, replays only the later events
// and decides them exactly as a feed that replays the whole outbox.
func TestFeedRestartFromSnapshot(t *testing.T) {
	ctx := context.Background()
	w := open(t)
	snaps := &memSnapshots{}
	w.feed.Snapshots = snaps
	moveMoney(t, w, false)
	if _, err := w.feed.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	snapSeq := w.feed.SnapshotStatus().Saved
	if snapSeq == 0 || snaps.data == nil {
		t.Fatalf("no snapshot saved: %+v", w.feed.SnapshotStatus())
	}
	// The feed stops; the scheme's payouts happen while it is down.
	moveMoney(t, w, true)

	fromSnap, logged := restarted(t, w, snaps, nil)
	ownCursor(t, fromSnap, snapSeq)
	got, err := fromSnap.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := fromSnap.SnapshotStatus(); !st.Loaded || st.Seq != snapSeq || st.Fallback != "" || len(*logged) != 0 {
		t.Fatalf("snapshot status %+v, logged %q; want loaded at seq %d", st, *logged, snapSeq)
	}
	if st := fromSnap.SnapshotStatus(); st.Saved <= snapSeq {
		t.Errorf("no new snapshot saved after the restart: %+v", st)
	}
	// The reference: the first feed goes on without a restart.
	want, err := w.feed.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || !reflect.DeepEqual(decisions(got), decisions(want)) {
		t.Fatalf("after the snapshot:\n%v\nwithout a restart:\n%v", summary(got), summary(want))
	}
	held := false
	for _, r := range got {
		held = held || r.Decision.Verdict == risk.ActionHold && matchOf(r.Decision, "gather-scatter")
	}
	if !held {
		t.Errorf("the payouts after the restart were not held as gather-scatter: %v", summary(got))
	}
	if a, b := fromSnap.Engine.Stats(), w.feed.Engine.Stats(); a != b {
		t.Errorf("restored engine %+v, running engine %+v", a, b)
	}
}

func decisions(rs []Result) []risk.Decision {
	out := make([]risk.Decision, len(rs))
	for i, r := range rs {
		out[i] = r.Decision
	}
	return out
}

func matchOf(d risk.Decision, rule string) bool {
	for _, m := range d.Matches {
		if m.RuleID == rule {
			return true
		}
	}
	return false
}

// TestFeedSnapshotFallsBack: a snapshot that is corrupt, of another
// version, taken under other rules, ahead of the cursor or of another
// ledger is not used; the feed says why and replays from seq 0, with the
// same results as without a snapshot.
func TestFeedSnapshotFallsBack(t *testing.T) {
	ctx := context.Background()
	w := open(t)
	good := &memSnapshots{}
	w.feed.Snapshots = good
	moveMoney(t, w, false)
	if _, err := w.feed.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	cursor := w.feed.SnapshotStatus().Saved
	moveMoney(t, w, true)
	ref, _ := restarted(t, w, nil, nil)
	want, err := ref.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(b []byte) []byte) *memSnapshots {
		return &memSnapshots{data: f(append([]byte(nil), good.data...))}
	}
	other, err := risk.ParseRules(risk.DefaultRulesYAML())
	if err != nil {
		t.Fatal(err)
	}
	other.Rules[0].Score++
	ahead, err := encodeFeedSnapshot(feedSnap{Seq: 1 << 40, Converter: []byte(`{"specs":{}}`), Engine: nil})
	if err != nil {
		t.Fatal(err)
	}
	fs, _, err := decodeFeedSnapshot(good.data)
	if err != nil {
		t.Fatal(err)
	}
	fs.Mark = "created p999999/0 2023-05-05T02:00:00Z"
	elsewhere, err := encodeFeedSnapshot(fs)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		snaps *memSnapshots
		rules *risk.RuleSet
		why   string
	}{
		{"garbage", &memSnapshots{data: []byte("not a snapshot")}, nil, "not a feed snapshot"},
		{"a flipped byte", mutate(func(b []byte) []byte { b[len(b)-7] ^= 1; return b }), nil, "checksum mismatch"},
		{"truncated", mutate(func(b []byte) []byte { return b[:len(b)-100] }), nil, "checksum mismatch"},
		{"another version", mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[len(feedSnapMagic):], FeedSnapshotVersion+1)
			return b
		}), nil, "version"},
		{"other rules", mutate(func(b []byte) []byte { return b }), other, "rule set"},
		{"ahead of the cursor", &memSnapshots{data: ahead}, nil, "beyond the cursor"},
		{"of another ledger", &memSnapshots{data: elsewhere}, nil, "was the ledger recreated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules := tc.rules
			if rules == nil {
				rules = risk.DefaultRules()
			}
			f, logged := restarted(t, w, tc.snaps, rules)
			ownCursor(t, f, cursor)
			got, err := f.Poll(ctx)
			if err != nil {
				t.Fatal(err)
			}
			st := f.SnapshotStatus()
			if st.Loaded || !strings.Contains(st.Fallback, tc.why) || len(*logged) != 1 || !strings.Contains((*logged)[0], tc.why) || !strings.Contains((*logged)[0], "replaying the outbox from seq 0") {
				t.Fatalf("status %+v, logged %q; want a fallback saying %q", st, *logged, tc.why)
			}
			if f.Engine.Stats().Events != ref.Engine.Stats().Events {
				t.Errorf("engine observed %d hops, the full replay %d", f.Engine.Stats().Events, ref.Engine.Stats().Events)
			}
			if tc.rules == nil && !reflect.DeepEqual(decisions(got), decisions(want)) {
				t.Errorf("after falling back:\n%v\nfull replay:\n%v", summary(got), summary(want))
			}
		})
	}
}

// TestConverterStateRoundTrip: a payment in flight at the snapshot (created,
// hop 1 posted, hop 2 started) converts its later hops after a restore as
// the converter that saw it all.
func TestConverterStateRoundTrip(t *testing.T) {
	eco, err := ecosystems.Load("cn-2023")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2023, 5, 5, 10, 0, 0, 0, time.UTC)
	spec := &payment.Spec{AmountFen: 100_000, CreditShareBps: 2500, Route: &route.Route{Hops: []route.Hop{
		{Channel: "alipay_transfer", From: "alipay.balance", To: "alipay.balance", FromHolder: "me", ToHolder: "friend", AmountFen: 100_000},
		{Channel: "alipay_transfer", From: "alipay.balance", To: "alipay.balance", FromHolder: "friend", ToHolder: "mid", AmountFen: 99_000},
	}}}
	before := []payment.Event{
		{Type: payment.EventCreated, Payment: "p1", Spec: spec, At: at},
		{Type: payment.EventHopStarted, Payment: "p1", Hop: 1, AmountFen: 100_000, At: at},
		{Type: payment.EventHopPosted, Payment: "p1", Hop: 1, At: at},
		{Type: payment.EventHopStarted, Payment: "p1", Hop: 2, AmountFen: 98_500, At: at},
	}
	after := []payment.Event{
		{Type: payment.EventHopPosted, Payment: "p1", Hop: 1, At: at}, // a repeat: dropped by both
		{Type: payment.EventHopPosted, Payment: "p1", Hop: 2, At: at.Add(time.Minute)},
	}
	whole := NewConverter(eco)
	for _, ev := range before {
		if _, _, err := whole.Convert(ev); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(whole.state())
	if err != nil {
		t.Fatal(err)
	}
	var st convState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	restored := NewConverter(eco)
	restored.load(st)
	for i, ev := range after {
		e1, ok1, err1 := whole.Convert(ev)
		e2, ok2, err2 := restored.Convert(ev)
		if !reflect.DeepEqual(e1, e2) || ok1 != ok2 || (err1 == nil) != (err2 == nil) {
			t.Fatalf("event %d: whole %+v %v %v, restored %+v %v %v", i, e1, ok1, err1, e2, ok2, err2)
		}
		if i == 1 && (!ok2 || e2.AmountMinor != 98_500) {
			t.Fatalf("hop 2 after restore: %+v %v, want 985.00 yuan from its hop_started", e2, ok2)
		}
	}
}

// FuzzDecodeFeedSnapshot: the feed snapshot decoder refuses or accepts any
// bytes (also behind a valid header and checksum) without panicking, and
// what it accepts has a seq and routes for every payment in flight.
func FuzzDecodeFeedSnapshot(f *testing.F) {
	good, err := encodeFeedSnapshot(feedSnap{Seq: 7, Mark: "hop_posted p1/1 2023-05-05T02:00:00Z", Converter: []byte(`{"specs":{}}`), Engine: []byte("x")})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, false)
	f.Add(good[feedSnapHeaderLen:], true)
	f.Add([]byte(feedSnapMagic), false)
	f.Fuzz(func(t *testing.T, data []byte, wrap bool) {
		if wrap {
			sum := sha256.Sum256(data)
			h := append([]byte(feedSnapMagic), 0, 0, 0, FeedSnapshotVersion)
			data = append(append(h, sum[:]...), data...)
		}
		s, cs, err := decodeFeedSnapshot(data)
		if err != nil {
			return
		}
		if s.Seq == 0 {
			t.Fatal("accepted a snapshot at seq 0")
		}
		for id, sp := range cs.Specs {
			if sp == nil || sp.Route == nil {
				t.Fatalf("accepted payment %q without a route", id)
			}
		}
	})
}

// TestFeedSnapshotWithPaymentInFlight: the guard holds the intermediary's
// fourth payout, so the payment is in flight when the snapshot is taken; a
// feed restored from it converts the hop the resumed payment posts (the
// converter's memory of the payment came from the snapshot) and decides it
// as a feed replaying the whole outbox does.
func TestFeedSnapshotWithPaymentInFlight(t *testing.T) {
	ctx := context.Background()
	w := openWith(t, true)
	snaps := &memSnapshots{}
	w.feed.Snapshots = snaps
	min := time.Minute
	for i, p := range []string{"p1", "p2", "p3", "p4"} {
		w.pay(t, "alipay.balance", "alipay.balance", p, "mid", "alipay_transfer", 5000, time.Duration(11+2*i)*min)
		if _, err := w.feed.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i, q := range []string{"q1", "q2", "q3"} {
		w.pay(t, "alipay.balance", "alipay.balance", "mid", q, "alipay_transfer", 4400, time.Duration(30+i)*min)
		if _, err := w.feed.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	held := w.try(t, "alipay.balance", "alipay.balance", "mid", "q4", "alipay_transfer", 4400, 33*min)
	if held.State != payment.StateHeld {
		t.Fatalf("fourth payout %s (%s), want held", held.State, held.Reason)
	}
	if _, err := w.feed.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if w.feed.Conv.InFlight() != 1 {
		t.Fatalf("converter remembers %d payments, want the held one", w.feed.Conv.InFlight())
	}
	saved := w.feed.SnapshotStatus().Saved
	// A reviewer releases it while no feed runs.
	if p, err := w.x.Resume(ctx, held.ID); err != nil || p.State != payment.StateCompleted {
		t.Fatalf("resume: %v %v", p, err)
	}
	fromSnap, logged := restarted(t, w, snaps, nil)
	ownCursor(t, fromSnap, saved)
	got, err := fromSnap.Poll(ctx)
	if err != nil {
		t.Fatalf("restored feed: %v (logged %q)", err, *logged)
	}
	if st := fromSnap.SnapshotStatus(); !st.Loaded || st.Seq != saved {
		t.Fatalf("snapshot status %+v, logged %q", st, *logged)
	}
	full, _ := restarted(t, w, nil, nil)
	ownCursor(t, full, saved)
	want, err := full.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Event.ID != held.ID+"/1" || !reflect.DeepEqual(decisions(got), decisions(want)) {
		t.Fatalf("restored feed reported %v, full replay %v", summary(got), summary(want))
	}
}

func TestFileSnapshots(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fs := FileSnapshots{Path: filepath.Join(dir, "risk.snap")}
	if b, err := fs.LoadSnapshot(ctx); b != nil || err != nil {
		t.Fatalf("no file yet: %q, %v", b, err)
	}
	for _, data := range []string{"first", "second"} {
		if err := fs.SaveSnapshot(ctx, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := fs.LoadSnapshot(ctx); string(b) != "second" || err != nil {
		t.Fatalf("load: %q, %v", b, err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.tmp*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
	bad := FileSnapshots{Path: filepath.Join(dir, "no", "such", "dir", "s")}
	if err := bad.SaveSnapshot(ctx, []byte("x")); err == nil {
		t.Error("saving into a missing directory succeeded")
	}
}
