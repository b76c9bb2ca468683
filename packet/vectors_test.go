package packet

// Byte-level vectors, one table per packet type, used by both the encode and
// the decode tests. Each case is named with the spec statement it proves.

type vector struct {
	name string
	v    Version
	raw  []byte
	pkt  Packet
}

// props builds a Properties value with the given ids marked present.
func props(p Properties, ids ...PropID) Properties {
	for _, id := range ids {
		p.Set(id)
	}
	return p
}

func s(x string) []byte { return []byte(x) }

var connectVectors = []vector{
	{"MQTT-3.1.2-1 v311 minimal clean session", V311,
		[]byte{0x10, 0x0f, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 3, 'a', 'b', 'c'},
		&Connect{ProtocolName: s("MQTT"), Version: V311, CleanStart: true, KeepAlive: 60, ClientID: s("abc")}},
	{"MQTT-3.1.2-1 v31 protocol name MQIsdp", V31,
		[]byte{0x10, 0x0f, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0x02, 0, 60, 0, 1, 'x'},
		&Connect{ProtocolName: s("MQIsdp"), Version: V31, CleanStart: true, KeepAlive: 60, ClientID: s("x")}},
	{"MQTT-3.1.3-3 v311 empty client id present", V311,
		[]byte{0x10, 0x0c, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x00, 0, 0, 0, 0},
		&Connect{ProtocolName: s("MQTT"), Version: V311}},
	{"MQTT-3.1.2-9 v311 will, user name and password", V311,
		[]byte{0x10, 0x1b, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xd6, 0, 10, 0, 1, 'c',
			0, 1, 'w', 0, 2, 'h', 'i', 0, 1, 'u', 0, 2, 'p', 'w'},
		&Connect{ProtocolName: s("MQTT"), Version: V311, CleanStart: true, KeepAlive: 10, ClientID: s("c"),
			WillFlag: true, WillQoS: 2, WillTopic: s("w"), WillPayload: s("hi"),
			UsernameFlag: true, Username: s("u"), PasswordFlag: true, Password: s("pw")}},
	{"MQTT-3.1.3-1 v5 payload order with will properties", V5,
		[]byte{0x10, 0x2b, 0, 4, 'M', 'Q', 'T', 'T', 5, 0xee, 0, 10,
			8, 0x11, 0, 0, 0, 120, 0x21, 0, 20,
			0, 2, 'c', '1',
			5, 0x18, 0, 0, 0, 5,
			0, 1, 'w', 0, 3, 'b', 'y', 'e', 0, 1, 'u', 0, 1, 'p'},
		&Connect{ProtocolName: s("MQTT"), Version: V5, CleanStart: true, KeepAlive: 10,
			Properties: props(Properties{SessionExpiry: 120, ReceiveMaximum: 20}, PropSessionExpiry, PropReceiveMaximum),
			ClientID:   s("c1"), WillFlag: true, WillQoS: 1, WillRetain: true,
			WillProperties: props(Properties{WillDelay: 5}, PropWillDelay),
			WillTopic:      s("w"), WillPayload: s("bye"),
			UsernameFlag: true, Username: s("u"), PasswordFlag: true, Password: s("p")}},
	{"MQTT-3.1.2-19 v5 password without user name allowed", V5,
		[]byte{0x10, 0x11, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x40, 0, 0, 0, 0, 1, 'c', 0, 1, 'p'},
		&Connect{ProtocolName: s("MQTT"), Version: V5, ClientID: s("c"), PasswordFlag: true, Password: s("p")}},
}

var connackVectors = []vector{
	{"MQTT-3.2.2-1 v311 session present", V311, []byte{0x20, 2, 1, 0}, &Connack{SessionPresent: true}},
	{"MQTT-3.2.2-4 v311 refused not authorized", V311, []byte{0x20, 2, 0, 5}, &Connack{ReasonCode: 5}},
	{"MQTT-3.1.3-7 v5 assigned client identifier", V5,
		[]byte{0x20, 12, 0, 0, 9, 0x12, 0, 3, 'a', 'b', 'c', 0x22, 0, 10},
		&Connack{Properties: props(Properties{AssignedClientID: s("abc"), TopicAliasMaximum: 10},
			PropAssignedClientID, PropTopicAliasMaximum)}},
	{"MQTT-3.2.2-8 v5 refusal reason code", V5, []byte{0x20, 3, 0, 0x85, 0}, &Connack{ReasonCode: ClientIdentifierNotValid}},
}

