package broker

import (
	"bytes"
	"testing"
)

// A backlog beyond one chunk is queued as several chunks, handed to the
// writer in order; a packet larger than a chunk gets one of its own; the
// writer's last buffer comes back as its spare and is appended to next.
func TestOutboundChunks(t *testing.T) {
	var o outbound
	var want bytes.Buffer
	appendN := func(n int, b byte) {
		p := bytes.Repeat([]byte{b}, n)
		want.Write(p)
		if ok, _ := o.appendFn(0, n, false, func(dst []byte) []byte { return append(dst, p...) }); !ok {
			t.Fatal("append refused")
		}
	}
	for i := range 40 { // 40 x 4000 bytes: five chunks
		appendN(4000, byte('a'+i%26))
	}
	appendN(chunkSize*2, 'Z') // larger than a chunk
	appendN(10, 'z')
	if got := o.pending(); got != want.Len() {
		t.Fatalf("pending %d, want %d", got, want.Len())
	}
	var spare []byte
	bufs, n, closed := o.take(nil, &spare)
	if closed || n != want.Len() {
		t.Fatalf("take: %d bytes, closed %v", n, closed)
	}
	if len(bufs) < 6 {
		t.Fatalf("%d buffers, want the backlog in chunks", len(bufs))
	}
	for i, b := range bufs[:len(bufs)-1] {
		if len(b) > chunkSize && len(b) != chunkSize*2 {
			t.Fatalf("buffer %d holds %d bytes", i, len(b))
		}
	}
	if got := bytes.Join(bufs, nil); !bytes.Equal(got, want.Bytes()) {
		t.Fatal("bytes out of order or lost")
	}
	if o.pending() != n {
		t.Fatal("bytes being written not counted as pending")
	}
	spare = o.done(bufs, 1)
	if cap(spare) == 0 || o.pending() != 0 {
		t.Fatalf("spare cap %d, pending %d", cap(spare), o.pending())
	}
	// The spare takes the place of the buffer handed over next time.
	want.Reset()
	appendN(100, 'x')
	bufs, _, _ = o.take(bufs[:0], &spare)
	if spare != nil || !bytes.Equal(bufs[0], want.Bytes()) {
		t.Fatal("second take")
	}
	if kept := o.buf; cap(kept) == 0 {
		t.Fatal("the spare was not put in place for the next appends")
	}
}
