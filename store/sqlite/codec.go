package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/paybridge/paybridge/ledger"
)

// codecVersion is the first byte of every encoded commit. A new encoding gets
// a new version; decoders keep reading the old ones.
const codecVersion = 1

// ErrCorrupt is returned when a journal entry cannot be decoded or its hash
// chain does not match: the file was damaged or written by something else.
var ErrCorrupt = errors.New("sqlite store: corrupt journal entry")

// encodeCommit appends the compact binary encoding of c to dst. Integers are
// varints; strings and byte slices are length-prefixed; transfer timestamps
// are delta-encoded against the previous one (they increase).
func encodeCommit(dst []byte, c *ledger.CommitRecord) []byte {
	dst = append(dst, codecVersion)
	dst = binary.AppendUvarint(dst, c.Seq)
	dst = binary.AppendVarint(dst, c.Timestamp)
	dst = binary.AppendUvarint(dst, uint64(len(c.Accounts)))
	for i := range c.Accounts {
		dst = appendAccount(dst, &c.Accounts[i])
	}
	dst = binary.AppendUvarint(dst, uint64(len(c.Transfers)))
	prevTS := c.Timestamp
	for i := range c.Transfers {
		dst = appendTransfer(dst, &c.Transfers[i], prevTS)
		prevTS = c.Transfers[i].Timestamp
	}
	dst = binary.AppendUvarint(dst, uint64(len(c.StateChanges)))
	for _, s := range c.StateChanges {
		dst = binary.AppendUvarint(dst, uint64(s.ID))
		dst = append(dst, byte(s.State))
	}
	dst = binary.AppendUvarint(dst, uint64(len(c.Counters)))
	for _, ctr := range c.Counters {
		dst = appendString(dst, ctr.Key)
		dst = binary.AppendVarint(dst, ctr.Value)
	}
	dst = binary.AppendUvarint(dst, uint64(len(c.Records)))
	for _, r := range c.Records {
		dst = binary.AppendUvarint(dst, r.Seq)
		dst = binary.AppendUvarint(dst, r.CommitSeq)
		dst = appendString(dst, r.Kind)
		dst = appendString(dst, r.Key)
		dst = appendBytes(dst, r.Data)
	}
	return dst
}

func appendAccount(dst []byte, a *ledger.Account) []byte {
	dst = binary.AppendUvarint(dst, uint64(a.ID))
	dst = appendString(dst, a.Holder)
	dst = appendString(dst, a.Institution)
	dst = appendString(dst, a.Product)
	dst = appendString(dst, a.Currency)
	dst = binary.AppendVarint(dst, a.FloorFen)
	dst = binary.AppendUvarint(dst, uint64(a.Flags))
	dst = binary.AppendVarint(dst, a.BalanceFen)
	dst = binary.AppendVarint(dst, a.DebitsPendingFen)
	dst = binary.AppendVarint(dst, a.CreditsPendingFen)
	dst = binary.AppendVarint(dst, a.CreditShareFen)
	return binary.AppendVarint(dst, a.Timestamp)
}

func appendTransfer(dst []byte, t *ledger.Transfer, prevTS int64) []byte {
	dst = binary.AppendUvarint(dst, uint64(t.ID))
	dst = appendString(dst, t.Key)
	dst = binary.AppendUvarint(dst, uint64(t.DebitAccount))
	dst = binary.AppendUvarint(dst, uint64(t.CreditAccount))
	dst = binary.AppendVarint(dst, t.AmountFen)
	dst = appendString(dst, t.Currency)
	dst = binary.AppendUvarint(dst, uint64(t.Code))
	dst = binary.AppendUvarint(dst, uint64(t.Flags))
	dst = binary.AppendUvarint(dst, uint64(t.PendingID))
	dst = binary.AppendVarint(dst, t.TimeoutSeconds)
	dst = appendBytes(dst, t.Metadata)
	dst = binary.AppendVarint(dst, t.Timestamp-prevTS)
	dst = append(dst, byte(t.State))
	return binary.AppendVarint(dst, t.CreditShareFen)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBytes(dst []byte, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// decoder reads an encoded commit. The first error sticks; every read after
// it returns zero values, so callers check err once at the end of a record.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", ErrCorrupt, what)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) byte1(what string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.buf) == 0 {
		d.fail(what)
		return 0
	}
	b := d.buf[0]
	d.buf = d.buf[1:]
	return b
}

func (d *decoder) bytes(what string, maxLen int) []byte {
	n := d.uvarint(what)
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.buf)) || n > uint64(maxLen) {
		d.fail(what)
		return nil
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}

func (d *decoder) str(what string, maxLen int) string { return string(d.bytes(what, maxLen)) }

