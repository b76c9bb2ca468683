package packet

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"
	"testing/iotest"
)

// gen builds random valid packets.
type gen struct{ r *rand.Rand }

func (g gen) str(max int) []byte {
	n := g.r.IntN(max + 1)
	if n == 0 {
		return nil
	}
	const alphabet = "abcXYZ019/_-é€"
	var b []byte
	for len(b) < n {
		b = append(b, string([]rune(alphabet)[g.r.IntN(len([]rune(alphabet)))])...)
	}
	return b
}

func (g gen) bin(max int) []byte {
	n := g.r.IntN(max + 1)
	if n == 0 {
		return nil
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.UintN(256))
	}
	return b
}

func (g gen) id() uint16 { return uint16(1 + g.r.IntN(65535)) }

// props fills random properties allowed in t.
func (g gen) props(t Type) Properties {
	var p Properties
	for id := PropID(1); id <= maxPropID; id++ {
		if !id.Allowed(t) || g.r.IntN(3) != 0 {
			continue
		}
		spec := propSpecs[id]
		switch spec.kind {
		case propKindString:
			*p.bytesField(id) = g.str(8)
			p.Set(id)
		case propKindBinary:
			*p.bytesField(id) = g.bin(8)
			p.Set(id)
		case propKindPair:
			for range 1 + g.r.IntN(3) {
				p.User = append(p.User, UserProperty{g.str(4), g.str(4)})
			}
		case propKindVarint:
			n := 1
			if t == PUBLISH {
				n += g.r.IntN(3)
			}
			for range n {
				p.SubscriptionIDs = append(p.SubscriptionIDs, 1+g.r.Uint32N(MaxVarint))
			}
		default:
			v := g.r.Uint32()
			switch {
			case spec.boolean:
				v &= 1
			case spec.kind == propKindByte:
				v &= 0xff
			case spec.kind == propKindU16:
				v &= 0xffff
			}
			if spec.nonZero && v == 0 {
				v = 1
			}
			p.setNumeric(id, v)
			p.Set(id)
		}
	}
	return p
}

func (g gen) packet(v Version) Packet {
	pp := func(t Type) Properties {
		if v == V5 {
			return g.props(t)
		}
		return Properties{}
	}
	rc := func(t Type, list []ReasonCode) ReasonCode {
		if v != V5 {
			return 0
		}
		if t == DISCONNECT {
			return []ReasonCode{0, 4, 0x80, 0x8e, 0x93, 0x97}[g.r.IntN(6)]
		}
		return list[g.r.IntN(len(list))]
	}
	switch t := Type(1 + g.r.IntN(15)); t {
	case CONNECT:
		c := &Connect{Version: v, CleanStart: g.r.IntN(2) == 0, KeepAlive: uint16(g.r.UintN(65536)),
			Properties: pp(CONNECT), ClientID: g.str(10)}
		c.ProtocolName = c.name()
		if g.r.IntN(2) == 0 {
			c.WillFlag, c.WillQoS, c.WillRetain = true, byte(g.r.IntN(3)), g.r.IntN(2) == 0
			c.WillTopic, c.WillPayload = g.str(6), g.bin(6)
			if v == V5 {
				c.WillProperties = g.props(willProps)
			}
		}
		if g.r.IntN(2) == 0 {
			c.UsernameFlag, c.Username = true, g.str(5)
			c.PasswordFlag, c.Password = g.r.IntN(2) == 0, g.bin(5)
			if !c.PasswordFlag {
				c.Password = nil
			}
		}
		return c
	case CONNACK:
		c := &Connack{SessionPresent: g.r.IntN(2) == 0, Properties: pp(CONNACK)}
		if v == V5 {
			c.ReasonCode = []ReasonCode{0, 0x80, 0x85, 0x87, 0x9c}[g.r.IntN(5)]
		} else {
			c.ReasonCode = ReasonCode(g.r.IntN(6))
		}
		return c
	case PUBLISH:
		p := &Publish{QoS: byte(g.r.IntN(3)), Retain: g.r.IntN(2) == 0, Topic: append([]byte("t/"), g.str(10)...),
			Properties: pp(PUBLISH), Payload: g.bin(30)}
		if p.QoS > 0 {
			p.PacketID, p.Dup = g.id(), g.r.IntN(2) == 0
		}
		return p
	case PUBACK:
		return &Puback{Ack{g.id(), rc(t, pubackCodes), pp(t)}}
	case PUBREC:
		return &Pubrec{Ack{g.id(), rc(t, pubackCodes), pp(t)}}
	case PUBREL:
		return &Pubrel{Ack{g.id(), rc(t, pubrelCodes), pp(t)}}
	case PUBCOMP:
		return &Pubcomp{Ack{g.id(), rc(t, pubrelCodes), pp(t)}}
	case SUBSCRIBE:
		s := &Subscribe{PacketID: g.id(), Properties: pp(t)}
		if len(s.Properties.SubscriptionIDs) > 1 {
			s.Properties.SubscriptionIDs = s.Properties.SubscriptionIDs[:1]
		}
		for range 1 + g.r.IntN(3) {
			sub := Subscription{Filter: append([]byte("f/"), g.str(5)...), QoS: byte(g.r.IntN(3))}
			if v == V5 {
				sub.NoLocal, sub.RetainAsPublished, sub.RetainHandling = g.r.IntN(2) == 0, g.r.IntN(2) == 0, byte(g.r.IntN(3))
			}
			s.Subscriptions = append(s.Subscriptions, sub)
		}
		return s
	case SUBACK:
		s := &Suback{PacketID: g.id(), Properties: pp(t)}
		for range 1 + g.r.IntN(3) {
			s.ReasonCodes = append(s.ReasonCodes, rc(t, subackCodes))
		}
		return s
	case UNSUBSCRIBE:
		u := &Unsubscribe{PacketID: g.id(), Properties: pp(t)}
		for range 1 + g.r.IntN(3) {
			u.Filters = append(u.Filters, append([]byte("u/"), g.str(5)...))
		}
		return u
	case UNSUBACK:
		u := &Unsuback{PacketID: g.id(), Properties: pp(t)}
		if v == V5 {
			for range 1 + g.r.IntN(3) {
				u.ReasonCodes = append(u.ReasonCodes, rc(t, unsubackCodes))
			}
		}
		return u
	case PINGREQ:
		return &Pingreq{}
	case PINGRESP:
		return &Pingresp{}
	case DISCONNECT:
		return &Disconnect{ReasonCode: rc(t, nil), Properties: pp(t)}
	default:
		if v != V5 {
			return &Pingreq{}
		}
		return &Auth{ReasonCode: rc(t, authCodes), Properties: pp(t)}
	}
}

