package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRouteCNFactsWithSources runs the query against the bundled
// cn-facts world with the real binary: the text marks the direct transfer
// (which cn-facts tags unverified) and prints where the withdrawal's figures
// come from, with the date they are in force; --json carries the same per
// hop and in "sources".
func TestRouteCNFactsWithSources(t *testing.T) {
	bin := buildPaybridge(t)
	args := []string{"route", "--ecosystem", "cn-facts", "--from", "alipay.balance", "--to", "wechat.change", "--amount", "1000"}
	r := runPaybridge(t, bin, args...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	out := r.stdout
	for _, want := range []string{
		"alipay_wechat_direct [unverified] by alipay",
		"\nSources (what cn-facts says of each channel and product used above):\n",
		"\n  channel alipay_wechat_direct: unverified; ",
		"\n  channel alipay_withdraw: in force from 2016-10-12; Public facts (Alipay withdrawal row) — China Daily",
		"20,000 yuan free per identity for life",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("route output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "alipay_withdraw [unverified]") {
		t.Errorf("the sourced withdrawal is marked unverified:\n%s", out)
	}
	sources := out[strings.Index(out, "\nSources ("):]
	if n := strings.Count(sources, "channel alipay_withdraw:"); n != 1 {
		t.Errorf("alipay_withdraw listed %d times in sources, want once:\n%s", n, sources)
	}

	r = runPaybridge(t, bin, append(args, "--json")...)
	if r.code != 0 {
		t.Fatalf("--json exit %d: %s", r.code, r.stderr)
	}
	var res struct {
		Routes []struct {
			Hops []struct {
				Channel    string `json:"channel"`
				Source     string `json:"source"`
				Unverified bool   `json:"unverified"`
			} `json:"hops"`
		} `json:"routes"`
		Sources []struct {
			Kind, ID, Source string
			Unverified       bool
		} `json:"sources"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	seen := map[string]bool{}
	for _, rt := range res.Routes {
		for _, h := range rt.Hops {
			switch h.Channel {
			case "alipay_wechat_direct":
				if !h.Unverified || !strings.HasPrefix(h.Source, "unverified; ") {
					t.Errorf("direct hop: unverified %v source %q", h.Unverified, h.Source)
				}
			case "alipay_withdraw":
				if h.Unverified || !strings.Contains(h.Source, "China Daily") {
					t.Errorf("withdraw hop: unverified %v source %q", h.Unverified, h.Source)
				}
			}
			seen[h.Channel] = true
		}
	}
	if !seen["alipay_wechat_direct"] || !seen["alipay_withdraw"] {
		t.Fatalf("routes no longer use both channels: %v", seen)
	}
	listed := 0
	for _, s := range res.Sources {
		if s.Kind == "channel" && s.ID == "alipay_withdraw" {
			listed++
		}
	}
	if listed != 1 || !strings.Contains(r.stdout, `"unverified": true`) {
		t.Errorf("sources list alipay_withdraw %d times; unverified flag present: %v", listed, strings.Contains(r.stdout, `"unverified": true`))
	}

	// --route keeps one route, and only its sources.
	var id string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "alipay_withdraw by") {
			break
		}
		if f := strings.Fields(line); len(f) > 2 && strings.HasSuffix(f[0], ".") && (f[2] == "allowed" || f[2] == "warned") {
			id = f[1]
		}
	}
	if id == "" {
		t.Fatalf("no route over alipay_withdraw found in:\n%s", out)
	}
	r = runPaybridge(t, bin, append(args, "--route", id)...)
	if r.code != 0 {
		t.Fatalf("--route %s exit %d: %s", id, r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "\n  channel alipay_withdraw: in force from 2016-10-12;") || strings.Contains(r.stdout, "alipay_wechat_direct") {
		t.Errorf("--route %s: sources not limited to the route shown:\n%s", id, r.stdout)
	}
}
