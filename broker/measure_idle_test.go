package broker

import (
	"bytes"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"
)

// TestMeasureIdleConns reports what an idle connection costs inside the
// broker: heap and goroutine stack per connection, and goroutines left
// running. It runs only when asked:
//
//	ROOST_MEASURE_IDLE=5000 go test ./broker -run TestMeasureIdleConns -v
//
// ROOST_MEASURE_HEAP=file also writes a heap profile (in-use space) to file.
// The client ends of the connections live in the same process, so the heap
// figure includes their net.Conn values (a few hundred bytes each); the
// process RSS figure of cmd/roost's TestMeasureIdleMemory has none of that.
func TestMeasureIdleConns(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ROOST_MEASURE_IDLE"))
	if n == 0 {
		t.Skip("set ROOST_MEASURE_IDLE=<connections> to run")
	}
	s, addr := startServer(t, func(o *Options) { o.HibernateAfter = 200 * time.Millisecond })
	var before, after runtime.MemStats
	settle := func(ms *runtime.MemStats) {
		for range 3 {
			runtime.GC()
		}
		runtime.ReadMemStats(ms)
	}
	g0 := runtime.NumGoroutine()
	settle(&before)
	connect := []byte{0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 0, 0, 0}
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, nc)
		if _, err := nc.Write(connect); err != nil {
			t.Fatal(err)
		}
		ack := make([]byte, 4)
		if _, err := io.ReadFull(nc, ack); err != nil || !bytes.Equal(ack, []byte{0x20, 2, 0, 0}) {
			t.Fatalf("connection %d: CONNACK %x %v", i, ack, err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.Stats().ClientsHibernating < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d connections hibernating", s.Stats().ClientsHibernating, n)
		}
		time.Sleep(10 * time.Millisecond) // polling a measurement's precondition
	}
	settle(&after)
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	t.Logf("%d idle connections: per connection: heap in use %.0f B, stacks %.0f B, goroutines %.2f",
		n, per(after.HeapInuse, before.HeapInuse), per(after.StackInuse, before.StackInuse),
		float64(runtime.NumGoroutine()-g0)/float64(n))
	if f := os.Getenv("ROOST_MEASURE_HEAP"); f != "" {
		w, err := os.Create(f)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if err := pprof.Lookup("heap").WriteTo(w, 0); err != nil {
			t.Fatal(err)
		}
	}
}
