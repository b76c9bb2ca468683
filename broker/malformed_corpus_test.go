package broker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
	"github.com/roostmq/roost/topic"
)

// The malformed-input corpus: a table of valid packets of every type, and a
// generator that breaks each of them in every way the tests below know
// (remaining length too long, too short, five bytes, not minimal, 256 MB;
// truncation at every offset, with the length fixed up and as a stream that
// ends; reserved flags; packet id 0; QoS 3; invalid UTF-8, U+0000 and control
// characters in every string; duplicate, unknown and misplaced properties;
// wildcards in topic names). Each hostile packet goes to the broker on a
// fresh connection, after a valid CONNECT and as the first packet, and the
// answer is checked against what the specification asks (mcOracle): 5.0 gets
// the reason code in DISCONNECT or CONNACK before the close, 3.1.1 a close;
// a valid packet keeps the connection (PINGREQ gets PINGRESP). Nothing may
// hang: every connection has a deadline. Between batches a healthy client
// round-trips a message. The corpus is generated, so it is pinned by the
// code: the same bytes every run (ROOST_CORPUS_DUMP=file writes them out).

const (
	mcRaw   = iota // written as is
	mcRaw5         // written as is, in 5.0 only
	mcStr          // a UTF-8 string (client id, user name, filter), with its length
	mcTopic        // a topic name (PUBLISH, will), with its length
	mcID           // a packet identifier
	mcOpts         // SUBSCRIBE options
	mcFlags        // CONNECT flags
	mcProps        // 5.0 properties, with their length; absent in 3.1.1
)

type mcSeg struct {
	kind  int
	b     []byte
	props [][]byte
}

type mcBase struct {
	name  string
	first byte
	segs  []mcSeg
}

