package packet

// errEmptyFilter: a topic filter is at least one character long; a parsed
// packet carrying an empty one is a protocol error, and the connection
// closes (5.0: DISCONNECT 0x82). [MQTT-4.7.3-1]
var errEmptyFilter = errorf(ProtocolError, "empty topic filter")

// Subscription is one topic filter of a SUBSCRIBE with its options.
type Subscription struct {
	Filter            []byte
	QoS               byte
	NoLocal           bool // MQTT 5
	RetainAsPublished bool // MQTT 5
	RetainHandling    byte // MQTT 5: 0 send retained, 1 only for a new subscription, 2 never
}

// Subscribe is a SUBSCRIBE packet.
type Subscribe struct {
	PacketID      uint16
	Properties    Properties
	Subscriptions []Subscription
}

// Type implements Packet.
func (*Subscribe) Type() Type { return SUBSCRIBE }

func (p *Subscribe) decode(_ byte, body []byte, v Version) error {
	r := reader{b: body}
	p.PacketID = r.u16()
	if v == V5 {
		p.Properties.decode(&r, SUBSCRIBE)
	} else {
		p.Properties.Reset()
	}
	p.Subscriptions = p.Subscriptions[:0]
	for r.err == nil && len(r.b) > 0 {
		s := Subscription{Filter: r.str()}
		o := r.byte()
		if r.err != nil {
			break
		}
		if len(s.Filter) == 0 {
			return errEmptyFilter // [MQTT-4.7.3-1]
		}
		if err := s.setOptions(o, v); err != nil {
			return err
		}
		p.Subscriptions = append(p.Subscriptions, s)
	}
	if r.err != nil {
		return r.err
	}
	if p.PacketID == 0 {
		return errNoPacketID // [MQTT-2.3.1-1]
	}
	if len(p.Subscriptions) == 0 {
		return errorf(ProtocolError, "SUBSCRIBE without a topic filter") // [MQTT-3.8.3-3] (3.1.1)
	}
	return nil
}

func (s *Subscription) setOptions(o byte, v Version) error {
	s.QoS = o & 3
	if s.QoS == 3 {
		return errorf(MalformedPacket, "subscription QoS 3") // [MQTT-3-8.3-4]
	}
	if v != V5 {
		if o&0xfc != 0 {
			return errorf(MalformedPacket, "SUBSCRIBE reserved option bits set") // [MQTT-3-8.3-4]
		}
		return nil
	}
	if o&0xc0 != 0 {
		return errorf(MalformedPacket, "SUBSCRIBE reserved option bits set") // [MQTT-3.8.3-5]
	}
	s.NoLocal = o&0x04 != 0
	s.RetainAsPublished = o&0x08 != 0
	s.RetainHandling = (o >> 4) & 3
	if s.RetainHandling == 3 {
		return errorf(ProtocolError, "retain handling 3")
	}
	return nil
}

func (s *Subscription) options() byte {
	o := s.QoS | s.RetainHandling<<4
	if s.NoLocal {
		o |= 0x04
	}
	if s.RetainAsPublished {
		o |= 0x08
	}
	return o
}

// Append implements Packet.
func (p *Subscribe) Append(dst []byte, v Version) []byte {
	n := 2
	if v == V5 {
		n += p.Properties.size()
	}
	for i := range p.Subscriptions {
		n += 3 + len(p.Subscriptions[i].Filter)
	}
	dst = appendU16(appendHeader(dst, byte(SUBSCRIBE)<<4|2, n), p.PacketID)
	if v == V5 {
		dst = p.Properties.Append(dst)
	}
	for i := range p.Subscriptions {
		s := &p.Subscriptions[i]
		o := s.options()
		if v != V5 {
			o = s.QoS
		}
		dst = append(appendBinary(dst, s.Filter), o)
	}
	return dst
}

// Suback is a SUBACK packet: one reason code per filter, in order
// [MQTT-3.8.4-6]. In 3.1.1 the codes are 0, 1, 2 or 0x80.
type Suback struct {
	PacketID    uint16
	Properties  Properties
	ReasonCodes []ReasonCode
}

// Type implements Packet.
func (*Suback) Type() Type { return SUBACK }

