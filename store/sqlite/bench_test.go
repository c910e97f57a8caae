package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/paybridge/paybridge/ledger"
)

// benchCommits builds n commits of per transfers between 10,000 accounts,
// each with the after-state of every account it touched.
func benchCommits(n, per int) []*ledger.CommitRecord {
	out := make([]*ledger.CommitRecord, n)
	ts := int64(1)
	id := ledger.TransferID(0)
	x := uint64(88172645463325252)
	rnd := func() uint64 { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return x }
	for i := range out {
		c := &ledger.CommitRecord{Seq: uint64(i + 1)}
		for j := 0; j < per; j++ {
			id++
			ts++
			d := ledger.AccountID(1 + rnd()%10000)
			cr := ledger.AccountID(1 + (uint64(d)+rnd()%9999)%10000)
			c.Transfers = append(c.Transfers, ledger.Transfer{ID: id, DebitAccount: d, CreditAccount: cr,
				AmountFen: int64(1 + rnd()%1000), Currency: "CNY", Code: 1, Timestamp: ts, State: ledger.StatePosted})
			c.Accounts = append(c.Accounts, ledger.Account{ID: d, Currency: "CNY", Holder: "h", BalanceFen: 5},
				ledger.Account{ID: cr, Currency: "CNY", Holder: "h", BalanceFen: 5})
		}
		c.Timestamp = ts
		out[i] = c
	}
	return out
}

// BenchmarkCommit measures durable (fsync'd) commits of 1,000 transfers;
// ns/op is per commit, the transfers/s metric is the store's ceiling.
func BenchmarkCommit(b *testing.B) {
	cs := benchCommits(b.N, 1000)
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{IdleIndex: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Commit(context.Background(), cs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "transfers/s")
}

// BenchmarkIndex measures materialising the read tables; ns/op is per
// 1,000-transfer commit.
func BenchmarkIndex(b *testing.B) {
	cs := benchCommits(b.N, 1000)
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{IdleIndex: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < b.N; i++ {
		if err := s.Commit(context.Background(), cs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	if err := s.Index(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "transfers/s")
}

// BenchmarkReplay measures Load's journal replay; ns/op is per commit.
func BenchmarkReplay(b *testing.B) {
	cs := benchCommits(b.N, 1000)
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{IdleIndex: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < b.N; i++ {
		if err := s.Commit(context.Background(), cs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	st, err := s.Replay(context.Background())
	if err != nil || len(st.Transfers) != b.N*1000 {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "transfers/s")
}
