package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/roostmq/roost/client"
	"github.com/roostmq/roost/topic"
)

type subFlags struct {
	clientFlags
	topics, unsubs, filterOut []string
	count                     int
	verbose                   bool
	format                    string
	noNewline                 bool
	noRetain, retainedOnly    bool
	removeRetained            bool
	exitAfterSub              bool
	pretty                    bool
	randomFilter              float64

	out *outFormat // compiled -F, nil for payload-only, -v and -F json
}

func newSubCmd() *cobra.Command {
	fl := &subFlags{}
	cmd := mqttCommand("sub", "Subscribe and print messages (like mosquitto_sub)",
		"Subscribe to one or more topic filters and print each message.\n\n"+
			"The flags follow mosquitto_sub: -h is the host, help is --help.\n"+
			"-F takes mosquitto_sub's format strings: %t topic, %p payload, %q QoS,\n"+
			"%r retain, %l length, %m packet id, %x/%X payload in hex, %j/%J JSON with\n"+
			"tst and payloadlen, %I ISO 8601 time, %U Unix time, %C %D %E %F %P %R %S\n"+
			"MQTT 5 properties, @X strftime codes, \\n \\t \\0 ... escapes, with\n"+
			"flags, width and maximum width (%-10.5t); an unknown code is an error.\n"+
			"-F json (or --format json) prints Roost's own JSON object per line with\n"+
			"topic, qos, retain, payload (base64 with \"payload_encoding\":\"base64\"\n"+
			"when it is not UTF-8) and properties.\n\n"+
			"Exit codes: 0 done (-C messages received, -W without -C, -E, or a signal),\n"+
			"1 connection failed or -W passed before -C messages, 2 bad usage.",
		&fl.clientFlags, func(cmd *cobra.Command) error { return runSub(cmd, fl) })
	f := cmd.Flags()
	f.StringArrayVarP(&fl.topics, "topic", "t", nil, "topic `filter` to subscribe to; repeatable")
	f.StringArrayVarP(&fl.unsubs, "unsubscribe", "U", nil, "topic `filter` to unsubscribe from (of a persistent session); repeatable")
	f.StringArrayVarP(&fl.filterOut, "filter-out", "T", nil, "do not print messages whose topic matches this `filter`; repeatable")
	f.IntVarP(&fl.count, "count", "C", 0, "exit after this many messages")
	f.BoolVarP(&fl.exitAfterSub, "exit-after-sub", "E", false, "exit once every subscription and unsubscription is acknowledged")
	f.BoolVarP(&fl.verbose, "verbose", "v", false, "print the topic before each payload")
	f.StringVarP(&fl.format, "format", "F", "", "output `format`: a mosquitto_sub format string, or json")
	f.BoolVar(&fl.pretty, "pretty", false, "indent the JSON of %j and %J")
	f.BoolVarP(&fl.noNewline, "no-newline", "N", false, "do not add a newline after each payload")
	f.BoolVarP(&fl.noRetain, "retained-skip", "R", false, "do not print retained messages")
	f.BoolVar(&fl.retainedOnly, "retained-only", false, "print only retained messages; exit at the first one that is not")
	f.BoolVar(&fl.removeRetained, "remove-retained", false, "clear each retained message received (those -T filters out excepted)")
	f.Float64Var(&fl.randomFilter, "random-filter", 100, "print only this `percentage` of messages, chosen at random")
	return cmd
}

// check validates sub's own flags.
func (fl *subFlags) check() error {
	if fl.count < 0 {
		return errors.New("-C must not be negative")
	}
	if fl.randomFilter <= 0 || fl.randomFilter > 100 {
		return errors.New("--random-filter must be above 0 and at most 100")
	}
	for _, list := range []struct {
		flag    string
		filters []string
	}{{"-t", fl.topics}, {"-U", fl.unsubs}, {"-T", fl.filterOut}} {
		for _, t := range list.filters {
			if err := topic.ValidFilter(t); err != nil {
				return fmt.Errorf("%s: invalid topic filter %q: %v", list.flag, t, err)
			}
		}
	}
	if fl.format != "" && fl.format != "json" {
		f, err := parseFormat(fl.format)
		if err != nil {
			return err
		}
		f.pretty, f.stderr = fl.pretty, fl.stderr
		if fl.quiet {
			f.stderr = nil
		}
		fl.out = f
	}
	return nil
}

