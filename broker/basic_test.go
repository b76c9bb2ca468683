package broker

import (
	"testing"

	"github.com/roostmq/roost/packet"
)

func TestPubSubAllVersions(t *testing.T) {
	_, addr := startServer(t, nil)
	for _, v := range []packet.Version{packet.V31, packet.V311, packet.V5} {
		for qos := byte(0); qos <= 2; qos++ {
			sub, _ := connect(t, addr, v, &packet.Connect{ClientID: []byte("sub"), CleanStart: true})
			eq(t, "suback", sub.subscribe(packet.Subscription{Filter: []byte("a/+"), QoS: 2}), []packet.ReasonCode{2})
			pub, _ := connect(t, addr, v, &packet.Connect{ClientID: []byte("pub"), CleanStart: true})
			pub.publish("a/b", "hello", qos, false)
			got := sub.receive()
			eqBytes(t, "topic", got.Topic, "a/b")
			eqBytes(t, "payload", got.Payload, "hello")
			eq(t, "qos", got.QoS, qos)
			pub.disconnect()
			sub.disconnect()
		}
	}
}
