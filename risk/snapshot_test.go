package risk

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// holderStream is a random stream over holders with several accounts each,
// credit shares and every kind, with occasional long gaps so windows expire.
func holderStream(seed uint64, n, holders int) []Event {
	r := rand.New(rand.NewPCG(seed, 11))
	kinds := []Kind{KindPay, KindTransfer, KindTransfer, KindCashOut, KindWithdraw, KindTopUp, KindInternal}
	amounts := []int64{100000, 99000, 88000, 500000, 440000, 1234567}
	out := make([]Event, n)
	at := t0
	for i := range out {
		gap := time.Duration(r.IntN(900)) * time.Second
		if r.IntN(50) == 0 {
			gap = time.Duration(1+r.IntN(9)) * 24 * time.Hour
		}
		at = at.Add(gap)
		from, to := fmt.Sprintf("h%d", r.IntN(holders)), fmt.Sprintf("h%d", r.IntN(holders))
		amount := amounts[r.IntN(len(amounts))]
		if r.IntN(3) == 0 {
			amount = int64(1 + r.IntN(1000000))
		}
		out[i] = Event{Time: at, ID: fmt.Sprintf("e%d", i), FromHolder: from, ToHolder: to,
			FromAccount: fmt.Sprintf("%s/acc%d", from, r.IntN(2)), ToAccount: fmt.Sprintf("%s/acc%d", to, r.IntN(2)),
			AmountMinor: amount, Currency: "CNY", Kind: kinds[r.IntN(len(kinds))], CreditShareBps: int64(r.IntN(3)) * 5000}
	}
	return out
}

func observeAll(t interface{ Fatal(...any) }, en *Engine, events []Event) []Decision {
	out := make([]Decision, len(events))
	for i, e := range events {
		d, err := en.Observe(e)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = d
	}
	return out
}

func mustSnapshot(t interface{ Fatal(...any) }, en *Engine) []byte {
	b, err := en.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPropertySnapshotThenReplayEqualsFullReplay: for any stream and any
// point in it, an engine restored from a snapshot taken there and fed the
// rest decides every later event exactly as the engine that saw the whole
// stream, inline checks included, and ends in the same state.
func TestPropertySnapshotThenReplayEqualsFullReplay(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, 600).Draw(rt, "events")
		events := holderStream(rapid.Uint64().Draw(rt, "seed"), n, rapid.IntRange(2, 60).Draw(rt, "holders"))
		k := rapid.IntRange(0, n).Draw(rt, "snapshot after")
		full := NewEngine(nil)
		want := observeAll(rt, full, events)

		first := NewEngine(nil)
		observeAll(rt, first, events[:k])
		snap := mustSnapshot(rt, first)
		restored := NewEngine(nil)
		if err := restored.Restore(snap); err != nil {
			rt.Fatal(err)
		}
		if a, b := restored.Stats(), first.Stats(); a != b {
			rt.Fatalf("restored state %+v, snapshotted %+v", a, b)
		}
		if k < n {
			// The inline check of the next event agrees too.
			c1, _ := first.Check(events[k])
			c2, _ := restored.Check(events[k])
			if !reflect.DeepEqual(c1, c2) {
				rt.Fatalf("Check of event %d differs after restore", k)
			}
		}
		got := observeAll(rt, restored, events[k:])
		for i := range got {
			if !reflect.DeepEqual(got[i], want[k+i]) {
				rt.Fatalf("event %d (%s): after snapshot at %d decided\n%+v\nfull replay\n%+v", k+i, events[k+i].ID, k, got[i], want[k+i])
			}
		}
		if a, b := restored.Stats(), full.Stats(); a != b {
			rt.Fatalf("final state %+v, full replay %+v", a, b)
		}
		if !bytes.Equal(mustSnapshot(rt, restored), mustSnapshot(rt, full)) {
			rt.Fatal("final snapshots differ")
		}
	})
}

// TestSnapshotAfterEviction: a snapshot taken after idle holders were
// swept (free slots, reused generations) restores to an engine that
// decides the rest of the stream as the full replay does.
func TestSnapshotAfterEviction(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 140,000 events")
	}
	events := holderStream(3, 2*sweepEvery+5000, 3000)
	// Long idle stretches so that the sweeps find idle holders.
	for i := range events {
		events[i].Time = events[i].Time.Add(time.Duration(i/5000) * 8 * 24 * time.Hour)
	}
	k := sweepEvery + 2500
	full := NewEngine(nil)
	want := observeAll(t, full, events)
	first := NewEngine(nil)
	observeAll(t, first, events[:k])
	if len(first.g.free) == 0 {
		t.Fatal("no holder was evicted before the snapshot: the test does not exercise free slots")
	}
	restored := NewEngine(nil)
	if err := restored.Restore(mustSnapshot(t, first)); err != nil {
		t.Fatal(err)
	}
	got := observeAll(t, restored, events[k:])
	for i := range got {
		if !reflect.DeepEqual(got[i], want[k+i]) {
			t.Fatalf("event %d decided differently after the snapshot", k+i)
		}
	}
	if a, b := restored.Stats(), full.Stats(); a != b {
		t.Fatalf("final state %+v, full replay %+v", a, b)
	}
}

