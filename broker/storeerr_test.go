package broker

import (
	"errors"
	"net"
	"testing"

	"github.com/roostmq/roost/packet"
	"github.com/roostmq/roost/store"
)

// failingStore refuses to keep retained messages.
type failingStore struct{ *store.Memory }

func (failingStore) SetRetained(*store.Message) error { return errors.New("disk full") }

// A store failure while handling a PUBLISH closes the connection before the
// message is acknowledged; other clients keep working. [MQTT-4.8.0-2] (3.1.1)
func TestStoreErrorClosesConnection_MQTT_4_8_0_2_v311(t *testing.T) {
	_, addr := startServer(t, func(o *Options) { o.Store = failingStore{store.NewMemory()} })
	for _, v := range []packet.Version{packet.V311, packet.V5} {
		p, _ := connect(t, addr, v, &packet.Connect{ClientID: []byte("pub"), CleanStart: true})
		p.send(&packet.Publish{QoS: 1, PacketID: 1, Retain: true, Topic: []byte("r"), Payload: []byte("x")})
		var code packet.ReasonCode
		for {
			pk, err := p.read(peerTimeout)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("v%v: connection not closed", v)
			}
			if err != nil {
				break // closed
			}
			switch pk := pk.(type) {
			case *packet.Puback:
				t.Fatalf("v%v: PUBACK for a message the store refused", v)
			case *packet.Disconnect:
				code = pk.ReasonCode
			}
		}
		if v == packet.V5 && code != packet.UnspecifiedError {
			t.Fatalf("v5 DISCONNECT 0x%02x, want 0x80", byte(code))
		}
		other, _ := connect(t, addr, v, &packet.Connect{ClientID: []byte("other"), CleanStart: true})
		other.publish("plain", "y", 1, false)
		other.disconnect()
	}
}

// A Response Topic must be a valid topic name: a wildcard is a protocol
// error, in a PUBLISH and in the will properties. [MQTT-3.3.2-14] (5.0)
func TestResponseTopicWildcard_MQTT_3_3_2_14_v5(t *testing.T) {
	_, addr := startServer(t, nil)
	p, _ := connect(t, addr, packet.V5, nil)
	pub := &packet.Publish{QoS: 1, PacketID: 1, Topic: []byte("req"), Payload: []byte("x")}
	pub.Properties.ResponseTopic = []byte("reply/#")
	pub.Properties.Set(packet.PropResponseTopic)
	p.send(pub)
	if code := p.expectClosed(); code != packet.ProtocolError {
		t.Fatalf("DISCONNECT 0x%02x, want 0x82", byte(code))
	}
	c := &packet.Connect{ClientID: []byte("w"), CleanStart: true, WillFlag: true, WillTopic: []byte("will"), WillPayload: []byte("bye")}
	c.WillProperties.ResponseTopic = []byte("reply/+")
	c.WillProperties.Set(packet.PropResponseTopic)
	mustRefuse(t, addr, packet.V5, c, packet.ProtocolError)
}
