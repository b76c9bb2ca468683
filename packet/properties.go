package packet

import "math/bits"

// PropID identifies an MQTT 5 property.
type PropID byte

// Every MQTT 5 property identifier.
const (
	PropPayloadFormat              PropID = 0x01
	PropMessageExpiry              PropID = 0x02
	PropContentType                PropID = 0x03
	PropResponseTopic              PropID = 0x08
	PropCorrelationData            PropID = 0x09
	PropSubscriptionID             PropID = 0x0B
	PropSessionExpiry              PropID = 0x11
	PropAssignedClientID           PropID = 0x12
	PropServerKeepAlive            PropID = 0x13
	PropAuthMethod                 PropID = 0x15
	PropAuthData                   PropID = 0x16
	PropRequestProblemInfo         PropID = 0x17
	PropWillDelay                  PropID = 0x18
	PropRequestResponseInfo        PropID = 0x19
	PropResponseInfo               PropID = 0x1A
	PropServerReference            PropID = 0x1C
	PropReasonString               PropID = 0x1F
	PropReceiveMaximum             PropID = 0x21
	PropTopicAliasMaximum          PropID = 0x22
	PropTopicAlias                 PropID = 0x23
	PropMaximumQoS                 PropID = 0x24
	PropRetainAvailable            PropID = 0x25
	PropUser                       PropID = 0x26
	PropMaximumPacketSize          PropID = 0x27
	PropWildcardSubAvailable       PropID = 0x28
	PropSubIDAvailable             PropID = 0x29
	PropSharedSubAvailable         PropID = 0x2A
	maxPropID                             = 0x2A
	willProps                      Type   = 0 // pseudo packet type for the will properties of CONNECT
	propKindByte, propKindU16             = 1, 2
	propKindU32, propKindVarint           = 3, 4
	propKindString, propKindBinary        = 5, 6
	propKindPair                          = 7
)

type propSpec struct {
	kind    byte
	allowed uint16 // bit t set when the property may appear in packet type t (bit 0: will)
	boolean bool   // value must be 0 or 1
	nonZero bool   // value 0 is a protocol error
}

func types(ts ...Type) uint16 {
	var m uint16
	for _, t := range ts {
		m |= 1 << t
	}
	return m
}

// propSpecs is the property table of MQTT 5 section 2.2.2.2: the type of each
// property and the packets it may appear in.
var propSpecs = [maxPropID + 1]propSpec{
	PropPayloadFormat:        {kind: propKindByte, allowed: types(PUBLISH, willProps), boolean: true},
	PropMessageExpiry:        {kind: propKindU32, allowed: types(PUBLISH, willProps)},
	PropContentType:          {kind: propKindString, allowed: types(PUBLISH, willProps)},
	PropResponseTopic:        {kind: propKindString, allowed: types(PUBLISH, willProps)},
	PropCorrelationData:      {kind: propKindBinary, allowed: types(PUBLISH, willProps)},
	PropSubscriptionID:       {kind: propKindVarint, allowed: types(PUBLISH, SUBSCRIBE), nonZero: true},
	PropSessionExpiry:        {kind: propKindU32, allowed: types(CONNECT, CONNACK, DISCONNECT)},
	PropAssignedClientID:     {kind: propKindString, allowed: types(CONNACK)},
	PropServerKeepAlive:      {kind: propKindU16, allowed: types(CONNACK)},
	PropAuthMethod:           {kind: propKindString, allowed: types(CONNECT, CONNACK, AUTH)},
	PropAuthData:             {kind: propKindBinary, allowed: types(CONNECT, CONNACK, AUTH)},
	PropRequestProblemInfo:   {kind: propKindByte, allowed: types(CONNECT), boolean: true},
	PropWillDelay:            {kind: propKindU32, allowed: types(willProps)},
	PropRequestResponseInfo:  {kind: propKindByte, allowed: types(CONNECT), boolean: true},
	PropResponseInfo:         {kind: propKindString, allowed: types(CONNACK)},
	PropServerReference:      {kind: propKindString, allowed: types(CONNACK, DISCONNECT)},
	PropReasonString:         {kind: propKindString, allowed: types(CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH)},
	PropReceiveMaximum:       {kind: propKindU16, allowed: types(CONNECT, CONNACK), nonZero: true},
	PropTopicAliasMaximum:    {kind: propKindU16, allowed: types(CONNECT, CONNACK)},
	PropTopicAlias:           {kind: propKindU16, allowed: types(PUBLISH)},
	PropMaximumQoS:           {kind: propKindByte, allowed: types(CONNACK), boolean: true},
	PropRetainAvailable:      {kind: propKindByte, allowed: types(CONNACK), boolean: true},
	PropUser:                 {kind: propKindPair, allowed: 0xfffe&^types(PINGREQ, PINGRESP) | 1},
	PropMaximumPacketSize:    {kind: propKindU32, allowed: types(CONNECT, CONNACK), nonZero: true},
	PropWildcardSubAvailable: {kind: propKindByte, allowed: types(CONNACK), boolean: true},
	PropSubIDAvailable:       {kind: propKindByte, allowed: types(CONNACK), boolean: true},
	PropSharedSubAvailable:   {kind: propKindByte, allowed: types(CONNACK), boolean: true},
}

