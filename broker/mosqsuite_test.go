package broker

import (
	"testing"

	"github.com/roostmq/roost/packet"
)

// Cases found by running Mosquitto's broker test suite against Roost
// (scripts/mosquitto-suite, docs/mosquitto-suite.md).

// TestMosqSuite_EmptyTopicNoAlias: an MQTT 5 PUBLISH with a zero-length
// topic and no Topic Alias is a Protocol Error (MQTT 5.0 3.3.2.3.4), so the
// DISCONNECT carries 0x82, not 0x90 Topic Name invalid; in 3.1.1 the
// connection is closed [MQTT-4.7.3-1].
func TestMosqSuite_EmptyTopicNoAlias(t *testing.T) {
	_, addr := startServer(t, nil)
	p, _ := connect5(t, addr, "empty-topic", nil)
	p.sendRaw([]byte{0x30, 0x0a, 0x00, 0x00, 0x00, 'p', 'a', 'y', 'l', 'o', 'a', 'd'})
	eq(t, "DISCONNECT", p.expectClosed(), packet.ProtocolError)

	p4, _ := connect(t, addr, packet.V311, &packet.Connect{ClientID: []byte("empty-topic-4"), CleanStart: true})
	p4.sendRaw([]byte{0x30, 0x09, 0x00, 0x00, 'p', 'a', 'y', 'l', 'o', 'a', 'd'})
	p4.expectClosed()
}
