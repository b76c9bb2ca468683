package listener

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// wsCtlWait bounds how long these tests wait for something that must
// happen; they pass as soon as it does.
const wsCtlWait = 10 * time.Second

// A client that does not read, while the writer is blocked sending to it,
// pings and then sends data: the reader answers nothing itself and goes on
// deframing (it used to wait for the writer's lock to write the pong).
// When the client reads again, the writer's frame comes first, then the
// pong the writer sent for the reader. (Review L7.)
func TestWSPingDoesNotStallReaderBehindBlockedWriter(t *testing.T) {
	server, client := net.Pipe() // a write blocks until the other side reads
	defer client.Close()
	s := &wsStream{Conn: server}
	defer s.Close()

	big := bytes.Repeat([]byte{7}, 1000)
	written := make(chan error, 1)
	go func() {
		_, err := s.Write(big) // blocks: the client is not reading
		written <- err
	}()
	deadline := time.Now().Add(wsCtlWait)
	for s.wmu.TryLock() { // wait until the writer holds the lock
		s.wmu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("writer never took its lock")
		}
		time.Sleep(time.Millisecond) // polling, with a deadline
	}

	mask := [4]byte{1, 2, 3, 4}
	go func() {
		_, _ = client.Write(append(clientFrame(0x9, true, []byte("hi"), mask), clientFrame(0x2, true, []byte("data"), mask)...))
	}()
	read := make(chan []byte, 1)
	go func() {
		buf := make([]byte, 64)
		var got []byte
		for len(got) < 4 {
			n, err := s.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
		read <- got
	}()
	select {
	case got := <-read:
		if string(got) != "data" {
			t.Fatalf("read %q", got)
		}
	case <-time.After(wsCtlWait):
		t.Fatal("the reader stalled behind the blocked writer")
	}

	// The client reads again: the data frame, then the pong.
	want := append([]byte{0x82, 126, 0x03, 0xe8}, big...)
	want = append(want, 0x8A, 2, 'h', 'i')
	_ = client.SetReadDeadline(time.Now().Add(wsCtlWait))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("client read % x ... % x", got[:4], got[len(got)-4:])
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
}

// With nothing being written, the reader answers a ping at once, under
// its own write deadline: an expired deadline left by the writer does not
// fail the pong.
func TestWSPingAnsweredWhenWriterIdle(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	s := &wsStream{Conn: server}
	defer s.Close()
	_ = s.SetWriteDeadline(time.Now().Add(-time.Second)) // the writer's, long past

	go func() {
		_, _ = client.Write(append(clientFrame(0x9, true, []byte("hi"), [4]byte{5, 6, 7, 8}), clientFrame(0x2, true, []byte("x"), [4]byte{})...))
	}()
	pong := make(chan []byte, 1)
	go func() {
		b := make([]byte, 4)
		_ = client.SetReadDeadline(time.Now().Add(wsCtlWait))
		_, _ = io.ReadFull(client, b)
		pong <- b
	}()
	buf := make([]byte, 8)
	n, err := s.Read(buf)
	if err != nil || string(buf[:n]) != "x" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if b := <-pong; !bytes.Equal(b, []byte{0x8A, 2, 'h', 'i'}) {
		t.Fatalf("pong % x", b)
	}
}
