package packet

import "testing"

var benchPublishes = []struct {
	name string
	v    Version
	p    Publish
}{
	{"v311-qos0", V311, Publish{Topic: []byte("sensors/kitchen/temperature"), Payload: make([]byte, 64)}},
	{"v311-qos1", V311, Publish{QoS: 1, PacketID: 42, Topic: []byte("sensors/kitchen/temperature"), Payload: make([]byte, 64)}},
	{"v5-qos1-props", V5, Publish{QoS: 1, PacketID: 42, Topic: []byte("sensors/kitchen/temperature"), Payload: make([]byte, 64),
		Properties: props(Properties{MessageExpiry: 30, User: []UserProperty{{[]byte("k"), []byte("v")}}}, PropMessageExpiry)}},
}

// Encoding and decoding a QoS 0 or QoS 1 PUBLISH allocates nothing.
func TestPublishZeroAlloc(t *testing.T) {
	for _, c := range benchPublishes {
		buf := make([]byte, 0, 256)
		raw := c.p.Append(nil, c.v)
		var q Publish
		enc := testing.AllocsPerRun(1000, func() { buf = c.p.Append(buf[:0], c.v) })
		dec := testing.AllocsPerRun(1000, func() {
			first, body, _, err := Split(raw, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := DecodeInto(&q, first, body, c.v); err != nil {
				t.Fatal(err)
			}
		})
		if enc != 0 || dec != 0 {
			t.Errorf("%s: %v allocs to encode, %v to decode", c.name, enc, dec)
		}
	}
}

func BenchmarkPublishEncode(b *testing.B) {
	for _, c := range benchPublishes {
		b.Run(c.name, func(b *testing.B) {
			buf := make([]byte, 0, 256)
			b.ReportAllocs()
			for b.Loop() {
				buf = c.p.Append(buf[:0], c.v)
			}
		})
	}
}

func BenchmarkPublishDecode(b *testing.B) {
	for _, c := range benchPublishes {
		b.Run(c.name, func(b *testing.B) {
			raw := c.p.Append(nil, c.v)
			var q Publish
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				first, body, _, _ := Split(raw, 0)
				if err := DecodeInto(&q, first, body, c.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.data[l.off:])
		n += c
		l.off = (l.off + c) % len(l.data)
	}
	return n, nil
}

func BenchmarkReaderPublish(b *testing.B) {
	raw := benchPublishes[1].p.Append(nil, V311)
	r := NewReader(&loopReader{data: raw}, 4096, 1<<20)
	var q Publish
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		first, body, err := r.Read()
		if err != nil {
			b.Fatal(err)
		}
		if err := DecodeInto(&q, first, body, V311); err != nil {
			b.Fatal(err)
		}
	}
}
