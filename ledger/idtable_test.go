package ledger

import (
	"testing"

	"pgregory.net/rapid"
)

// TestIDTableMatchesMap: random puts and deletes (with clustered and
// sequential ids, across growth) agree with a Go map.
func TestIDTableMatchesMap(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		var tab idTable
		ref := map[TransferID]int64{}
		ops := rapid.IntRange(1, 3000).Draw(rt, "ops")
		base := TransferID(rapid.Uint64Range(1, 1<<40).Draw(rt, "base"))
		for i := range ops {
			id := base + TransferID(rapid.IntRange(0, 2000).Draw(rt, "off"))
			if rapid.IntRange(0, 3).Draw(rt, "del") == 3 {
				tab.del(id)
				delete(ref, id)
			} else {
				tab.put(id, tEntry{ts: int64(i)})
				ref[id] = int64(i)
			}
		}
		if tab.len() != len(ref) {
			rt.Fatalf("len %d, want %d", tab.len(), len(ref))
		}
		for id, ts := range ref {
			if e, ok := tab.get(id); !ok || e.ts != ts {
				rt.Fatalf("id %d: %v %v, want %d", id, e, ok, ts)
			}
		}
		for off := range TransferID(2001) {
			if _, ok := ref[base+off]; !ok {
				if _, found := tab.get(base + off); found {
					rt.Fatalf("deleted id %d still found", base+off)
				}
			}
		}
	})
}
