package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/roostmq/roost/auth"
	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/config"
	"github.com/roostmq/roost/listener"
)

// shutdownTimeout bounds a graceful shutdown after SIGINT or SIGTERM.
const shutdownTimeout = 10 * time.Second

type serveFlags struct {
	config      string
	listen      []string
	checkConfig bool
	verbose     bool
	version     bool
}

func newServeCmd() *cobra.Command {
	var fl serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the broker",
		Long: "Run the broker until SIGINT or SIGTERM, then shut down gracefully.\n\n" +
			"Settings come from the defaults, then the config file, then the flags.\n" +
			"Without a config file roost listens on 127.0.0.1:1883 only (loopback, like\n" +
			"Mosquitto 2) and accepts anonymous clients there; --listen :1883 (all\n" +
			"interfaces) or a listeners: section opens it to the network.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if fl.version {
				printVersion(cmd.OutOrStdout())
				return nil
			}
			return serve(cmd.OutOrStdout(), cmd.ErrOrStderr(), &fl)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&fl.config, "config", "c", "", "read settings from this YAML `file` (see roost.example.yaml)")
	f.StringArrayVarP(&fl.listen, "listen", "l", nil, "listen for MQTT over TCP on `host:port` (a bare port: loopback only, :port: all interfaces); repeatable; replaces the file's listeners")
	f.BoolVar(&fl.checkConfig, "check-config", false, "check the config file and flags, print \"config OK\" and exit")
	f.BoolVarP(&fl.verbose, "verbose", "v", false, "log at debug level (overrides log.level)")
	f.BoolVar(&fl.version, "version", false, "print the version and exit")
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
	if fl.verbose {
		f.Log.Level = slog.LevelDebug
	}
	if len(fl.listen) > 0 {
		seen := make(map[string]bool, len(fl.listen))
		for i, a := range fl.listen {
			if _, err := strconv.ParseUint(a, 10, 16); err == nil {
				a = "127.0.0.1:" + a // a bare port: loopback, the safe reading
				fl.listen[i] = a
			}
			if err := config.CheckListenAddress(a); err != nil {
				return nil, fmt.Errorf("--listen: %w", err)
			}
			if seen[a] {
				return nil, fmt.Errorf("--listen: %q given twice", a)
			}
			seen[a] = true
		}
		f.Options.Listen = fl.listen
		f.Listeners = nil
		for _, a := range fl.listen {
			f.Listeners = append(f.Listeners, listener.Config{Type: listener.TCP, Address: a})
		}
	}
	return f, nil
}

