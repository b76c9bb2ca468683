package packet

import (
	"bytes"
	"io"
	"testing"
)

// Header returns a packet's first byte and declared size without its body,
// or the first byte alone when check refuses it; Read then returns the packet.
func TestReaderHeaderBeforeBody(t *testing.T) {
	src := &bytes.Buffer{}
	src.Write([]byte{0x10, 0xf9, 0xff, 0x3f}) // CONNECT claiming 1 MiB, no body
	r := NewReader(src, 16, 0)
	first, size, err := r.Header(nil)
	if want := 1 + 3 + (0x79 | 0x7f<<7 | 0x3f<<14); err != nil || first != 0x10 || size != want {
		t.Fatalf("Header = %#x %d %v", first, size, err)
	}
	if _, _, err := r.Read(); err != io.ErrUnexpectedEOF {
		t.Fatalf("Read of the truncated packet: %v", err)
	}

	r = NewReader(bytes.NewReader([]byte{0x30}), 16, 0)
	first, size, err = r.Header(func(b byte) bool { return b>>4 == 1 })
	if err != nil || first != 0x30 || size != 0 {
		t.Fatalf("refused first byte: %#x %d %v", first, size, err)
	}

	pk := (&Pingreq{}).Append(nil, V311)
	r = NewReader(bytes.NewReader(pk), 16, 0)
	if first, size, err = r.Header(nil); err != nil || size != 2 {
		t.Fatalf("PINGREQ header: %#x %d %v", first, size, err)
	}
	if first, body, err := r.Read(); err != nil || first != 0xc0 || len(body) != 0 {
		t.Fatalf("Read after Header: %#x %v %v", first, body, err)
	}
}
