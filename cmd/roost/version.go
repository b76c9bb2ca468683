package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/roostmq/roost/broker"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of roost",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			printVersion(cmd.OutOrStdout())
		},
	}
}

// buildVersion is version, or the module version when the binary was built
// by "go install ...@vX.Y.Z" without -ldflags, or else broker.Version. serve
// hands it to the broker, so that `roost version`, the banner, /metrics,
// the API and $SYS all say the same.
func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return broker.Version
}

// printVersion prints the version line of `roost version`, `roost
// --version` and `roost serve --version`.
func printVersion(w io.Writer) { io.WriteString(w, versionLine()) }

func versionLine() string {
	return fmt.Sprintf("roost %s (%s, %s/%s)\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
