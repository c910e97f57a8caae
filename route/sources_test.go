package route

import (
	"bytes"
	"strings"
	"testing"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
)

func TestWriteTableSources(t *testing.T) {
	hop := func(ch, from, to, source string, unverified bool) Hop {
		return Hop{Channel: ch, From: from, To: to, FromHolder: "me", ToHolder: "me", Institution: "alipay",
			Apps: []string{"Alipay"}, Success: 1, Source: source, Unverified: unverified}
	}
	result := func(hops []Hop, sources []Source) *Result {
		return &Result{
			Query:   QueryInfo{Ecosystem: "w", From: "a.x", To: "b.y", Amount: "1.00", FromHolder: "me", ToHolder: "me", Objective: "balanced", Policy: "strict"},
			Routes:  []Route{{ID: "r1", Verdict: VerdictAllowed, Hops: hops, Success: 1}},
			Sources: sources,
		}
	}
	tests := []struct {
		name      string
		res       *Result
		want      []string // lines that must appear, in this order
		wantNot   []string
		wantLines int // lines after "Sources (" inclusive; -1: no section
	}{
		{
			name: "unverified hop marked and listed with its source",
			res: result([]Hop{hop("direct", "a.x", "b.y", "unverified; Seed §8.", true)},
				[]Source{{Kind: SourceChannel, ID: "direct", Source: "unverified; Seed §8.", Unverified: true}, {Kind: SourceProduct, ID: "a.x", Source: "PBOC [2015] No. 43."}, {Kind: SourceProduct, ID: "b.y"}}),
			want: []string{
				"    1) a.x → b.y  direct [unverified] by alipay in Alipay,",
				"Sources (what w says of each channel and product used above):",
				"  channel direct: unverified; Seed §8.",
				"  product a.x: PBOC [2015] No. 43.",
				"  No source given for: product b.y.",
			},
			wantLines: 4,
		},
		{
			name: "verified hops carry no mark; every unsourced figure named once",
			res: result([]Hop{hop("w1", "a.x", "c.z", "in force from 2016-10-12; China Daily", false), hop("t1", "c.z", "b.y", "", false)},
				[]Source{{Kind: SourceChannel, ID: "w1", Source: "in force from 2016-10-12; China Daily"}, {Kind: SourceChannel, ID: "t1"}, {Kind: SourceProduct, ID: "a.x"}, {Kind: SourceProduct, ID: "c.z"}, {Kind: SourceProduct, ID: "b.y"}}),
			want: []string{
				"    1) a.x → c.z  w1 by alipay",
				"    2) c.z → b.y  t1 by alipay",
				"  channel w1: in force from 2016-10-12; China Daily",
				"  No source given for: channel t1, product a.x, product c.z, product b.y.",
			},
			wantNot:   []string{"[unverified]"},
			wantLines: 3,
		},
		{
			name: "routes cut down after planning: only the shown routes' sources",
			res: result([]Hop{hop("w1", "a.x", "b.y", "China Daily", false)},
				[]Source{{Kind: SourceChannel, ID: "direct", Source: "unverified", Unverified: true}, {Kind: SourceChannel, ID: "w1", Source: "China Daily"}, {Kind: SourceProduct, ID: "a.x"}, {Kind: SourceProduct, ID: "c.z", Source: "not shown"}, {Kind: SourceProduct, ID: "b.y"}}),
			want:      []string{"  channel w1: China Daily", "  No source given for: product a.x, product b.y."},
			wantNot:   []string{"direct", "c.z"},
			wantLines: 3,
		},
		{
			name:      "no routes, no sources section",
			res:       &Result{Query: QueryInfo{Ecosystem: "w"}},
			want:      []string{"No allowed route."},
			wantNot:   []string{"Sources"},
			wantLines: -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteTable(&b, tt.res); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			rest := out
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("missing (or out of order) %q in:\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
			for _, w := range tt.wantNot {
				if strings.Contains(out, w) {
					t.Errorf("unexpected %q in:\n%s", w, out)
				}
			}
			i := strings.Index(out, "\nSources (")
			if tt.wantLines < 0 {
				if i >= 0 {
					t.Errorf("unexpected sources section:\n%s", out)
				}
				return
			}
			if got := strings.Count(strings.TrimRight(out[i+1:], "\n"), "\n") + 1; got != tt.wantLines {
				t.Errorf("sources section has %d lines, want %d:\n%s", got, tt.wantLines, out[i+1:])
			}
		})
	}
}

