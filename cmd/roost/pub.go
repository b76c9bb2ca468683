package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/roostmq/roost/client"
	"github.com/roostmq/roost/topic"
)

type pubFlags struct {
	clientFlags
	topic, message, file string
	null, stdin, lines   bool
	retain               bool
	repeat               int
	repeatDelay          float64 // seconds
	maxInflight          int
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
	f.Float64Var(&fl.repeatDelay, "repeat-delay", 0, "with --repeat, wait this many `seconds` after each message is delivered")
	f.IntVarP(&fl.maxInflight, "max-inflight", "M", 20, "QoS 1/2 messages in flight at once, with -l or --repeat")
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
	if fl.repeatDelay < 0 {
		return usageErr(errors.New("--repeat-delay must not be negative"))
	}
	if fl.maxInflight < 1 || fl.maxInflight > 65535 {
		return usageErr(errors.New("-M must be between 1 and 65535"))
	}
	if err := checkPubTopic(fl.topic); err != nil {
		return usageErr(err)
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
	if err := checkPubTopic(topic); err != nil {
		return usageErr(err)
	}
	msg := func(p []byte) *client.Message {
		m := &client.Message{Topic: topic, Payload: p, QoS: byte(fl.qos), Retain: fl.retain, Properties: fl.parsed.msg}
		m.Properties.UserProperties = fl.parsed.publish
		return m
	}
	// Up to -M messages are in flight; they go out in order, and every
	// one is acknowledged before pub exits. With --repeat-delay each waits
	// for the one before to be delivered.
	inflight := fl.maxInflight
	if fl.repeatDelay > 0 {
		inflight = 1
	}
	sem := make(chan struct{}, inflight)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	acquire := func() error {
		select {
		case sem <- struct{}{}:
			return nil
		case err := <-errc:
			return err
		}
	}
	publish := func(p []byte) error {
		if err := acquire(); err != nil {
			return err
		}
		wait, err := c.PublishAsync(ctx, msg(p))
		if err != nil {
			return runtimeErr(fmt.Errorf("publish to %s: %w", topic, err))
		}
		n := len(p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := wait(ctx); err != nil {
				select {
				case errc <- runtimeErr(fmt.Errorf("publish to %s: %w", topic, err)):
				default:
				}
				return
			}
			fl.debugf("published %d bytes to %s (QoS %d)", n, topic, fl.qos)
			<-sem
		}()
		return nil
	}
	finish := func(err error) error {
		wg.Wait()
		if err == nil {
			select {
			case err = <-errc:
			default:
			}
		}
		return err
	}
	if fl.lines {
		sc := bufio.NewScanner(cmd.InOrStdin())
		sc.Buffer(make([]byte, 64*1024), 256<<20)
		for sc.Scan() {
			if err := publish(bytes.Clone(sc.Bytes())); err != nil {
				return finish(err)
			}
		}
		if err := sc.Err(); err != nil {
			return finish(runtimeErr(fmt.Errorf("reading stdin: %w", err)))
		}
		return finish(nil)
	}
	delay := time.Duration(fl.repeatDelay * float64(time.Second))
	for i := range fl.repeat {
		if i > 0 && delay > 0 {
			// Delivered first (one in flight), then the pause.
			if err := acquire(); err != nil {
				return finish(err)
			}
			<-sem
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return finish(nil)
			}
		}
		if err := publish(payload); err != nil {
			return finish(err)
		}
	}
	return finish(nil)
}

// checkPubTopic refuses a topic a PUBLISH cannot carry [MQTT-3.3.2-2].
func checkPubTopic(t string) error {
	if t == "" {
		return nil // checked where the URL may still supply one
	}
	if err := topic.ValidName(t); err != nil {
		return fmt.Errorf("-t: invalid publish topic %q: %v", t, err)
	}
	return nil
}
