package faultconn

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fcPair returns the two ends of a loopback TCP connection, the first
// wrapped with read and write plans.
func fcPair(t *testing.T, read, write Plan) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	wl := &Listener{Listener: ln, Wrap: func(nc net.Conn) net.Conn { return Wrap(nc, read, write) }}
	acc := make(chan net.Conn, 1)
	go func() {
		nc, err := wl.Accept()
		if err != nil {
			acc <- nil
			return
		}
		acc <- nc
	}()
	far, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	near := <-acc
	if near == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = near.Close(); _ = far.Close() })
	return near.(*Conn), far
}

// readN reads exactly n bytes from r with a deadline.
func readN(t *testing.T, nc net.Conn, n int) []byte {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(nc, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	_ = nc.SetReadDeadline(time.Time{})
	return b
}

var fcData = []byte("0123456789abcdef")

func TestReadChunks(t *testing.T) {
	c, far := fcPair(t, Plan{Chunks: []int{3, 1}}, Plan{})
	if _, err := far.Write(fcData); err != nil {
		t.Fatal(err)
	}
	var got []byte
	var sizes []int
	buf := make([]byte, 64)
	for len(got) < len(fcData) {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, n)
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, fcData) {
		t.Fatalf("got %q", got)
	}
	if sizes[0] > 3 {
		t.Fatalf("first read moved %d bytes, want at most 3", sizes[0])
	}
	for _, n := range sizes[1:] {
		if n != 1 {
			t.Fatalf("read sizes %v: later reads must move one byte", sizes)
		}
	}
	if c.Offset(Read) != int64(len(fcData)) {
		t.Fatalf("offset %d", c.Offset(Read))
	}
}

func TestWriteChunksWithGap(t *testing.T) {
	c, far := fcPair(t, Plan{}, Plan{Chunks: []int{1}, Gap: time.Millisecond})
	n, err := c.Write(fcData)
	if err != nil || n != len(fcData) {
		t.Fatalf("write: %d %v", n, err)
	}
	if got := readN(t, far, len(fcData)); !bytes.Equal(got, fcData) {
		t.Fatalf("got %q", got)
	}
	if c.Offset(Write) != int64(len(fcData)) {
		t.Fatalf("offset %d", c.Offset(Write))
	}
}

func TestReadStallUntilReleased(t *testing.T) {
	release := make(chan struct{})
	stall := Stall(release)
	c, far := fcPair(t, Plan{Faults: []At{{5, stall}}}, Plan{})
	if _, err := far.Write(fcData); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, c, 5); !bytes.Equal(got, fcData[:5]) {
		t.Fatalf("before the stall: %q", got)
	}
	done := make(chan []byte)
	go func() {
		b := make([]byte, len(fcData)-5)
		_, _ = io.ReadFull(c, b)
		done <- b
	}()
	<-stall.Hit()
	select {
	case <-done:
		t.Fatal("read went past the stall")
	case <-time.After(20 * time.Millisecond): // proving an absence
	}
	close(release)
	if got := <-done; !bytes.Equal(got, fcData[5:]) {
		t.Fatalf("after release: %q", got)
	}
}

func TestStallHonoursDeadlineAndClose(t *testing.T) {
	stall := Stall(nil) // forever
	c, far := fcPair(t, Plan{Faults: []At{{0, stall}}}, Plan{Faults: []At{{0, Stall(nil)}}})
	_, _ = far.Write(fcData)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	_, err := c.Read(make([]byte, 4))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("stalled read past its deadline: %v, want a timeout", err)
	}
	// A deadline moved into the past wakes a stalled read at once.
	_ = c.SetReadDeadline(time.Time{})
	errc := make(chan error, 1)
	go func() { _, err := c.Read(make([]byte, 4)); errc <- err }()
	<-stall.Hit()
	_ = c.SetReadDeadline(time.Unix(1, 0))
	if err := <-errc; !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read after the deadline moved: %v, want a timeout", err)
	}
	// Close ends stalled reads and writes.
	_ = c.SetReadDeadline(time.Time{})
	go func() { _, err := c.Read(make([]byte, 4)); errc <- err }()
	go func() { _, err := c.Write(fcData); errc <- err }()
	_ = c.Close()
	for range 2 {
		if err := <-errc; err == nil {
			t.Fatal("stalled operation succeeded after Close")
		}
	}
}

