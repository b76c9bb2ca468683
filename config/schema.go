package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/topic"
)

// This file maps the keys of the file onto File. roost.example.yaml documents
// each of them; keep the two in step.

// file decodes the top level of the document.
func (d *decoder) file(root *yaml.Node, f *File) {
	o := &f.Options
	d.mapping("", root, map[string]handler{
		"listeners": func(path string, n *yaml.Node) { d.listeners(path, n, f) },
		"limits":    func(path string, n *yaml.Node) { d.limits(path, n, &o.Limits) },
		"sessions": func(path string, n *yaml.Node) {
			d.mapping(path, n, map[string]handler{
				"max_expiry":         d.durationField(&o.Sessions.MaxExpiry),
				"takeover_same_user": d.takeoverField(&o.Sessions),
			})
		},
		"retain": func(path string, n *yaml.Node) {
			d.mapping(path, n, map[string]handler{
				"disabled":     d.boolField(&o.Retain.Disabled),
				"max_messages": d.intField(&o.Retain.MaxMessages),
			})
		},
		"sys_interval":          d.durationField(&o.SysInterval),
		"hibernate_after":       d.durationField(&o.HibernateAfter),
		"response_topic_prefix": d.stringField(&o.ResponseTopicPrefix),
		"deny":                  func(path string, n *yaml.Node) { d.deny(path, n, o) },
		"log":                   func(path string, n *yaml.Node) { d.log(path, n, &f.Log) },
		"storage":               func(path string, n *yaml.Node) { d.storage(path, n, &f.Storage) },
		"admin":                 func(path string, n *yaml.Node) { d.adminSection(path, n, f) },
		"auth":                  func(path string, n *yaml.Node) { d.authSection(path, n, f) },
	})
}

func (d *decoder) limits(path string, n *yaml.Node, l *broker.Limits) {
	d.mapping(path, n, map[string]handler{
		"max_connections":       d.intField(&l.MaxConnections),
		"max_packet_size":       d.sizeField(&l.MaxPacketSize),
		"receive_maximum":       d.uint16Field(&l.ReceiveMaximum),
		"max_inflight":          d.uint16Field(&l.MaxInflight),
		"max_queued_messages":   d.intField(&l.MaxQueuedMessages),
		"max_queued_bytes":      d.sizeField(&l.MaxQueuedBytes),
		"queue_policy":          d.queuePolicy(&l.QueuePolicy),
		"max_pending_bytes":     d.sizeField(&l.MaxPendingBytes),
		"slow_consumer_after":   d.durationField(&l.SlowConsumerAfter),
		"max_topic_length":      d.intField(&l.MaxTopicLength),
		"max_topic_levels":      d.intField(&l.MaxTopicLevels),
		"max_subscriptions":     d.intField(&l.MaxSubscriptions),
		"max_keep_alive":        d.secondsField(&l.MaxKeepAlive),
		"connect_timeout":       d.durationField(&l.ConnectTimeout),
		"max_topic_aliases":     d.uint16Field(&l.MaxTopicAliases),
		"max_client_id_length":  d.intField(&l.MaxClientIDLength),
		"max_connect_size":      d.sizeField(&l.MaxConnectSize),
		"write_timeout":         d.durationField(&l.WriteTimeout),
		"max_message_expiry":    d.durationField(&l.MaxMessageExpiry),
		"allow_empty_client_id": d.boolField(&l.AllowEmptyClientID),
		"allow_control_chars":   d.boolField(&l.AllowControlChars),

		"max_connections_per_listener": d.intField(&l.MaxConnectionsPerListener),
		"connect_rate_per_ip":          d.intField(&l.ConnectRatePerIP),
		"publish_rate":                 d.intField(&l.PublishRate),
		"publish_bytes_rate":           d.sizeField(&l.PublishBytesRate),
		"publish_rate_reason":          d.publishRateReason(&l.PublishRateReason),
	})
}

var queuePolicies = map[string]broker.QueuePolicy{
	broker.DropNewest.String(): broker.DropNewest,
	broker.DropOldest.String(): broker.DropOldest,
	broker.Disconnect.String(): broker.Disconnect,
}

func (d *decoder) queuePolicy(p *broker.QueuePolicy) handler {
	return func(path string, n *yaml.Node) {
		v, ok := d.choice(path, n, broker.DropNewest.String(), broker.DropOldest.String(), broker.Disconnect.String())
		if ok {
			*p = queuePolicies[v]
		}
	}
}

// CheckListenAddress reports whether addr is a TCP listen address
// "host:port": the host may be empty (every interface), a name or an IP, the
// port a number from 0 (any free port) to 65535.
func CheckListenAddress(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return fmt.Errorf("%q is not host:port (%s)", addr, ae.Err)
		}
		return fmt.Errorf("%q is not host:port", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", addr, port)
	}
	return nil
}

// deny decodes the deny: section into a broker.DenyList authorizer.
func (d *decoder) deny(path string, n *yaml.Node, o *broker.Options) {
	var dl broker.DenyList
	filters := func(dst *[]string) handler {
		return func(path string, n *yaml.Node) {
			d.list(path, n, func(path string, _ int, item *yaml.Node) {
				f, ok := d.stringValue(path, item)
				if !ok {
					return
				}
				if err := topic.ValidFilter(f); err != nil {
					d.fail(resolve(item), path, "%q is not a valid topic filter: %v", f, err)
					return
				}
				*dst = append(*dst, f)
			})
		}
	}
	d.mapping(path, n, map[string]handler{
		"publish":   filters(&dl.Publish),
		"subscribe": filters(&dl.Subscribe),
	})
	if len(dl.Publish) > 0 || len(dl.Subscribe) > 0 {
		o.Authorizer = &dl
	}
}

var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
}

func (d *decoder) log(path string, n *yaml.Node, l *LogConfig) {
	d.mapping(path, n, map[string]handler{
		"level": func(path string, n *yaml.Node) {
			if v, ok := d.choice(path, n, "debug", "info", "warn", "error"); ok {
				l.Level = logLevels[v]
			}
		},
		"format": func(path string, n *yaml.Node) {
			if v, ok := d.choice(path, n, string(LogText), string(LogJSON)); ok {
				l.Format = LogFormat(v)
			}
		},
		"file":   d.stringField(&l.File),
		"syslog": d.stringField(&l.Syslog),
		"stderr": d.boolField(&l.Stderr),
	})
}
