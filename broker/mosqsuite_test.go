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

// TestMosqSuite_V31PubrelDup: an MQTT 3.1 client that sends PUBREL again
// sets its DUP flag (3.1 defines it; 3.1.1 made the bit reserved): the
// broker answers PUBCOMP instead of closing the connection, for a PUBREL
// it has in flight and for one it already completed [MQTT-4.3.3-2].
func TestMosqSuite_V31PubrelDup(t *testing.T) {
	_, addr := startServer(t, nil)
	p, _ := connect(t, addr, packet.V31, &packet.Connect{ClientID: []byte("old-q2"), CleanStart: true})
	p.send(&packet.Publish{QoS: 2, PacketID: 7, Topic: []byte("q2/dup"), Payload: []byte("x")})
	eq(t, "PUBREC id", p.expect(packet.PUBREC).(*packet.Pubrec).PacketID, uint16(7))
	p.sendRaw([]byte{0x6a, 0x02, 0x00, 0x07})
	eq(t, "PUBCOMP id", p.expect(packet.PUBCOMP).(*packet.Pubcomp).PacketID, uint16(7))
	p.sendRaw([]byte{0x6a, 0x02, 0x00, 0x07})
	eq(t, "PUBCOMP id", p.expect(packet.PUBCOMP).(*packet.Pubcomp).PacketID, uint16(7))
	p.sendRaw([]byte{0x8a, 0x06, 0x00, 0x08, 0x00, 0x01, 'a', 0x00})
	eq(t, "SUBACK id", p.expect(packet.SUBACK).(*packet.Suback).PacketID, uint16(8))
}
