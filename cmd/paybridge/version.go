package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"; otherwise
// it comes from the module build info.
var version = ""

func init() {
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print paybridge's version and the Go toolchain that built it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, goVersion, revision := version, "unknown", ""
			if info, ok := debug.ReadBuildInfo(); ok {
				goVersion = info.GoVersion
				if v == "" {
					v = info.Main.Version
				}
				for _, s := range info.Settings {
					if s.Key == "vcs.revision" {
						revision = s.Value
					}
				}
			}
			if v == "" || v == "(devel)" {
				v = "dev"
			}
			line := "paybridge " + v + " (" + goVersion
			if revision != "" {
				line += ", " + revision[:min(12, len(revision))]
			}
			fmt.Fprintln(cmd.OutOrStdout(), line+")")
			return nil
		},
	})
}
