package risk

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCaseStoreFilesAnAlertOnceAndKeepsCursors(t *testing.T) {
	ctx := context.Background()
	// A name with URI metacharacters must still be a plain file name.
	path := filepath.Join(t.TempDir(), "cases 100%?#.db")
	st, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2023, 5, 5, 10, 0, 0, 0, time.UTC)
	a := Alert{EventID: "p1/1", Time: at, Holder: "mid", Family: "gather-scatter", RuleID: "gather-scatter", Score: 70, Detail: []byte(`{}`)}
	id1, err := st.AddAlert(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := st.AddAlert(ctx, a) // redelivered
	if err != nil || id2 != id1 {
		t.Fatalf("redelivered alert: case %d, %v; want case %d", id2, err, id1)
	}
	b := a
	b.RuleID = "watched-holder"
	if _, err := st.AddAlert(ctx, b); err != nil {
		t.Fatal(err)
	}
	c, alerts, err := st.Case(ctx, id1)
	if err != nil || c.Alerts != 2 || len(alerts) != 2 {
		t.Fatalf("case %+v with %d alerts, %v; want 2 alerts (one per rule)", c, len(alerts), err)
	}

	for _, tc := range []struct {
		set, want uint64
	}{{0, 0}, {7, 7}, {5, 7}, {9, 9}} {
		if tc.set > 0 {
			if err := st.SetCursor(ctx, "payments:/x.db", tc.set); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := st.Cursor(ctx, "payments:/x.db"); err != nil || got != tc.want {
			t.Errorf("after SetCursor(%d): %d, %v; want %d", tc.set, got, err, tc.want)
		}
	}
	if got, _ := st.Cursor(ctx, "other"); got != 0 {
		t.Errorf("unset cursor %d, want 0", got)
	}
	if err := st.SetCursor(ctx, "", 1); err == nil || !strings.Contains(err.Error(), "cursor name") {
		t.Errorf("empty cursor name: %v", err)
	}
	st.Close()
	// Durable: a new process sees the cursor and the cases.
	st, err = OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got, _ := st.Cursor(ctx, "payments:/x.db"); got != 9 {
		t.Errorf("cursor after reopening %d, want 9", got)
	}
	if cs, _ := st.Cases(ctx, ""); len(cs) != 1 {
		t.Errorf("%d cases after reopening, want 1", len(cs))
	}
}

func TestCaseStoreKeepsSnapshots(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cases.db")
	st, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := st.Snapshot(ctx, "payments:/x"); b != nil || err != nil {
		t.Fatalf("no snapshot yet: %q, %v", b, err)
	}
	for _, data := range []string{"first", "second, longer"} {
		if err := st.SetSnapshot(ctx, "payments:/x", []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, data, why string
	}{{"", "x", "snapshot name"}, {strings.Repeat("n", MaxCursorNameLen+1), "x", "snapshot name"}, {"payments:/x", "", "must be 1.."}} {
		if err := st.SetSnapshot(ctx, tc.name, []byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("SetSnapshot(%.10q, %q): %v, want an error saying %q", tc.name, tc.data, err, tc.why)
		}
	}
	st.Close()
	st, err = OpenSQLite(path) // durable across processes
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if b, err := st.Snapshot(ctx, "payments:/x"); string(b) != "second, longer" || err != nil {
		t.Fatalf("snapshot after reopening: %q, %v", b, err)
	}
	if b, err := st.Snapshot(ctx, "payments:/y"); b != nil || err != nil {
		t.Fatalf("another name: %q, %v", b, err)
	}
}
