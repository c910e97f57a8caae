package route

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystems"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected tables of testdata/*.txt scenarios")

// TestScenarios runs each testdata/*.txt scenario: a header of
//
//	world: FILE or bundled NAME
//	query: key=value … (see ParseQuery)
//
// then a line "----" and the table Plan's result must print. Run with
// -rewrite to regenerate the tables after a deliberate change, and review the diff.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			header, want, found := strings.Cut(string(data), "----\n")
			if !found {
				t.Fatalf("%s: no ---- line between the header and the expected table", file)
			}
			world, query := "", ""
			for _, line := range strings.Split(header, "\n") {
				if k, v, ok := strings.Cut(line, ": "); ok && !strings.HasPrefix(line, "#") {
					switch k {
					case "world":
						world = v
					case "query":
						query = v
					}
				}
			}
			q, err := ParseQuery(query)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			eco, err := ecosystems.Resolve(world)
			if err != nil {
				t.Fatalf("%s: world %q: %v", file, world, err)
			}
			rules, err := compliance.NewChecker(eco.Rules, q.Policy)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Plan(eco, q, rules)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			var got bytes.Buffer
			if err := WriteTable(&got, res); err != nil {
				t.Fatal(err)
			}
			if *rewrite {
				if err := os.WriteFile(file, []byte(header+"----\n"+got.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got.String() != want {
				t.Errorf("%s: table differs (run go test ./route -run TestScenarios -rewrite and review the diff)\n--- got\n%s--- want\n%s", file, got.String(), want)
			}
		})
	}
}
