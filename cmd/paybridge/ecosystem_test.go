package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEcosystemCommandsEndToEnd builds paybridge once and runs `paybridge
// ecosystem validate/show/list/generate` as a user would.
func TestEcosystemCommandsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	bin := buildPaybridge(t)
	run := func(t *testing.T, args ...string) binaryRun {
		t.Helper()
		return runPaybridge(t, bin, args...)
	}
	expect := func(t *testing.T, r binaryRun, code int, stdoutHas, stderrHas string) {
		t.Helper()
		if r.code != code || !strings.Contains(r.stdout, stdoutHas) || !strings.Contains(r.stderr, stderrHas) {
			t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant stdout containing %q, stderr containing %q", r.code, code, r.stdout, r.stderr, stdoutHas, stderrHas)
		}
	}
	small := filepath.Join("..", "..", "ecosystem", "testdata", "small.yaml")
	many := filepath.Join("..", "..", "ecosystem", "testdata", "many-problems.yaml")

	t.Run("validate ok", func(t *testing.T) {
		r := run(t, "ecosystem", "validate", small)
		expect(t, r, 0, "", "")
		if r.stdout != "ok: 4 institutions, 4 products, 3 channels, 1 rules\n" {
			t.Fatalf("stdout = %q", r.stdout)
		}
	})
	t.Run("validate a bundled world by name", func(t *testing.T) {
		expect(t, run(t, "ecosystem", "validate", "cn-2023"), 0, "ok: ", "")
	})
	t.Run("validate prints every problem and exits 2", func(t *testing.T) {
		r := run(t, "ecosystem", "validate", many)
		golden, err := os.ReadFile(filepath.Join("..", "..", "ecosystem", "testdata", "many-problems.golden"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(golden)), "\n")
		for i := range lines { // the CLI names the file as given
			lines[i] = strings.Replace(lines[i], "many-problems.yaml", many, 1)
		}
		want := strings.Join(lines, "\n") + "\npaybridge: validate " + many + ": invalid ecosystem, " + itoa(len(lines)) + " problems\n"
		if r.code != 2 || r.stderr != want || r.stdout != "" {
			t.Fatalf("exit %d, stdout %q, stderr:\n%s\nwant:\n%s", r.code, r.stdout, r.stderr, want)
		}
	})
	t.Run("validate --json", func(t *testing.T) {
		r := run(t, "ecosystem", "validate", "--json", many)
		var out struct {
			OK       bool `json:"ok"`
			Problems []struct {
				Line int    `json:"line"`
				Path string `json:"path"`
			} `json:"problems"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 2 || out.OK || len(out.Problems) < 10 || out.Problems[0].Line != 2 || out.Problems[0].Path != "id" {
			t.Fatalf("exit %d, %v, %+v\n%s", r.code, err, out, r.stdout)
		}
	})
	t.Run("validate usage errors", func(t *testing.T) {
		expect(t, run(t, "ecosystem", "validate", "no/such/file.yaml"), 2, "", "no/such/file.yaml: file does not exist")
		expect(t, run(t, "ecosystem", "validate", "atlantis"), 2, "", `unknown ecosystem "atlantis"`)
		expect(t, run(t, "ecosystem", "validate"), 2, "", "accepts 1 arg")
	})
	t.Run("list", func(t *testing.T) {
		expect(t, run(t, "ecosystem", "list"), 0, "cn-2023 *", "")
		r := run(t, "ecosystem", "list", "--json")
		var infos []struct{ ID, Name, File string }
		if err := json.Unmarshal([]byte(r.stdout), &infos); err != nil || len(infos) == 0 {
			t.Fatalf("list --json: %v\n%s", err, r.stdout)
		}
		found := false
		for _, in := range infos {
			found = found || (in.ID == "cn-2023" && in.File == "cn-2023.yaml" && in.Name != "")
		}
		if !found {
			t.Fatalf("cn-2023 not listed: %+v", infos)
		}
	})
	t.Run("show", func(t *testing.T) {
		r := run(t, "ecosystem", "show")
		expect(t, r, 0, "CHANNELS (", "")
		for _, want := range []string{"cn-2023 — ", "INSTITUTIONS (", "PRODUCTS (", "RULES (", "alipay.huabei"} {
			if !strings.Contains(r.stdout, want) {
				t.Fatalf("show lacks %q:\n%s", want, r.stdout)
			}
		}
		r = run(t, "ecosystem", "show", "--ecosystem", small)
		expect(t, r, 0, "alipay_withdraw  withdraw  alipay.balance → bank_a.debit  alipay  0.10% min 0.10 20000.00 free  lognormal p50 5m0s p95 30m0s  0.98", "")
	})
	t.Run("show --json", func(t *testing.T) {
		r := run(t, "ecosystem", "show", "--json", "--ecosystem", small)
		var e struct {
			ID       string `json:"id"`
			Channels []struct {
				ID  string `json:"id"`
				Fee struct {
					RateBps int64 `json:"rate_bps"`
				} `json:"fee"`
			} `json:"channels"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &e); err != nil || e.ID != "small" || len(e.Channels) != 3 || e.Channels[0].Fee.RateBps != 10 {
			t.Fatalf("show --json: %v %+v\n%s", err, e, r.stdout)
		}
	})
	t.Run("show usage errors", func(t *testing.T) {
		r := run(t, "ecosystem", "show", "--ecosystem", "atlantis")
		expect(t, r, 2, "", "--ecosystem: unknown ecosystem \"atlantis\"")
		if strings.Count(r.stderr, "\n") != 1 {
			t.Fatalf("want one line, got:\n%s", r.stderr)
		}
		r = run(t, "ecosystem", "show", "--ecosystem", many)
		expect(t, r, 2, "", "invalid ecosystem")
	})
	t.Run("generate", func(t *testing.T) {
		a := run(t, "ecosystem", "generate", "--institutions", "40", "--seed", "3")
		b := run(t, "ecosystem", "generate", "--institutions", "40", "--seed", "3")
		expect(t, a, 0, "id: generated-40-3", "")
		if a.stdout != b.stdout {
			t.Fatal("the same seed gave different worlds")
		}
		out := filepath.Join(dir, "gen.yaml")
		expect(t, run(t, "ecosystem", "generate", "--institutions", "40", "--seed", "3", "--out", out), 0, "wrote "+out+": 40 institutions", "")
		data, err := os.ReadFile(out)
		if err != nil || string(data) != a.stdout {
			t.Fatalf("--out wrote something else than stdout: %v", err)
		}
		expect(t, run(t, "ecosystem", "validate", out), 0, "ok: 40 institutions", "")
	})
	t.Run("generate usage errors", func(t *testing.T) {
		expect(t, run(t, "ecosystem", "generate", "--institutions", "3"), 2, "", "--institutions: 3 is out of range")
		expect(t, run(t, "ecosystem", "generate", "--seed", "abc"), 2, "", "invalid argument \"abc\" for \"--seed\"")
		expect(t, run(t, "ecosystem", "generate", "--institutions", "20", "--out", filepath.Join(dir, "no", "dir", "x.yaml")), 2, "", "--out:")
	})
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
