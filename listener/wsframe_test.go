package listener

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// clientFrame builds a masked client frame.
func clientFrame(op byte, fin bool, payload []byte, mask [4]byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n <= 0xffff:
		f = binary.BigEndian.AppendUint16(append(f, 0x80|126), uint16(n))
	default:
		f = binary.BigEndian.AppendUint64(append(f, 0x80|127), uint64(n))
	}
	f = append(f, mask[:]...)
	for i, c := range payload {
		f = append(f, c^mask[i&3])
	}
	return f
}

// chunkConn serves a fixed input in random chunk sizes and records writes.
type chunkConn struct {
	net.Conn
	in  []byte
	r   *rand.Rand
	out bytes.Buffer
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.in), 1+c.r.IntN(40))
	copy(p, c.in[:n])
	c.in = c.in[n:]
	return n, nil
}

func (c *chunkConn) Write(p []byte) (int, error) { return c.out.Write(p) }

func (c *chunkConn) SetWriteDeadline(time.Time) error { return nil }

// A byte stream split into binary and continuation frames of any size, with
// pings in between and read through buffers of any size, comes out intact,
// and every ping is answered with a pong. [MQTT-6.0.0-2]
func TestWSStreamDeframesAnyFraming(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	for round := range 200 {
		want := make([]byte, r.IntN(70000))
		for i := range want {
			want[i] = byte(r.UintN(256))
		}
		var in []byte
		pings := 0
		for rest, first := want, true; len(rest) > 0 || first; first = false {
			n := min(len(rest), r.IntN(300)+[]int{0, 0, 0, 70000}[r.IntN(4)])
			op := byte(0x0)
			if first {
				op = 0x2
			}
			mask := [4]byte{byte(r.UintN(256)), byte(r.UintN(256)), byte(r.UintN(256)), byte(r.UintN(256))}
			in = append(in, clientFrame(op, n == len(rest), rest[:n], mask)...)
			rest = rest[n:]
			if r.IntN(5) == 0 {
				in = append(in, clientFrame(0x9, true, []byte("hi"), mask)...)
				pings++
			}
		}
		cc := &chunkConn{in: in, r: r}
		s := &wsStream{Conn: cc}
		var got []byte
		buf := make([]byte, 1+r.IntN(100))
		for {
			n, err := s.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("round %d: stream differs (%d bytes, want %d)", round, len(got), len(want))
		}
		if pong := []byte{0x8A, 2, 'h', 'i'}; bytes.Count(cc.out.Bytes(), pong) != pings {
			t.Fatalf("round %d: %d pongs for %d pings", round, bytes.Count(cc.out.Bytes(), pong), pings)
		}
	}
}

// A text frame closes the connection with 1003. [MQTT-6.0.0-1]
func TestWSStreamTextFrameCloses(t *testing.T) {
	cc := &chunkConn{in: clientFrame(0x1, true, []byte("text"), [4]byte{1, 2, 3, 4}), r: rand.New(rand.NewPCG(1, 1))}
	s := &wsStream{Conn: cc}
	if _, err := s.Read(make([]byte, 64)); err != errWSText {
		t.Fatalf("err %v", err)
	}
	if out := cc.out.Bytes(); len(out) < 4 || out[0] != 0x88 || binary.BigEndian.Uint16(out[2:]) != 1003 {
		t.Fatalf("close frame % x", out)
	}
}

// Unmasked client frames and a close frame end the stream; Write sends one
// unmasked binary frame.
func TestWSStreamCloseAndWrite(t *testing.T) {
	cc := &chunkConn{in: clientFrame(0x8, true, []byte{0x03, 0xe8}, [4]byte{9, 9, 9, 9}), r: rand.New(rand.NewPCG(1, 2))}
	s := &wsStream{Conn: cc}
	if _, err := s.Read(make([]byte, 64)); err != io.EOF {
		t.Fatalf("close: %v", err)
	}
	if out := cc.out.Bytes(); !bytes.Equal(out, []byte{0x88, 2, 0x03, 0xe8}) {
		t.Fatalf("close echo % x", out)
	}
	cc = &chunkConn{in: []byte{0x82, 0x01, 'x'}, r: rand.New(rand.NewPCG(1, 3))}
	s = &wsStream{Conn: cc}
	if _, err := s.Read(make([]byte, 64)); err == nil {
		t.Fatal("unmasked client frame accepted")
	}
	cc = &chunkConn{r: rand.New(rand.NewPCG(1, 4))}
	s = &wsStream{Conn: cc}
	if _, err := s.Write(bytes.Repeat([]byte{7}, 300)); err != nil {
		t.Fatal(err)
	}
	if out := cc.out.Bytes(); out[0] != 0x82 || out[1] != 126 || binary.BigEndian.Uint16(out[2:]) != 300 || len(out) != 304 {
		t.Fatalf("frame header % x", out[:4])
	}
}

// FuzzWSStream feeds arbitrary bytes to the deframer through reads of
// arbitrary sizes: it must never panic, never return more than asked, and
// always stop.
func FuzzWSStream(f *testing.F) {
	f.Add(clientFrame(0x2, true, []byte("hello"), [4]byte{1, 2, 3, 4}), uint8(3))
	f.Add(append(clientFrame(0x2, false, []byte("he"), [4]byte{}), clientFrame(0x0, true, []byte("llo"), [4]byte{5, 6, 7, 8})...), uint8(1))
	f.Add(clientFrame(0x9, true, []byte("p"), [4]byte{9, 8, 7, 6}), uint8(50))
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 1}, uint8(7))
	f.Fuzz(func(t *testing.T, in []byte, size uint8) {
		s := &wsStream{Conn: &chunkConn{in: in, r: rand.New(rand.NewPCG(uint64(len(in)), 1))}}
		buf := make([]byte, 1+int(size))
		for range len(in) + 2 {
			n, err := s.Read(buf)
			if n > len(buf) {
				t.Fatalf("read %d into %d", n, len(buf))
			}
			if err != nil {
				return
			}
		}
	})
}