func mcR(b ...byte) mcSeg              { return mcSeg{kind: mcRaw, b: b} }
func mcR5(b ...byte) mcSeg             { return mcSeg{kind: mcRaw5, b: b} }
func mcS(s string) mcSeg               { return mcSeg{kind: mcStr, b: []byte(s)} }
func mcT(s string) mcSeg               { return mcSeg{kind: mcTopic, b: []byte(s)} }
func mcI(id uint16) mcSeg              { return mcSeg{kind: mcID, b: []byte{byte(id >> 8), byte(id)}} }
func mcP(ps ...[]byte) mcSeg           { return mcSeg{kind: mcProps, props: ps} }
func mcLen(b []byte) []byte            { return append([]byte{byte(len(b) >> 8), byte(len(b))}, b...) }
func mcPropS(id byte, s string) []byte { return append([]byte{id}, mcLen([]byte(s))...) }
func mcPropU32(id byte, v uint32) []byte {
	return []byte{id, byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}
func mcPropU16(id byte, v uint16) []byte { return []byte{id, byte(v >> 8), byte(v)} }
func mcUser(k, v string) []byte {
	return append(append([]byte{0x26}, mcLen([]byte(k))...), mcLen([]byte(v))...)
}

// body renders the packet body for v.
func (b mcBase) body(v packet.Version) []byte {
	var out []byte
	for _, s := range b.segs {
		switch s.kind {
		case mcRaw5:
			if v == packet.V5 {
				out = append(out, s.b...)
			}
		case mcStr, mcTopic:
			out = append(out, mcLen(s.b)...)
		case mcProps:
			if v != packet.V5 {
				continue
			}
			n := 0
			for _, p := range s.props {
				n += len(p)
			}
			out = packet.AppendVarint(out, uint32(n))
			for _, p := range s.props {
				out = append(out, p...)
			}
		default:
			out = append(out, s.b...)
		}
	}
	return out
}

// with returns a copy of b whose segment i is replaced by s.
func (b mcBase) with(i int, s mcSeg) mcBase {
	b.segs = append([]mcSeg(nil), b.segs...)
	b.segs[i] = s
	return b
}

func mcFrame(first byte, body []byte) []byte {
	return append(packet.AppendVarint([]byte{first}, uint32(len(body))), body...)
}

// mcBases are valid packets of every type a client can send, and of the
// types only a server sends. Their answers differ (alive, refused), and the
// oracle knows each.
func mcBases(v packet.Version) []mcBase {
	level := byte(v)
	return []mcBase{
		{"CONNECT", 0x10, []mcSeg{mcS("MQTT"), mcR(level), {kind: mcFlags, b: []byte{0xce}}, mcR(0, 60),
			mcP(mcPropU16(0x21, 10), mcUser("k", "v")), mcS(""),
			mcP(mcPropU32(0x18, 0), mcPropS(0x03, "text")), mcT("corpus/will"), mcR(0, 2, 'w', 'p'),
			mcS("user"), mcR(0, 1, 'p')}},
		{"PUBLISH-qos0", 0x30, []mcSeg{mcT("corpus/a"),
			mcP([]byte{0x01, 1}, mcPropU32(0x02, 60), mcPropS(0x03, "text/plain"), mcUser("a", "b")), mcR('h', 'i')}},
		{"PUBLISH-qos1-retain", 0x33, []mcSeg{mcT("corpus/b"), mcI(11),
			mcP(mcPropS(0x08, "corpus/resp"), mcPropS(0x09, "cd"), mcPropU16(0x23, 5)), mcR('x')}},
		{"PUBLISH-qos2-dup", 0x3c, []mcSeg{mcT("corpus/c"), mcI(12), mcP(mcUser("u", "")), mcR('y', 'z')}},
		{"PUBACK", 0x40, []mcSeg{mcI(21), mcR5(0x10), mcP(mcPropS(0x1f, "rs"), mcUser("k", "v"))}},
		{"PUBREC", 0x50, []mcSeg{mcI(22), mcR5(0x10), mcP(mcPropS(0x1f, "rs"))}},
		{"PUBREL", 0x62, []mcSeg{mcI(23), mcR5(0x00), mcP(mcPropS(0x1f, "rs"))}},
		{"PUBCOMP", 0x70, []mcSeg{mcI(24), mcR5(0x00), mcP(mcUser("k", "v"))}},
		{"SUBSCRIBE", 0x82, []mcSeg{mcI(31), mcP([]byte{0x0b, 5}, mcUser("k", "v")),
			mcS("corpus/s/+"), {kind: mcOpts, b: []byte{1}}, mcS("corpus/#"), {kind: mcOpts, b: []byte{2}}}},
		{"UNSUBSCRIBE", 0xa2, []mcSeg{mcI(32), mcP(mcUser("k", "v")), mcS("corpus/s/+"), mcS("nothing/here")}},
		{"PINGREQ", 0xc0, nil},
		{"DISCONNECT", 0xe0, []mcSeg{mcR5(0x00), mcP(mcPropU32(0x11, 0), mcPropS(0x1f, "bye"))}},
		{"AUTH", 0xf0, []mcSeg{mcR5(0x18), mcP(mcPropS(0x15, "m"), mcPropS(0x16, "d"))}},
		{"CONNACK", 0x20, []mcSeg{mcR(0, 0), mcP()}},
		{"SUBACK", 0x90, []mcSeg{mcI(33), mcP(), mcR(1)}},
		{"UNSUBACK", 0xb0, []mcSeg{mcI(34), mcP(), mcR5(0)}},
		{"PINGRESP", 0xd0, nil},
		{"reserved-type-0", 0x00, nil},
	}
}

// Invalid UTF-8 (and U+0000), and control characters, for every string.
var (
	mcBadUTF8 = []string{"\x80", "a\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf8\x88\x80\x80\x80",
		"\xff", "\x00", "a/\x00", "\xf4\x90\x80\x80", "\xc3\x28"}
	mcCtrl     = []string{"\x01", "a\x7f", "a/\xc2\x85", "\x1f/b"}
	mcWild     = []string{"corpus/+", "#", "corpus/#", "+/x", "a+b", "a#"}
	mcFilters  = []string{"a/#/b", "a+", "#/", "$share/g", "$share//x", "$share/g/", "$share/g+/x"}
	mcBadProps = [][]byte{{0x00}, {0x04, 0}, {0x2b, 0}, {0x7f, 0}, {0x80, 0x01, 0}, mcPropU32(0x11, 1),
		mcPropU16(0x13, 1), {0x26, 0, 1, 0xff, 0, 0}, {0x26, 0, 1, 'k', 0, 1, 0}}
)

type mcCase struct {
	name  string
	v     packet.Version
	first bool // sent as the connection's first packet, without CONNECT
	pkt   []byte
}

// mcCorpus generates every case, in a fixed order.
func mcCorpus() []mcCase {
	var cases []mcCase
	for _, v := range []packet.Version{packet.V311, packet.V5} {
		for _, b := range mcBases(v) {
			for _, m := range mcMutations(b, v) {
				cases = append(cases, mcCase{name: fmt.Sprintf("v%v/%s/%s", v, b.name, m.name), v: v, pkt: m.pkt})
				// As the first packet every non-CONNECT packet is refused the
				// same way, so only a sample of them goes first.
				if b.first>>4 == 1 || m.sample {
					cases = append(cases, mcCase{name: fmt.Sprintf("v%v/first/%s/%s", v, b.name, m.name), v: v, first: true, pkt: m.pkt})
				}
			}
		}
	}
	return cases
}

type mcMutation struct {
	name   string
	pkt    []byte
	sample bool // also sent as the first packet
}

// mcMutations breaks one base packet in every applicable way.
func mcMutations(b mcBase, v packet.Version) []mcMutation {
	body := b.body(v)
	var out []mcMutation
	add := func(sample bool, name string, pkt []byte) {
		out = append(out, mcMutation{name: name, pkt: pkt, sample: sample})
	}
	add(true, "valid", mcFrame(b.first, body))
	// Remaining length: a body shorter than its fields, a stream that ends
	// inside the packet, trailing bytes, five-byte and non-minimal lengths
	// [MQTT-1.5.5-1] (5.0), claims past the maximum packet size.
	// [MQTT-4.8.0-1] (3.1.1) [MQTT-4.13.1-1] (5.0)
	for k := 0; k < len(body); k++ {
		add(false, fmt.Sprintf("length-%d-of-%d", k, len(body)), mcFrame(b.first, body[:k]))
	}
	whole := mcFrame(b.first, body)
	for k := 1; k < len(whole); k++ {
		add(false, fmt.Sprintf("stream-ends-at-%d", k), whole[:k])
	}
	add(false, "length-one-too-many", mcFrame(b.first, append(append([]byte(nil), body...), 0)))
	add(false, "length-claims-one-more", append(packet.AppendVarint([]byte{b.first}, uint32(len(body)+1)), body...))
	add(true, "length-five-bytes", append([]byte{b.first, 0x80 | byte(len(body)&0x7f), 0x80, 0x80, 0x80, 0x01}, body...))
	add(false, "length-not-minimal-2", append([]byte{b.first, 0x80 | byte(len(body)), 0x00}, body...))
	add(false, "length-not-minimal-4", append([]byte{b.first, 0x80 | byte(len(body)), 0x80, 0x80, 0x00}, body...))
	add(true, "length-256MB", append([]byte{b.first, 0xff, 0xff, 0xff, 0x7f}, body...))
	add(false, "length-max-packet-size", append(packet.AppendVarint([]byte{b.first}, 1<<20), body...))
	// Fixed-header flags: each bit [MQTT-2.2.2-1] [MQTT-2.2.2-2] (3.1.1)
	// [MQTT-2.1.3-1] (5.0), and QoS 3 [MQTT-3.3.1-4].
	for bit := 0; bit < 4; bit++ {
		add(bit == 0, fmt.Sprintf("flag-bit-%d", bit), mcFrame(b.first^1<<bit, body))
	}
	if b.first>>4 == 3 {
		add(false, "qos-3", mcFrame(b.first|0x06, body))
	}
	for i, s := range b.segs {
		switch s.kind {
		case mcStr, mcTopic:
			// Ill-formed UTF-8 and U+0000 [MQTT-1.5.3-1] [MQTT-1.5.3-2] (3.1.1)
			// [MQTT-1.5.4-1] [MQTT-1.5.4-2] (5.0); control characters; empty
			// strings [MQTT-4.7.3-1]; wildcards in topic names [MQTT-3.3.2-2].
			for j, bad := range mcBadUTF8 {
				add(false, fmt.Sprintf("seg-%d-utf8-%d", i, j), mcFrame(b.first, b.with(i, mcSeg{kind: s.kind, b: []byte(bad)}).body(v)))
			}
			for j, bad := range mcCtrl {
				add(false, fmt.Sprintf("seg-%d-ctrl-%d", i, j), mcFrame(b.first, b.with(i, mcSeg{kind: s.kind, b: []byte(bad)}).body(v)))
			}
			add(false, fmt.Sprintf("seg-%d-empty", i), mcFrame(b.first, b.with(i, mcSeg{kind: s.kind}).body(v)))
			more := mcFilters
			if s.kind == mcTopic {
				more = mcWild
			}
			for j, w := range more {
				add(false, fmt.Sprintf("seg-%d-name-%d", i, j), mcFrame(b.first, b.with(i, mcSeg{kind: s.kind, b: []byte(w)}).body(v)))
			}
		case mcID:
			// [MQTT-2.3.1-1]
			add(false, fmt.Sprintf("seg-%d-id-0", i), mcFrame(b.first, b.with(i, mcI(0)).body(v)))
		case mcOpts:
			// [MQTT-3-8.3-4] (3.1.1) [MQTT-3.8.3-5] (5.0)
			for _, o := range []byte{3, 0x04, 0x08, 0x30, 0x40, 0x80, 0x24} {
				add(false, fmt.Sprintf("seg-%d-options-%02x", i, o), mcFrame(b.first, b.with(i, mcSeg{kind: mcOpts, b: []byte{o}}).body(v)))
			}
		case mcFlags:
			// [MQTT-3.1.2-3]
			for bit := 0; bit < 8; bit++ {
				add(false, fmt.Sprintf("connect-flag-bit-%d", bit), mcFrame(b.first, b.with(i, mcSeg{kind: mcFlags, b: []byte{s.b[0] ^ 1<<bit}}).body(v)))
			}
		case mcProps:
			if v != packet.V5 {
				continue
			}
			for j, p := range s.props {
				dup := append(append([][]byte(nil), s.props...), p)
				add(false, fmt.Sprintf("seg-%d-prop-%d-twice", i, j), mcFrame(b.first, b.with(i, mcP(dup...)).body(v)))
			}
			// Unknown and misplaced properties, and bad UTF-8 in user
			// properties [MQTT-1.5.7-1] (5.0).
			for j, p := range mcBadProps {
				bad := append(append([][]byte(nil), s.props...), p)
				add(false, fmt.Sprintf("seg-%d-bad-prop-%d", i, j), mcFrame(b.first, b.with(i, mcP(bad...)).body(v)))
			}
			// A property length beyond the packet.
			pl := b.with(i, mcP(s.props...)).body(v)
			if off := mcPropsOffset(b, i, v); off < len(pl) && pl[off] < 0x7f {
				long := append([]byte(nil), pl...)
				long[off] += byte(len(pl) - off)
				add(false, fmt.Sprintf("seg-%d-prop-length-overrun", i), mcFrame(b.first, long))
			}
		}
	}
	return out
}

// mcPropsOffset is where segment i (properties) starts in b's body.
func mcPropsOffset(b mcBase, i int, v packet.Version) int {
	pre := b
	pre.segs = b.segs[:i]
	return len(pre.body(v))
}

// Outcomes.
const (
	mcAlive     = iota // the connection stays: PINGREQ gets PINGRESP
	mcRefused          // closed; 5.0: DISCONNECT (after CONNECT) or CONNACK (first) with code
	mcSilent           // closed without any packet
	mcConnAlive        // a first-packet CONNECT accepted: CONNACK 0, then PINGRESP
)

type mcWant struct {
	kind int
	code packet.ReasonCode // mcRefused: the 5.0 code; 0: any failure code
}

func (w mcWant) String() string {
	switch w.kind {
	case mcAlive:
		return "alive"
	case mcConnAlive:
		return "accepted"
	case mcSilent:
		return "closed silently"
	}
	return fmt.Sprintf("refused 0x%02x", byte(w.code))
}

// mcOracle says what the specification asks of a broker with limits lim
// for one case, and whether the packet is incomplete (the client then ends
// its stream).
func mcOracle(c *mcCase, lim *Limits) (want mcWant, incomplete bool) {
	ctrl := func(b []byte) bool { return !lim.AllowControlChars && packet.HasControlChar(b) }
	first, body, n, err := packet.Split(c.pkt, lim.MaxPacketSize)
	if err == packet.ErrIncomplete {
		return mcWant{kind: mcSilent}, true // the stream ended inside a packet: [MQTT-4.8.0-1] (3.1.1) [MQTT-4.13.1-1] (5.0)
	}
	if err != nil || n != len(c.pkt) {
		if c.first {
			return mcWant{kind: mcSilent}, false
		}
		return mcWant{kind: mcRefused, code: packet.CodeOf(err)}, false // 0x81, or 0x95 past the maximum: [MQTT-3.2.2-15] (5.0)
	}
	t := packet.Type(first >> 4)
	if c.first {
		if t != packet.CONNECT {
			return mcWant{kind: mcSilent}, false // [MQTT-3.1.0-1]
		}
		return mcConnectOracle(first, body, ctrl), false
	}
	switch t {
	case packet.CONNECT:
		return mcWant{kind: mcRefused, code: packet.ProtocolError}, false // [MQTT-3.1.0-2]
	case packet.CONNACK, packet.SUBACK, packet.UNSUBACK, packet.PINGRESP:
		return mcWant{kind: mcRefused, code: packet.ProtocolError}, false
	}
	p, err := packet.Decode(first, body, c.v)
	if err != nil {
		return mcWant{kind: mcRefused, code: packet.CodeOf(err)}, false
	}
	refused := func(code packet.ReasonCode) (mcWant, bool) { return mcWant{kind: mcRefused, code: code}, false }
	switch p := p.(type) {
	case *packet.Publish:
		pr := &p.Properties
		switch {
		case len(pr.SubscriptionIDs) > 0:
			return refused(packet.ProtocolError) // [MQTT-3.3.4-6]
		case ctrl(p.Topic):
			return refused(packet.MalformedPacket)
		case pr.Has(packet.PropTopicAlias) && (pr.TopicAlias == 0 || pr.TopicAlias > lim.MaxTopicAliases):
			return refused(packet.TopicAliasInvalid) // [MQTT-3.3.2-8] [MQTT-3.3.2-9] (5.0)
		case len(p.Topic) == 0:
			return refused(packet.ProtocolError) // 5.0 section 3.3.2.1: no topic and no known alias
		case topic.ValidName(string(p.Topic)) != nil:
			return refused(packet.TopicNameInvalid) // [MQTT-3.3.2-2]: a wildcard; 0x90, a choice the spec leaves open
		case pr.Has(packet.PropResponseTopic) && topic.ValidName(string(pr.ResponseTopic)) != nil:
			return refused(packet.ProtocolError) // [MQTT-3.3.2-14]
		}
	case *packet.Subscribe:
		for _, s := range p.Subscriptions {
			if ctrl(s.Filter) {
				return refused(packet.MalformedPacket)
			}
		}
		for _, s := range p.Subscriptions {
			_, _, shared, err := topic.ParseShared(string(s.Filter))
			if err == nil && shared && s.NoLocal {
				return refused(packet.ProtocolError) // [MQTT-3.8.3-4] (5.0)
			}
		}
	case *packet.Unsubscribe:
		for _, f := range p.Filters {
			if ctrl(f) {
				return refused(packet.MalformedPacket)
			}
		}
	case *packet.Disconnect:
		if p.Properties.Has(packet.PropSessionExpiry) && p.Properties.SessionExpiry != 0 {
			return refused(packet.ProtocolError) // 5.0 section 3.14.2.2.2: expiry 0 at CONNECT
		}
		return mcWant{kind: mcSilent}, false // the client's own DISCONNECT: a plain close
	case *packet.Auth:
		return refused(packet.ProtocolError) // [MQTT-4.12.0-7] (5.0): no Authentication Method in CONNECT
	}
	return mcWant{kind: mcAlive}, false
}

// mcConnectOracle: a CONNECT as the first packet.
func mcConnectOracle(first byte, body []byte, ctrl func([]byte) bool) mcWant {
	var c packet.Connect
	if err := packet.DecodeInto(&c, first, body, 0); err != nil {
		code := packet.CodeOf(err)
		if code == packet.UnsupportedProtocolVersion {
			return mcWant{kind: mcRefused, code: code} // [MQTT-3.1.2-2]: 3.1.1 return code 1
		}
		if c.Version == packet.V5 {
			return mcWant{kind: mcRefused, code: code}
		}
		return mcWant{kind: mcSilent} // 3.1.1 has no return code for it
	}
	refused := func(code packet.ReasonCode) mcWant { return mcWant{kind: mcRefused, code: code} }
	switch {
	case ctrl(c.ClientID):
		return refused(packet.ClientIdentifierNotValid)
	case c.UsernameFlag && ctrl(c.Username):
		return refused(packet.MalformedPacket)
	case c.WillFlag && ctrl(c.WillTopic):
		return refused(packet.MalformedPacket)
	case len(c.ClientID) == 0 && !c.CleanStart && c.Version != packet.V5:
		return refused(packet.ClientIdentifierNotValid) // [MQTT-3.1.3-8] (3.1.1)
	case c.WillFlag && topic.ValidName(string(c.WillTopic)) != nil:
		return refused(packet.TopicNameInvalid) // the will topic is a topic name [MQTT-3.3.2-2]
	}
	return mcWant{kind: mcConnAlive}
}

// mcObs is what the broker did on one connection.
type mcObs struct {
	connack, disc int // codes; -1: none came
	pingresp      bool
	closed        bool
	others        []packet.Type
	badDisconnect error
}

func (o mcObs) String() string {
	var b strings.Builder
	if o.connack >= 0 {
		fmt.Fprintf(&b, "CONNACK 0x%02x ", o.connack)
	}
	for _, t := range o.others {
		fmt.Fprintf(&b, "%v ", t)
	}
	if o.pingresp {
		b.WriteString("PINGRESP ")
	}
	if o.disc >= 0 {
		fmt.Fprintf(&b, "DISCONNECT 0x%02x ", o.disc)
	}
	if o.closed {
		b.WriteString("closed")
	} else {
		b.WriteString("open")
	}
	return b.String()
}

const mcDeadline = 5 * time.Second

// mcRun plays one case on a fresh connection and checks the answer.
func mcRun(addr string, c *mcCase, id string, lim *Limits) error {
	want, incomplete := mcOracle(c, lim)
	nc, err := net.DialTimeout("tcp", addr, mcDeadline)
	if err != nil {
		return err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(mcDeadline))
	rd := packet.NewReader(nc, 512, 0)
	if !c.first {
		conn := &packet.Connect{Version: c.v, ClientID: []byte(id), CleanStart: true}
		if _, err := nc.Write(conn.Append(nil, c.v)); err != nil {
			return err
		}
		first, body, err := rd.Read()
		if err != nil || packet.Type(first>>4) != packet.CONNACK || len(body) < 2 || body[1] != 0 {
			return fmt.Errorf("valid CONNECT not accepted: % x %v", body, err)
		}
	}
	out := c.pkt
	if want.kind == mcAlive || want.kind == mcConnAlive {
		out = append(append([]byte(nil), out...), 0xc0, 0) // PINGREQ
	}
	if _, err := nc.Write(out); err != nil && !isClosedErr(err) {
		return err
	}
	if incomplete {
		_ = nc.(*net.TCPConn).CloseWrite()
	}
	obs := mcObs{connack: -1, disc: -1}
	for {
		first, body, err := rd.Read()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("want %v, got %v and no answer within %v", want, obs, mcDeadline)
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !isReset(err) {
				return fmt.Errorf("want %v: reading: %v (after %v)", want, err, obs)
			}
			obs.closed = true
			break
		}
		switch t := packet.Type(first >> 4); t {
		case packet.CONNACK:
			obs.connack = int(body[1])
		case packet.DISCONNECT:
			obs.disc = 0
			if len(body) > 0 {
				obs.disc = int(body[0])
			}
			if _, err := packet.Decode(first, body, packet.V5); err != nil {
				obs.badDisconnect = err // [MQTT-3.14.2-1]
			}
		case packet.PINGRESP:
			obs.pingresp = true
		default:
			obs.others = append(obs.others, t)
		}
		if obs.pingresp {
			_, _ = nc.Write([]byte{0xe0, 0}) // DISCONNECT: no will
			break
		}
	}
	if !mcMatches(c.v, want, obs) {
		return fmt.Errorf("want %v, got %v", want, obs)
	}
	return nil
}

