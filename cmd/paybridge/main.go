// Command paybridge plans, executes and watches money movements across closed
// payment ecosystems. This package only wires the domain packages to a CLI;
// every subcommand lives in its own file and registers itself with root.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes: 0 ok, 1 the job failed (a violation, a failed check), 2 bad usage or input.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

var root = &cobra.Command{
	Use:   "paybridge",
	Short: "Plan, execute and watch money movements across closed payment ecosystems",
	Long: `paybridge models payment ecosystems (wallets, banks, credit lines, clearing
houses, e-CNY, intermediaries), plans every route between two accounts ranked by
cost, time, reliability and effort, explains every refused route by rule and
citation, executes routes on a double-entry ledger and watches them for
cash-out and laundering patterns.

Start with:
  paybridge route --from alipay.huabei --to wechat.change --to-holder friend --amount 1000
  paybridge calibrate
  paybridge ecosystem show`,
	SilenceUsage:  true,
	SilenceErrors: true,
}

// usageError marks bad usage or input: the CLI exits 2 and prints the message on one line.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErrorf returns an error that makes paybridge exit 2.
func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// failure marks a job that ran but found a failure (a violation, a failed
// calibration): exit 1. Its output has already been printed.
type failure struct{ msg string }

func (e *failure) Error() string { return e.msg }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI with args and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "paybridge: "+err.Error())
	var ue *usageError
	var fe *failure
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &fe):
		return exitFailure
	case isCobraUsage(err):
		return exitUsage
	}
	return exitFailure
}

// isCobraUsage recognises cobra's own argument errors (unknown command, wrong arg count).
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "unknown flag", "unknown shorthand"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
