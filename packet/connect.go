package packet

import "bytes"

// Connect is a CONNECT packet. Byte fields alias the decoded buffer.
type Connect struct {
	ProtocolName []byte  // "MQTT", or "MQIsdp" for 3.1; Append derives it from Version when empty
	Version      Version // protocol level
	CleanStart   bool    // Clean Session in 3.1 and 3.1.1
	KeepAlive    uint16  // seconds
	Properties   Properties
	ClientID     []byte

	WillFlag       bool
	WillQoS        byte
	WillRetain     bool
	WillProperties Properties
	WillTopic      []byte
	WillPayload    []byte

	UsernameFlag bool
	Username     []byte
	PasswordFlag bool
	Password     []byte
}

// Type implements Packet.
func (*Connect) Type() Type { return CONNECT }

var (
	nameMQTT   = []byte("MQTT")
	nameMQIsdp = []byte("MQIsdp")
)

// decode reads a CONNECT. The version argument is ignored: the packet carries
// its own. On an unsupported protocol name or level the error carries
// UnsupportedProtocolVersion and Version holds the level that was sent, so the
// broker can choose the CONNACK format. [MQTT-3.1.4-1]
func (p *Connect) decode(_ byte, body []byte, _ Version) error {
	r := reader{b: body}
	p.ProtocolName = r.str()
	p.Version = Version(r.byte())
	flags := r.byte()
	p.KeepAlive = r.u16()
	if r.err != nil {
		return r.err
	}
	switch {
	case p.Version == V31 && bytes.Equal(p.ProtocolName, nameMQIsdp):
	case (p.Version == V311 || p.Version == V5) && bytes.Equal(p.ProtocolName, nameMQTT):
	default:
		// [MQTT-3.1.2-1] [MQTT-3.1.2-2]
		return errorf(UnsupportedProtocolVersion, "protocol %q level %d", p.ProtocolName, byte(p.Version))
	}
	if err := p.setFlags(flags); err != nil {
		return err
	}
	if p.Version == V5 {
		p.Properties.decode(&r, CONNECT)
	} else {
		p.Properties.Reset()
	}
	p.ClientID = r.str() // [MQTT-3.1.3-3] [MQTT-3.1.3-4]
	p.WillProperties.Reset()
	p.WillTopic, p.WillPayload, p.Username, p.Password = nil, nil, nil, nil
	if p.WillFlag {
		if p.Version == V5 {
			p.WillProperties.decode(&r, willProps)
		}
		p.WillTopic = r.str() // [MQTT-3.1.3-11]
		p.WillPayload = r.binary()
	}
	if p.UsernameFlag {
		p.Username = r.str() // [MQTT-3.1.3-12]
	}
	if p.PasswordFlag {
		p.Password = r.binary()
	}
	return r.end() // [MQTT-3.1.3-1]
}

// setFlags checks and stores the connect flags byte.
func (p *Connect) setFlags(f byte) error {
	if f&0x01 != 0 {
		return errorf(MalformedPacket, "CONNECT reserved flag set") // [MQTT-3.1.2-3]
	}
	p.CleanStart = f&0x02 != 0
	p.WillFlag = f&0x04 != 0
	p.WillQoS = (f >> 3) & 3
	p.WillRetain = f&0x20 != 0
	p.PasswordFlag = f&0x40 != 0
	p.UsernameFlag = f&0x80 != 0
	if !p.WillFlag && (p.WillQoS != 0 || p.WillRetain) {
		// [MQTT-3.1.2-11] [MQTT-3.1.2-13] (3.1.1: [MQTT-3.1.2-13] [MQTT-3.1.2-15])
		return errorf(MalformedPacket, "will QoS or retain set without the will flag")
	}
	if p.WillQoS == 3 {
		return errorf(MalformedPacket, "will QoS 3") // [MQTT-3.1.2-12] (3.1.1: [MQTT-3.1.2-14])
	}
	if p.Version != V5 && p.PasswordFlag && !p.UsernameFlag {
		return errorf(MalformedPacket, "password without a user name") // 3.1.1 [MQTT-3.1.2-22]
	}
	return nil
}