func TestRoundTripRandom(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(1, 2))}
	for i := 0; i < 20000; i++ {
		v := []Version{V31, V311, V5}[i%3]
		p := g.packet(v)
		raw := p.Append(nil, v)
		first, body, n, err := Split(raw, 0)
		if err != nil || n != len(raw) {
			t.Fatalf("%T split: %v", p, err)
		}
		q, err := Decode(first, body, v)
		if err != nil {
			t.Fatalf("%T v%v decode: %v\n% x", p, v, err, raw)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip v%v:\n got %#v\nwant %#v", v, q, p)
		}
		if again := q.Append(nil, v); !bytes.Equal(again, raw) {
			t.Fatalf("re-encode differs")
		}
	}
}

// A stream of packets read through a reader that returns one byte at a time.
func TestReaderStream(t *testing.T) {
	var stream []byte
	var want []Packet
	g := gen{rand.New(rand.NewPCG(3, 4))}
	for range 200 {
		p := g.packet(V5)
		want = append(want, p)
		stream = p.Append(stream, V5)
	}
	for _, src := range []io.Reader{bytes.NewReader(stream), iotest.OneByteReader(bytes.NewReader(stream)),
		iotest.HalfReader(bytes.NewReader(stream))} {
		r := NewReader(src, 16, 0)
		for i, w := range want {
			first, body, err := r.Read()
			if err != nil {
				t.Fatalf("packet %d: %v", i, err)
			}
			got, err := Decode(first, body, V5)
			if err != nil || !reflect.DeepEqual(got, w) {
				t.Fatalf("packet %d: %v %#v", i, err, got)
			}
		}
		if _, _, err := r.Read(); err != io.EOF {
			t.Fatalf("end of stream: %v", err)
		}
	}
}

func TestReaderUnexpectedEOF(t *testing.T) {
	raw := publishVectors[0].raw
	r := NewReader(bytes.NewReader(raw[:len(raw)-1]), 64, 0)
	if _, _, err := r.Read(); err != io.ErrUnexpectedEOF {
		t.Fatalf("err %v", err)
	}
}

// countingReader reports how many bytes were asked for in total.
type countingReader struct {
	data []byte
}

func (c *countingReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.data)
	c.data = c.data[n:]
	return n, nil
}

// A client that claims 256 MB gets an error, not an allocation.
func TestReaderMaxSizeBeforeBuffering(t *testing.T) {
	claim := []byte{0x30, 0xff, 0xff, 0xff, 0x7f, 0, 1, 't'}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := NewReader(&countingReader{data: claim}, 64, 1<<20)
	_, _, err := r.Read()
	runtime.ReadMemStats(&after)
	if CodeOf(err) != PacketTooLarge {
		t.Fatalf("err %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<10 || cap(r.buf) > 64 {
		t.Fatalf("allocated for a claimed size: %d bytes, buffer %d", grew, cap(r.buf))
	}
	// Without a configured maximum, the buffer grows only with the data sent.
	r = NewReader(&countingReader{data: claim}, 64, 0)
	if _, _, err := r.Read(); err != io.ErrUnexpectedEOF || cap(r.buf) > 64 {
		t.Fatalf("err %v, buffer %d", err, cap(r.buf))
	}
}

func TestReaderRelease(t *testing.T) {
	raw := append(append([]byte(nil), publishVectors[0].raw...), publishVectors[0].raw[:3]...)
	r := NewReader(bytes.NewReader(raw), 64, 0)
	if _, _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	if r.Release() {
		t.Fatal("released a buffer holding a partial packet")
	}
	r = NewReader(bytes.NewReader(publishVectors[0].raw), 64, 0)
	_, _, _ = r.Read()
	if !r.Release() || r.buf != nil {
		t.Fatal("idle buffer kept")
	}
}

func TestSplitTooLarge(t *testing.T) {
	_, _, _, err := Split([]byte{0x30, 0x80, 0x80, 0x80, 0x01}, 1000)
	if !errors.Is(err, PacketTooLarge) {
		t.Fatalf("err %v", err)
	}
}
