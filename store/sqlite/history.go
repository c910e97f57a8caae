package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/paybridge/paybridge/ledger"
)

// History returns a page of account's transfers after the cursor. See ledger.Store.
func (s *Store) History(ctx context.Context, account ledger.AccountID, after int64, limit int) (ledger.HistoryPage, error) {
	if err := s.readReady(); err != nil {
		return ledger.HistoryPage{}, err
	}
	limit = min(max(limit, 1), ledger.MaxHistoryPage)
	page, err := s.history(ctx, account, after, limit)
	if err != nil {
		return ledger.HistoryPage{}, fmt.Errorf("sqlite store: history of account %d: %w", account, err)
	}
	return page, nil
}

func (s *Store) history(ctx context.Context, account ledger.AccountID, after int64, limit int) (ledger.HistoryPage, error) {
	tx, err := s.rd.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}) // one snapshot for both queries
	if err != nil {
		return ledger.HistoryPage{}, err
	}
	defer tx.Rollback()
	stamps, err := historyStamps(ctx, tx, account, after, limit+1)
	if err != nil {
		return ledger.HistoryPage{}, err
	}
	var page ledger.HistoryPage
	if len(stamps) > limit {
		stamps = stamps[:limit]
		page.Next = stamps[limit-1]
	}
	if len(stamps) == 0 {
		return page, nil
	}
	args := make([]any, len(stamps))
	for i, ts := range stamps {
		args[i] = ts
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+transferCols+` FROM transfers WHERE timestamp IN (?`+
		strings.Repeat(",?", len(stamps)-1)+`) ORDER BY timestamp`, args...)
	if err != nil {
		return ledger.HistoryPage{}, err
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTransfer(rows)
		if err != nil {
			return ledger.HistoryPage{}, err
		}
		page.Transfers = append(page.Transfers, t)
	}
	if err := rows.Err(); err != nil {
		return ledger.HistoryPage{}, err
	}
	if len(page.Transfers) != len(stamps) {
		return ledger.HistoryPage{}, fmt.Errorf("%d postings but %d transfers: %w", len(stamps), len(page.Transfers), ErrCorrupt)
	}
	return page, nil
}

// historyStamps returns up to want timestamps of account's legs after
// after, in increasing order.
func historyStamps(ctx context.Context, tx *sql.Tx, account ledger.AccountID, after int64, want int) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT first_ts, n, ts FROM postings WHERE account = ? AND last_ts > ? ORDER BY last_ts`, int64(account), after)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out, buf []int64
	for len(out) < want && rows.Next() {
		var first int64
		var n int
		var blob []byte
		if err := rows.Scan(&first, &n, &blob); err != nil {
			return nil, err
		}
		if buf, err = decodePostings(buf[:0], first, n, blob); err != nil {
			return nil, err
		}
		for _, ts := range buf {
			if ts > after && len(out) < want {
				out = append(out, ts)
			}
		}
	}
	return out, rows.Err()
}
