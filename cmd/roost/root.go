package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the broker failed while starting or running
	exitUsage = 2 // bad flags, arguments or config file
)

// exitCodeError carries the exit code of a failed command. Errors of cobra
// itself (unknown commands and flags, wrong arguments) have none and mean
// bad usage.
type exitCodeError struct {
	code  int
	err   error
	quiet bool // --quiet: not printed
}

func (e *exitCodeError) Error() string { return e.err.Error() }
func (e *exitCodeError) Unwrap() error { return e.err }

func usageErr(err error) error   { return &exitCodeError{code: exitUsage, err: err} }
func runtimeErr(err error) error { return &exitCodeError{code: exitError, err: err} }

// run executes the command line args and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	args, err := withOptionsFile(args)
	if err != nil {
		fmt.Fprintf(stderr, "roost: %v\n", err)
		return exitUsage
	}
	root.SetArgs(groupPropertyArgs(args))
	err = root.Execute()
	if err == nil {
		return exitOK
	}
	var ce *exitCodeError
	if errors.As(err, &ce) {
		if !ce.quiet {
			fmt.Fprintf(stderr, "roost: %v\n", err)
		}
		return ce.code
	}
	fmt.Fprintf(stderr, "roost: %v\n", err)
	fmt.Fprintln(stderr, "Run 'roost --help' for usage.")
	return exitUsage
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "roost",
		Short: "Roost is an MQTT broker",
		Long: "Roost is an MQTT 3.1, 3.1.1 and 5.0 broker.\n\n" +
			"Exit codes: 0 success, 1 error while running, 2 bad usage or config.",
		SilenceErrors: true,
		SilenceUsage:  true,
		// No completion subcommand until the command set settles.
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.Version = buildVersion()
	root.SetVersionTemplate(versionLine()) // the same line as `roost version`
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr(err) })
	root.AddCommand(newServeCmd(), newVersionCmd(), newBenchCmd(),
		newPubCmd(), newSubCmd(), newReqCmd(), newPasswdCmd(os.Stdin), newPingCmd())
	return root
}
