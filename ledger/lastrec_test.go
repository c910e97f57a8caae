package ledger

import (
	"context"
	"testing"
)

// TestLastRecordSeq: the engine reports the seq of the last durable
// record, of any kind and by kind, through commits without records and
// across a reopen (by kind: only records since Open).
func TestLastRecordSeq(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	eng, err := Open(ctx, store, newFakeClock(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := eng.LastRecordSeq(""); got != 0 {
		t.Fatalf("empty ledger: LastRecordSeq() = %d", got)
	}
	for i, tc := range []struct {
		records     int
		want, wantK uint64 // any kind, kind "k"
		otherLast   bool   // the batch's last record is of kind "other"
		wantOther   uint64
	}{{2, 2, 2, false, 0}, {0, 2, 2, false, 0}, {3, 5, 4, true, 5}, {1, 6, 6, false, 5}} {
		b := &Batch{}
		for j := range tc.records {
			kind := "k"
			if tc.otherLast && j == tc.records-1 {
				kind = "other"
			}
			b.Records = append(b.Records, Record{Kind: kind, Key: "x", Data: []byte("d")})
		}
		if tc.records == 0 {
			b.Counters = []CounterDelta{{Key: "c", Delta: 1, MaxValue: 10}}
		}
		mustOK(t, eng, b)
		if got := eng.LastRecordSeq(""); got != tc.want {
			t.Errorf("after batch %d: LastRecordSeq(\"\") = %d, want %d", i, got, tc.want)
		}
		if got := eng.LastRecordSeq("k"); got != tc.wantK {
			t.Errorf("after batch %d: LastRecordSeq(k) = %d, want %d", i, got, tc.wantK)
		}
		if got := eng.LastRecordSeq("other"); got != tc.wantOther {
			t.Errorf("after batch %d: LastRecordSeq(other) = %d, want %d", i, got, tc.wantOther)
		}
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	eng, err = Open(ctx, store.Reopen(), newFakeClock(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if got := eng.LastRecordSeq(""); got != 6 {
		t.Errorf("reopened: LastRecordSeq(\"\") = %d, want 6", got)
	}
	if got := eng.LastRecordSeq("k"); got != 0 {
		t.Errorf("reopened: LastRecordSeq(k) = %d, want 0 (none since Open)", got)
	}
}
