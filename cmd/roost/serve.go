package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/config"
)

// shutdownTimeout bounds a graceful shutdown after SIGINT or SIGTERM.
const shutdownTimeout = 10 * time.Second

type serveFlags struct {
	config      string
	listen      []string
	checkConfig bool
}

func newServeCmd() *cobra.Command {
	var fl serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the broker",
		Long: "Run the broker until SIGINT or SIGTERM, then shut down gracefully.\n\n" +
			"Settings come from the defaults, then the config file, then the flags.\n" +
			"Without flags roost listens on :1883 and accepts anonymous clients.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.OutOrStdout(), cmd.ErrOrStderr(), &fl)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&fl.config, "config", "c", "", "read settings from this YAML `file` (see roost.example.yaml)")
	f.StringArrayVarP(&fl.listen, "listen", "l", nil, "listen for MQTT over TCP on `host:port`; repeatable; replaces the file's listeners")
	f.BoolVar(&fl.checkConfig, "check-config", false, "check the config file and flags, print \"config OK\" and exit")
	return cmd
}

// buildConfig applies the defaults, then the config file, then the flags.
// Its errors mean bad usage or a bad config.
func buildConfig(fl *serveFlags) (*config.File, error) {
	f := config.Default()
	if fl.config != "" {
		var err error
		if f, err = config.Load(fl.config); err != nil {
			return nil, err
		}
	}
	if len(fl.listen) > 0 {
		seen := make(map[string]bool, len(fl.listen))
		for _, a := range fl.listen {
			if err := config.CheckListenAddress(a); err != nil {
				return nil, fmt.Errorf("--listen: %w", err)
			}
			if seen[a] {
				return nil, fmt.Errorf("--listen: %q given twice", a)
			}
			seen[a] = true
		}
		f.Options.Listen = fl.listen
	}
	return f, nil
}

func serve(stdout, stderr io.Writer, fl *serveFlags) error {
	f, err := buildConfig(fl)
	if err != nil {
		return usageErr(err)
	}
	if fl.checkConfig {
		fmt.Fprintln(stdout, "config OK")
		return nil
	}
	opts := f.Options
	opts.Logger = f.Log.NewLogger(stderr)
	srv, err := broker.New(opts)
	if err != nil {
		return runtimeErr(err)
	}

	// Catch the signals before listening, so that none is lost in between.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()

	var sig os.Signal
	if sig, err = waitListening(srv, len(opts.Listen), served, sigs); err != nil {
		return runtimeErr(err)
	}
	if sig == nil {
		addrs := srv.Addrs()
		slices.SortFunc(addrs, func(a, b net.Addr) int { return strings.Compare(a.String(), b.String()) })
		printBanner(stderr, buildVersion(), addrs, opts.Authenticator != nil)
		select {
		case sig = <-sigs:
		case err := <-served:
			return runtimeErr(stoppedErr(err))
		}
	}

	// A second signal stops the process at once.
	signal.Stop(sigs)
	opts.Logger.Info("shutting down", "signal", sig.String(), "timeout", shutdownTimeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return runtimeErr(fmt.Errorf("shutdown: %w", err))
	}
	select {
	case <-served: // ListenAndServe reports the shutdown itself; nothing to add
	case <-ctx.Done():
		return runtimeErr(errors.New("shutdown: the server did not stop in time"))
	}
	opts.Logger.Info("stopped")
	return nil
}

// waitListening waits until the server listens on all n addresses, a signal
// arrives (returned), or ListenAndServe fails (its error). The server has no
// ready notification, so its addresses are polled.
func waitListening(srv *broker.Server, n int, served <-chan error, sigs <-chan os.Signal) (os.Signal, error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for len(srv.Addrs()) < n {
		select {
		case sig := <-sigs:
			return sig, nil
		case err := <-served:
			return nil, stoppedErr(err)
		case <-tick.C:
		}
	}
	return nil, nil
}

// stoppedErr explains why ListenAndServe returned without a shutdown.
func stoppedErr(err error) error {
	if err == nil {
		return errors.New("the server stopped unexpectedly")
	}
	return err
}
