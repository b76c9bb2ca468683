package broker

import (
	"fmt"

	"github.com/roostmq/roost/packet"
)

var errFirstNotConnect = &packet.Error{Code: packet.ProtocolError, Msg: "first packet is not CONNECT"}

// isConnectByte reports whether a fixed header's first byte is a CONNECT's.
func isConnectByte(b byte) bool { return packet.Type(b>>4) == packet.CONNECT }

// readConnect reads a connection's first packet, which must be a CONNECT of
// at most Limits.MaxConnectSize bytes. The type is checked on the first
// byte and the size on the fixed header, before any of the body is read: a
// connection that sends something else first is closed at once, and one
// that claims a large packet is refused before it sends it; what is
// buffered is only what arrived. The bound stays on the reader for the AUTH
// packets of an enhanced authentication, until the caller restores the
// packet size limit after CONNACK. [MQTT-3.1.0-1]
func readConnect(r *packet.Reader, lim *Limits) (first byte, body []byte, err error) {
	first, size, err := r.Header(isConnectByte)
	if err != nil {
		return 0, nil, err
	}
	if !isConnectByte(first) {
		return 0, nil, errFirstNotConnect
	}
	bound := lim.MaxPacketSize
	if n := lim.MaxConnectSize; n > 0 && n < bound {
		bound = n
	}
	if size > bound {
		return 0, nil, &packet.Error{Code: packet.PacketTooLarge,
			Msg: fmt.Sprintf("CONNECT of %d bytes exceeds limits.max_connect_size (%d)", size, bound)}
	}
	r.MaxSize = bound
	return r.Read()
}
