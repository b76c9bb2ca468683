package packet

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestEncodeVectors(t *testing.T) {
	for _, table := range allVectors {
		for _, c := range table {
			t.Run(c.name, func(t *testing.T) {
				got := c.pkt.Append(nil, c.v)
				if !bytes.Equal(got, c.raw) {
					t.Fatalf("encode:\n got % x\nwant % x", got, c.raw)
				}
			})
		}
	}
}

func TestDecodeVectors(t *testing.T) {
	for _, table := range allVectors {
		for _, c := range table {
			t.Run(c.name, func(t *testing.T) {
				first, body, n, err := Split(c.raw, 0)
				if err != nil || n != len(c.raw) {
					t.Fatalf("split: n=%d err=%v", n, err)
				}
				got, err := Decode(first, body, c.v)
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				if !reflect.DeepEqual(got, c.pkt) {
					t.Fatalf("decode:\n got %#v\nwant %#v", got, c.pkt)
				}
			})
		}
	}
}

// Every strict prefix of a valid packet is incomplete, never a packet.
func TestPrefixIncomplete(t *testing.T) {
	for _, table := range allVectors {
		for _, c := range table {
			for i := 0; i < len(c.raw); i++ {
				if _, _, _, err := Split(c.raw[:i], 0); err != ErrIncomplete {
					t.Fatalf("%s: prefix %d: err %v, want ErrIncomplete", c.name, i, err)
				}
			}
		}
	}
}

func TestDecodeAliasesAndClone(t *testing.T) {
	raw := append([]byte(nil), publishVectors[4].raw...)
	first, body, _, _ := Split(raw, 0)
	p, err := Decode(first, body, V5)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := Clone(p, V5)
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		raw[i] = 0xee
	}
	if string(p.(*Publish).Topic) == "t" {
		t.Fatal("decoded topic does not alias the buffer")
	}
	if !reflect.DeepEqual(kept, publishVectors[4].pkt) {
		t.Fatalf("clone changed with the buffer: %#v", kept)
	}
}

type badCase struct {
	name string
	v    Version
	raw  []byte
	want ReasonCode
}