func mcMatches(v packet.Version, want mcWant, o mcObs) bool {
	if o.badDisconnect != nil {
		return false
	}
	switch want.kind {
	case mcAlive:
		return o.pingresp && o.disc < 0 && o.connack < 0
	case mcConnAlive:
		return o.pingresp && o.disc < 0 && o.connack == 0
	case mcSilent:
		return o.closed && o.disc < 0 && o.connack < 0 && !o.pingresp && len(o.others) == 0
	}
	// Refused: nothing but the refusal, then the close.
	if !o.closed || o.pingresp || len(o.others) > 0 {
		return false
	}
	if v != packet.V5 {
		// 3.1.1 servers send no DISCONNECT; a refused CONNECT gets the
		// return code the protocol has for the reason, if any.
		if o.disc >= 0 {
			return false
		}
		if o.connack < 0 {
			_, has := packet.V3ReturnCode(want.code)
			return !has || want.code == 0
		}
		rc, has := packet.V3ReturnCode(want.code)
		return has && o.connack == int(rc)
	}
	got := o.disc
	if o.connack >= 0 {
		if o.disc >= 0 {
			return false
		}
		got = o.connack
	}
	if want.code == 0 {
		return got >= 0x80
	}
	return got == int(want.code)
}

// TestMalformedCorpus sends every case of the corpus and checks the answers.
func TestMalformedCorpus(t *testing.T) {
	cases := mcCorpus()
	if len(cases) < 1000 {
		t.Fatalf("only %d cases", len(cases))
	}
	if f := os.Getenv("ROOST_CORPUS_DUMP"); f != "" {
		var b bytes.Buffer
		for _, c := range cases {
			fmt.Fprintf(&b, "%s % x\n", c.name, c.pkt)
		}
		if err := os.WriteFile(f, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("defaults", func(t *testing.T) { mcPlay(t, cases, nil) })
	// Control characters allowed and no packet size limit below the
	// protocol's: the control-character cases pass, and a 256 MB claim waits
	// for its bytes until the stream ends.
	t.Run("permissive", func(t *testing.T) {
		mcPlay(t, cases, func(o *Options) {
			o.Limits.AllowControlChars = true
			o.Limits.MaxPacketSize = 268435460
		})
	})
}

// mcPlay runs the cases against a broker with the given options.
func mcPlay(t *testing.T, cases []mcCase, modify func(*Options)) {
	s, addr := startServer(t, modify)
	lim := s.Limits()
	healthySub := map[packet.Version]*peer{}
	healthyPub := map[packet.Version]*peer{}
	for _, v := range bothVersions {
		healthySub[v] = clean(t, addr, v, "corpus-healthy-sub-"+vname(v))
		healthySub[v].subscribe(sub("healthy/"+vname(v), 1))
		healthyPub[v] = clean(t, addr, v, "corpus-healthy-pub-"+vname(v))
	}
	roundTrip := func(n int) {
		t.Helper()
		for _, v := range bothVersions {
			msg := fmt.Sprintf("after %d", n)
			healthyPub[v].publish("healthy/"+vname(v), msg, 1, false)
			healthySub[v].expectPub("healthy/"+vname(v), msg)
		}
	}
	const batch, workers = 256, 16
	var (
		mu       sync.Mutex
		failures []string
	)
	start := time.Now()
	for lo := 0; lo < len(cases); lo += batch {
		hi := min(lo+batch, len(cases))
		work := make(chan int)
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					c := &cases[i]
					if err := mcRun(addr, c, fmt.Sprintf("corpus-%d", i), &lim); err != nil {
						mu.Lock()
						failures = append(failures, fmt.Sprintf("%s [% x]: %v", c.name, c.pkt, err))
						mu.Unlock()
					}
				}
			}()
		}
		for i := lo; i < hi; i++ {
			work <- i
		}
		close(work)
		wg.Wait()
		roundTrip(hi)
	}
	t.Logf("%d hostile packets in %v", len(cases), time.Since(start).Round(time.Millisecond))
	for i, f := range failures {
		if i == 40 && os.Getenv("ROOST_CORPUS_ALL") == "" {
			t.Errorf("... and %d more", len(failures)-i)
			break
		}
		t.Error(f)
	}
	waitConns(t, s, 4) // every corpus connection is gone; the healthy ones stay
}

