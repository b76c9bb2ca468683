// Package packet is Roost's wire codec for MQTT 3.1 (protocol level 3),
// 3.1.1 (level 4) and 5.0 (level 5).
//
// Decoders take the bytes of exactly one packet and fill a typed struct whose
// byte-slice fields alias that buffer: nothing is copied. A caller that needs a
// packet after the buffer is reused calls Clone. Encoders append to a caller's
// slice (Append(dst, version) []byte) so the broker encodes straight into its
// own pooled buffers. The package imports only the standard library and never
// owns a socket.
package packet

import "fmt"

// Type is the MQTT control packet type, the high nibble of the first byte.
type Type byte

// The fifteen control packet types.
const (
	CONNECT     Type = 1
	CONNACK     Type = 2
	PUBLISH     Type = 3
	PUBACK      Type = 4
	PUBREC      Type = 5
	PUBREL      Type = 6
	PUBCOMP     Type = 7
	SUBSCRIBE   Type = 8
	SUBACK      Type = 9
	UNSUBSCRIBE Type = 10
	UNSUBACK    Type = 11
	PINGREQ     Type = 12
	PINGRESP    Type = 13
	DISCONNECT  Type = 14
	AUTH        Type = 15
)

var typeNames = [...]string{"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC",
	"PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ",
	"PINGRESP", "DISCONNECT", "AUTH"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", byte(t))
}

// Version is the protocol level carried in CONNECT.
type Version byte

// Protocol levels.
const (
	V31  Version = 3 // MQTT 3.1, protocol name "MQIsdp"
	V311 Version = 4 // MQTT 3.1.1
	V5   Version = 5 // MQTT 5.0
)

func (v Version) String() string {
	switch v {
	case V31:
		return "3.1"
	case V311:
		return "3.1.1"
	case V5:
		return "5.0"
	}
	return fmt.Sprintf("Version(%d)", byte(v))
}

// Packet is implemented by every control packet struct.
type Packet interface {
	// Type reports the control packet type.
	Type() Type
	// Append encodes the whole packet (fixed header included) for protocol
	// version v and appends it to dst. Properties are written only for V5.
	Append(dst []byte, v Version) []byte
	// decode fills the packet from the flags nibble and the body (everything
	// after the fixed header). Byte fields alias body.
	decode(flags byte, body []byte, v Version) error
}

// requiredFlags gives the fixed-header flag nibble each type must carry; -1
// means the flags are defined by the packet (PUBLISH). [MQTT-2.1.3-1] [MQTT-2.2.2-1]
var requiredFlags = [16]int8{0, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0}

// CheckFlags validates the fixed-header flags of a packet type and rejects
// reserved type 0 and, before MQTT 5, AUTH. [MQTT-2.1.3-1] [MQTT-2.2.2-2]
func CheckFlags(t Type, flags byte, v Version) error {
	if t == 0 || (t == AUTH && v != V5 && v != 0) {
		return errorf(MalformedPacket, "packet type %d is reserved", byte(t))
	}
	want := requiredFlags[t]
	if v == V31 && want == 2 {
		// MQTT 3.1 gives PUBREL, SUBSCRIBE and UNSUBSCRIBE a DUP flag (bit
		// 3), set when the packet is sent again; 3.1.1 made it reserved.
		flags &^= 0x08
	}
	if want >= 0 && flags != byte(want) {
		return errorf(MalformedPacket, "%v: reserved flags 0x%x, want 0x%x", t, flags, want)
	}
	if t == PUBLISH && (flags>>1)&3 == 3 {
		return errorf(MalformedPacket, "PUBLISH with QoS 3") // [MQTT-3.3.1-4]
	}
	return nil
}

// New returns an empty packet struct of type t, or nil for a reserved type.
func New(t Type) Packet {
	switch t {
	case CONNECT:
		return new(Connect)
	case CONNACK:
		return new(Connack)
	case PUBLISH:
		return new(Publish)
	case PUBACK:
		return new(Puback)
	case PUBREC:
		return new(Pubrec)
	case PUBREL:
		return new(Pubrel)
	case PUBCOMP:
		return new(Pubcomp)
	case SUBSCRIBE:
		return new(Subscribe)
	case SUBACK:
		return new(Suback)
	case UNSUBSCRIBE:
		return new(Unsubscribe)
	case UNSUBACK:
		return new(Unsuback)
	case PINGREQ:
		return new(Pingreq)
	case PINGRESP:
		return new(Pingresp)
	case DISCONNECT:
		return new(Disconnect)
	case AUTH:
		return new(Auth)
	}
	return nil
}

// Decode decodes one packet from its first byte and body (as returned by
// Split or Reader.Read). The result aliases body. For CONNECT the version is
// taken from the packet itself and v is ignored.
func Decode(first byte, body []byte, v Version) (Packet, error) {
	t := Type(first >> 4)
	if err := CheckFlags(t, first&0x0f, v); err != nil {
		return nil, err
	}
	p := New(t)
	if err := p.decode(first&0x0f, body, v); err != nil {
		return nil, err
	}
	return p, nil
}

// DecodeInto decodes into an existing packet whose type must match first; it
// lets a hot path reuse one struct (for example a *Publish) for every read.
func DecodeInto(p Packet, first byte, body []byte, v Version) error {
	t := Type(first >> 4)
	if t != p.Type() {
		return errorf(ProtocolError, "expected %v, got %v", p.Type(), t)
	}
	if err := CheckFlags(t, first&0x0f, v); err != nil {
		return err
	}
	return p.decode(first&0x0f, body, v)
}

// Clone returns a deep copy of p that shares no memory with the buffer p was
// decoded from: the explicit way to keep a packet past the next read. It costs
// one buffer and one struct. It fails only for a packet that would not decode
// under v (one built by hand with invalid fields).
func Clone(p Packet, v Version) (Packet, error) {
	b := p.Append(nil, v)
	first, body, _, err := Split(b, 0)
	if err != nil {
		return nil, err
	}
	return Decode(first, body, v)
}
