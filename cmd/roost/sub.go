package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/roostmq/roost/client"
)

type subFlags struct {
	clientFlags
	topics    []string
	count     int
	verbose   bool
	format    string
	noNewline bool
	noRetain  bool
}

func newSubCmd() *cobra.Command {
	fl := &subFlags{}
	cmd := mqttCommand("sub", "Subscribe and print messages (like mosquitto_sub)",
		"Subscribe to one or more topic filters and print each message.\n\n"+
			"The flags follow mosquitto_sub: -h is the host, help is --help.\n"+
			"-F json (or --format json) prints one JSON object per line with topic,\n"+
			"qos, retain, payload (base64 with \"payload_encoding\":\"base64\" when it\n"+
			"is not UTF-8) and properties. Any other -F is a format string:\n"+
			"%t topic, %p payload, %q QoS, %r retain, %l length, %x payload in hex,\n"+
			"%j JSON, %U Unix time, %I ISO 8601 time, %% a percent sign; \\n and \\t\n"+
			"are newline and tab (no newline is added).\n\n"+
			"Exit codes: 0 done (-C messages received, -W without -C, or a signal),\n"+
			"1 connection failed or -W passed before -C messages, 2 bad usage.",
		&fl.clientFlags, func(cmd *cobra.Command) error { return runSub(cmd, fl) })
	f := cmd.Flags()
	f.StringArrayVarP(&fl.topics, "topic", "t", nil, "topic `filter` to subscribe to; repeatable")
	f.IntVarP(&fl.count, "count", "C", 0, "exit after this many messages")
	f.BoolVarP(&fl.verbose, "verbose", "v", false, "print the topic before each payload")
	f.StringVarP(&fl.format, "format", "F", "", "output `format`: json, or a format string")
	f.BoolVarP(&fl.noNewline, "no-newline", "N", false, "do not add a newline after each payload")
	f.BoolVarP(&fl.noRetain, "retained-skip", "R", false, "do not print retained messages")
	return cmd
}

func runSub(cmd *cobra.Command, fl *subFlags) error {
	if fl.count < 0 {
		return usageErr(errors.New("-C must not be negative"))
	}
	if len(fl.topics) == 0 && fl.url == "" {
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
	if len(topics) == 0 {
		return usageErr(errors.New("-t: at least one topic filter is required"))
	}
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
	n := 0
	for {
		select {
		case m := <-msgs:
			if fl.noRetain && m.Retain {
				continue
			}
			if err := fl.print(out, m); err != nil {
				return runtimeErr(err)
			}
			if err := out.Flush(); err != nil {
				return runtimeErr(err)
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

func (fl *subFlags) print(w *bufio.Writer, m *client.Message) error {
	switch {
	case fl.format == "json" || fl.format == "%j":
		b, err := messageJSON(m)
		if err != nil {
			return err
		}
		w.Write(b)
		w.WriteByte('\n')
		return nil
	case fl.format != "":
		return formatMessage(w, fl.format, m)
	}
	if fl.verbose {
		w.WriteString(m.Topic)
		w.WriteByte(' ')
	}
	w.Write(m.Payload)
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

// formatMessage writes m following a mosquitto_sub -F format string.
func formatMessage(w *bufio.Writer, format string, m *client.Message) error {
	for i := 0; i < len(format); i++ {
		ch := format[i]
		if (ch != '%' && ch != '\\') || i+1 == len(format) {
			w.WriteByte(ch)
			continue
		}
		i++
		if ch == '\\' {
			switch format[i] {
			case 'n':
				w.WriteByte('\n')
			case 't':
				w.WriteByte('\t')
			case '\\':
				w.WriteByte('\\')
			default:
				w.WriteByte('\\')
				w.WriteByte(format[i])
			}
			continue
		}
		switch format[i] {
		case 't':
			w.WriteString(m.Topic)
		case 'p':
			w.Write(m.Payload)
		case 'q':
			w.WriteString(strconv.Itoa(int(m.QoS)))
		case 'r':
			if m.Retain {
				w.WriteByte('1')
			} else {
				w.WriteByte('0')
			}
		case 'l':
			w.WriteString(strconv.Itoa(len(m.Payload)))
		case 'x':
			w.WriteString(hex.EncodeToString(m.Payload))
		case 'j':
			b, err := messageJSON(m)
			if err != nil {
				return err
			}
			w.Write(b)
		case 'U':
			w.WriteString(strconv.FormatInt(time.Now().Unix(), 10))
		case 'I':
			w.WriteString(time.Now().Format(time.RFC3339))
		case '%':
			w.WriteByte('%')
		default:
			w.WriteByte('%')
			w.WriteByte(format[i])
		}
	}
	return nil
}
