package ecosystem_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ecosystems"
)

func bundled(t *testing.T) *ecosystem.Ecosystem {
	t.Helper()
	eco, err := ecosystems.Load(ecosystems.Default)
	if err != nil {
		t.Fatal(err)
	}
	return eco
}

func TestCheckNewHolder(t *testing.T) {
	eco := bundled(t)
	cases := []struct {
		h     ecosystem.Holder
		field string // "" : valid
	}{
		{ecosystem.Holder{ID: "alice", Name: "Alice", Kind: "person"}, ""},
		{ecosystem.Holder{ID: "Shop-2_b", Name: "店", Kind: "merchant", KYCLevel: 3}, ""},
		{ecosystem.Holder{ID: strings.Repeat("a", ecosystem.MaxHolderIDLength), Name: "A", Kind: "person"}, ""},
		{ecosystem.Holder{Name: "A", Kind: "person"}, "id"},
		{ecosystem.Holder{ID: strings.Repeat("a", ecosystem.MaxHolderIDLength+1), Name: "A", Kind: "person"}, "id"},
		{ecosystem.Holder{ID: "a.b", Name: "A", Kind: "person"}, "id"},
		{ecosystem.Holder{ID: "a/b", Name: "A", Kind: "person"}, "id"},
		{ecosystem.Holder{ID: "icbc", Name: "A", Kind: "person"}, "id"},
		{ecosystem.Holder{ID: "a", Kind: "person"}, "name"},
		{ecosystem.Holder{ID: "a", Name: strings.Repeat("n", ecosystem.MaxHolderNameLength+1), Kind: "person"}, "name"},
		{ecosystem.Holder{ID: "a", Name: "\xff", Kind: "person"}, "name"},
		{ecosystem.Holder{ID: "a", Name: "A"}, "kind"},
		{ecosystem.Holder{ID: "a", Name: "A", Kind: "Person"}, "kind"},
		{ecosystem.Holder{ID: "a", Name: "A", Kind: "person", KYCLevel: -1}, "kyc_level"},
		{ecosystem.Holder{ID: "a", Name: "A", Kind: "person", KYCLevel: 4}, "kyc_level"},
		{ecosystem.Holder{ID: "a", Name: "A", Kind: "person", Default: true}, "default"},
	}
	for _, c := range cases {
		err := eco.CheckNewHolder(c.h)
		var he *ecosystem.HolderError
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%+v: %v", c.h, err)
		case c.field != "" && (!errors.As(err, &he) || he.Field != c.field):
			t.Errorf("%+v: %v, want an error on %s", c.h, err, c.field)
		}
	}
}

// TestWithHoldersCopiesOnWrite: the copy has the holder, the original is
// unchanged (concurrent readers of it see no change), and the model is shared.
func TestWithHoldersCopiesOnWrite(t *testing.T) {
	eco := bundled(t)
	n := len(eco.Holders)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // a reader of the original, as a request in flight is
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, ok := eco.Holder("alice"); ok || len(eco.Holders) != n {
				t.Error("the original changed")
				return
			}
			eco.Product("alipay.balance")
		}
	}()
	a := ecosystem.Holder{ID: "alice", Name: "Alice", Kind: "person", KYCLevel: 1}
	grown := eco.WithHolders(ecosystem.AddedHolder{Holder: a, Products: []string{"alipay.balance"}})
	b := ecosystem.Holder{ID: "bob", Name: "Bob", Kind: "merchant"}
	grown2 := grown.WithHolders(ecosystem.AddedHolder{Holder: b})
	close(stop)
	wg.Wait()
	if h, ok := grown2.Holder("alice"); !ok || *h != a {
		t.Fatalf("alice %v %+v", ok, h)
	}
	if _, ok := grown.Holder("bob"); ok {
		t.Error("the first copy changed")
	}
	if len(grown2.Holders) != n+2 || grown2.DefaultHolder().ID != eco.DefaultHolder().ID {
		t.Errorf("holders %d, default %s", len(grown2.Holders), grown2.DefaultHolder().ID)
	}
	p1, _ := eco.Product("alipay.balance")
	p2, _ := grown2.Product("alipay.balance")
	if p1 != p2 {
		t.Error("the copy does not share the products")
	}
	for _, c := range []struct {
		a, b *ecosystem.Ecosystem
		want bool
	}{{grown, eco, true}, {grown2, eco, true}, {grown2, grown, true}, {eco, eco, true}, {eco, grown, false}, {grown, grown2, false}, {bundled(t), eco, false}} {
		if got := c.a.HoldersAddedTo(c.b); got != c.want {
			t.Errorf("HoldersAddedTo: %v, want %v", got, c.want)
		}
	}
	if err := grown2.Validate(); err != nil {
		t.Errorf("the grown world does not validate: %v", err)
	}
	// Accounts: an added holder has those opened for it; the file's, all.
	for _, c := range []struct {
		e               *ecosystem.Ecosystem
		holder, product string
		want            bool
	}{
		{grown2, "alice", "alipay.balance", true}, {grown2, "alice", "wechat.change", false},
		{grown2, "bob", "alipay.balance", false}, {grown2, "me", "wechat.change", true}, {eco, "alice", "wechat.change", true},
	} {
		if got := c.e.HasAccountOf(c.holder, c.product); got != c.want {
			t.Errorf("HasAccountOf(%s, %s) = %v", c.holder, c.product, got)
		}
	}
	opened := grown2.WithAccounts("alice", "wechat.change", "alipay.balance")
	if !opened.HasAccountOf("alice", "wechat.change") || !opened.HasAccountOf("alice", "alipay.balance") || grown2.HasAccountOf("alice", "wechat.change") {
		t.Error("WithAccounts")
	}
	if opened.HoldersAddedTo(grown2) || !opened.HoldersAddedTo(opened) {
		t.Error("a world with an account opened for an existing holder counts as holders added only")
	}
	if more := opened.WithHolders(ecosystem.AddedHolder{Holder: ecosystem.Holder{ID: "carol", Name: "C", Kind: "person"}}); !more.HoldersAddedTo(opened) {
		t.Error("holders added after an opening")
	}
	if eco.WithAccounts("me", "x") != eco {
		t.Error("WithAccounts for a file holder made a new world")
	}
}
