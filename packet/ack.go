package packet

// Ack is the shape shared by PUBACK, PUBREC, PUBREL and PUBCOMP: a packet
// identifier and, in MQTT 5, a reason code and properties. Each packet has its
// own type that embeds Ack.
type Ack struct {
	PacketID   uint16
	ReasonCode ReasonCode // MQTT 5 only; 0 (success) otherwise
	Properties Properties
}

// Puback acknowledges a QoS 1 PUBLISH.
type Puback struct{ Ack }

// Pubrec is the first acknowledgement of a QoS 2 PUBLISH.
type Pubrec struct{ Ack }

// Pubrel releases a QoS 2 PUBLISH; its fixed-header flags are 0010.
type Pubrel struct{ Ack }

// Pubcomp completes a QoS 2 exchange.
type Pubcomp struct{ Ack }

// Type implements Packet.
func (*Puback) Type() Type { return PUBACK }

// Type implements Packet.
func (*Pubrec) Type() Type { return PUBREC }

// Type implements Packet.
func (*Pubrel) Type() Type { return PUBREL }

// Type implements Packet.
func (*Pubcomp) Type() Type { return PUBCOMP }

func (p *Puback) decode(_ byte, b []byte, v Version) error  { return p.Ack.decode(PUBACK, b, v) }
func (p *Pubrec) decode(_ byte, b []byte, v Version) error  { return p.Ack.decode(PUBREC, b, v) }
func (p *Pubrel) decode(_ byte, b []byte, v Version) error  { return p.Ack.decode(PUBREL, b, v) }
func (p *Pubcomp) decode(_ byte, b []byte, v Version) error { return p.Ack.decode(PUBCOMP, b, v) }

// Append implements Packet.
func (p *Puback) Append(dst []byte, v Version) []byte { return p.Ack.append(dst, PUBACK, v) }

// Append implements Packet.
func (p *Pubrec) Append(dst []byte, v Version) []byte { return p.Ack.append(dst, PUBREC, v) }

// Append implements Packet.
func (p *Pubrel) Append(dst []byte, v Version) []byte { return p.Ack.append(dst, PUBREL, v) }

// Append implements Packet.
func (p *Pubcomp) Append(dst []byte, v Version) []byte { return p.Ack.append(dst, PUBCOMP, v) }

// The reason codes each packet may carry. [MQTT-3.4.2-1] [MQTT-3.5.2-1]
// [MQTT-3.6.2-1] [MQTT-3.7.2-1] [MQTT-3.9.3-2] [MQTT-3.11.3-2] [MQTT-3.15.2-1]
var (
	pubackCodes = []ReasonCode{Success, NoMatchingSubscribers, UnspecifiedError,
		ImplementationSpecificError, NotAuthorized, TopicNameInvalid, PacketIdentifierInUse,
		QuotaExceeded, PayloadFormatInvalid}
	pubrelCodes = []ReasonCode{Success, PacketIdentifierNotFound}
	subackCodes = []ReasonCode{GrantedQoS0, GrantedQoS1, GrantedQoS2, UnspecifiedError,
		ImplementationSpecificError, NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse,
		QuotaExceeded, SharedSubscriptionsNotSupported, SubscriptionIdentifiersNotSupported,
		WildcardSubscriptionsNotSupported}
	unsubackCodes = []ReasonCode{Success, NoSubscriptionExisted, UnspecifiedError,
		ImplementationSpecificError, NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse}
	authCodes = []ReasonCode{Success, ContinueAuthentication, ReAuthenticate}
)

func codeAllowed(t Type, c ReasonCode) bool {
	var list []ReasonCode
	switch t {
	case PUBACK, PUBREC:
		list = pubackCodes
	case PUBREL, PUBCOMP:
		list = pubrelCodes
	case SUBACK:
		list = subackCodes
	case UNSUBACK:
		list = unsubackCodes
	case AUTH:
		list = authCodes
	case DISCONNECT:
		return c.Valid() && c != GrantedQoS1 && c != GrantedQoS2 && c != NoMatchingSubscribers &&
			c != NoSubscriptionExisted && c != ContinueAuthentication && c != ReAuthenticate
	}
	for _, a := range list {
		if a == c {
			return true
		}
	}
	return false
}

func errBadCode(t Type, c ReasonCode) error {
	return errorf(ProtocolError, "reason code 0x%02x not allowed in %v", byte(c), t)
}

func (a *Ack) decode(t Type, body []byte, v Version) error {
	r := reader{b: body}
	a.PacketID = r.u16()
	a.ReasonCode = Success
	a.Properties.Reset()
	if v == V5 && len(r.b) > 0 {
		// A remaining length of 2 means success and no properties; 3 means a
		// reason code without properties.
		a.ReasonCode = ReasonCode(r.byte())
		if len(r.b) > 0 {
			a.Properties.decode(&r, t)
		}
	}
	if err := r.end(); err != nil {
		return err
	}
	if a.PacketID == 0 {
		return errNoPacketID // [MQTT-2.3.1-1]
	}
	if !codeAllowed(t, a.ReasonCode) {
		return errBadCode(t, a.ReasonCode)
	}
	return nil
}

func (a *Ack) append(dst []byte, t Type, v Version) []byte {
	first := byte(t) << 4
	if t == PUBREL {
		first |= 0x02 // [MQTT-3.6.1-1]
	}
	if v != V5 || (a.ReasonCode == Success && a.Properties.Len() == 0) {
		return appendU16(append(dst, first, 2), a.PacketID)
	}
	if a.Properties.Len() == 0 {
		return append(appendU16(append(dst, first, 3), a.PacketID), byte(a.ReasonCode))
	}
	dst = appendHeader(dst, first, 3+a.Properties.size())
	dst = append(appendU16(dst, a.PacketID), byte(a.ReasonCode))
	return a.Properties.Append(dst)
}
