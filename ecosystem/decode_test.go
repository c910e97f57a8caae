package ecosystem

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// TestDecodeMatchesGoccy decodes the same files with this package's decoder
// and with goccy's and expects the same model.
func TestDecodeMatchesGoccy(t *testing.T) {
	gen, err := Marshal(Generate(60, 2))
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{"generated": gen}
	for _, name := range []string{filepath.Join("testdata", "small.yaml"), filepath.Join("..", "ecosystems", "cn-2023.yaml")} {
		if data, err := os.ReadFile(name); err == nil {
			inputs[name] = data
		}
	}
	for name, data := range inputs {
		ours, err := Load(name, data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var theirs Ecosystem
		if err := yaml.UnmarshalWithOptions(data, &theirs, yaml.Strict()); err != nil {
			t.Fatalf("%s: goccy: %v", name, err)
		}
		a, _ := json.Marshal(ours)
		b, _ := json.Marshal(&theirs)
		if !bytes.Equal(a, b) {
			t.Errorf("%s decodes differently:\nours   %s\ngoccy  %s", name, a, b)
		}
	}
}

func TestDecodeAnchorsAliasesAndMerges(t *testing.T) {
	src := readSmall(t)
	src = mutate(t, src, "    latency:\n      dist: uniform\n      min: 1m\n      max: 2h",
		"    latency: &slow\n      dist: uniform\n      min: 1m\n      max: 2h")
	src = mutate(t, src, "    latency:\n      dist: instant", "    latency:\n      <<: *slow\n      max: 3h")
	src = mutate(t, src, "    tags: [official]", "    tags: &tags [official, withdraw]")
	src = mutate(t, src, "      other_holder: true", "      other_holder: true\n    tags: *tags")
	e, err := Load("anchors.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c := e.Channels[2]
	if c.Latency.Dist != LatencyUniform || c.Latency.Min.String() != "1m0s" || c.Latency.Max.String() != "3h0m0s" {
		t.Fatalf("merged latency = %+v", c.Latency)
	}
	if strings.Join(c.Tags, ",") != "official,withdraw" {
		t.Fatalf("aliased tags = %v", c.Tags)
	}
	if e.Channels[1].Latency.Max.String() != "2h0m0s" {
		t.Fatalf("the anchored original changed: %+v", e.Channels[1].Latency)
	}
}

func TestDecodeAliasProblems(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"undefined alias", "id: *nope\n", "x.yaml:1:5: id: alias *nope names no anchor defined before it"},
		{"alias cycle", "holders: &h\n  - *h\n", "x.yaml:2:5: holders[0]: alias *h refers to a value that contains it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("x.yaml", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load() = %v, want a problem %q", err, tt.want)
			}
		})
	}
}

// TestDecodeAliasBomb: aliases that multiply (5,000 products sharing a list
// of 5,000 tiers) stop at MaxDecodeSteps instead of exhausting memory.
func TestDecodeAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("products:\n  - tiers: &T\n")
	for range 5000 {
		b.WriteString("      - {name: t}\n")
	}
	for range 5000 {
		b.WriteString("  - tiers: *T\n")
	}
	_, err := Load("bomb.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "expands to more than") {
		t.Fatalf("Load(bomb) = %.300v", err)
	}
}