// count reads a list length and refuses one that could not fit in the rest
// of the buffer at minBytes per item (so corrupt input cannot make us
// allocate gigabytes).
func (d *decoder) count(what string, minBytes int) int {
	n := d.uvarint(what)
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.buf)/minBytes) || n > math.MaxInt32 {
		d.fail(what)
		return 0
	}
	return int(n)
}

// decodeCommit decodes one encoded commit. It never panics; damaged input
// gives an error wrapping ErrCorrupt. Byte slices in the result are copies.
func decodeCommit(body []byte) (*ledger.CommitRecord, error) {
	if len(body) == 0 || body[0] != codecVersion {
		return nil, fmt.Errorf("%w: unknown encoding version", ErrCorrupt)
	}
	d := &decoder{buf: body[1:]}
	c := &ledger.CommitRecord{Seq: d.uvarint("seq"), Timestamp: d.varint("timestamp")}
	if n := d.count("account count", 12); n > 0 {
		c.Accounts = make([]ledger.Account, n)
		for i := range c.Accounts {
			decodeAccount(d, &c.Accounts[i])
		}
	}
	if n := d.count("transfer count", 16); n > 0 {
		c.Transfers = make([]ledger.Transfer, n)
		prevTS := c.Timestamp
		for i := range c.Transfers {
			decodeTransfer(d, &c.Transfers[i], prevTS)
			prevTS = c.Transfers[i].Timestamp
		}
	}
	if n := d.count("state change count", 2); n > 0 {
		c.StateChanges = make([]ledger.StateChange, n)
		for i := range c.StateChanges {
			c.StateChanges[i] = ledger.StateChange{ID: ledger.TransferID(d.uvarint("state change id")), State: ledger.TransferState(d.byte1("state"))}
		}
	}
	if n := d.count("counter count", 2); n > 0 {
		c.Counters = make([]ledger.Counter, n)
		for i := range c.Counters {
			c.Counters[i] = ledger.Counter{Key: d.str("counter key", ledger.MaxKeyLen), Value: d.varint("counter value")}
		}
	}
	if n := d.count("record count", 5); n > 0 {
		c.Records = make([]ledger.Record, n)
		for i := range c.Records {
			r := &c.Records[i]
			r.Seq, r.CommitSeq = d.uvarint("record seq"), d.uvarint("record commit seq")
			r.Kind, r.Key = d.str("record kind", ledger.MaxKeyLen), d.str("record key", ledger.MaxKeyLen)
			r.Data = append([]byte(nil), d.bytes("record data", ledger.MaxRecordBytes)...)
		}
	}
	if d.err == nil && len(d.buf) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return nil, d.err
	}
	return c, nil
}

func decodeAccount(d *decoder, a *ledger.Account) {
	a.ID = ledger.AccountID(d.uvarint("account id"))
	a.Holder = d.str("account holder", ledger.MaxNameLen)
	a.Institution = d.str("account institution", ledger.MaxNameLen)
	a.Product = d.str("account product", ledger.MaxNameLen)
	a.Currency = d.str("account currency", ledger.MaxNameLen)
	a.FloorFen = d.varint("account floor")
	a.Flags = ledger.AccountFlags(d.uvarint("account flags"))
	a.BalanceFen = d.varint("account balance")
	a.DebitsPendingFen = d.varint("account debits pending")
	a.CreditsPendingFen = d.varint("account credits pending")
	a.CreditShareFen = d.varint("account credit share")
	a.Timestamp = d.varint("account timestamp")
}

func decodeTransfer(d *decoder, t *ledger.Transfer, prevTS int64) {
	t.ID = ledger.TransferID(d.uvarint("transfer id"))
	t.Key = d.str("transfer key", ledger.MaxKeyLen)
	t.DebitAccount = ledger.AccountID(d.uvarint("transfer debit account"))
	t.CreditAccount = ledger.AccountID(d.uvarint("transfer credit account"))
	t.AmountFen = d.varint("transfer amount")
	t.Currency = d.str("transfer currency", ledger.MaxNameLen)
	t.Code = uint16(d.uvarint("transfer code"))
	t.Flags = ledger.TransferFlags(d.uvarint("transfer flags"))
	t.PendingID = ledger.TransferID(d.uvarint("transfer pending id"))
	t.TimeoutSeconds = d.varint("transfer timeout")
	if m := d.bytes("transfer metadata", ledger.MaxMetadataBytes); len(m) > 0 {
		t.Metadata = append([]byte(nil), m...)
	}
	t.Timestamp = prevTS + d.varint("transfer timestamp")
	t.State = ledger.TransferState(d.byte1("transfer state"))
	t.CreditShareFen = d.varint("transfer credit share")
}
