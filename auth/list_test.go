package auth

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestRecordsListsRevokedKeysWithTimes(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s, _ := openTemp(t, Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	_, admin, err := s.Create(ctx, Principal{Role: RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	key, op, err := s.Create(ctx, Principal{Role: RoleOperator, Institution: "alipay"})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	if err := s.RevokeGuarded(ctx, op.KeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, key); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("revoked key still authenticates: %v", err)
	}
	rs, err := s.Records(ctx)
	if err != nil || len(rs) != 2 {
		t.Fatalf("records: %v %+v", err, rs)
	}
	if rs[0].KeyID != admin.KeyID || !rs[0].Active() || !rs[0].Created.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("admin record %+v", rs[0])
	}
	if rs[1].KeyID != op.KeyID || rs[1].Active() || !rs[1].Revoked.Equal(now) || rs[1].Institution != "alipay" {
		t.Errorf("operator record %+v", rs[1])
	}
}

func TestRevokeGuardedKeepsTheLastAdmin(t *testing.T) {
	s, _ := openTemp(t, Options{})
	ctx := context.Background()
	_, a1, _ := s.Create(ctx, Principal{Role: RoleAdmin})
	_, a2, _ := s.Create(ctx, Principal{Role: RoleAdmin})
	_, aud, _ := s.Create(ctx, Principal{Role: RoleAuditor})
	for _, tc := range []struct {
		id   string
		want error
	}{
		{"nothex", ErrNotFound},
		{"0000000000000000", ErrNotFound},
		{aud.KeyID, nil},
		{aud.KeyID, ErrNotFound}, // already revoked
		{a1.KeyID, nil},
		{a2.KeyID, ErrLastAdmin},
	} {
		if err := s.RevokeGuarded(ctx, tc.id); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("RevokeGuarded(%s) = %v, want %v", tc.id, err, tc.want)
		}
	}
	if n, _ := s.Count(ctx); n != 1 {
		t.Fatalf("%d active keys, want the last admin", n)
	}
}

// TestRevokeGuardedConcurrent: two admins revoking each other at once
// leave exactly one admin.
func TestRevokeGuardedConcurrent(t *testing.T) {
	for range 10 {
		s, _ := openTemp(t, Options{})
		ctx := context.Background()
		_, a1, _ := s.Create(ctx, Principal{Role: RoleAdmin})
		_, a2, _ := s.Create(ctx, Principal{Role: RoleAdmin})
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, id := range []string{a1.KeyID, a2.KeyID} {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = s.RevokeGuarded(ctx, id) }()
		}
		wg.Wait()
		if n, _ := s.Count(ctx); n != 1 {
			t.Fatalf("%d admins left (errors %v)", n, errs)
		}
		if (errs[0] == nil) == (errs[1] == nil) || !(errors.Is(errs[0], ErrLastAdmin) || errors.Is(errs[1], ErrLastAdmin)) {
			t.Fatalf("errors %v: want one nil and one ErrLastAdmin", errs)
		}
	}
}
