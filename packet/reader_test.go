package packet

import (
	"bytes"
	"testing"
)

// burstReader returns up to n bytes of filler per Read, from an endless
// stream of 2-byte PINGREQ packets.
type burstReader struct{ n int }

func (b *burstReader) Read(p []byte) (int, error) {
	k := min(len(p), b.n) &^ 1
	for i := 0; i < k; i += 2 {
		p[i], p[i+1] = 0xC0, 0
	}
	return k, nil
}

// With ReadAhead, a stream whose reads fill the buffer grows it, doubling,
// to ReadAhead and no further; when reads turn small, the empty buffer
// goes back to its initial size. Without ReadAhead it stays put.
func TestReaderReadAhead(t *testing.T) {
	src := &burstReader{n: 1 << 20}
	r := NewReader(src, 512, 0)
	r.ReadAhead = 32 << 10
	for range 40000 { // 80 KB: the buffer doubles each time a read fills it
		if _, _, err := r.Read(); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.buf) != 32<<10 {
		t.Fatalf("buffer %d bytes under a flood, want 32768", len(r.buf))
	}
	for range 200000 {
		if _, _, err := r.Read(); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.buf) != 32<<10 {
		t.Fatalf("buffer %d bytes, grew past ReadAhead", len(r.buf))
	}
	src.n = 2 // a trickle: one packet per read
	for range 20000 {
		if _, _, err := r.Read(); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.buf) != 512 {
		t.Fatalf("buffer %d bytes after small reads, want it back to 512", len(r.buf))
	}
	plain := NewReader(&burstReader{n: 1 << 20}, 512, 0)
	for range 2000 {
		if _, _, err := plain.Read(); err != nil {
			t.Fatal(err)
		}
	}
	if len(plain.buf) != 512 {
		t.Fatalf("buffer %d bytes without ReadAhead", len(plain.buf))
	}
}

// Ready is true only when Read would not touch the source: with a whole
// packet buffered, or a header Read refuses; never with part of a packet.
func TestReaderReady(t *testing.T) {
	pub := (&Publish{Topic: []byte("t"), Payload: []byte("hello")}).Append(nil, V311)
	ping := (&Pingreq{}).Append(nil, V311)
	stream := append(append(append([]byte(nil), pub...), ping...), pub[0])
	r := NewReader(bytes.NewReader(stream), 512, 0)
	if r.Ready() {
		t.Fatal("Ready before any read")
	}
	if _, _, err := r.Read(); err != nil { // reads the whole stream at once
		t.Fatal(err)
	}
	if !r.Ready() {
		t.Fatal("not Ready with PINGREQ buffered")
	}
	if _, _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	if r.Buffered() != 1 || r.Ready() {
		t.Fatalf("Ready with one byte of a packet buffered (%d buffered)", r.Buffered())
	}
	r2 := NewReader(bytes.NewReader(append(append([]byte(nil), ping...), 0x30, 0xff, 0xff, 0x7f)), 512, 100)
	if _, _, err := r2.Read(); err != nil {
		t.Fatal(err)
	}
	if !r2.Ready() {
		t.Fatal("not Ready with a header over the maximum size buffered: Read fails at once")
	}
}