// TestMalformedCorpusSize checks the corpus is large enough and logs what
// it expects of the broker, by answer.
func TestMalformedCorpusSize(t *testing.T) {
	cases := mcCorpus()
	n, first := 0, 0
	outcomes := map[string]int{}
	for i := range cases {
		c := &cases[i]
		n += len(c.pkt)
		if c.first {
			first++
		}
		lim := DefaultOptions().Limits
		w, _ := mcOracle(c, &lim)
		outcomes[w.String()]++
	}
	t.Logf("%d cases (%d as the first packet), %d bytes; expected answers: %v", len(cases), first, n, outcomes)
	if len(cases) < 1000 {
		t.Fatalf("%d cases, want at least 1000", len(cases))
	}
}

// A packet claiming 256 MB costs the broker only the bytes that arrived,
// however many clients claim it, with the packet size limit at the
// protocol's maximum: 200 connections each claiming 256 MB (half after
// CONNECT in a PUBLISH, half as their first packet) and sending 8 KiB grow
// the heap by less than 20 MB.
func TestMalformedClaimedLengthMemory(t *testing.T) {
	s, addr := startServer(t, func(o *Options) { o.Limits.MaxPacketSize = 268435460 })
	healthySub := clean(t, addr, packet.V5, "claim-healthy-sub")
	healthySub.subscribe(sub("healthy", 1))
	healthyPub := clean(t, addr, packet.V311, "claim-healthy-pub")
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	const conns = 200
	chunk := bytes.Repeat([]byte{'x'}, 8<<10)
	var held []net.Conn
	for i := range conns {
		nc, err := net.DialTimeout("tcp", addr, mcDeadline)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, nc)
		_ = nc.SetDeadline(time.Now().Add(mcDeadline))
		v := []packet.Version{packet.V311, packet.V5}[i%2]
		claim := []byte{0x10, 0xff, 0xff, 0xff, 0x7f, 0, 4, 'M', 'Q', 'T', 'T', byte(v)} // CONNECT
		if i%4 < 2 {
			conn := &packet.Connect{Version: v, ClientID: []byte(fmt.Sprintf("claim-%d", i)), CleanStart: true}
			if _, err := nc.Write(conn.Append(nil, v)); err != nil {
				t.Fatal(err)
			}
			if first, body, err := packet.NewReader(nc, 64, 0).Read(); err != nil || first>>4 != 2 || body[1] != 0 {
				t.Fatalf("CONNACK: %v", err)
			}
			claim = []byte{0x30, 0xff, 0xff, 0xff, 0x7f, 0, 1, 't'} // PUBLISH
		}
		if _, err := nc.Write(append(claim, chunk...)); err != nil {
			t.Fatal(err)
		}
	}
	// The broker is still responsive, and has read what was sent.
	healthyPub.publish("healthy", "ok", 1, false)
	healthySub.expectPub("healthy", "ok")
	var peak uint64
	for range 10 {
		// A measurement, not synchronisation: sample the heap a few times
		// while the claims are outstanding and keep the highest.
		peak = max(peak, heap())
		time.Sleep(10 * time.Millisecond)
	}
	growth := int64(peak) - int64(before)
	t.Logf("heap growth with %d connections claiming 256 MB each: %.1f MB", conns, float64(growth)/(1<<20))
	if growth > 20<<20 {
		t.Fatalf("heap grew by %d bytes, want under 20 MB", growth)
	}
	for _, nc := range held {
		_ = nc.Close()
	}
	waitConns(t, s, 2)
}
