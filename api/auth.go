package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/payment"
)

// Roles of an API key.
const (
	RoleAdmin    = "admin"    // everything
	RoleOperator = "operator" // one institution: its accounts and the payments that touch it
	RoleHolder   = "holder"   // one holder: own accounts and payments
	RoleAuditor  = "auditor"  // read-only everything
)

// Principal is who a request acts as: the key's role and scope.
type Principal struct {
	KeyID       string `json:"key_id"`
	Role        string `json:"role"`
	Institution string `json:"institution,omitempty"`
	Holder      string `json:"holder,omitempty"`
}

// ErrUnauthenticated is what an Authenticator returns for a bad key.
var ErrUnauthenticated = errors.New("api: unauthenticated")

// CanWrite reports whether the principal may change anything.
func (p Principal) CanWrite() bool {
	return p.Role == RoleAdmin || p.Role == RoleOperator || p.Role == RoleHolder
}

// Everything reports whether the principal sees every resource.
func (p Principal) Everything() bool { return p.Role == RoleAdmin || p.Role == RoleAuditor }

// SeesHolder reports whether the principal may see holder's accounts.
func (p Principal) SeesHolder(holder string) bool {
	return p.Everything() || (p.Role == RoleHolder && p.Holder == holder)
}

// SeesAccount reports whether the principal may see the account of holder
// at institution.
func (p Principal) SeesAccount(holder, institution string) bool {
	return p.SeesHolder(holder) || (p.Role == RoleOperator && p.Institution == institution)
}

// touches lists the institutions a payment involves: its products' and
// every hop's.
func touches(eco *ecosystem.Ecosystem, s payment.Spec) []string {
	var out []string
	for _, id := range []string{s.From, s.To} {
		if pr, ok := eco.Product(id); ok {
			out = append(out, pr.Institution)
		}
	}
	if s.Route != nil {
		for _, h := range s.Route.Hops {
			out = append(out, h.Institution)
		}
	}
	return out
}

// SeesPayment reports whether the principal may see (and, if it can
// write, act on) a payment.
func (p Principal) seesPayment(eco *ecosystem.Ecosystem, s payment.Spec) bool {
	switch p.Role {
	case RoleAdmin, RoleAuditor:
		return true
	case RoleHolder:
		return s.FromHolder == p.Holder || s.ToHolder == p.Holder
	case RoleOperator:
		for _, inst := range touches(eco, s) {
			if inst == p.Institution {
				return true
			}
		}
	}
	return false
}

// validate checks a principal to be created.
func (p Principal) validate(eco *ecosystem.Ecosystem) *Error {
	switch p.Role {
	case RoleAdmin, RoleAuditor:
		if p.Institution != "" || p.Holder != "" {
			return invalid("role", "role %s is not scoped: leave institution and holder empty", p.Role)
		}
	case RoleOperator:
		if p.Holder != "" {
			return invalid("holder", "an operator is scoped to an institution, not a holder")
		}
		if _, ok := eco.Institution(p.Institution); !ok {
			return invalid("institution", "role operator needs an institution of the ecosystem, not %s", quote(p.Institution))
		}
	case RoleHolder:
		if p.Institution != "" {
			return invalid("institution", "a holder key is scoped to a holder, not an institution")
		}
		if _, ok := eco.Holder(p.Holder); !ok {
			return invalid("holder", "role holder needs a holder of the ecosystem, not %s", quote(p.Holder))
		}
	default:
		return invalid("role", "%s is not one of admin, operator, holder, auditor", quote(p.Role))
	}
	return nil
}

type principalKey struct{}

func principalOf(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}

// WithPrincipal returns ctx carrying p (for tests of handlers).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// bearer extracts the key of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
		return "", false
	}
	return strings.TrimSpace(key), true
}

// MemoryKeys is an in-memory key store: keys hashed with SHA-256, compared
// in constant time. It serves tests and a server started without a key
// database; the auth package's store keeps keys in the ledger file.
type MemoryKeys struct {
	mu   sync.RWMutex
	keys map[string]memKey // key id → hash and principal
}

type memKey struct {
	hash             [32]byte
	p                Principal
	created, revoked time.Time // revoked zero: active
}

// NewMemoryKeys returns an empty store.
func NewMemoryKeys() *MemoryKeys { return &MemoryKeys{keys: map[string]memKey{}} }

// CreateKey makes a key for p: "pbk_" + 8-byte id + "_" + 32-byte secret, hex.
func (m *MemoryKeys) CreateKey(_ context.Context, p Principal) (string, Principal, error) {
	var id [8]byte
	var secret [32]byte
	rand.Read(id[:])
	rand.Read(secret[:])
	p.KeyID = hex.EncodeToString(id[:])
	key := "pbk_" + p.KeyID + "_" + hex.EncodeToString(secret[:])
	m.mu.Lock()
	m.keys[p.KeyID] = memKey{hash: sha256.Sum256([]byte(key)), p: p, created: time.Now()}
	m.mu.Unlock()
	return key, p, nil
}

// Authenticate returns the key's principal, or ErrUnauthenticated.
func (m *MemoryKeys) Authenticate(_ context.Context, key string) (Principal, error) {
	rest, ok := strings.CutPrefix(key, "pbk_")
	id, _, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 {
		return Principal{}, ErrUnauthenticated
	}
	m.mu.RLock()
	k, found := m.keys[id]
	m.mu.RUnlock()
	h := sha256.Sum256([]byte(key))
	if !found || !k.revoked.IsZero() || subtle.ConstantTimeCompare(h[:], k.hash[:]) != 1 {
		return Principal{}, ErrUnauthenticated
	}
	return k.p, nil
}

// Count returns how many active keys the store holds.
func (m *MemoryKeys) Count() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := 0
	for _, k := range m.keys {
		if k.revoked.IsZero() {
			n++
		}
	}
	return n
}
