package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/roostmq/roost/client"
	"github.com/roostmq/roost/packet"
)

type reqFlags struct {
	subFlags
	responseTopic, message, file string
	null                         bool
}

func newReqCmd() *cobra.Command {
	fl := &reqFlags{}
	cmd := mqttCommand("req", "Send an MQTT 5 request and print the response (like mosquitto_rr)",
		"Subscribe to the response topic, publish the request with a Response Topic\n"+
			"and random Correlation Data, and print the payload of the first reply\n"+
			"that carries the same Correlation Data.\n\n"+
			"Exit codes: 0 a reply was printed, 1 no reply within -W seconds (default 10)\n"+
			"or a connection failure, 2 bad usage.",
		&fl.clientFlags, func(cmd *cobra.Command) error { return runReq(cmd, fl) })
	f := cmd.Flags()
	f.StringArrayVarP(&fl.topics, "topic", "t", nil, "request `topic`")
	f.StringVarP(&fl.responseTopic, "response-topic", "e", "", "response `topic` (default: a random one)")
	f.StringVarP(&fl.message, "message", "m", "", "request payload")
	f.StringVarP(&fl.file, "file", "f", "", "send the contents of `file` as the request")
	f.BoolVarP(&fl.null, "null-message", "n", false, "send an empty request")
	f.BoolVarP(&fl.verbose, "verbose", "v", false, "print the topic before the payload")
	f.StringVarP(&fl.format, "format", "F", "", "output `format`: json, or a format string as for roost sub")
	f.BoolVarP(&fl.noNewline, "no-newline", "N", false, "do not add a newline after the payload")
	_ = f.Set("timeout", "10")
	f.Lookup("timeout").DefValue = "10"
	return cmd
}

func runReq(cmd *cobra.Command, fl *reqFlags) error {
	if len(fl.topics) != 1 {
		return usageErr(errors.New("-t: give exactly one request topic"))
	}
	if fl.protocol() != packet.V5 {
		return usageErr(errors.New("request/response needs MQTT 5 (-V mqttv5)"))
	}
	payload := []byte(fl.message)
	if fl.file != "" {
		b, err := os.ReadFile(fl.file)
		if err != nil {
			return usageErr(fmt.Errorf("-f: %w", err))
		}
		payload = b
	}
	if fl.null {
		payload = nil
	}
	corr := []byte(randomHex(16))
	replies := make(chan *client.Message, 1)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := fl.timeoutCtx(ctx)
	defer cancel()
	c, _, err := fl.connect(ctx, "roost-req", &client.Options{
		OnMessage: func(m *client.Message) {
			if !bytes.Equal(m.Properties.CorrelationData, corr) {
				fl.debugf("ignoring a message on %s with other correlation data", m.Topic)
				return
			}
			select {
			case replies <- m:
			default:
			}
		},
	})
	if err != nil {
		return err
	}
	defer disconnect(c)
	resp := fl.responseTopic
	if resp == "" {
		resp = "roost/req/" + c.ClientID() + "/" + randomHex(4)
	}
	if _, err := c.SubscribeWith(ctx, 0, fl.parsed.subscribe, client.Subscription{Filter: resp, QoS: byte(fl.qos)}); err != nil {
		return runtimeErr(fmt.Errorf("subscribe to %s: %w", resp, err))
	}
	fl.debugf("subscribed to %s", resp)
	m := &client.Message{Topic: fl.topics[0], Payload: payload, QoS: byte(fl.qos), Properties: fl.parsed.msg}
	m.Properties.ResponseTopic = resp
	m.Properties.CorrelationData = corr
	m.Properties.UserProperties = fl.parsed.publish
	if err := c.Publish(ctx, m); err != nil {
		return runtimeErr(fmt.Errorf("publish to %s: %w", m.Topic, err))
	}
	fl.debugf("request published to %s", m.Topic)
	select {
	case r := <-replies:
		out := bufio.NewWriter(cmd.OutOrStdout())
		if err := fl.print(out, r); err != nil {
			return runtimeErr(err)
		}
		if err := out.Flush(); err != nil {
			return runtimeErr(err)
		}
		return nil
	case <-c.Done():
		return runtimeErr(c.Err())
	case <-ctx.Done():
		return runtimeErr(fmt.Errorf("no response on %s within %d s", resp, fl.timeout))
	}
}