func runSub(cmd *cobra.Command, fl *subFlags) error {
	if err := fl.check(); err != nil {
		return usageErr(err)
	}
	if len(fl.topics) == 0 && len(fl.unsubs) == 0 && fl.url == "" {
		return usageErr(errors.New("-t: at least one topic filter is required"))
	}
	out := bufio.NewWriter(cmd.OutOrStdout())
	msgs := make(chan *client.Message, 64)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	connCtx, cancel := fl.timeoutCtx(ctx)
	defer cancel()
	c, urlTopic, err := fl.connect(connCtx, "roost-sub", &client.Options{
		OnMessage: func(m *client.Message) {
			select {
			case msgs <- m:
			case <-ctx.Done():
			}
		},
	})
	if err != nil {
		return err
	}
	defer disconnect(c)
	topics := fl.topics
	if len(topics) == 0 && urlTopic != "" {
		topics = []string{urlTopic}
	}
	if len(topics) == 0 && len(fl.unsubs) == 0 {
		return usageErr(errors.New("-t: at least one topic filter is required"))
	}
	if len(topics) > 0 {
		subs := make([]client.Subscription, len(topics))
		for i, t := range topics {
			subs[i] = client.Subscription{Filter: t, QoS: byte(fl.qos)}
		}
		codes, err := c.SubscribeWith(connCtx, 0, fl.parsed.subscribe, subs...)
		if err != nil {
			return runtimeErr(fmt.Errorf("subscribe: %w", err))
		}
		for i, rc := range codes {
			fl.debugf("subscribed to %s (granted QoS %d)", topics[i], byte(rc))
		}
	}
	if len(fl.unsubs) > 0 {
		if _, err := c.Unsubscribe(connCtx, fl.unsubs...); err != nil {
			return runtimeErr(fmt.Errorf("unsubscribe: %w", err))
		}
		fl.debugf("unsubscribed from %s", strings.Join(fl.unsubs, ", "))
	}
	if fl.exitAfterSub {
		return nil
	}
	n := 0
	for {
		select {
		case m := <-msgs:
			printed, done, err := fl.handle(connCtx, c, out, m)
			if err != nil || done {
				return err
			}
			if !printed {
				continue // as mosquitto_sub, -C counts printed messages
			}
			n++
			if fl.count > 0 && n >= fl.count {
				return nil
			}
		case <-c.Done():
			return runtimeErr(c.Err())
		case <-connCtx.Done():
			if ctx.Err() == nil && fl.count > 0 {
				return runtimeErr(fmt.Errorf("timeout: %d of %d messages after %d s", n, fl.count, fl.timeout))
			}
			return nil
		}
	}
}

// filteredOut reports whether a -T filter matches name.
func (fl *subFlags) filteredOut(name string) bool {
	for _, f := range fl.filterOut {
		if topic.Match(f, name) {
			return true
		}
	}
	return false
}

// handle prints m unless an option leaves it out, and clears it with
// --remove-retained; done: --retained-only met a message not retained.
func (fl *subFlags) handle(ctx context.Context, c *client.Client, out *bufio.Writer, m *client.Message) (printed, done bool, err error) {
	if fl.retainedOnly && !m.Retain {
		return false, true, nil
	}
	if fl.filteredOut(m.Topic) {
		return false, false, nil
	}
	if fl.removeRetained && m.Retain {
		if err := c.Publish(ctx, &client.Message{Topic: m.Topic, Retain: true}); err != nil {
			return false, false, runtimeErr(fmt.Errorf("removing the retained message of %s: %w", m.Topic, err))
		}
	}
	if fl.noRetain && m.Retain {
		return false, false, nil
	}
	if fl.randomFilter < 100 && mrand.Float64()*100 >= fl.randomFilter {
		return false, false, nil
	}
	if err := fl.print(out, m); err != nil {
		return false, false, runtimeErr(err)
	}
	if err := out.Flush(); err != nil {
		return false, false, runtimeErr(err)
	}
	return true, false, nil
}

func (fl *subFlags) print(w *bufio.Writer, m *client.Message) error {
	switch {
	case fl.format == "json":
		b, err := messageJSON(m)
		if err != nil {
			return err
		}
		w.Write(b)
	case fl.out != nil:
		fl.out.write(w, m, time.Now())
	default:
		if fl.verbose {
			w.WriteString(m.Topic)
			w.WriteByte(' ')
		}
		w.Write(m.Payload)
	}
	if !fl.noNewline {
		w.WriteByte('\n')
	}
	return nil
}

// jsonMessage is the -F json output of one message.
type jsonMessage struct {
	Topic           string          `json:"topic"`
	QoS             byte            `json:"qos"`
	Retain          bool            `json:"retain"`
	Payload         string          `json:"payload"`
	PayloadEncoding string          `json:"payload_encoding,omitempty"`
	Properties      *jsonProperties `json:"properties,omitempty"`
}

type jsonProperties struct {
	PayloadFormat   *byte          `json:"payload_format,omitempty"`
	MessageExpiry   uint32         `json:"message_expiry,omitempty"`
	ContentType     string         `json:"content_type,omitempty"`
	ResponseTopic   string         `json:"response_topic,omitempty"`
	CorrelationData string         `json:"correlation_data,omitempty"` // as text when UTF-8, else base64
	SubscriptionIDs []uint32       `json:"subscription_ids,omitempty"`
	UserProperties  []jsonUserProp `json:"user_properties,omitempty"`
}

type jsonUserProp struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func textOrBase64(b []byte) (string, bool) {
	if utf8.Valid(b) {
		return string(b), false
	}
	return base64.StdEncoding.EncodeToString(b), true
}

func messageJSON(m *client.Message) ([]byte, error) {
	j := jsonMessage{Topic: m.Topic, QoS: m.QoS, Retain: m.Retain}
	var b64 bool
	if j.Payload, b64 = textOrBase64(m.Payload); b64 {
		j.PayloadEncoding = "base64"
	}
	p := &m.Properties
	jp := jsonProperties{
		MessageExpiry:   uint32(p.MessageExpiry / time.Second),
		ContentType:     p.ContentType,
		ResponseTopic:   p.ResponseTopic,
		SubscriptionIDs: p.SubscriptionIDs,
	}
	if p.PayloadFormat != 0 {
		pf := p.PayloadFormat
		jp.PayloadFormat = &pf
	}
	if p.CorrelationData != nil {
		jp.CorrelationData, _ = textOrBase64(p.CorrelationData)
	}
	for _, u := range p.UserProperties {
		jp.UserProperties = append(jp.UserProperties, jsonUserProp{u.Key, u.Value})
	}
	if jp.PayloadFormat != nil || jp.MessageExpiry != 0 || jp.ContentType != "" || jp.ResponseTopic != "" ||
		p.CorrelationData != nil || len(jp.SubscriptionIDs) > 0 || len(jp.UserProperties) > 0 {
		j.Properties = &jp
	}
	return json.Marshal(j)
}
