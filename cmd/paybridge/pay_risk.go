package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/payment"
	"github.com/paybridge/paybridge/risk"
	"github.com/paybridge/paybridge/riskfeed"
)

// riskFlags are the inline risk guard's flags of pay and payments resume.
type riskFlags struct {
	mode, rules, cases string
}

func (r *riskFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&r.mode, "risk", "off", "inline risk guard: on (ask the risk engine before each hop; it may refuse or hold it) or off")
	fl.StringVar(&r.rules, "risk-rules", "", "with --risk on, the rule file (default: the bundled rules, see 'paybridge risk rules')")
	fl.StringVar(&r.cases, "risk-cases", "", "with --risk on, file the alerts of this run's hops into this case database (default: none)")
}

// guard checks the flags and returns the guard they ask for, or nil when
// --risk is off. Its engine is empty until start replays the ledger.
func (r riskFlags) guard() (*liveGuard, error) {
	switch r.mode {
	case "off", "": // "": a command built without the flag
		for _, fl := range []struct{ name, v string }{{"--risk-rules", r.rules}, {"--risk-cases", r.cases}} {
			if fl.v != "" {
				return nil, usageErrorf("%s: needs --risk on", fl.name)
			}
		}
		return nil, nil
	case "on":
	default:
		return nil, usageErrorf("--risk %q is not on or off", r.mode)
	}
	rs, _, err := r.ruleSet()
	if err != nil {
		return nil, err
	}
	g := &liveGuard{eng: risk.NewEngine(rs), asked: map[string]payment.HopCheck{}, ahead: map[string]bool{}}
	if strings.TrimSpace(r.cases) != "" {
		cs, err := risk.OpenSQLite(r.cases)
		if err != nil {
			return nil, usageErrorf("--risk-cases %s: %v", r.cases, err)
		}
		g.cases = cs
	}
	return g, nil
}

// ruleSet returns the rules --risk-rules names (the bundled ones without
// it) and where they came from ("bundled" or the file).
func (r riskFlags) ruleSet() (*risk.RuleSet, string, error) {
	if r.rules == "" {
		return risk.DefaultRules(), "bundled", nil
	}
	b, err := os.ReadFile(r.rules)
	if err != nil {
		return nil, "", usageErrorf("--risk-rules %s: %v", r.rules, errors.Unwrap(err))
	}
	rs, err := risk.ParseRules(b)
	if err != nil {
		return nil, "", usageErrorf("--risk-rules %s: %v", r.rules, err)
	}
	return rs, r.rules, nil
}

// liveGuard is the inline risk guard of one paybridge process: like
// riskfeed.Guard (whose decision mapping it uses), over an engine whose windows and graph are rebuilt from
// the ledger's payment outbox when the process starts, and then kept fed
// with every hop this process posts, so that a payment's later hops (and
// later payments) are checked against its earlier ones.
//
// The executor asks hop k+1 in the very commit that posts hop k, so hop k's
// hop_posted event is not yet in the outbox when hop k+1 is checked: the
// guard observes hop k itself then, from the check it answered for hop k
// (amount entering the hop, holders, channel) at hop k+1's time, and skips
// that hop when it later reads it from the outbox. A payment's last hop is
// read from the outbox by finish (or by the next payment's first check).
type liveGuard struct {
	mu     sync.Mutex
	eng    *risk.Engine
	eco    *ecosystem.Ecosystem
	conv   *riskfeed.Converter
	outbox *payment.Outbox
	after  uint64                      // last outbox seq taken into the engine
	start  uint64                      // outbox end when the process started: alerts before it are not filed again
	asked  map[string]payment.HopCheck // allowed checks by "payment/hop", until their hop is observed
	ahead  map[string]bool             // hops observed before the outbox had them
	cases  *risk.SQLiteStore           // nil: alerts are not filed
	filed  int                         // alerts filed into cases
	hops   int                         // hops observed live (not replayed)
	fed    bool                        // a riskfeed.Feed (serve --risk on) files posted hops and owns cases: file only stopped hops, never close cases
}

var _ payment.HopGuard = (*liveGuard)(nil)

// begin rebuilds the engine's state from w's payment outbox. Call it after
// the executor is open and before any payment runs.
func (g *liveGuard) begin(ctx context.Context, w *world) error { return g.beginOn(ctx, w.eco, w.led) }

// beginOn is begin for an ecosystem and ledger without a world.
func (g *liveGuard) beginOn(ctx context.Context, eco *ecosystem.Ecosystem, led *ledger.Engine) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.eco, g.conv, g.outbox = eco, riskfeed.NewConverter(eco), payment.NewOutbox(led)
	if err := g.catchUp(ctx, false); err != nil {
		return fmt.Errorf("risk guard: replaying the payment outbox: %w", err)
	}
	g.start = g.after
	return nil
}

// finish takes the hops posted since the last check into the engine (and
// the case database) and closes the case database.
func (g *liveGuard) finish(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	err := g.catchUp(ctx, true)
	if g.cases != nil && !g.fed {
		g.cases.Close()
	}
	g.cases = nil
	return err
}

