package ecosystem

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"pgregory.net/rapid"
)

// TestGenerateRoundTrip: Generate -> Marshal -> Load is valid and gives the
// same world back; the same seed gives byte-identical YAML.
func TestGenerateRoundTrip(t *testing.T) {
	for _, n := range []int{MinGenerated, 60, 250} {
		e := Generate(n, 7)
		if err := e.Validate(); err != nil {
			t.Fatalf("Generate(%d, 7) is invalid:\n%v", n, err)
		}
		if len(e.Institutions) != n {
			t.Fatalf("Generate(%d) has %d institutions", n, len(e.Institutions))
		}
		data, err := Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Load("generated.yaml", data)
		if err != nil {
			t.Fatalf("Load(Marshal(Generate(%d))):\n%v", n, err)
		}
		again, _ := Marshal(back)
		if !bytes.Equal(data, again) {
			t.Fatalf("Marshal(Load(Marshal(e))) differs from Marshal(e) for n=%d", n)
		}
		j1, _ := json.Marshal(e)
		j2, _ := json.Marshal(back)
		if !bytes.Equal(j1, j2) {
			t.Fatalf("the loaded world differs from the generated one for n=%d", n)
		}
		same, _ := Marshal(Generate(n, 7))
		if !bytes.Equal(data, same) {
			t.Fatalf("Generate(%d, 7) is not deterministic", n)
		}
		other, _ := Marshal(Generate(n, 8))
		if bytes.Equal(data, other) {
			t.Fatalf("Generate(%d, 7) and Generate(%d, 8) are identical", n, n)
		}
	}
}

// TestGenerateLarge checks the size the issue asks for (1,000 institutions,
// about 20,000 channels) and that a query's products exist. Skipped with -short.
func TestGenerateLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the 1,000-institution world takes about a second to validate")
	}
	e := Generate(1000, 1)
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(e.Institutions) != 1000 || len(e.Channels) < 18_000 || len(e.Channels) > 22_000 {
		t.Fatalf("Generate(1000, 1): %d institutions, %d channels; want 1000 and about 20000", len(e.Institutions), len(e.Channels))
	}
	if len(e.ChannelsFrom("wallet0001.balance")) == 0 {
		t.Fatal("wallet0001.balance has no outgoing channel")
	}
}

// TestGenerateIsAlwaysValid is a property: every size and seed gives a valid,
// consistent world with the same shape of holders and rules.
func TestGenerateIsAlwaysValid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(-5, 120).Draw(t, "institutions")
		seed := rapid.Int64().Draw(t, "seed")
		e := Generate(n, seed)
		if err := e.Validate(); err != nil {
			t.Fatalf("Generate(%d, %d) is invalid:\n%v", n, seed, err)
		}
		if want := min(max(n, MinGenerated), MaxGenerated); len(e.Institutions) != want {
			t.Fatalf("%d institutions, want %d", len(e.Institutions), want)
		}
		if e.DefaultHolder() == nil || e.DefaultHolder().ID != "me" {
			t.Fatal("default holder is not me")
		}
		if _, ok := e.Holder("friend"); !ok {
			t.Fatal("no holder friend")
		}
		for i := range e.Channels {
			c := &e.Channels[i]
			if got, ok := e.Channel(c.ID); !ok || got != c {
				t.Fatalf("Channel(%s) does not return the channel", c.ID)
			}
			if c.Kind == "cash_out_service" && (c.Success >= 0.03 || c.Latency.P50.Hours() <= 2 || c.Fee.RateBps < 800 || c.Fee.RateBps > 1500) {
				t.Fatalf("intermediary channel %s is not like the seed's: %+v", c.ID, c)
			}
		}
	})
}

// TestMarshalRoundTripSmall: a hand-written file survives Load -> Marshal -> Load.
func TestMarshalRoundTripSmall(t *testing.T) {
	e, err := Load("small.yaml", []byte(readSmall(t)))
	if err != nil {
		t.Fatal(err)
	}
	data, err := Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Load("marshalled.yaml", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	j1, _ := json.Marshal(e)
	j2, _ := json.Marshal(back)
	if !bytes.Equal(j1, j2) {
		t.Fatalf("round trip changed the world:\n%s\n%s", j1, j2)
	}
}

func TestYAMLString(t *testing.T) {
	for _, s := range []string{"plain", "with space", "yes", "No", "null", "", "a: b", "#x", "- x", "12", "1.5", "x\ny", "tab\t", "quote\"", "[x]", "a,b", "trailing ", "–dash", "中文", "x #y", "~"} {
		e := &Ecosystem{ID: "x", Name: s}
		data, _ := Marshal(e)
		var back struct {
			ID   string `yaml:"id"`
			Name string `yaml:"name"`
		}
		if s == "" {
			continue // zero values are omitted
		}
		if err := yaml.Unmarshal(data, &back); err != nil || back.Name != s {
			t.Errorf("name %q came back as %q (%v) from %s", s, back.Name, err, data)
		}
	}
}

// FuzzLoad: Load never panics, and returns either a valid world or an error
// whose every line is "file:…: reason".
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"small.yaml", "many-problems.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{"", "id: x", "- a", "id: [", "{}", "holders: {a: 1}", "channels:\n  - latency: {dist: lognormal, p50: 1h, p95: 1m}\n", "a: &x 1\nb: *x\n", "<<: {id: x}\n", "valid_from: !!timestamp 2020-01-01\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Load("fuzz.yaml", data)
		switch {
		case err == nil && e == nil:
			t.Fatal("nil world without an error")
		case err != nil && e != nil:
			t.Fatal("a world and an error")
		case err == nil:
			if verr := e.Validate(); verr != nil {
				t.Fatalf("Load accepted an invalid world: %v", verr)
			}
		default:
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.yaml") && !strings.HasPrefix(line, "…") {
					t.Fatalf("problem line without the file name: %q", line)
				}
			}
		}
	})
}