var publishVectors = []vector{
	{"MQTT-2.3.1-5 v311 QoS 0 has no packet id", V311,
		[]byte{0x30, 7, 0, 3, 'a', '/', 'b', 'h', 'i'},
		&Publish{Topic: s("a/b"), Payload: s("hi")}},
	{"MQTT-3.3.1-1 v311 QoS 1 dup retain", V311,
		[]byte{0x3b, 6, 0, 1, 't', 0, 10, 'x'},
		&Publish{Dup: true, QoS: 1, Retain: true, Topic: s("t"), PacketID: 10, Payload: s("x")}},
	{"MQTT-3.3.1-6 v311 empty payload", V311,
		[]byte{0x31, 3, 0, 1, 't'},
		&Publish{Retain: true, Topic: s("t")}},
	{"MQTT-2.2.2-1 v5 QoS 0 property length 0", V5,
		[]byte{0x30, 5, 0, 1, 't', 0, 'h'},
		&Publish{Topic: s("t"), Payload: s("h")}},
	{"MQTT-3.3.2-17 v5 QoS 2 every publish property", V5,
		[]byte{0x34, 36, 0, 1, 't', 0, 1, 28,
			0x01, 1, 0x02, 0, 0, 0, 60, 0x08, 0, 1, 'r', 0x09, 0, 2, 1, 2, 0x0b, 5, 0x23, 0, 2,
			0x26, 0, 1, 'k', 0, 1, 'v', '{', '}'},
		&Publish{QoS: 2, Topic: s("t"), PacketID: 1, Payload: s("{}"),
			Properties: props(Properties{PayloadFormat: 1, MessageExpiry: 60, ResponseTopic: s("r"),
				CorrelationData: []byte{1, 2}, SubscriptionIDs: []uint32{5}, TopicAlias: 2,
				User: []UserProperty{{s("k"), s("v")}}},
				PropPayloadFormat, PropMessageExpiry, PropResponseTopic, PropCorrelationData, PropTopicAlias)}},
	{"MQTT-3.3.4-3 v5 several subscription identifiers", V5,
		[]byte{0x30, 9, 0, 1, 't', 5, 0x0b, 1, 0x0b, 0x80, 0x01},
		&Publish{Topic: s("t"), Properties: Properties{SubscriptionIDs: []uint32{1, 128}}}},
	{"MQTT-3.3.2-8 v5 empty topic with alias", V5,
		[]byte{0x32, 8, 0, 0, 0, 1, 3, 0x23, 0, 1},
		&Publish{QoS: 1, PacketID: 1, Properties: props(Properties{TopicAlias: 1}, PropTopicAlias)}},
}

var pubackVectors = []vector{
	{"MQTT-2.3.1-6 v311 PUBACK echoes id", V311, []byte{0x40, 2, 0, 7}, &Puback{Ack{PacketID: 7}}},
	{"MQTT-3.4.2-1 v5 PUBACK success short form", V5, []byte{0x40, 2, 0, 7}, &Puback{Ack{PacketID: 7}}},
	{"MQTT-3.4.2-1 v5 PUBACK reason code only", V5, []byte{0x40, 3, 0, 7, 0x10}, &Puback{Ack{PacketID: 7, ReasonCode: NoMatchingSubscribers}}},
	{"MQTT-3.4.2-2 v5 PUBACK reason string", V5, []byte{0x40, 9, 0, 7, 0x87, 5, 0x1f, 0, 2, 'n', 'o'},
		&Puback{Ack{PacketID: 7, ReasonCode: NotAuthorized, Properties: props(Properties{ReasonString: s("no")}, PropReasonString)}}},
}

var pubrecVectors = []vector{
	{"MQTT-2.3.1-6 v311 PUBREC", V311, []byte{0x50, 2, 0, 8}, &Pubrec{Ack{PacketID: 8}}},
	{"MQTT-3.5.2-1 v5 PUBREC quota exceeded", V5, []byte{0x50, 3, 0, 8, 0x97}, &Pubrec{Ack{PacketID: 8, ReasonCode: QuotaExceeded}}},
}

var pubrelVectors = []vector{
	{"MQTT-3.6.1-1 v311 PUBREL flags 0010", V311, []byte{0x62, 2, 0, 8}, &Pubrel{Ack{PacketID: 8}}},
	{"MQTT-3.6.2-1 v5 PUBREL id not found", V5, []byte{0x62, 3, 0, 8, 0x92}, &Pubrel{Ack{PacketID: 8, ReasonCode: PacketIdentifierNotFound}}},
}

var pubcompVectors = []vector{
	{"MQTT-2.3.1-6 v311 PUBCOMP", V311, []byte{0x70, 2, 0, 8}, &Pubcomp{Ack{PacketID: 8}}},
	{"MQTT-3.7.2-1 v5 PUBCOMP id not found", V5, []byte{0x70, 3, 0, 8, 0x92}, &Pubcomp{Ack{PacketID: 8, ReasonCode: PacketIdentifierNotFound}}},
}

