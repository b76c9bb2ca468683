package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/roostmq/roost/client"
	"github.com/roostmq/roost/packet"
)

// newPingCmd is `roost ping`: a liveness check for containers and
// monitoring. It sends a CONNECT and succeeds on any CONNACK, even one that
// refuses the (anonymous) client: an answer proves the broker is up and
// handling connections, without credentials in the health check.
func newPingCmd() *cobra.Command {
	var (
		host, rawURL string
		port         int
		timeout      time.Duration
	)
	cmd := &cobra.Command{
		Use:   "ping",
		Short: "Check that a broker answers a CONNECT (exit 0), for health checks",
		Long: "roost ping connects, sends an MQTT 5 CONNECT and exits 0 as soon as a CONNACK\n" +
			"arrives, whatever its reason code (a broker that refuses anonymous clients is\n" +
			"still alive); 1 when there is no answer within --timeout.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			target := rawURL
			if target == "" {
				target = "mqtt://" + net.JoinHostPort(host, strconv.Itoa(port))
			}
			start := time.Now()
			nc, err := client.DialTransport(ctx, target, nil)
			if err != nil {
				return runtimeErr(err)
			}
			defer nc.Close()
			if d, ok := ctx.Deadline(); ok {
				_ = nc.SetDeadline(d)
			}
			c := &packet.Connect{Version: packet.V5, ClientID: []byte("roost-ping-" + randomHex(4)), CleanStart: true}
			if _, err := nc.Write(c.Append(nil, packet.V5)); err != nil {
				return runtimeErr(fmt.Errorf("writing CONNECT: %w", err))
			}
			first, body, err := packet.NewReader(nc, 256, 0).Read()
			if err != nil {
				return runtimeErr(fmt.Errorf("no CONNACK: %w", err))
			}
			var ack packet.Connack
			if err := packet.DecodeInto(&ack, first, body, packet.V5); err != nil {
				return runtimeErr(fmt.Errorf("not a CONNACK: %w", err))
			}
			_, _ = nc.Write((&packet.Disconnect{}).Append(nil, packet.V5))
			fmt.Fprintf(cmd.OutOrStdout(), "%s answered in %v: CONNACK %v\n", target, time.Since(start).Round(time.Microsecond), ack.ReasonCode)
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolP("help", "", false, "help for ping")
	f.StringVarP(&host, "host", "h", "127.0.0.1", "broker `host`")
	f.IntVarP(&port, "port", "p", 1883, "broker `port`")
	f.StringVarP(&rawURL, "url", "L", "", "broker URL (mqtt://, mqtts://, ws://, wss://, unix://)")
	f.DurationVarP(&timeout, "timeout", "W", 5*time.Second, "give up after this long")
	return cmd
}
