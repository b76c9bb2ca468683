package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/roostmq/roost/client"
)

type pubFlags struct {
	clientFlags
	topic, message, file string
	null, stdin, lines   bool
	retain               bool
	repeat               int
}

func newPubCmd() *cobra.Command {
	fl := &pubFlags{}
	cmd := mqttCommand("pub", "Publish a message (like mosquitto_pub)",
		"Publish one message, a file, stdin or stdin's lines to a topic, then disconnect.\n\n"+
			"The flags follow mosquitto_pub: -h is the host, help is --help.\n"+
			"Exit codes: 0 published, 1 connection or publish failed, 2 bad usage.",
		&fl.clientFlags, func(cmd *cobra.Command) error { return runPub(cmd, fl) })
	f := cmd.Flags()
	f.StringVarP(&fl.topic, "topic", "t", "", "`topic` to publish to")
	f.StringVarP(&fl.message, "message", "m", "", "message payload")
	f.StringVarP(&fl.file, "file", "f", "", "send the contents of `file` as the message")
	f.BoolVarP(&fl.null, "null-message", "n", false, "send an empty message")
	f.BoolVarP(&fl.stdin, "stdin-file", "s", false, "send all of stdin as one message")
	f.BoolVarP(&fl.lines, "stdin-line", "l", false, "send each line of stdin as a message")
	f.BoolVarP(&fl.retain, "retain", "r", false, "retain the message")
	f.IntVar(&fl.repeat, "repeat", 1, "publish the message this many times")
	return cmd
}

func runPub(cmd *cobra.Command, fl *pubFlags) error {
	sources := 0
	for _, b := range []bool{cmd.Flags().Changed("message"), fl.file != "", fl.null, fl.stdin, fl.lines} {
		if b {
			sources++
		}
	}
	if sources != 1 {
		return usageErr(errors.New("give exactly one of -m, -f, -n, -s or -l"))
	}
	if fl.topic == "" && fl.url == "" {
		return usageErr(errors.New("-t: a topic is required"))
	}
	if fl.repeat < 1 {
		return usageErr(errors.New("--repeat must be at least 1"))
	}
	var payload []byte
	switch {
	case fl.file != "":
		b, err := os.ReadFile(fl.file)
		if err != nil {
			return usageErr(fmt.Errorf("-f: %w", err))
		}
		payload = b
	case fl.stdin:
		b, err := io.ReadAll(cmd.InOrStdin())
		if err != nil {
			return runtimeErr(fmt.Errorf("reading stdin: %w", err))
		}
		payload = b
	case !fl.null:
		payload = []byte(fl.message)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := fl.timeoutCtx(ctx)
	defer cancel()
	c, urlTopic, err := fl.connect(ctx, "roost-pub", &client.Options{})
	if err != nil {
		return err
	}
	defer disconnect(c)
	topic := fl.topic
	if topic == "" {
		topic = urlTopic
	}
	if topic == "" {
		return usageErr(errors.New("-t: a topic is required"))
	}
	msg := func(p []byte) *client.Message {
		m := &client.Message{Topic: topic, Payload: p, QoS: byte(fl.qos), Retain: fl.retain, Properties: fl.parsed.msg}
		m.Properties.UserProperties = fl.parsed.publish
		return m
	}
	publish := func(p []byte) error {
		if err := c.Publish(ctx, msg(p)); err != nil {
			return runtimeErr(fmt.Errorf("publish to %s: %w", topic, err))
		}
		fl.debugf("published %d bytes to %s (QoS %d)", len(p), topic, fl.qos)
		return nil
	}
	if fl.lines {
		sc := bufio.NewScanner(cmd.InOrStdin())
		sc.Buffer(make([]byte, 64*1024), 256<<20)
		for sc.Scan() {
			if err := publish(sc.Bytes()); err != nil {
				return err
			}
		}
		if err := sc.Err(); err != nil {
			return runtimeErr(fmt.Errorf("reading stdin: %w", err))
		}
		return nil
	}
	for range fl.repeat {
		if err := publish(payload); err != nil {
			return err
		}
	}
	return nil
}
