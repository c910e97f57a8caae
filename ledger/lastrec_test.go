package ledger

import (
	"context"
	"testing"
)

// TestLastRecordSeq: the engine reports the seq of the last durable
// record, through commits without records and across a reopen.
func TestLastRecordSeq(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	eng, err := Open(ctx, store, newFakeClock(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := eng.LastRecordSeq(); got != 0 {
		t.Fatalf("empty ledger: LastRecordSeq() = %d", got)
	}
	for i, tc := range []struct {
		records int
		want    uint64
	}{{2, 2}, {0, 2}, {3, 5}, {1, 6}} {
		b := &Batch{}
		for range tc.records {
			b.Records = append(b.Records, Record{Kind: "k", Key: "x", Data: []byte("d")})
		}
		if tc.records == 0 {
			b.Counters = []CounterDelta{{Key: "c", Delta: 1, MaxValue: 10}}
		}
		mustOK(t, eng, b)
		if got := eng.LastRecordSeq(); got != tc.want {
			t.Errorf("after batch %d: LastRecordSeq() = %d, want %d", i, got, tc.want)
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
	if got := eng.LastRecordSeq(); got != 6 {
		t.Errorf("reopened: LastRecordSeq() = %d, want 6", got)
	}
}