func TestRestoreRefuses(t *testing.T) {
	en := NewEngine(nil)
	observeAll(t, en, holderStream(1, 300, 20))
	snap := mustSnapshot(t, en)
	other, err := ParseRules([]byte("rules:\n  - id: x\n    expr: amount > 1\n    score: 1\n    actions: [review]\n"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(snap)
		b[i] ^= 0x40
		return b
	}
	version := bytes.Clone(snap)
	binary.BigEndian.PutUint32(version[len(snapshotMagic):], SnapshotVersion+1)
	used := NewEngine(nil)
	observeAll(t, used, holderStream(2, 5, 3))
	for _, tc := range []struct {
		name string
		en   *Engine
		data []byte
		why  string
	}{
		{"empty", NewEngine(nil), nil, "not an engine snapshot"},
		{"other bytes", NewEngine(nil), []byte("hello, this is not a snapshot at all, certainly not"), "not an engine snapshot"},
		{"another version", NewEngine(nil), version, "version"},
		{"a flipped payload byte", NewEngine(nil), flip(len(snap) - 10), "checksum mismatch"},
		{"a flipped checksum byte", NewEngine(nil), flip(len(snapshotMagic) + 6), "checksum mismatch"},
		{"truncated", NewEngine(nil), snap[:len(snap)/2], "checksum mismatch"},
		{"another rule set", NewEngine(other), snap, "rule set"},
		{"an engine that has seen events", used, snap, "already observed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.en.Stats()
			err := tc.en.Restore(tc.data)
			if !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("Restore: %v, want ErrSnapshot saying %q", err, tc.why)
			}
			if after := tc.en.Stats(); after != before {
				t.Fatalf("a refused snapshot changed the engine: %+v → %+v", before, after)
			}
		})
	}
}

// FuzzRestoreSnapshot: whatever the bytes (including payloads behind a
// valid header and checksum), Restore either refuses them with
// ErrSnapshot or yields an engine that can go on observing without panic
// and within its bounds.
func FuzzRestoreSnapshot(f *testing.F) {
	en := NewEngine(nil)
	observeAll(f, en, holderStream(5, 200, 12))
	snap := mustSnapshot(f, en)
	f.Add(snap, false)
	f.Add(snap[snapshotHeaderLen:], true)
	f.Add([]byte{}, true)
	f.Add([]byte(snapshotMagic), false)
	tail := holderStream(6, 40, 12)
	f.Fuzz(func(t *testing.T, data []byte, wrap bool) {
		if wrap { // fuzz the payload decoder behind a valid header
			data = wrapPayload(data)
		}
		en := NewEngine(nil)
		if err := en.Restore(data); err != nil {
			if !errors.Is(err, ErrSnapshot) {
				t.Fatalf("error %v does not wrap ErrSnapshot", err)
			}
			return
		}
		for _, e := range tail {
			if _, err := en.Check(e); err != nil {
				t.Fatal(err)
			}
			if _, err := en.Observe(e); err != nil {
				t.Fatal(err)
			}
		}
		if s := en.Stats(); s.Holders > MaxNodes || s.MuleEntries > MaxMuleEntries {
			t.Fatalf("state %+v over the caps", s)
		}
		if _, err := en.Snapshot(); err != nil {
			t.Fatal(err)
		}
	})
}

// wrapPayload puts a valid header (magic, version, checksum) before payload.
func wrapPayload(payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString(snapshotMagic)
	_ = binary.Write(&b, binary.BigEndian, uint32(SnapshotVersion))
	sum := sha256Sum(payload)
	b.Write(sum[:])
	b.Write(payload)
	return b.Bytes()
}

// BenchmarkSnapshot measures encoding and restoring the engine after
// 200,000 random events over 20,000 holders (the state the window and caps
// keep of them), against replaying those events into a fresh engine.
func BenchmarkSnapshot(b *testing.B) {
	en := NewEngine(nil)
	events := randomStream(1, 200000, 20000)
	observeAll(b, en, events)
	snap := mustSnapshot(b, en)
	st := en.Stats()
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			mustSnapshot(b, en)
		}
		b.ReportMetric(float64(len(snap)), "bytes")
		b.ReportMetric(float64(st.Holders), "holders")
		b.ReportMetric(float64(st.Edges), "edges")
		b.ReportMetric(float64(st.MuleEntries), "mule_entries")
	})
	b.Run("restore", func(b *testing.B) {
		for b.Loop() {
			if err := NewEngine(nil).Restore(snap); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("replay", func(b *testing.B) {
		for b.Loop() {
			observeAll(b, NewEngine(nil), events)
		}
	})
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