// Allowed reports whether property id may appear in packet type t.
func (id PropID) Allowed(t Type) bool {
	return id <= maxPropID && propSpecs[id].kind != 0 && propSpecs[id].allowed&(1<<t) != 0
}

// UserProperty is one name/value pair; both halves are UTF-8 strings. [MQTT-1.5.7-1]
type UserProperty struct {
	Key, Value []byte
}

// Properties holds the MQTT 5 properties of one packet. Numeric and string
// properties are present when their bit is set (see Has and Set); user
// properties and subscription identifiers when their slices are non-empty.
// Byte slices alias the decoded buffer.
type Properties struct {
	present uint64

	PayloadFormat        byte
	RequestProblemInfo   byte
	RequestResponseInfo  byte
	MaximumQoS           byte
	RetainAvailable      byte
	WildcardSubAvailable byte
	SubIDAvailable       byte
	SharedSubAvailable   byte
	ServerKeepAlive      uint16
	ReceiveMaximum       uint16
	TopicAliasMaximum    uint16
	TopicAlias           uint16
	MessageExpiry        uint32
	SessionExpiry        uint32
	WillDelay            uint32
	MaximumPacketSize    uint32
	ContentType          []byte
	ResponseTopic        []byte
	CorrelationData      []byte
	AssignedClientID     []byte
	AuthMethod           []byte
	AuthData             []byte
	ResponseInfo         []byte
	ServerReference      []byte
	ReasonString         []byte
	SubscriptionIDs      []uint32
	User                 []UserProperty
}

// Has reports whether property id is present.
func (p *Properties) Has(id PropID) bool {
	switch id {
	case PropUser:
		return len(p.User) > 0
	case PropSubscriptionID:
		return len(p.SubscriptionIDs) > 0
	}
	return p.present&(1<<id) != 0
}

// Set marks property id present; set its field too.
func (p *Properties) Set(id PropID) { p.present |= 1 << id }

// Clear marks property id absent.
func (p *Properties) Clear(id PropID) { p.present &^= 1 << id }

// Reset empties p but keeps the capacity of its slices for reuse.
func (p *Properties) Reset() {
	user, ids := p.User[:0], p.SubscriptionIDs[:0]
	*p = Properties{User: user, SubscriptionIDs: ids}
}

