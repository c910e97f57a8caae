package stream_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paybridge/paybridge/api"
	"github.com/paybridge/paybridge/api/stream"
	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/payment"
)

// sseServer is what both streamers offer.
type sseServer interface {
	ServeSSE(w http.ResponseWriter, r *http.Request, after uint64, keep func(payment.Event) bool)
	Notify()
}

// BenchmarkFanout: one op is a commit of 10 events delivered to every one
// of 200 open streams, through the hub (one outbox read per commit, shared
// encoding) and through the API's built-in Poller (one read per stream per
// commit) as the baseline, in the same run.
func BenchmarkFanout(b *testing.B) {
	for _, kind := range []string{"hub", "poller"} {
		b.Run(kind, func(b *testing.B) {
			const streams, perCommit = 200, 10
			led, err := ledger.Open(context.Background(), ledger.NewMemStore(), ledger.SystemClock{}, ledger.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer led.Close()
			ob := payment.NewOutbox(led)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var s sseServer
			if kind == "hub" {
				h := stream.NewHub(ob, stream.Options{})
				go h.Run(ctx)
				defer h.Close()
				s = h
			} else {
				p := api.NewPoller(ob)
				go p.Run(ctx)
				defer p.Close()
				s = p
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.ServeSSE(w, r, 0, nil) }))
			defer srv.Close()
			var got atomic.Int64
			for range streams {
				c, err := net.Dial("tcp", srv.Listener.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				go func() {
					br := bufio.NewReader(c)
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						if strings.HasPrefix(line, "id: ") {
							got.Add(1)
						}
					}
				}()
			}
			data, _ := json.Marshal(payment.Event{Payment: "p000001", Type: "hop_posted", Hop: 1, TransferIDs: []ledger.TransferID{1, 2}})
			recs := make([]ledger.Record, perCommit)
			for i := range recs {
				recs[i] = ledger.Record{Kind: payment.RecordKind, Key: "p000001", Data: data}
			}
			b.ResetTimer()
			for i := range b.N {
				if _, err := led.Submit(ctx, &ledger.Batch{Records: recs}); err != nil {
					b.Fatal(err)
				}
				s.Notify()
				want := int64((i + 1) * perCommit * streams)
				deadline := time.Now().Add(30 * time.Second)
				for got.Load() < want {
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d events delivered", got.Load(), want)
					}
					time.Sleep(20 * time.Microsecond)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*perCommit*streams)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}