func (p *Connect) flags() byte {
	var f byte
	if p.CleanStart {
		f |= 0x02
	}
	if p.WillFlag {
		f |= 0x04 | p.WillQoS<<3
		if p.WillRetain {
			f |= 0x20
		}
	}
	if p.PasswordFlag {
		f |= 0x40
	}
	if p.UsernameFlag {
		f |= 0x80
	}
	return f
}

func (p *Connect) name() []byte {
	switch {
	case len(p.ProtocolName) > 0:
		return p.ProtocolName
	case p.Version == V31:
		return nameMQIsdp
	}
	return nameMQTT
}

// Append implements Packet. The protocol level written is p.Version (v is used
// only when p.Version is zero).
func (p *Connect) Append(dst []byte, v Version) []byte {
	if p.Version != 0 {
		v = p.Version
	}
	n := 2 + len(p.name()) + 4 + 2 + len(p.ClientID)
	if v == V5 {
		n += p.Properties.size()
	}
	if p.WillFlag {
		n += 4 + len(p.WillTopic) + len(p.WillPayload)
		if v == V5 {
			n += p.WillProperties.size()
		}
	}
	if p.UsernameFlag {
		n += 2 + len(p.Username)
	}
	if p.PasswordFlag {
		n += 2 + len(p.Password)
	}
	dst = appendHeader(dst, byte(CONNECT)<<4, n)
	dst = appendBinary(dst, p.name())
	dst = appendU16(append(dst, byte(v), p.flags()), p.KeepAlive)
	if v == V5 {
		dst = p.Properties.Append(dst)
	}
	dst = appendBinary(dst, p.ClientID)
	if p.WillFlag {
		if v == V5 {
			dst = p.WillProperties.Append(dst)
		}
		dst = appendBinary(appendBinary(dst, p.WillTopic), p.WillPayload)
	}
	if p.UsernameFlag {
		dst = appendBinary(dst, p.Username)
	}
	if p.PasswordFlag {
		dst = appendBinary(dst, p.Password)
	}
	return dst
}

// Connack is a CONNACK packet. In 3.1 and 3.1.1 ReasonCode holds the return
// code (0 to 5, see ConnAccepted and friends).
type Connack struct {
	SessionPresent bool
	ReasonCode     ReasonCode
	Properties     Properties
}

// Type implements Packet.
func (*Connack) Type() Type { return CONNACK }

func (p *Connack) decode(_ byte, body []byte, v Version) error {
	r := reader{b: body}
	f := r.byte()
	p.ReasonCode = ReasonCode(r.byte())
	if r.err != nil {
		return r.err
	}
	if f&0xfe != 0 {
		return errorf(MalformedPacket, "CONNACK reserved flags set") // [MQTT-3.2.2-1]
	}
	p.SessionPresent = f&1 != 0
	if v == V5 {
		p.Properties.decode(&r, CONNACK)
		if r.err == nil && !p.ReasonCode.Valid() {
			return errorf(ProtocolError, "CONNACK reason code 0x%02x", byte(p.ReasonCode))
		}
	} else {
		p.Properties.Reset()
		if p.ReasonCode > 5 {
			return errorf(ProtocolError, "CONNACK return code %d", byte(p.ReasonCode))
		}
	}
	return r.end()
}

// Append implements Packet.
func (p *Connack) Append(dst []byte, v Version) []byte {
	var f byte
	if p.SessionPresent {
		f = 1
	}
	if v != V5 {
		return append(dst, byte(CONNACK)<<4, 2, f, byte(p.ReasonCode))
	}
	dst = appendHeader(dst, byte(CONNACK)<<4, 2+p.Properties.size())
	return p.Properties.Append(append(dst, f, byte(p.ReasonCode)))
}
