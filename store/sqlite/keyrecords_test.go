package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestKeyRecordsUsesKeyIndex: KeyRecords finds rows through records_key
// (a scan of every record of the kind would make reading one payment back
// cost as much as reading the whole outbox).
func TestKeyRecordsUsesKeyIndex(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "l.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, n := range []int{1, 3} {
		args := []any{"payment.event"}
		for range n {
			args = append(args, "p000001")
		}
		args = append(args, 0, 10)
		rows, err := s.rd.Query(`EXPLAIN QUERY PLAN `+keyRecordsSQL(n), args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if p := strings.Join(plan, "; "); !strings.Contains(p, "records_key") || strings.Contains(p, "records_kind") {
			t.Errorf("%d keys: plan %q, want a search of records_key", n, p)
		}
	}
}
