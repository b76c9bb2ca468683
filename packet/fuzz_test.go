package packet

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the framing reader and the decoder. The
// first input byte picks the protocol version. Nothing may panic; whatever
// decodes must re-encode to bytes that decode to the same packet and encode
// to the same bytes again.
func FuzzDecode(f *testing.F) {
	for _, table := range allVectors {
		for _, c := range table {
			f.Add(append([]byte{byte(c.v)}, c.raw...))
		}
	}
	for _, c := range malformed {
		f.Add(append([]byte{byte(c.v)}, c.raw...))
	}
	f.Fuzz(fuzzOne)
}

func fuzzOne(t *testing.T, data []byte) {
	{
		if len(data) < 1 {
			return
		}
		v := []Version{V31, V311, V5}[int(data[0])%3]
		r := NewReader(bytes.NewReader(data[1:]), 32, 1<<16)
		for {
			first, body, err := r.Read()
			if err != nil {
				return
			}
			p, err := Decode(first, body, v)
			if err != nil {
				if CodeOf(err) < 0x80 {
					t.Fatalf("decode error without a failure reason code: %v", err)
				}
				continue
			}
			ev := v
			if c, ok := p.(*Connect); ok {
				ev = c.Version
			}
			enc := p.Append(nil, ev)
			f2, b2, n, err := Split(enc, 0)
			if err != nil || n != len(enc) {
				t.Fatalf("re-encoded %T does not frame: %v", p, err)
			}
			q, err := Decode(f2, b2, ev)
			if err != nil {
				t.Fatalf("re-encoded %T does not decode: %v\n% x", p, err, enc)
			}
			if !reflect.DeepEqual(p, q) {
				t.Fatalf("decode(encode(p)) != p:\n%#v\n%#v", p, q)
			}
			if enc2 := q.Append(nil, ev); !bytes.Equal(enc, enc2) {
				t.Fatalf("encoding not stable:\n% x\n% x", enc, enc2)
			}
		}
	}
}
