package broker

import "github.com/roostmq/roost/packet"

// Stricter checks of what a client sends, where the specification lets the
// server close the connection and Mosquitto does.

var (
	errCtrlClientID = &packet.Error{Code: packet.ClientIdentifierNotValid, Msg: "client id contains a control character"}
	errCtrlUsername = &packet.Error{Code: packet.MalformedPacket, Msg: "user name contains a control character"}
	errCtrlWill     = &packet.Error{Code: packet.MalformedPacket, Msg: "will topic contains a control character"}
	errCtrlTopic    = &packet.Error{Code: packet.MalformedPacket, Msg: "topic name contains a control character"}
	errCtrlFilter   = &packet.Error{Code: packet.MalformedPacket, Msg: "topic filter contains a control character"}
	errClientSubID  = &packet.Error{Code: packet.ProtocolError, Msg: "PUBLISH from a client carries a Subscription Identifier"} // [MQTT-3.3.4-6]
	errNoTopic      = &packet.Error{Code: packet.ProtocolError, Msg: "PUBLISH with neither a topic name nor a topic alias"}
	errWrongAck     = &packet.Error{Code: packet.ProtocolError, Msg: "acknowledgement does not match the QoS of the message in flight"}
	errAckSize      = &packet.Error{Code: packet.PacketTooLarge, Msg: "the SUBACK or UNSUBACK would be larger than the client's Maximum Packet Size"}
	errConnackSize  = &packet.Error{Code: packet.ImplementationSpecificError, Msg: "the CONNACK is larger than the client's Maximum Packet Size"}
)

// checkConnectStrings refuses control characters in the client identifier,
// user name and will topic unless Limits.AllowControlChars is set. A
// refused client identifier is answered like any other (3.1.1 return code 2,
// [MQTT-3.1.3-9] (3.1.1); 5.0 0x85); the others as a malformed packet (5.0 CONNACK
// 0x81; 3.1.1 has no return code for it and just closes). The specifications
// (3.1.1 section 1.5.3, 5.0 section 1.5.4) say strings SHOULD NOT contain
// these characters and let the receiver treat them as malformed.
func (c *conn) checkConnectStrings(p *packet.Connect) error {
	if c.srv.limits().AllowControlChars {
		return nil
	}
	switch {
	case packet.HasControlChar(p.ClientID):
		return errCtrlClientID
	case p.UsernameFlag && packet.HasControlChar(p.Username):
		return errCtrlUsername
	case p.WillFlag && packet.HasControlChar(p.WillTopic):
		return errCtrlWill
	}
	return nil
}

// checkFilterStrings refuses control characters in the filters of a
// SUBSCRIBE or UNSUBSCRIBE (5.0: DISCONNECT 0x81), as checkConnectStrings.
func (c *conn) checkFilterStrings(p packet.Packet) error {
	if c.srv.limits().AllowControlChars {
		return nil
	}
	switch p := p.(type) {
	case *packet.Subscribe:
		for i := range p.Subscriptions {
			if packet.HasControlChar(p.Subscriptions[i].Filter) {
				return errCtrlFilter
			}
		}
	case *packet.Unsubscribe:
		for _, f := range p.Filters {
			if packet.HasControlChar(f) {
				return errCtrlFilter
			}
		}
	}
	return nil
}

// checkInboundPublish applies the checks of a client's PUBLISH that the
// decoder cannot make, since it decodes both directions: no Subscription
// Identifier [MQTT-3.3.4-6] (5.0: DISCONNECT 0x82), a topic name or a topic
// alias (0x82), and no control character in the topic name (0x81).
func (c *conn) checkInboundPublish(p *packet.Publish) error {
	if len(p.Properties.SubscriptionIDs) > 0 {
		return errClientSubID // [MQTT-3.3.4-6]
	}
	if len(p.Topic) == 0 {
		if !p.Properties.Has(packet.PropTopicAlias) {
			// 5.0 section 3.3.2.1 (no statement ID); 3.1.1's decoder
			// refuses an empty topic itself [MQTT-4.7.3-1].
			return errNoTopic
		}
		return nil
	}
	if !c.srv.limits().AllowControlChars && packet.HasControlChar(p.Topic) {
		return errCtrlTopic
	}
	return nil
}

// checkAckFits refuses a 5.0 SUBSCRIBE or UNSUBSCRIBE of n filters whose
// SUBACK or UNSUBACK (one reason code per filter, no properties) would be
// larger than the client's Maximum Packet Size: the server must not send it
// [MQTT-3.1.2-24] (5.0), and leaving it unanswered would leave the client
// waiting, so nothing is subscribed and the connection closes with
// DISCONNECT 0x95 (Mosquitto sends the oversized acknowledgement).
func (c *conn) checkAckFits(n int) error {
	if c.maxOut == 0 {
		return nil
	}
	body := 2 + 1 + n
	if 1+packet.VarintLen(uint32(body))+body > c.maxOut {
		return errAckSize
	}
	return nil
}

// checkConnackSize refuses a 5.0 CONNECT whose Maximum Packet Size is
// smaller than the CONNACK Roost would answer with. The server must not send
// a packet larger than that [MQTT-3.1.2-24] (5.0), and leaving out the properties
// that make the CONNACK large would change what it says (an absent Receive
// Maximum or Maximum Packet Size means "no limit", an absent Assigned Client
// Identifier leaves the client without an id), so the connection is closed
// without a CONNACK, before the session is touched, as Mosquitto does.
// [MQTT-4.13.2-1] (5.0)
func (c *conn) checkConnackSize(ack *packet.Connack) error {
	if c.maxOut == 0 || c.version != packet.V5 {
		return nil
	}
	n := ack.Properties.Len()
	body := 2 + packet.VarintLen(uint32(n)) + n
	if 1+packet.VarintLen(uint32(body))+body > c.maxOut {
		return errConnackSize
	}
	return nil
}