func (p *Suback) decode(_ byte, body []byte, v Version) error {
	r := reader{b: body}
	p.PacketID = r.u16()
	if v == V5 {
		p.Properties.decode(&r, SUBACK)
	} else {
		p.Properties.Reset()
	}
	if r.err != nil {
		return r.err
	}
	p.ReasonCodes = p.ReasonCodes[:0]
	for _, c := range r.b {
		rc := ReasonCode(c)
		if (v == V5 && !codeAllowed(SUBACK, rc)) || (v != V5 && rc > 2 && rc != UnspecifiedError) {
			return errBadCode(SUBACK, rc)
		}
		p.ReasonCodes = append(p.ReasonCodes, rc)
	}
	if p.PacketID == 0 {
		return errNoPacketID
	}
	if len(p.ReasonCodes) == 0 {
		return errorf(ProtocolError, "SUBACK without reason codes")
	}
	return nil
}

// Append implements Packet.
func (p *Suback) Append(dst []byte, v Version) []byte {
	return appendCodes(dst, byte(SUBACK)<<4, p.PacketID, &p.Properties, p.ReasonCodes, v)
}

func appendCodes(dst []byte, first byte, id uint16, props *Properties, codes []ReasonCode, v Version) []byte {
	n := 2 + len(codes)
	if v == V5 {
		n += props.size()
	}
	dst = appendU16(appendHeader(dst, first, n), id)
	if v == V5 {
		dst = props.Append(dst)
	}
	for _, c := range codes {
		dst = append(dst, byte(c))
	}
	return dst
}

// Unsubscribe is an UNSUBSCRIBE packet.
type Unsubscribe struct {
	PacketID   uint16
	Properties Properties
	Filters    [][]byte
}

// Type implements Packet.
func (*Unsubscribe) Type() Type { return UNSUBSCRIBE }

func (p *Unsubscribe) decode(_ byte, body []byte, v Version) error {
	r := reader{b: body}
	p.PacketID = r.u16()
	if v == V5 {
		p.Properties.decode(&r, UNSUBSCRIBE)
	} else {
		p.Properties.Reset()
	}
	p.Filters = p.Filters[:0]
	for r.err == nil && len(r.b) > 0 {
		f := r.str()
		if r.err == nil && len(f) == 0 {
			return errEmptyFilter // [MQTT-4.7.3-1]
		}
		if r.err == nil {
			p.Filters = append(p.Filters, f)
		}
	}
	if r.err != nil {
		return r.err
	}
	if p.PacketID == 0 {
		return errNoPacketID // [MQTT-2.3.1-1]
	}
	if len(p.Filters) == 0 {
		return errorf(ProtocolError, "UNSUBSCRIBE without a topic filter") // [MQTT-3.10.3-2]
	}
	return nil
}

// Append implements Packet.
func (p *Unsubscribe) Append(dst []byte, v Version) []byte {
	n := 2
	if v == V5 {
		n += p.Properties.size()
	}
	for _, f := range p.Filters {
		n += 2 + len(f)
	}
	dst = appendU16(appendHeader(dst, byte(UNSUBSCRIBE)<<4|2, n), p.PacketID)
	if v == V5 {
		dst = p.Properties.Append(dst)
	}
	for _, f := range p.Filters {
		dst = appendBinary(dst, f)
	}
	return dst
}

// Unsuback is an UNSUBACK packet; reason codes exist only in MQTT 5.
type Unsuback struct {
	PacketID    uint16
	Properties  Properties
	ReasonCodes []ReasonCode
}

// Type implements Packet.
func (*Unsuback) Type() Type { return UNSUBACK }

func (p *Unsuback) decode(_ byte, body []byte, v Version) error {
	r := reader{b: body}
	p.PacketID = r.u16()
	p.ReasonCodes = p.ReasonCodes[:0]
	p.Properties.Reset()
	if v != V5 {
		if err := r.end(); err != nil {
			return err
		}
	} else {
		p.Properties.decode(&r, UNSUBACK)
		if r.err != nil {
			return r.err
		}
		for _, c := range r.b {
			if !codeAllowed(UNSUBACK, ReasonCode(c)) {
				return errBadCode(UNSUBACK, ReasonCode(c))
			}
			p.ReasonCodes = append(p.ReasonCodes, ReasonCode(c))
		}
		if len(p.ReasonCodes) == 0 {
			return errorf(ProtocolError, "UNSUBACK without reason codes")
		}
	}
	if p.PacketID == 0 {
		return errNoPacketID
	}
	return nil
}

// Append implements Packet.
func (p *Unsuback) Append(dst []byte, v Version) []byte {
	if v != V5 {
		return appendU16(append(dst, byte(UNSUBACK)<<4, 2), p.PacketID)
	}
	return appendCodes(dst, byte(UNSUBACK)<<4, p.PacketID, &p.Properties, p.ReasonCodes, v)
}
