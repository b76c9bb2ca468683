package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/roostmq/roost/internal/loadgen"
	"github.com/roostmq/roost/packet"
)

func newBenchCmd() *cobra.Command {
	var (
		cfg      loadgen.Config
		host     string
		port     int
		version  string
		sources  string
		asJSON   bool
		quiet    bool
		qos      int
		keepSecs int
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Generate MQTT load against any broker and measure it",
		Long: "roost bench drives a broker with publishers and subscribers and reports publish and\n" +
			"delivery rates, end-to-end latency percentiles (a timestamp travels in each payload),\n" +
			"loss, duplicates and connect rate.\n\n" +
			"Scenarios: p2p (each publisher to its own subscriber), fan-in (all publishers to one\n" +
			"subscriber), fan-out (one publisher to every subscriber), pub, sub, idle (connections\n" +
			"that only keep alive; use --source to spread them over several 127.0.0.x addresses).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if qos < 0 || qos > 2 {
				return usageErr(errors.New("-q: QoS must be 0, 1 or 2"))
			}
			cfg.QoS = byte(qos)
			cfg.KeepAlive = uint16(keepSecs)
			cfg.Addr = net.JoinHostPort(host, strconv.Itoa(port))
			switch version {
			case "311", "mqttv311", "3.1.1":
				cfg.Version = packet.V311
			case "5", "mqttv5", "5.0":
				cfg.Version = packet.V5
			default:
				return usageErr(fmt.Errorf("-V %q: use mqttv311 or mqttv5", version))
			}
			if sources != "" {
				cfg.SourceAddrs = strings.Split(sources, ",")
			}
			var progress io.Writer
			if !quiet && isTerminal(cmd.ErrOrStderr()) {
				progress = cmd.ErrOrStderr()
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := loadgen.Run(ctx, cfg, progress)
			if err != nil {
				return runtimeErr(err)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			printBench(cmd.OutOrStdout(), res)
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolP("help", "", false, "help for bench")
	f.StringVarP(&host, "host", "h", "127.0.0.1", "broker host")
	f.IntVarP(&port, "port", "p", 1883, "broker port")
	f.StringVarP(&cfg.Scenario, "scenario", "S", loadgen.ScenarioP2P, "p2p, fan-in, fan-out, pub, sub or idle")
	f.IntVarP(&cfg.Clients, "clients", "c", 1, "publishers (p2p, fan-in, pub), subscribers (fan-out, sub) or connections (idle)")
	f.IntVarP(&qos, "qos", "q", 0, "QoS of publishes and subscriptions")
	f.IntVarP(&cfg.PayloadSize, "size", "s", 64, "payload size in bytes (at least 20)")
	f.IntVarP(&cfg.Rate, "rate", "r", 0, "total messages per second over all publishers; 0 floods")
	f.DurationVarP(&cfg.Duration, "duration", "d", 10*time.Second, "how long to publish (or hold idle connections)")
	f.IntVarP(&cfg.Count, "count", "n", 0, "messages per publisher (instead of --duration)")
	f.StringVarP(&version, "protocol-version", "V", "mqttv311", "mqttv311 or mqttv5")
	f.IntVar(&cfg.Inflight, "inflight", 64, "QoS 1/2 messages in flight per publisher")
	f.IntVarP(&keepSecs, "keepalive", "k", 60, "keep alive in seconds")
	f.StringVar(&cfg.TopicPrefix, "topic", "roost-bench", "topic prefix")
	f.BoolVar(&cfg.Persistent, "persistent", false, "subscribers keep their sessions (3.1.1 clean session 0, 5.0 session expiry 1h)")
	f.StringVar(&sources, "source", "", "comma-separated local addresses to connect from (e.g. 127.0.0.2,127.0.0.3)")
	f.DurationVar(&cfg.Drain, "drain", 5*time.Second, "how long to wait for outstanding deliveries")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.BoolVar(&quiet, "quiet", false, "no progress line")
	return cmd
}

func printBench(w io.Writer, r *loadgen.Result) {
	fmt.Fprintf(w, "scenario     %s, %d clients, QoS %d, %d-byte payload\n", r.Scenario, r.Clients, r.QoS, r.PayloadSize)
	fmt.Fprintf(w, "connections  %d (%.0f/s, %d errors)\n", r.Connections, r.ConnectRate, r.ConnectErrors)
	if r.FirstError != "" {
		fmt.Fprintf(w, "first error  %s\n", r.FirstError)
	}
	if r.Scenario == loadgen.ScenarioIdle {
		return
	}
	fmt.Fprintf(w, "published    %d (%.0f msg/s)\n", r.Acknowledged, r.PublishRate)
	fmt.Fprintf(w, "delivered    %d of %d expected (%.0f msg/s)\n", r.Received, r.Expected, r.DeliveryRate)
	fmt.Fprintf(w, "lost         %d\nduplicates   %d\n", r.Lost, r.Duplicates)
	fmt.Fprintf(w, "latency      p50 %v  p90 %v  p99 %v  max %v\n", r.LatencyP50, r.LatencyP90, r.LatencyP99, r.LatencyMax)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