// numeric returns a pointer-free view of a numeric property's value.
func (p *Properties) numeric(id PropID) uint32 {
	switch id {
	case PropPayloadFormat:
		return uint32(p.PayloadFormat)
	case PropRequestProblemInfo:
		return uint32(p.RequestProblemInfo)
	case PropRequestResponseInfo:
		return uint32(p.RequestResponseInfo)
	case PropMaximumQoS:
		return uint32(p.MaximumQoS)
	case PropRetainAvailable:
		return uint32(p.RetainAvailable)
	case PropWildcardSubAvailable:
		return uint32(p.WildcardSubAvailable)
	case PropSubIDAvailable:
		return uint32(p.SubIDAvailable)
	case PropSharedSubAvailable:
		return uint32(p.SharedSubAvailable)
	case PropServerKeepAlive:
		return uint32(p.ServerKeepAlive)
	case PropReceiveMaximum:
		return uint32(p.ReceiveMaximum)
	case PropTopicAliasMaximum:
		return uint32(p.TopicAliasMaximum)
	case PropTopicAlias:
		return uint32(p.TopicAlias)
	case PropMessageExpiry:
		return p.MessageExpiry
	case PropSessionExpiry:
		return p.SessionExpiry
	case PropWillDelay:
		return p.WillDelay
	case PropMaximumPacketSize:
		return p.MaximumPacketSize
	}
	return 0
}

func (p *Properties) setNumeric(id PropID, v uint32) {
	switch id {
	case PropPayloadFormat:
		p.PayloadFormat = byte(v)
	case PropRequestProblemInfo:
		p.RequestProblemInfo = byte(v)
	case PropRequestResponseInfo:
		p.RequestResponseInfo = byte(v)
	case PropMaximumQoS:
		p.MaximumQoS = byte(v)
	case PropRetainAvailable:
		p.RetainAvailable = byte(v)
	case PropWildcardSubAvailable:
		p.WildcardSubAvailable = byte(v)
	case PropSubIDAvailable:
		p.SubIDAvailable = byte(v)
	case PropSharedSubAvailable:
		p.SharedSubAvailable = byte(v)
	case PropServerKeepAlive:
		p.ServerKeepAlive = uint16(v)
	case PropReceiveMaximum:
		p.ReceiveMaximum = uint16(v)
	case PropTopicAliasMaximum:
		p.TopicAliasMaximum = uint16(v)
	case PropTopicAlias:
		p.TopicAlias = uint16(v)
	case PropMessageExpiry:
		p.MessageExpiry = v
	case PropSessionExpiry:
		p.SessionExpiry = v
	case PropWillDelay:
		p.WillDelay = v
	case PropMaximumPacketSize:
		p.MaximumPacketSize = v
	}
}

// bytesField returns the field of a string or binary property.
func (p *Properties) bytesField(id PropID) *[]byte {
	switch id {
	case PropContentType:
		return &p.ContentType
	case PropResponseTopic:
		return &p.ResponseTopic
	case PropCorrelationData:
		return &p.CorrelationData
	case PropAssignedClientID:
		return &p.AssignedClientID
	case PropAuthMethod:
		return &p.AuthMethod
	case PropAuthData:
		return &p.AuthData
	case PropResponseInfo:
		return &p.ResponseInfo
	case PropServerReference:
		return &p.ServerReference
	case PropReasonString:
		return &p.ReasonString
	}
	return nil
}

// decode reads a property length and the properties of packet type t.
// Unknown ids and ids not allowed in t are malformed; a duplicate of a
// single-valued property and a forbidden value are protocol errors.
// [MQTT-2.2.2-1]
func (p *Properties) decode(r *reader, t Type) {
	p.Reset()
	n := r.varint()
	if r.err != nil {
		return
	}
	if int(n) > len(r.b) {
		r.fail(errShort)
		return
	}
	pr := reader{b: r.b[:n]}
	r.b = r.b[n:]
	for len(pr.b) > 0 && pr.err == nil {
		p.decodeOne(&pr, t)
	}
	if pr.err != nil {
		r.fail(pr.err)
	}
}