var malformed = []badCase{
	{"MQTT-2.1.3-1 SUBSCRIBE reserved flags 0000", V311, []byte{0x80, 6, 0, 1, 0, 1, 'a', 0}, MalformedPacket},
	{"MQTT-2.2.2-2 PUBREL reserved flags 0000", V311, []byte{0x60, 2, 0, 1}, MalformedPacket},
	{"MQTT-2.1.3-1 UNSUBSCRIBE reserved flags 0000", V5, []byte{0xa0, 6, 0, 1, 0, 0, 1, 'a'}, MalformedPacket},
	{"MQTT-2.1.3-1 CONNACK reserved flags", V311, []byte{0x21, 2, 0, 0}, MalformedPacket},
	{"MQTT-2.1.3-1 reserved packet type 0", V311, []byte{0x00, 0}, MalformedPacket},
	{"MQTT-3.2.2-1 CONNACK reserved acknowledge flags", V311, []byte{0x20, 2, 2, 0}, MalformedPacket},
	{"MQTT-3.3.1-4 PUBLISH QoS 3", V311, []byte{0x36, 5, 0, 1, 't', 0, 1}, MalformedPacket},
	{"MQTT-3.3.1-2 PUBLISH QoS 0 with DUP", V311, []byte{0x38, 3, 0, 1, 't'}, ProtocolError},
	{"MQTT-1.5.5-1 five-byte variable byte integer", V311, []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x7f}, MalformedPacket},
	{"MQTT-1.5.5-1 over-long variable byte integer", V311, []byte{0x30, 0x83, 0x00, 0, 1, 't'}, MalformedPacket},
	{"MQTT-1.5.5-1 over-long property length", V5, []byte{0x30, 5, 0, 1, 't', 0x80, 0x00}, MalformedPacket},
	{"field length beyond the packet", V311, []byte{0x30, 3, 0, 5, 't'}, MalformedPacket},
	{"MQTT-1.5.4-1 invalid UTF-8 in topic", V311, []byte{0x30, 4, 0, 2, 0xc3, 0x28}, MalformedPacket},
	{"MQTT-1.5.4-1 surrogate in topic", V5, []byte{0x30, 6, 0, 3, 0xed, 0xa0, 0x80, 0}, MalformedPacket},
	{"MQTT-1.5.4-2 U+0000 in topic", V311, []byte{0x30, 4, 0, 2, 'a', 0}, MalformedPacket},
	{"MQTT-1.5.3-2 U+0000 in client id", V311, []byte{0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 0, 0, 1, 0}, MalformedPacket},
	{"MQTT-1.5.7-1 invalid UTF-8 in user property value", V5, []byte{0x30, 11, 0, 1, 't', 7, 0x26, 0, 1, 'k', 0, 1, 0xff}, MalformedPacket},
	{"MQTT-2.2.2-1 property not allowed in PUBLISH", V5, []byte{0x30, 9, 0, 1, 't', 5, 0x11, 0, 0, 0, 1}, MalformedPacket},
	{"MQTT-2.2.2-1 will delay in CONNECT properties", V5, []byte{0x10, 0x12, 0, 4, 'M', 'Q', 'T', 'T', 5, 2, 0, 0, 5, 0x18, 0, 0, 0, 1, 0, 0}, MalformedPacket},
	{"MQTT-2.2.2-1 unknown property id", V5, []byte{0x30, 6, 0, 1, 't', 2, 0x7f, 0}, MalformedPacket},
	{"MQTT-2.2.2-1 duplicated message expiry", V5, []byte{0x30, 14, 0, 1, 't', 10, 2, 0, 0, 0, 1, 2, 0, 0, 0, 2}, ProtocolError},
	{"duplicated subscription identifier in SUBSCRIBE", V5, []byte{0x82, 11, 0, 1, 4, 0x0b, 1, 0x0b, 2, 0, 1, 'a', 0}, ProtocolError},
	{"MQTT-3.3.4-6 subscription identifier 0", V5, []byte{0x30, 6, 0, 1, 't', 2, 0x0b, 0}, ProtocolError},
	{"MQTT-3.1.2-21 receive maximum 0", V5, []byte{0x10, 0x10, 0, 4, 'M', 'Q', 'T', 'T', 5, 2, 0, 0, 3, 0x21, 0, 0, 0, 0}, ProtocolError},
	{"payload format indicator 2", V5, []byte{0x30, 6, 0, 1, 't', 2, 0x01, 2}, ProtocolError},
	{"MQTT-2.3.1-1 PUBLISH QoS 1 packet id 0", V311, []byte{0x32, 5, 0, 1, 't', 0, 0}, ProtocolError},
	{"MQTT-2.3.1-1 SUBSCRIBE packet id 0", V311, []byte{0x82, 6, 0, 0, 0, 1, 'a', 0}, ProtocolError},
	{"MQTT-2.3.1-1 UNSUBSCRIBE packet id 0", V311, []byte{0xa2, 5, 0, 0, 0, 1, 'a'}, ProtocolError},
	{"MQTT-2.3.1-6 PUBACK packet id 0", V311, []byte{0x40, 2, 0, 0}, ProtocolError},
	{"MQTT-3.1.2-1 wrong protocol name", V311, []byte{0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'X', 4, 2, 0, 0, 0, 1, 'c'}, UnsupportedProtocolVersion},
	{"MQTT-3.1.2-2 unsupported protocol level", V311, []byte{0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 6, 2, 0, 0, 0, 1, 'c'}, UnsupportedProtocolVersion},
	{"MQTT-3.1.2-1 MQIsdp with level 4", V311, []byte{0x10, 0x0f, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 4, 2, 0, 0, 0, 1, 'c'}, UnsupportedProtocolVersion},
	{"MQTT-3.1.2-3 CONNECT reserved flag", V311, []byte{0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 4, 3, 0, 0, 0, 1, 'c'}, MalformedPacket},
	{"MQTT-3.1.2-13 will QoS without will flag", V311, []byte{0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x0a, 0, 0, 0, 1, 'c'}, MalformedPacket},
	{"MQTT-3.1.2-15 will retain without will flag", V311, []byte{0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x22, 0, 0, 0, 1, 'c'}, MalformedPacket},
	{"MQTT-3.1.2-14 will QoS 3", V311, []byte{0x10, 0x12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x1e, 0, 0, 0, 1, 'c', 0, 1, 'w', 0, 0}, MalformedPacket},
	{"MQTT-3.1.2-22 password without user name in 3.1.1", V311, []byte{0x10, 0x10, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x42, 0, 0, 0, 1, 'c', 0, 1, 'p'}, MalformedPacket},
	{"MQTT-3.1.2-9 will flag without will topic", V311, []byte{0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x06, 0, 0, 0, 1, 'c'}, MalformedPacket},
	{"MQTT-3.1.4-1 trailing bytes after CONNECT payload", V311, []byte{0x10, 0x0e, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 0, 0, 1, 'c', 9}, MalformedPacket},
	{"MQTT-3.8.3-3 SUBSCRIBE without filters", V311, []byte{0x82, 2, 0, 1}, ProtocolError},
	{"MQTT-3.8.3-2 SUBSCRIBE v5 without filters", V5, []byte{0x82, 3, 0, 1, 0}, ProtocolError},
	{"MQTT-3.10.3-2 UNSUBSCRIBE without filters", V311, []byte{0xa2, 2, 0, 1}, ProtocolError},
	{"MQTT-3-8.3-4 SUBSCRIBE reserved option bits in 3.1.1", V311, []byte{0x82, 6, 0, 1, 0, 1, 'a', 0x04}, MalformedPacket},
	{"MQTT-3.8.3-4 SUBSCRIBE QoS 3", V5, []byte{0x82, 7, 0, 1, 0, 0, 1, 'a', 3}, MalformedPacket},
	{"MQTT-3.8.3-5 SUBSCRIBE v5 reserved option bits", V5, []byte{0x82, 7, 0, 1, 0, 0, 1, 'a', 0x40}, MalformedPacket},
	{"SUBSCRIBE retain handling 3", V5, []byte{0x82, 7, 0, 1, 0, 0, 1, 'a', 0x30}, ProtocolError},
	{"MQTT-3.12.4-1 PINGREQ with a body", V311, []byte{0xc0, 1, 0}, MalformedPacket},
	{"MQTT-3.14.1-1 v311 DISCONNECT with a body", V311, []byte{0xe0, 1, 0}, MalformedPacket},
	{"MQTT-3.14.2-1 v5 DISCONNECT reason code not allowed", V5, []byte{0xe0, 1, 0x01}, ProtocolError},
	{"MQTT-3.4.2-1 v5 PUBACK reason code not allowed", V5, []byte{0x40, 3, 0, 1, 0x92}, ProtocolError},
	{"MQTT-3.15.2-1 AUTH reason code not allowed", V5, []byte{0xf0, 1, 0x80}, ProtocolError},
	{"AUTH in MQTT 3.1.1", V311, []byte{0xf0, 0}, MalformedPacket},
	{"MQTT-3.1.2-3 v5 CONNACK trailing bytes", V5, []byte{0x20, 4, 0, 0, 0, 1}, MalformedPacket},
	{"MQTT-4.7.3-1 SUBSCRIBE empty filter", V311, []byte{0x82, 5, 0, 1, 0, 0, 1}, ProtocolError},
	{"MQTT-4.7.3-1 SUBSCRIBE v5 empty second filter", V5, []byte{0x82, 10, 0, 1, 0, 0, 1, 'a', 1, 0, 0, 0}, ProtocolError},
	{"MQTT-4.7.3-1 UNSUBSCRIBE empty filter", V311, []byte{0xa2, 4, 0, 1, 0, 0}, ProtocolError},
	{"MQTT-4.7.3-1 UNSUBSCRIBE v5 empty filter", V5, []byte{0xa2, 5, 0, 1, 0, 0, 0}, ProtocolError},
}

func TestMalformed(t *testing.T) {
	for _, c := range malformed {
		t.Run(c.name, func(t *testing.T) {
			first, body, _, err := Split(c.raw, 0)
			if err == nil {
				_, err = Decode(first, body, c.v)
			}
			if err == nil {
				t.Fatal("accepted")
			}
			var rc ReasonCode
			if !errors.As(err, &rc) || rc != c.want {
				t.Fatalf("error %v (code %v), want %v", err, rc, c.want)
			}
		})
	}
}

func TestReasonCodeError(t *testing.T) {
	var err error = errorf(PacketTooLarge, "x")
	if CodeOf(err) != PacketTooLarge || !errors.Is(err, PacketTooLarge) {
		t.Fatal("reason code not found through errors.As/Is")
	}
	if MalformedPacket.Error() != "malformed packet" || ReasonCode(0x42).String() != "reason code 0x42" {
		t.Fatal("reason code names")
	}
	for c := range reasonNames {
		if !c.Valid() || c.String() == "" {
			t.Fatalf("code %x", byte(c))
		}
	}
	if rc, ok := V3ReturnCode(NotAuthorized); !ok || rc != ConnRefusedNotAuthorized {
		t.Fatal("v3 mapping")
	}
}
