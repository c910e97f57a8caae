package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildPaybridge builds the real paybridge binary into a temporary directory
// of t, for end-to-end tests that run it as a user would.
func buildPaybridge(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "paybridge")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// binaryRun is what one run of the binary printed and how it exited.
type binaryRun struct {
	stdout, stderr string
	code           int
}

// runPaybridge runs bin with args and fails the test if it could not start
// or if it crashed (a Go panic or stack trace on stderr): bad input must end
// in a one-line error, never a trace.
func runPaybridge(t *testing.T, bin string, args ...string) binaryRun {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := binaryRun{stdout.String(), stderr.String(), 0}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running paybridge %s: %v", strings.Join(args, " "), err)
	}
	if strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") {
		t.Fatalf("paybridge %s crashed:\n%s", strings.Join(args, " "), r.stderr)
	}
	return r
}