// done takes the hops of p, a payment this process just ran, that the
// guard has not observed yet (its last hop) into the engine from p's own
// events, for a process running many payments that does not read the
// outbox again (bench payments). A process that calls done must not call
// finish or catchUp afterwards: they would observe those hops twice.
func (g *liveGuard) done(ctx context.Context, p *payment.Payment) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, ev := range p.Events {
		if ev.Type != payment.EventHopPosted || p.Spec.Route == nil || ev.Hop < 1 || ev.Hop > len(p.Spec.Route.Hops) {
			continue
		}
		id := hopID(p.ID, ev.Hop)
		delete(g.asked, id)
		if g.ahead[id] {
			delete(g.ahead, id)
			continue
		}
		h := p.Spec.Route.Hops[ev.Hop-1]
		hc := payment.HopCheck{Payment: p.ID, Hop: ev.Hop, FromHolder: h.FromHolder, ToHolder: h.ToHolder, Channel: h.Channel,
			FromProduct: h.From, ToProduct: h.To, AmountFen: ev.AmountFen, CreditShareBps: int(ev.CreditShareBps)}
		if e, err := hopEvent(g.eco, hc, ev.At); err == nil {
			_ = g.observe(ctx, e, true) // an event the engine refuses is not a hop to remember
		}
	}
}

// catchUp observes every outbox event after g.after, skipping hops the
// guard observed ahead of the outbox; live files the alerts of hops past
// g.start. g.mu is held.
func (g *liveGuard) catchUp(ctx context.Context, live bool) error {
	for g.outbox != nil {
		evs, err := g.outbox.Read(ctx, g.after, 256)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		for _, ev := range evs {
			re, ok, err := g.conv.Convert(ev)
			if err != nil {
				return fmt.Errorf("outbox seq %d: %w", ev.Seq, err)
			}
			g.after = ev.Seq
			if !ok {
				continue
			}
			if g.ahead[re.ID] {
				delete(g.ahead, re.ID)
				continue
			}
			delete(g.asked, re.ID)
			if err := g.observe(ctx, re, live && ev.Seq > g.start); err != nil {
				return fmt.Errorf("outbox seq %d: %w", ev.Seq, err)
			}
		}
	}
	return nil
}

// observe records e in the engine and, when file is set, files its alerts.
func (g *liveGuard) observe(ctx context.Context, e risk.Event, file bool) error {
	d, err := g.eng.Observe(e)
	if err != nil {
		return err
	}
	if !file {
		return nil
	}
	g.hops++
	if g.cases == nil || g.fed || !d.Alert() {
		return nil
	}
	for _, a := range risk.Alerts(d) {
		if _, err := g.cases.AddAlert(ctx, a); err != nil {
			return fmt.Errorf("--risk-cases: %w", err)
		}
		g.filed++
	}
	return nil
}

// CheckHop implements payment.HopGuard: it takes the hop before this one
// into the engine (it is being posted in the same commit), then asks the
// engine about this one.
func (g *liveGuard) CheckHop(ctx context.Context, h payment.HopCheck) payment.GuardDecision {
	g.mu.Lock()
	defer g.mu.Unlock()
	if prev, ok := g.asked[hopID(h.Payment, h.Hop-1)]; ok {
		delete(g.asked, hopID(h.Payment, h.Hop-1))
		if e, err := hopEvent(g.eco, prev, h.At); err == nil {
			if g.observe(ctx, e, true) == nil {
				g.ahead[e.ID] = true
			}
		}
	} else if h.Hop > 1 {
		// Hop k-1 ran without a check in this process (a held payment
		// resumed, which starts its hop unasked): it is in the outbox.
		if err := g.catchUp(ctx, true); err != nil {
			return payment.GuardDecision{Action: payment.GuardAllow, Reason: "risk guard could not read the outbox: " + err.Error()}
		}
	}
	e, err := hopEvent(g.eco, h, h.At)
	if err != nil {
		return payment.GuardDecision{Action: payment.GuardAllow, Reason: "risk guard could not check the hop: " + err.Error()}
	}
	rd, err := g.eng.Check(e)
	if err != nil {
		return payment.GuardDecision{Action: payment.GuardAllow, Reason: "risk guard could not check the hop: " + err.Error()}
	}
	d := riskfeed.GuardDecisionOf(rd)
	if d.Action == payment.GuardAllow {
		g.asked[hopID(h.Payment, h.Hop)] = h
	} else if g.cases != nil {
		// The hop never posts, so the feed never sees it: file the alerts
		// that stopped it now, for the reviewer who resumes or refunds it.
		for _, a := range risk.Alerts(rd) {
			if _, err := g.cases.AddAlert(ctx, a); err == nil {
				g.filed++
			}
		}
	}
	return d
}

func hopID(p string, hop int) string { return fmt.Sprintf("%s/%d", p, hop) }

// hopEvent is the risk event of the hop h checked, posted at at: the event
// riskfeed's Converter makes of its hop_posted (the credit share is the
// check's: the payment's, or all of it for money drawn from a credit line).
func hopEvent(eco *ecosystem.Ecosystem, h payment.HopCheck, at time.Time) (risk.Event, error) {
	ch, ok := eco.Channel(h.Channel)
	if !ok {
		return risk.Event{}, fmt.Errorf("unknown channel %q", h.Channel)
	}
	kind, err := riskfeed.KindOf(ch.Kind)
	if err != nil {
		return risk.Event{}, err
	}
	if h.FromHolder == h.ToHolder && kind == risk.KindTransfer {
		kind = risk.KindInternal
	}
	share := int64(h.CreditShareBps)
	if p, ok := eco.Product(h.FromProduct); ok && p.Kind == "credit" {
		share = risk.MaxCreditShareBps
	}
	return risk.Event{
		Time: at, ID: hopID(h.Payment, h.Hop),
		FromAccount: h.FromHolder + "/" + h.FromProduct, ToAccount: h.ToHolder + "/" + h.ToProduct,
		FromHolder: h.FromHolder, ToHolder: h.ToHolder,
		AmountMinor: h.AmountFen, Currency: "CNY", Kind: kind, CreditShareBps: share,
	}, nil
}
