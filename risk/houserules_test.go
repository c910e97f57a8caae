package risk

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEngineSourceNeverReadsLabels is a house rule: labels exist for
// evaluation only, so no engine source outside the Event declaration may
// touch them (TestEngineIgnoresLabels checks the behaviour).
func TestEngineSourceNeverReadsLabels(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "event.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), ".Labels") {
			t.Errorf("%s reads Event.Labels", f)
		}
	}
}

// TestNoFloatMoney is a house rule: amounts are int64 minor units; floats
// appear only in ratios and seconds.
func TestNoFloatMoney(t *testing.T) {
	for _, f := range []string{"event.go", "graph.go", "mule.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "float") {
			t.Errorf("%s uses floating point", f)
		}
	}
}

// TestDocsQuoteDefaultRules keeps docs/risk.md's quotation of the bundled rule file current.
func TestDocsQuoteDefaultRules(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "risk.md"))
	if err != nil {
		t.Skipf("docs/risk.md not found: %v", err)
	}
	if !strings.Contains(string(doc), string(defaultRulesYAML)) {
		t.Error("docs/risk.md does not quote risk/rules/default.yaml as it is; paste the file into the Rules section")
	}
}