// TestPlanSources checks that Plan fills each hop's source and unverified
// mark from the world and lists every channel and product of the routes
// once, channels first.
func TestPlanSources(t *testing.T) {
	eco, rules := testWorld(t, compliance.PolicyStrict)
	for i := range eco.Channels {
		if eco.Channels[i].ID == "direct_transfer" {
			eco.Channels[i].Tags = append(eco.Channels[i].Tags, ecosystem.TagUnverified)
			eco.Channels[i].Note = "Seed §8,\n  not found in public."
		}
	}
	for i := range eco.Products {
		if eco.Products[i].ID == "wechat.change" {
			eco.Products[i].Note = "WeChat change."
		}
	}
	eco.Reindex()
	res, err := Plan(eco, Query{From: "alipay.balance", To: "wechat.change", AmountFen: 1000 * yuan}, rules)
	if err != nil {
		t.Fatal(err)
	}
	wantChannels, wantProducts := map[string]bool{}, map[string]bool{}
	sawUnverified := false
	for _, r := range res.Routes {
		for _, h := range r.Hops {
			ch, _ := eco.Channel(h.Channel)
			if h.Source != ch.Source() || h.Unverified != ch.Unverified() {
				t.Errorf("hop %s: source %q unverified %v, want %q %v", h.Channel, h.Source, h.Unverified, ch.Source(), ch.Unverified())
			}
			sawUnverified = sawUnverified || h.Unverified
			wantChannels[h.Channel], wantProducts[h.From], wantProducts[h.To] = true, true, true
		}
	}
	if !sawUnverified {
		t.Fatal("no route uses direct_transfer; the test world changed")
	}
	seen := map[string]bool{}
	productsStarted := false
	for _, s := range res.Sources {
		key := s.Kind + " " + s.ID
		if seen[key] {
			t.Errorf("%s listed twice", key)
		}
		seen[key] = true
		switch s.Kind {
		case SourceChannel:
			if productsStarted {
				t.Errorf("channel %s listed after products", s.ID)
			}
			if !wantChannels[s.ID] {
				t.Errorf("channel %s listed but not used", s.ID)
			}
			ch, _ := eco.Channel(s.ID)
			if s.Source != ch.Source() || s.Unverified != ch.Unverified() {
				t.Errorf("channel %s: %q %v", s.ID, s.Source, s.Unverified)
			}
			delete(wantChannels, s.ID)
		case SourceProduct:
			productsStarted = true
			if !wantProducts[s.ID] {
				t.Errorf("product %s listed but not used", s.ID)
			}
			p, _ := eco.Product(s.ID)
			if s.Source != p.Source() {
				t.Errorf("product %s: %q", s.ID, s.Source)
			}
			delete(wantProducts, s.ID)
		default:
			t.Errorf("unknown kind %q", s.Kind)
		}
	}
	if len(wantChannels)+len(wantProducts) > 0 {
		t.Errorf("not listed: channels %v products %v", wantChannels, wantProducts)
	}
	if !seen["channel direct_transfer"] || !strings.Contains(sourceOf(res, "direct_transfer"), "unverified; Seed §8, not found in public.") {
		t.Errorf("direct_transfer source %q", sourceOf(res, "direct_transfer"))
	}
	if sourceOf(res, "wechat.change") != "WeChat change." {
		t.Errorf("wechat.change source %q", sourceOf(res, "wechat.change"))
	}
}

func sourceOf(res *Result, id string) string {
	for _, s := range res.Sources {
		if s.ID == id {
			return s.Source
		}
	}
	return ""
}

// TestRankUnverifiedAtEqualMerit: under every objective, of two routes equal
// on every criterion the one over fewer unverified channels ranks first, even
// when its id sorts later; merit still wins over verification.
func TestRankUnverifiedAtEqualMerit(t *testing.T) {
	mk := func(id string, fee int64, unverified bool) *Route {
		return &Route{ID: id, FeeFen: fee, TimeMeanS: 60, Success: 0.99, AppSwitches: 1, Effort: 1,
			Hops: []Hop{{Channel: id, Unverified: unverified}}}
	}
	for _, obj := range Objectives {
		routes := []*Route{mk("a", 100, true), mk("b", 100, false)}
		rank(routes, obj)
		if routes[0].ID != "b" {
			t.Errorf("%s: equal merit: got %s first, want the verified b", obj, routes[0].ID)
		}
		routes = []*Route{mk("a", 100, true), mk("b", 200, false)}
		rank(routes, obj)
		if routes[0].ID != "a" {
			t.Errorf("%s: cheaper unverified route should still rank first, got %s", obj, routes[0].ID)
		}
	}
}
