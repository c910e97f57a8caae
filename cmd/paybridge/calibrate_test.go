package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// TestCalibrateEndToEnd builds the real binary once and runs `paybridge
// calibrate` on the bundled world, on a mis-set copy and on malformed input.
func TestCalibrateEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	dir := t.TempDir()
	bin := buildPaybridge(t)
	world, err := os.ReadFile("../../ecosystems/cn-2023.yaml")
	if err != nil {
		t.Fatalf("reading the bundled world: %v", err)
	}
	writeWorld := func(name, from, to string) string {
		t.Helper()
		if !bytes.Contains(world, []byte(from)) {
			t.Fatalf("cn-2023.yaml no longer contains %q", from)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, bytes.Replace(world, []byte(from), []byte(to), 1), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}

	t.Run("json on the bundled world", func(t *testing.T) {
		stdout, stderr, code := calibRun(t, bin, "calibrate", "--json")
		if code != 0 {
			t.Fatalf("exit %d, stderr %s", code, stderr)
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(stdout), &raw); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, stdout)
		}
		if keys := calibKeys(raw); !reflect.DeepEqual(keys, []string{"pass", "targets"}) {
			t.Errorf("top-level keys %v", keys)
		}
		if raw["pass"] != true {
			t.Errorf("pass = %v", raw["pass"])
		}
		targets, _ := raw["targets"].([]any)
		if len(targets) < 20 {
			t.Fatalf("%d targets", len(targets))
		}
		for _, x := range targets {
			tg, _ := x.(map[string]any)
			if keys := calibKeys(tg); !reflect.DeepEqual(keys, []string{"model", "name", "pass", "seed", "tolerance"}) {
				t.Errorf("target keys %v", keys)
			}
			if tg["pass"] != true {
				t.Errorf("target %v fails", tg)
			}
		}
		again, _, _ := calibRun(t, bin, "calibrate", "--json")
		if again != stdout {
			t.Error("two runs printed different JSON")
		}
	})

	t.Run("table on the bundled world", func(t *testing.T) {
		stdout, _, code := calibRun(t, bin, "calibrate")
		if code != 0 || !strings.Contains(stdout, "forced_path_failure_rate") || !strings.Contains(stdout, "targets pass.") {
			t.Fatalf("exit %d, output:\n%s", code, stdout)
		}
	})

	t.Run("mis-set world fails naming the target", func(t *testing.T) {
		path := writeWorld("misset.yaml", "fee: { rate_bps: 10 } # seed §8: total cost 0.1%", "fee: { rate_bps: 30 }")
		stdout, stderr, code := calibRun(t, bin, "calibrate", "--ecosystem", path, "--json")
		if code != 1 {
			t.Fatalf("exit %d, want 1; stderr %s", code, stderr)
		}
		if !strings.Contains(stderr, "direct_transfer_cost") || !strings.Contains(stderr, "1 of ") {
			t.Errorf("stderr does not name the failing target: %s", stderr)
		}
		var report struct {
			Targets []struct {
				Name string
				Pass bool
			}
			Pass bool
		}
		if err := json.Unmarshal([]byte(stdout), &report); err != nil || report.Pass {
			t.Fatalf("report %s (err %v)", stdout, err)
		}
	})

	t.Run("malformed target is bad input", func(t *testing.T) {
		path := writeWorld("badmetric.yaml", "metric: app_switches", "metric: app_swaps")
		_, stderr, code := calibRun(t, bin, "calibrate", "--ecosystem", path)
		if code != 2 || !strings.Contains(stderr, `calibration[8].metric: "app_swaps" is not one of`) {
			t.Fatalf("exit %d, stderr %s", code, stderr)
		}
	})

	t.Run("unknown ecosystem is bad input", func(t *testing.T) {
		_, stderr, code := calibRun(t, bin, "calibrate", "--ecosystem", "nowhere-1999")
		if code != 2 || !strings.Contains(stderr, "--ecosystem") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
	})
}

func calibRun(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	r := runPaybridge(t, bin, args...)
	return r.stdout, r.stderr, r.code
}

func calibKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
