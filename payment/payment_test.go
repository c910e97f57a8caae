package payment

import (
	"context"
	"testing"

	"github.com/paybridge/paybridge/compliance"
)

func TestHappyPathFourHops(t *testing.T) {
	w := newWorld(t, compliance.PolicyStrict)
	ctx := context.Background()
	before := w.balance("me", "alipay.balance")
	p, err := w.x.Pay(ctx, Request{From: "alipay.balance", To: "wechat.change", ToHolder: "friend", AmountFen: 100_000, Channels: fourHops, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Events {
		t.Logf("%s %-12s hop %d %v %s", e.At.Format("15:04:05"), e.Type, e.Hop, e.TransferIDs, e.Reason)
	}
	if p.State != StateCompleted {
		t.Fatalf("state %s: %s", p.State, p.Reason)
	}
	if got := before - w.balance("me", "alipay.balance"); got != 100_000 {
		t.Errorf("origin paid %d", got)
	}
	if got := w.balance("friend", "wechat.change") - DefaultOpeningFen; got != p.DeliveredFen() {
		t.Errorf("friend got %d, delivered %d", got, p.DeliveredFen())
	}
	if p.DeliveredFen()+p.FeeFen() != 100_000 {
		t.Errorf("delivered %d + fee %d != sent", p.DeliveredFen(), p.FeeFen())
	}
	w.checkBooks(t)
}