func serve(stdout, stderr io.Writer, fl *serveFlags) error {
	f, err := buildConfig(fl)
	if err != nil {
		return usageErr(err)
	}
	op, err := newOps(f, stderr) // logger, admin server, reload (ops.go)
	if err != nil {
		return usageErr(err)
	}
	logger := op.log
	built, err := auth.Build(&f.Auth, f.Options.Authorizer, logger)
	if err != nil {
		return usageErr(err)
	}
	if fl.checkConfig {
		for _, lc := range f.Listeners {
			if err := lc.CheckFiles(); err != nil {
				return usageErr(fmt.Errorf("listener %s: %w", &lc, err))
			}
		}
		fmt.Fprintln(stdout, "auth:")
		for _, l := range auth.Describe(&f.Auth, certIdentityListeners(f.Listeners), denyList(f.Options.Authorizer)) {
			fmt.Fprintln(stdout, "  "+l)
		}
		fmt.Fprintln(stdout, "config OK")
		return nil
	}
	broker.Version = buildVersion() // one version string: banner, /metrics, API, $SYS
	opts := f.Options
	opts.Logger = logger
	opts.Hooks = op.hooks(opts.Hooks)
	if built != nil {
		opts.Authenticator, opts.Authorizer = built.Chain, built.Chain
		if built.EnhancedAuth != nil {
			opts.EnhancedAuth = built.EnhancedAuth
		}
	}
	st, err := openStore(f, logger)
	if err != nil {
		return runtimeErr(err)
	}
	if st != nil {
		opts.Store = st // closed by srv.Shutdown
	}
	srv, err := broker.New(opts)
	if err != nil {
		if st != nil {
			_ = st.Close()
		}
		return runtimeErr(err)
	}

	// Catch the signals before listening, so that none is lost in between.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	// Open every listener before serving any, so that one that cannot be
	// opened (port in use, bad certificate) stops the start.
	lns := make([]net.Listener, 0, len(f.Listeners))
	for _, lc := range f.Listeners {
		ln, err := listener.Listen(lc, opts.Logger)
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			_ = srv.Shutdown(context.Background())
			return runtimeErr(fmt.Errorf("listener %s: %w", &lc, err))
		}
		lns = append(lns, op.track(lc, ln)) // a reload may remove it (ops.go)
	}
	served := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { served <- srv.Serve(ln) }()
	}
	if err := op.startAdmin(srv, f, lns); err != nil {
		_ = srv.Shutdown(context.Background())
		return runtimeErr(err)
	}
	defer op.close()
	op.watch(fl, srv)
	printBanner(stderr, buildVersion(), bannerListeners(f.Listeners, lns), built != nil && !f.Auth.AnonymousAllowed())
	if built != nil {
		fmt.Fprintf(stderr, "  clients authenticate with: %s\n", strings.Join(f.Auth.Methods(), "; "))
	}

	var sig os.Signal
	select {
	case sig = <-sigs:
	case err := <-served:
		_ = srv.Shutdown(context.Background())
		return runtimeErr(stoppedErr(err))
	}

	// A second signal stops the process at once.
	signal.Stop(sigs)
	opts.Logger.Info("shutting down", "signal", sig.String(), "timeout", shutdownTimeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return runtimeErr(fmt.Errorf("shutdown: %w", err))
	}
	for range lns {
		select {
		case <-served: // each Serve reports the shutdown itself; nothing to add
		case <-ctx.Done():
			return runtimeErr(errors.New("shutdown: the server did not stop in time"))
		}
	}
	opts.Logger.Info("stopped")
	return nil
}

// certIdentityListeners names the listeners whose verified client
// certificates name the client.
func certIdentityListeners(cfgs []listener.Config) []string {
	var out []string
	for i := range cfgs {
		t := cfgs[i].TLS
		if t != nil && t.CAFile != "" && t.ClientCerts != listener.ClientCertsNone && t.CertIdentity != listener.IdentityNone {
			out = append(out, cfgs[i].String())
		}
	}
	return out
}

// denyList returns the config's deny: lists, nil when it has none.
func denyList(a broker.Authorizer) *broker.DenyList {
	d, _ := a.(*broker.DenyList)
	return d
}

// bannerListeners describes the open listeners for the banner, in the order
// of the config.
func bannerListeners(cfgs []listener.Config, lns []net.Listener) []bannerListener {
	out := make([]bannerListener, len(lns))
	for i, ln := range lns {
		c := cfgs[i]
		b := bannerListener{Scheme: listener.Scheme(c.Type), Addr: ln.Addr()}
		if c.Type == listener.WS || c.Type == listener.WSS {
			b.Path = listener.DefaultWSPath
			if c.WebSocket != nil && c.WebSocket.Path != "" {
				b.Path = c.WebSocket.Path
			}
		}
		if c.TLS.ClientCertsRequired() {
			b.CertsRequired = true
			b.Notes = append(b.Notes, "client certificates required")
		} else if c.TLS != nil && c.TLS.CAFile != "" {
			b.Notes = append(b.Notes, "client certificates optional")
		}
		if c.ProxyProtocol {
			b.Notes = append(b.Notes, "PROXY protocol")
		}
		out[i] = b
	}
	return out
}

// stoppedErr explains why ListenAndServe returned without a shutdown.
func stoppedErr(err error) error {
	if err == nil {
		return errors.New("the server stopped unexpectedly")
	}
	return err
}
