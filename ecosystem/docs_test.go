package ecosystem

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestDocsNameEveryField keeps docs/ecosystem.md complete: every YAML field of
// every type an ecosystem file contains must appear in it as `field`.
func TestDocsNameEveryField(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "docs", "ecosystem.md"))
	if err != nil {
		t.Skipf("docs/ecosystem.md not readable: %v", err)
	}
	doc := string(data)
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ == reflect.TypeOf(time.Time{}) || seen[typ] {
			return
		}
		seen[typ] = true
		for i := range typ.NumField() {
			f := typ.Field(i)
			name := yamlName(f)
			if name == "" {
				continue
			}
			if !strings.Contains(doc, "`"+name+"`") && !strings.Contains(doc, "`query."+name+"`") {
				t.Errorf("docs/ecosystem.md does not document %s.%s (`%s`)", path, f.Name, name)
			}
			walk(f.Type, path+"."+f.Name)
		}
	}
	walk(reflect.TypeOf(Ecosystem{}), "Ecosystem")
	for _, values := range [][]string{InstitutionKinds, ProductKinds, ChannelKinds, HolderKinds, ClearingModes, ClearingDays, LatencyDists, RuleScopes, RuleEffects, Objectives} {
		for _, v := range values {
			if !strings.Contains(doc, "`"+v+"`") {
				t.Errorf("docs/ecosystem.md does not name the allowed value %q", v)
			}
		}
	}
}