func TestCloseReadEndsStalledRead(t *testing.T) {
	c, _ := fcPair(t, Plan{Faults: []At{{0, Stall(nil)}}}, Plan{})
	errc := make(chan error, 1)
	go func() { _, err := c.Read(make([]byte, 4)); errc <- err }()
	_ = c.CloseRead()
	if err := <-errc; !errors.Is(err, io.EOF) {
		t.Fatalf("read after CloseRead: %v, want EOF", err)
	}
}

func TestStallFor(t *testing.T) {
	c, far := fcPair(t, Plan{Faults: []At{{2, StallFor(5 * time.Millisecond)}}}, Plan{})
	_, _ = far.Write(fcData)
	if got := readN(t, c, len(fcData)); !bytes.Equal(got, fcData) {
		t.Fatalf("got %q", got)
	}
}

func TestResetAtReadOffset(t *testing.T) {
	c, far := fcPair(t, Plan{Faults: []At{{7, Reset()}}}, Plan{})
	_, _ = far.Write(fcData)
	if got := readN(t, c, 7); !bytes.Equal(got, fcData[:7]) {
		t.Fatalf("before the reset: %q", got)
	}
	_, err := c.Read(make([]byte, 4))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read at the reset: %v", err)
	}
	// The far side sees the connection go.
	_ = far.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := far.Read(make([]byte, 1)); err == nil {
		t.Fatal("far side still reads after the reset")
	}
}

func TestCloseAtWriteOffset(t *testing.T) {
	c, far := fcPair(t, Plan{}, Plan{Faults: []At{{4, Close()}}})
	n, err := c.Write(fcData)
	if n != 4 || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write across the close: %d %v", n, err)
	}
	if got := readN(t, far, 4); !bytes.Equal(got, fcData[:4]) {
		t.Fatalf("far side got %q", got)
	}
	_ = far.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := far.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("far side after the close: %v, want EOF", err)
	}
}

func TestFailIsSticky(t *testing.T) {
	boom := Fail(ErrInjected)
	c, far := fcPair(t, Plan{Faults: []At{{3, boom}}}, Plan{})
	_, _ = far.Write(fcData)
	readN(t, c, 3)
	for range 2 {
		if _, err := c.Read(make([]byte, 4)); !errors.Is(err, ErrInjected) {
			t.Fatalf("read after Fail: %v", err)
		}
	}
	select {
	case <-boom.Hit():
	default:
		t.Fatal("Hit not closed after the fault fired")
	}
	// The write side is unaffected.
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
}

func TestFaultsInOffsetOrder(t *testing.T) {
	r1, r2 := make(chan struct{}), make(chan struct{})
	s1, s2 := Stall(r1), Stall(r2)
	c, far := fcPair(t, Plan{Faults: []At{{6, s2}, {2, s1}}}, Plan{})
	_, _ = far.Write(fcData)
	readN(t, c, 2)
	done := make(chan struct{})
	go func() {
		b := make([]byte, 4)
		_, _ = io.ReadFull(c, b)
		close(done)
	}()
	<-s1.Hit()
	close(r1)
	<-done
	done2 := make(chan []byte)
	go func() {
		b := make([]byte, len(fcData)-6)
		_, _ = io.ReadFull(c, b)
		done2 <- b
	}()
	<-s2.Hit()
	close(r2)
	if got := <-done2; !bytes.Equal(got, fcData[6:]) {
		t.Fatalf("after both stalls: %q", got)
	}
}
