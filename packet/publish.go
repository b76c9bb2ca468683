package packet

// Publish is a PUBLISH packet. Topic, Payload and the byte fields of
// Properties alias the decoded buffer.
type Publish struct {
	Dup        bool
	QoS        byte
	Retain     bool
	Topic      []byte
	PacketID   uint16 // present only when QoS > 0
	Properties Properties
	Payload    []byte
}

// Type implements Packet.
func (*Publish) Type() Type { return PUBLISH }

var (
	errNoPacketID   = errorf(ProtocolError, "packet identifier 0 where one is required")
	errDupQoS0      = errorf(ProtocolError, "PUBLISH QoS 0 with DUP set")
	errQoS3         = errorf(MalformedPacket, "QoS 3")
	errEmptyTopicV3 = errorf(MalformedPacket, "PUBLISH with an empty topic name")
)

func (p *Publish) decode(flags byte, body []byte, v Version) error {
	p.Dup = flags&0x08 != 0
	p.QoS = (flags >> 1) & 3
	p.Retain = flags&0x01 != 0
	if p.QoS == 3 {
		return errQoS3 // [MQTT-3.3.1-4]
	}
	if p.QoS == 0 && p.Dup {
		return errDupQoS0 // [MQTT-3.3.1-2]
	}
	r := reader{b: body}
	p.Topic = r.str() // [MQTT-3.3.2-1]
	p.PacketID = 0
	if p.QoS > 0 {
		p.PacketID = r.u16()
		if r.err == nil && p.PacketID == 0 {
			return errNoPacketID // [MQTT-2.3.1-1] [MQTT-2.2.1-3]
		}
	}
	if v == V5 {
		p.Properties.decode(&r, PUBLISH)
	} else {
		p.Properties.Reset()
	}
	if r.err != nil {
		return r.err
	}
	if v != V5 && len(p.Topic) == 0 {
		return errEmptyTopicV3 // [MQTT-4.7.3-1]; MQTT 5 allows it with a topic alias
	}
	p.Payload = nil
	if len(r.b) > 0 {
		p.Payload = r.b
	}
	return nil
}

// FirstByte returns the fixed-header first byte for this PUBLISH.
func (p *Publish) FirstByte() byte {
	b := byte(PUBLISH)<<4 | p.QoS<<1
	if p.Dup {
		b |= 0x08
	}
	if p.Retain {
		b |= 0x01
	}
	return b
}

// Size returns the encoded size of the whole packet under v.
func (p *Publish) Size(v Version) int {
	n := p.bodyLen(v)
	return 1 + VarintLen(uint32(n)) + n
}

func (p *Publish) bodyLen(v Version) int {
	n := 2 + len(p.Topic) + len(p.Payload)
	if p.QoS > 0 {
		n += 2
	}
	if v == V5 {
		n += p.Properties.size()
	}
	return n
}

// Append implements Packet.
func (p *Publish) Append(dst []byte, v Version) []byte {
	dst = p.AppendHeader(dst, v)
	return append(dst, p.Payload...)
}

// AppendHeader appends everything but the payload, so a large payload can be
// written as its own vector without copying.
func (p *Publish) AppendHeader(dst []byte, v Version) []byte {
	dst = appendHeader(dst, p.FirstByte(), p.bodyLen(v))
	dst = appendBinary(dst, p.Topic)
	if p.QoS > 0 {
		dst = appendU16(dst, p.PacketID)
	}
	if v == V5 {
		dst = p.Properties.Append(dst)
	}
	return dst
}
