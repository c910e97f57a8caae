package stream

import (
	"context"
	"testing"
	"time"

	"github.com/paybridge/paybridge/ledger"
)

// TestIdleHubEndsAtLastEvent: with no stream open the hub moves to the
// last payment event without reading (records of other kinds after it do
// not count), so a stream opened later registers and gets new events live,
// not by polling: its hub registration happens with the hub at an event.
func TestIdleHubEndsAtLastEvent(t *testing.T) {
	ob := newOutbox(t)
	h := startHub(t, ob, Options{Poll: time.Hour}) // no polling: only Notify wakes the hub
	ob.add(t, 5)
	// A record of another kind after the events (a risk action, a key).
	if res, err := ob.led.Submit(context.Background(), &ledger.Batch{Records: []ledger.Record{{Kind: "other", Key: "x", Data: []byte("{}")}}}); err != nil || !res.OK() {
		t.Fatalf("other record: %v %+v", err, res)
	}
	h.Notify()
	deadline := time.Now().Add(5 * time.Second)
	for h.Last() != 5 {
		if time.Now().After(deadline) {
			t.Fatalf("idle hub at %d, want the last event 5", h.Last())
		}
		time.Sleep(time.Millisecond)
	}
	srv := server(t, h)
	c := open(t, srv.URL+"?after=5", "")
	for h.Streams() != 1 || func() bool { h.mu.Lock(); defer h.mu.Unlock(); return len(h.subs) != 1 }() {
		if time.Now().After(deadline) {
			t.Fatal("the stream did not register with the hub")
		}
		time.Sleep(time.Millisecond)
	}
	ob.add(t, 2)
	h.Notify()
	got := c.take(t, 2)
	if got[0].id != 7 || got[1].id != 8 {
		t.Errorf("live events %v, want seqs 7 and 8", ids(got))
	}
}
