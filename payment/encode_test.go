package payment

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ledger"
)

// TestAppendEventMatchesEncodingJSON: the hand-written encoder gives the
// bytes encoding/json gives and decodes back to the same event.
func TestAppendEventMatchesEncodingJSON(t *testing.T) {
	due := epoch.Add(90 * time.Second)
	for _, ev := range []Event{
		{Payment: "p000001", At: epoch, Type: EventCreated, TransferIDs: []ledger.TransferID{}},
		{Seq: 9, Payment: "p000002", At: epoch.Add(time.Nanosecond), Type: EventHopStarted, Hop: 3, Attempt: 2, AmountFen: 99_900, FeeFen: 100,
			TransferIDs: []ledger.TransferID{1 << 62, 1<<62 | 7}, Due: &due, Down: "unionpay",
			Counters: []ledger.CounterDelta{{Key: "pay/day/20230505/me/c:x", Delta: 5, MaxValue: 9}}},
		{Payment: "p000004", At: epoch, Type: EventHopPosted, Hop: 2, AmountFen: 99_900, CreditShareBps: 10_000, TransferIDs: []ledger.TransferID{1 << 62}},
		{Payment: "p000003", At: epoch.UTC(), Type: EventHopFailed, Hop: 1, TransferIDs: []ledger.TransferID{}, Reason: "quote \" < & > \\ \n 中文 \x00"},
	} {
		got, err := appendEvent(nil, &ev)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(ev)
		if string(got) != string(want) {
			t.Errorf("appendEvent:\n%s\nencoding/json:\n%s", got, want)
		}
		var back Event
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		if !back.At.Equal(ev.At) || back.Reason != ev.Reason || !reflect.DeepEqual(back.Counters, ev.Counters) || back.Hop != ev.Hop ||
			back.AmountFen != ev.AmountFen || back.CreditShareBps != ev.CreditShareBps {
			t.Errorf("round trip: %+v\nwant %+v", back, ev)
		}
	}
}

// FuzzAppendEvent: any reason string and numbers encode to valid JSON that
// decodes to the same values.
func FuzzAppendEvent(f *testing.F) {
	f.Add("p000001", "reason", 3, int64(100), uint64(5))
	f.Add("p\"1", "\x00\xff<>&", -1, int64(-5), uint64(0))
	f.Fuzz(func(t *testing.T, id, reason string, hop int, amount int64, tid uint64) {
		ev := Event{Payment: id, At: epoch, Type: EventHopFailed, Hop: hop, Reason: reason, AmountFen: amount, TransferIDs: []ledger.TransferID{ledger.TransferID(tid)}}
		b, err := appendEvent(nil, &ev)
		if err != nil {
			t.Fatal(err)
		}
		var back Event
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("invalid JSON %q: %v", b, err)
		}
		want, _ := json.Marshal(ev)
		if string(b) != string(want) {
			t.Fatalf("appendEvent %s, encoding/json %s", b, want)
		}
	})
}

// TestAppendSpecMatchesEncodingJSON: the hand-written spec encoder gives
// the bytes encoding/json gives for Spec's fields.
func TestAppendSpecMatchesEncodingJSON(t *testing.T) {
	type plain Spec // no MarshalJSON
	w := newWorld(t, compliance.PolicyStrict)
	p, err := w.x.Pay(context.Background(), Request{From: "alipay.balance", To: "wechat.change", ToHolder: "friend", AmountFen: 10_000, Channels: fourHops, Key: "k\"<1>", FailHop: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []Spec{
		{},
		{Num: 7, Key: "中文 \x00", KeySum: "ab\"c", From: "a", To: "b", FromHolder: "me", ToHolder: "you", AmountFen: -1, Seed: 1 << 63, OnFailure: "strand", FailHop: 3, Start: epoch, CreditShareBps: 10_000},
		p.Spec,
	} {
		got, err := s.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(plain(s))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("appendSpec:\n%s\nencoding/json:\n%s", got, want)
		}
	}
}
