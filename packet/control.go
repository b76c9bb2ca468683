package packet

// Pingreq is a PINGREQ packet.
type Pingreq struct{}

// Pingresp is a PINGRESP packet.
type Pingresp struct{}

// Type implements Packet.
func (*Pingreq) Type() Type { return PINGREQ }

// Type implements Packet.
func (*Pingresp) Type() Type { return PINGRESP }

var errBodyNotEmpty = errorf(MalformedPacket, "packet must have no body")

func (*Pingreq) decode(_ byte, body []byte, _ Version) error {
	if len(body) != 0 {
		return errBodyNotEmpty
	}
	return nil
}

func (*Pingresp) decode(_ byte, body []byte, _ Version) error {
	if len(body) != 0 {
		return errBodyNotEmpty
	}
	return nil
}

// Append implements Packet.
func (*Pingreq) Append(dst []byte, _ Version) []byte { return append(dst, byte(PINGREQ)<<4, 0) }

// Append implements Packet.
func (*Pingresp) Append(dst []byte, _ Version) []byte { return append(dst, byte(PINGRESP)<<4, 0) }

// Disconnect is a DISCONNECT packet. Before MQTT 5 it has no body.
type Disconnect struct {
	ReasonCode ReasonCode
	Properties Properties
}

// Type implements Packet.
func (*Disconnect) Type() Type { return DISCONNECT }

func (p *Disconnect) decode(_ byte, body []byte, v Version) error {
	return decodeCodeProps(DISCONNECT, &p.ReasonCode, &p.Properties, body, v)
}

// decodeCodeProps reads the body shared by DISCONNECT and AUTH: an optional
// reason code (absent means success) and optional properties.
func decodeCodeProps(t Type, code *ReasonCode, props *Properties, body []byte, v Version) error {
	*code = Success
	props.Reset()
	if v != V5 {
		if len(body) != 0 {
			return errBodyNotEmpty
		}
		return nil
	}
	r := reader{b: body}
	if len(r.b) > 0 {
		*code = ReasonCode(r.byte())
		if len(r.b) > 0 {
			props.decode(&r, t)
		}
	}
	if err := r.end(); err != nil {
		return err
	}
	if !codeAllowed(t, *code) {
		return errBadCode(t, *code)
	}
	return nil
}

func appendCodeProps(dst []byte, t Type, code ReasonCode, props *Properties, v Version) []byte {
	first := byte(t) << 4
	switch {
	case v != V5 || (code == Success && props.Len() == 0):
		return append(dst, first, 0)
	case props.Len() == 0:
		return append(dst, first, 1, byte(code))
	}
	dst = appendHeader(dst, first, 1+props.size())
	return props.Append(append(dst, byte(code)))
}

// Append implements Packet.
func (p *Disconnect) Append(dst []byte, v Version) []byte {
	return appendCodeProps(dst, DISCONNECT, p.ReasonCode, &p.Properties, v)
}

// Auth is an MQTT 5 AUTH packet for enhanced authentication.
type Auth struct {
	ReasonCode ReasonCode
	Properties Properties
}

// Type implements Packet.
func (*Auth) Type() Type { return AUTH }

func (p *Auth) decode(_ byte, body []byte, v Version) error {
	if v != V5 {
		return errorf(MalformedPacket, "AUTH before MQTT 5")
	}
	return decodeCodeProps(AUTH, &p.ReasonCode, &p.Properties, body, v)
}

// Append implements Packet. AUTH exists only in MQTT 5.
func (p *Auth) Append(dst []byte, _ Version) []byte {
	return appendCodeProps(dst, AUTH, p.ReasonCode, &p.Properties, V5)
}
