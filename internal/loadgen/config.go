// Package loadgen is the engine of `roost bench`: a load generator for any
// MQTT broker. It speaks the wire protocol directly through package packet so
// that it costs as little CPU as possible, and measures publish and delivery
// rates, end-to-end latency (a timestamp travels in each payload), loss,
// duplicates and connect rate.
package loadgen

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/roostmq/roost/packet"
)

// Scenario names.
const (
	ScenarioPub    = "pub"    // publishers only
	ScenarioSub    = "sub"    // subscribers only, to messages published by others
	ScenarioP2P    = "p2p"    // N publishers, each to its own subscriber
	ScenarioFanIn  = "fan-in" // N publishers, one subscriber
	ScenarioFanOut = "fan-out"
	ScenarioIdle   = "idle" // connections that only keep alive
)

// Config describes one benchmark run.
type Config struct {
	Addr string // host:port, for plain TCP when URL is empty
	// URL names the broker and its transport instead of Addr: mqtt://,
	// mqtts://, ws://, wss:// or unix:// (as client.Dial takes them), so
	// that a run measures a real deployment's path, TLS and WebSocket
	// framing included. TLS configures mqtts:// and wss://.
	URL                string
	TLS                *tls.Config
	Username, Password string // sent in every CONNECT when set
	Scenario           string
	Clients            int // publishers (pub, p2p, fan-in), subscribers (sub, fan-out), connections (idle)
	QoS                byte
	PayloadSize        int           // bytes; at least headerSize
	Rate               int           // total messages per second over all publishers; 0 floods
	Duration           time.Duration // how long publishers publish (or idle connections stay)
	Count              int           // messages per publisher; 0 means use Duration
	Version            packet.Version
	TopicPrefix        string
	KeepAlive          uint16
	Inflight           int      // QoS 1/2 window per publisher
	SourceAddrs        []string // local addresses to spread connections over (e.g. 127.0.0.2)
	Drain              time.Duration
	ClientIDPrefix     string
	// Persistent: subscribers keep their sessions (3.1.1 clean session 0,
	// 5.0 a session expiry of an hour), so the broker stores what it
	// queues for them as it would for a device that may go offline.
	Persistent bool
	// MaxOutstanding bounds, in a flood, the deliveries published but not
	// yet received by the subscribers; publishers wait beyond it. It keeps a
	// flood from filling socket buffers (which costs the generator CPU in
	// partial writes and turns latency into queueing time). 0: 10,000;
	// negative: no bound.
	MaxOutstanding int
}

// Defaults fills zero fields.
func (c *Config) Defaults() {
	if c.Scenario == "" {
		c.Scenario = ScenarioP2P
	}
	if c.Clients <= 0 {
		c.Clients = 1
	}
	if c.PayloadSize < headerSize {
		c.PayloadSize = max(c.PayloadSize, 64)
		c.PayloadSize = max(c.PayloadSize, headerSize)
	}
	if c.Duration <= 0 && c.Count <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Version == 0 {
		c.Version = packet.V311
	}
	if c.TopicPrefix == "" {
		c.TopicPrefix = "roost-bench"
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = 60
	}
	if c.Inflight <= 0 {
		c.Inflight = 64
	}
	if c.Drain <= 0 {
		c.Drain = 5 * time.Second
	}
	if c.ClientIDPrefix == "" {
		c.ClientIDPrefix = "roost-bench"
	}
}

// Validate reports a bad configuration.
func (c *Config) Validate() error {
	switch c.Scenario {
	case ScenarioPub, ScenarioSub, ScenarioP2P, ScenarioFanIn, ScenarioFanOut, ScenarioIdle:
	default:
		return fmt.Errorf("unknown scenario %q (pub, sub, p2p, fan-in, fan-out, idle)", c.Scenario)
	}
	if c.QoS > 2 {
		return errors.New("QoS must be 0, 1 or 2")
	}
	if c.Addr == "" && c.URL == "" {
		return errors.New("no broker address")
	}
	if c.Version != packet.V311 && c.Version != packet.V5 {
		return errors.New("protocol must be 3.1.1 or 5")
	}
	return nil
}
