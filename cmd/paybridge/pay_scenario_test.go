package main

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var rewritePay = flag.Bool("rewrite-pay", false, "rewrite testdata/pay/*.txt with the binary's current output")

// TestPayScenarios runs each testdata/pay/*.txt scenario — a paybridge
// command on a fresh ledger — and compares exit status and output with the
// file. Regenerate with: go test ./cmd/paybridge -run TestPayScenarios -rewrite-pay
//
// File format: "args: …" (the command, without --db), "exit: N", a line
// "---", then the expected standard output.
func TestPayScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "pay", "*.txt"))
	if len(files) == 0 {
		t.Fatal("no scenarios in testdata/pay")
	}
	bin := buildPaybridge(t)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			head, want, ok := strings.Cut(string(data), "---\n")
			if !ok {
				t.Fatalf("%s: no --- line", file)
			}
			var args []string
			var exit int
			for _, line := range strings.Split(head, "\n") {
				if a, ok := strings.CutPrefix(line, "args: "); ok {
					args = strings.Fields(a)
				} else if e, ok := strings.CutPrefix(line, "exit: "); ok {
					exit, _ = strconv.Atoi(e)
				}
			}
			db := filepath.Join(t.TempDir(), "p.db")
			var r binaryRun
			for _, cmd := range splitCommands(args) {
				r = runPaybridge(t, bin, append(cmd, "--db", db)...)
			}
			if *rewritePay {
				var b strings.Builder
				for _, line := range strings.Split(head, "\n") {
					if line != "" && !strings.HasPrefix(line, "exit: ") {
						b.WriteString(line + "\n")
					}
				}
				b.WriteString("exit: " + strconv.Itoa(r.code) + "\n---\n" + r.stdout)
				if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if r.code != exit || r.stdout != want {
				t.Errorf("exit %d (want %d); output:\n%s\nwant:\n%s\nstderr: %s", r.code, exit, r.stdout, want, r.stderr)
			}
		})
	}
}

// splitCommands splits args at "&&" into commands run one after another on
// the same ledger; the last one's output is compared.
func splitCommands(args []string) [][]string {
	var out [][]string
	cur := []string{}
	for _, a := range args {
		if a == "&&" {
			out = append(out, cur)
			cur = []string{}
			continue
		}
		cur = append(cur, a)
	}
	return append(out, cur)
}
