package ecosystems

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
)

// TestDocsWhatIfExampleLoads adds the e-CNY what-if channels and the
// calibration examples of docs/ecosystem.md to the default world and checks
// the result loads, so the documented examples stay valid.
func TestDocsWhatIfExampleLoads(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "ecosystem.md"))
	if err != nil {
		t.Skipf("docs/ecosystem.md not readable: %v", err)
	}
	world, err := bundled.ReadFile(Default + ".yaml")
	if err != nil {
		t.Skipf("%s not bundled yet: %v", Default, err)
	}
	var whatIf, targets string
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(doc), -1) {
		switch {
		case strings.Contains(m[1], "ecny_to_wechat"):
			whatIf = m[1]
		case strings.Contains(m[1], "mybank_bridge_time"):
			targets = strings.TrimPrefix(m[1], "calibration:\n")
		}
	}
	if whatIf == "" || targets == "" {
		t.Fatal("docs/ecosystem.md lost its what-if or calibration example")
	}
	src := string(world)
	if !strings.Contains(src, "\nchannels:\n") || !strings.Contains(src, "\ncalibration:\n") {
		t.Skipf("%s.yaml has no block-style channels/calibration lists to extend", Default)
	}
	src = strings.Replace(src, "\nchannels:\n", "\nchannels:\n"+whatIf, 1)
	src = strings.Replace(src, "\ncalibration:\n", "\ncalibration:\n"+targets, 1)
	src = strings.Replace(src, "id: "+Default, "id: what-if", 1)
	e, err := ecosystem.Load("what-if.yaml", []byte(src), compliance.LoadCheck)
	if err != nil {
		t.Fatalf("the documented what-if does not load:\n%v", err)
	}
	if _, ok := e.Channel("ecny_to_wechat"); !ok {
		t.Fatal("what-if channel missing")
	}
}