var subscribeVectors = []vector{
	{"MQTT-3.8.1-1 v311 two filters", V311,
		[]byte{0x82, 12, 0, 1, 0, 3, 'a', '/', '#', 1, 0, 1, 'b', 2},
		&Subscribe{PacketID: 1, Subscriptions: []Subscription{{Filter: s("a/#"), QoS: 1}, {Filter: s("b"), QoS: 2}}}},
	{"MQTT-3.8.3-1 v5 options and subscription identifier", V5,
		[]byte{0x82, 9, 0, 2, 2, 0x0b, 7, 0, 1, 'x', 0x2d},
		&Subscribe{PacketID: 2, Properties: Properties{SubscriptionIDs: []uint32{7}},
			Subscriptions: []Subscription{{Filter: s("x"), QoS: 1, NoLocal: true, RetainAsPublished: true, RetainHandling: 2}}}},
}

var subackVectors = []vector{
	{"MQTT-3.8.4-6 v311 one code per filter with failure", V311, []byte{0x90, 4, 0, 1, 1, 0x80},
		&Suback{PacketID: 1, ReasonCodes: []ReasonCode{GrantedQoS1, UnspecifiedError}}},
	{"MQTT-3.9.3-2 v5 not authorized", V5, []byte{0x90, 5, 0, 2, 0, 2, 0x87},
		&Suback{PacketID: 2, ReasonCodes: []ReasonCode{GrantedQoS2, NotAuthorized}}},
}

var unsubscribeVectors = []vector{
	{"MQTT-3.10.1-1 v311 UNSUBSCRIBE", V311, []byte{0xa2, 7, 0, 3, 0, 3, 'a', '/', 'b'},
		&Unsubscribe{PacketID: 3, Filters: [][]byte{s("a/b")}}},
	{"MQTT-3.10.1-1 v5 UNSUBSCRIBE", V5, []byte{0xa2, 8, 0, 3, 0, 0, 3, 'a', '/', 'b'},
		&Unsubscribe{PacketID: 3, Filters: [][]byte{s("a/b")}}},
}

var unsubackVectors = []vector{
	{"MQTT-3.10.4-4 v311 UNSUBACK", V311, []byte{0xb0, 2, 0, 3}, &Unsuback{PacketID: 3}},
	{"MQTT-3.11.3-1 v5 UNSUBACK codes", V5, []byte{0xb0, 5, 0, 3, 0, 0, 0x11},
		&Unsuback{PacketID: 3, ReasonCodes: []ReasonCode{Success, NoSubscriptionExisted}}},
}

var pingVectors = []vector{
	{"MQTT-3.12.4-1 PINGREQ", V311, []byte{0xc0, 0}, &Pingreq{}},
	{"MQTT-3.12.4-1 PINGRESP", V5, []byte{0xd0, 0}, &Pingresp{}},
}

var disconnectVectors = []vector{
	{"MQTT-3.14.1-1 v311 DISCONNECT", V311, []byte{0xe0, 0}, &Disconnect{}},
	{"MQTT-3.14.2-1 v5 normal disconnection short form", V5, []byte{0xe0, 0}, &Disconnect{}},
	{"MQTT-3.14.2-1 v5 disconnect with will", V5, []byte{0xe0, 1, 0x04}, &Disconnect{ReasonCode: DisconnectWithWill}},
	{"MQTT-3.14.2-1 v5 session expiry in DISCONNECT", V5, []byte{0xe0, 7, 0, 5, 0x11, 0, 0, 0, 0},
		&Disconnect{Properties: props(Properties{}, PropSessionExpiry)}},
}

var authVectors = []vector{
	{"MQTT-3.15.2-1 AUTH success short form", V5, []byte{0xf0, 0}, &Auth{}},
	{"MQTT-3.15.2-1 AUTH continue with method and data", V5,
		[]byte{0xf0, 11, 0x18, 9, 0x15, 0, 2, 'S', '1', 0x16, 0, 1, 0xaa},
		&Auth{ReasonCode: ContinueAuthentication, Properties: props(Properties{AuthMethod: s("S1"), AuthData: []byte{0xaa}},
			PropAuthMethod, PropAuthData)}},
}

var allVectors = [][]vector{connectVectors, connackVectors, publishVectors, pubackVectors, pubrecVectors,
	pubrelVectors, pubcompVectors, subscribeVectors, subackVectors, unsubscribeVectors, unsubackVectors,
	pingVectors, disconnectVectors, authVectors}