func (p *Properties) decodeOne(r *reader, t Type) {
	id := PropID(r.varint())
	if r.err != nil {
		return
	}
	if !id.Allowed(t) {
		r.fail(errorf(MalformedPacket, "property 0x%02x not allowed in %s", byte(id), propContext(t)))
		return
	}
	spec := propSpecs[id]
	if id != PropUser && !(id == PropSubscriptionID && t == PUBLISH) && p.Has(id) {
		r.fail(errorf(ProtocolError, "property 0x%02x repeated", byte(id)))
		return
	}
	var v uint32
	switch spec.kind {
	case propKindByte:
		v = uint32(r.byte())
	case propKindU16:
		v = uint32(r.u16())
	case propKindU32:
		v = r.u32()
	case propKindVarint:
		v = r.varint()
	case propKindString:
		*p.bytesField(id) = r.str()
	case propKindBinary:
		*p.bytesField(id) = r.binary()
	case propKindPair:
		k := r.str()
		p.User = append(p.User, UserProperty{Key: k, Value: r.str()})
		return
	}
	if r.err != nil {
		return
	}
	if (spec.boolean && v > 1) || (spec.nonZero && v == 0) {
		r.fail(errorf(ProtocolError, "property 0x%02x has invalid value %d", byte(id), v))
		return
	}
	switch spec.kind {
	case propKindVarint:
		p.SubscriptionIDs = append(p.SubscriptionIDs, v)
	case propKindString, propKindBinary:
		p.Set(id)
	default:
		p.setNumeric(id, v)
		p.Set(id)
	}
}

func propContext(t Type) string {
	if t == willProps {
		return "will properties"
	}
	return t.String()
}

// Len returns the encoded size of the properties, without their length prefix.
func (p *Properties) Len() int {
	n := 0
	for m := p.present; m != 0; m &= m - 1 {
		id := PropID(bits.TrailingZeros64(m))
		switch propSpecs[id].kind {
		case propKindByte:
			n += 2
		case propKindU16:
			n += 3
		case propKindU32:
			n += 5
		case propKindString, propKindBinary:
			n += 3 + len(*p.bytesField(id))
		}
	}
	for _, s := range p.SubscriptionIDs {
		n += 1 + VarintLen(s)
	}
	for i := range p.User {
		n += 5 + len(p.User[i].Key) + len(p.User[i].Value)
	}
	return n
}

// size is the encoded size including the length prefix.
func (p *Properties) size() int {
	n := p.Len()
	return VarintLen(uint32(n)) + n
}

// Append appends the property length and the properties in identifier order;
// repeated subscription identifiers and user properties keep their order.
// [MQTT-3.1.3-10] [MQTT-3.3.2-17]
func (p *Properties) Append(dst []byte) []byte {
	dst = AppendVarint(dst, uint32(p.Len()))
	const below = 1<<PropSubscriptionID - 1
	dst = p.appendMask(dst, p.present&below)
	for _, s := range p.SubscriptionIDs {
		dst = AppendVarint(append(dst, byte(PropSubscriptionID)), s)
	}
	dst = p.appendMask(dst, p.present&^below)
	for i := range p.User {
		dst = append(dst, byte(PropUser))
		dst = appendBinary(appendBinary(dst, p.User[i].Key), p.User[i].Value)
	}
	return dst
}

// appendMask appends the single-valued properties whose bits are set in m.
func (p *Properties) appendMask(dst []byte, m uint64) []byte {
	for ; m != 0; m &= m - 1 {
		id := PropID(bits.TrailingZeros64(m))
		switch propSpecs[id].kind {
		case propKindByte:
			dst = append(dst, byte(id), byte(p.numeric(id)))
		case propKindU16:
			dst = appendU16(append(dst, byte(id)), uint16(p.numeric(id)))
		case propKindU32:
			dst = appendU32(append(dst, byte(id)), p.numeric(id))
		case propKindString, propKindBinary:
			dst = appendBinary(append(dst, byte(id)), *p.bytesField(id))
		}
	}
	return dst
}
