package ledger

import (
	"encoding/binary"
	"math/bits"
)

// fingerprint is a 128-bit digest of the fields of a transfer request that
// idempotency compares: everything the caller chose except ID (so a key
// replay with a fresh id matches) and the TransferLinked flag (a batching
// concern). For post and void transfers the accounts and currency (filled
// in from the pending transfer when stored) are left out, and so is a void's
// amount, so a stored transfer and the request that made it digest the same.
type fingerprint [2]uint64

const (
	fpSeed0 = 0xa0761d6478bd642f
	fpSeed1 = 0xe7037ed1a0b428db
	fpMul0  = 0x8ebc6af09c88c6e3
	fpMul1  = 0x589965cc75374cc3
)

type fpHasher struct{ a, b uint64 }

// mum is wyhash's multiply-and-fold mixer.
func mum(x, y uint64) uint64 {
	hi, lo := bits.Mul64(x, y)
	return hi ^ lo
}

func (h *fpHasher) u64(v uint64) {
	h.a = mum(h.a^v, fpMul0)
	h.b = mum(h.b^bits.RotateLeft64(v, 29), fpMul1)
}

func (h *fpHasher) bytes(p []byte) {
	h.u64(uint64(len(p)))
	for len(p) >= 8 {
		h.u64(binary.LittleEndian.Uint64(p))
		p = p[8:]
	}
	var tail [8]byte
	copy(tail[:], p)
	h.u64(binary.LittleEndian.Uint64(tail[:]))
}

func (h *fpHasher) str(s string) {
	h.u64(uint64(len(s)))
	for len(s) >= 8 {
		h.u64(uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56)
		s = s[8:]
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		v |= uint64(s[i]) << (8 * i)
	}
	h.u64(v)
}

func fingerprintOf(t *Transfer) fingerprint {
	debit, credit, currency, amount := t.DebitAccount, t.CreditAccount, t.Currency, t.AmountFen
	if t.Flags&(TransferPostPending|TransferVoidPending) != 0 {
		debit, credit, currency = 0, 0, ""
	}
	if t.Flags&TransferVoidPending != 0 {
		amount = 0
	}
	h := fpHasher{fpSeed0, fpSeed1}
	h.u64(uint64(debit))
	h.u64(uint64(credit))
	h.u64(uint64(amount))
	h.u64(uint64(t.Code)<<16 | uint64(t.Flags&^TransferLinked))
	h.u64(uint64(t.PendingID))
	h.u64(uint64(t.TimeoutSeconds))
	h.str(currency)
	h.str(t.Key)
	h.bytes(t.Metadata)
	return fingerprint{h.a, h.b}
}
