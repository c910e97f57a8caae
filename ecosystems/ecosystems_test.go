package ecosystems

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
)

// TestBundledWorldsLoad loads every bundled file with the full validation
// (rules compiled) and checks each is named after its id.
func TestBundledWorldsLoad(t *testing.T) {
	names := Names()
	if len(names) == 0 {
		t.Skip("no bundled world in ecosystems/ yet (cn-2023.yaml is written separately)")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			e, err := Load(name)
			if err != nil {
				t.Fatalf("bundled world %s does not load:\n%v", name, err)
			}
			if e.ID != name {
				t.Errorf("ecosystems/%s.yaml has id %q; a bundled world's id must be its file name", name, e.ID)
			}
			if e.DefaultHolder() == nil {
				t.Errorf("%s has no default holder", name)
			}
		})
	}
}

func TestDefaultIsBundled(t *testing.T) {
	if len(Names()) == 0 {
		t.Skip("no bundled world in ecosystems/ yet (cn-2023.yaml is written separately)")
	}
	e, err := Resolve("")
	if err != nil {
		t.Fatalf("Resolve(\"\") (the default, %s): %v", Default, err)
	}
	if e.ID != Default {
		t.Fatalf("default world has id %q, want %q", e.ID, Default)
	}
}

func testRegistry() *Registry {
	return New(os.DirFS("testdata/registry"), compliance.LoadCheck)
}

func TestRegistryList(t *testing.T) {
	got := testRegistry().List()
	want := []Info{
		{ID: "broken", Name: "Broken world", File: "broken.yaml"},
		{ID: "small", Name: "Small test world", Description: "Two wallets, a bank and a clearing house.", File: "small.yaml"},
		{ID: "tiny", Name: "Tiny world", Description: "Two wallets, a bank and a clearing house.", File: "tiny.yaml"},
	}
	if len(got) != len(want) {
		t.Fatalf("List() = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("List()[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestRegistryLoad(t *testing.T) {
	r := testRegistry()
	e, err := r.Load("small")
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != "small" || len(e.Channels) != 3 {
		t.Fatalf("loaded %s with %d channels, want small with 3", e.ID, len(e.Channels))
	}
	if _, ok := e.Product("alipay.huabei"); !ok {
		t.Fatal("alipay.huabei not found after Load")
	}
	_, err = r.Load("broken")
	var ee *ecosystem.Error
	if !errors.As(err, &ee) {
		t.Fatalf("Load(broken) = %v, want an *ecosystem.Error", err)
	}
	if !strings.HasPrefix(ee.Problems[0].Error(), "ecosystems/broken.yaml:") {
		t.Errorf("problem %q does not name the file", ee.Problems[0].Error())
	}
	for _, name := range []string{"nope", "", "../small", "README"} {
		if _, err := r.Load(name); !errors.Is(err, ErrUnknown) {
			t.Errorf("Load(%q) = %v, want ErrUnknown", name, err)
		}
	}
}

func TestRegistryResolve(t *testing.T) {
	r := testRegistry()
	if e, err := r.Resolve("tiny"); err != nil || e.ID != "tiny" {
		t.Fatalf("Resolve(tiny) = %v, %v", e, err)
	}
	path := filepath.Join("testdata", "registry", "small.yaml")
	if e, err := r.Resolve(path); err != nil || e.ID != "small" {
		t.Fatalf("Resolve(%s) = %v, %v", path, e, err)
	}
	if e, err := r.Resolve("tiny.yaml"); err != nil || e.ID != "tiny" {
		t.Fatalf("Resolve(tiny.yaml) = %v, %v; want the bundled file", e, err)
	}
	if _, err := r.Resolve("no-such-world"); !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), "small, tiny") {
		t.Fatalf("Resolve(no-such-world) = %v, want ErrUnknown listing the worlds", err)
	}
	if _, err := r.Resolve("missing/dir/world.yaml"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Resolve(missing path) = %v, want not-exist", err)
	}
	if _, err := New(os.DirFS("testdata/registry")).Resolve(""); !errors.Is(err, ErrUnknown) {
		t.Fatalf("Resolve(\"\") without %s = %v, want ErrUnknown", Default, err)
	}
}

// TestRegistryRunsRuleChecks shows that a rule whose CEL does not compile
// fails the load with the rule's path.
func TestRegistryRunsRuleChecks(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "registry", "small.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), "when: hop.requires_same_holder && !hop.same_holder", "when: hop.no_such_field +", 1)
	dir := t.TempDir()
	path := filepath.Join(dir, "bad-rule.yaml")
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = testRegistry().Resolve(path)
	if err == nil || !strings.Contains(err.Error(), "rules[0].when") {
		t.Fatalf("Resolve(bad rule) = %v, want a problem at rules[0].when", err)
	}
}
