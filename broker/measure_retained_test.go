package broker

import (
	"fmt"
	"os"
	"strconv"
	"testing"
)

// TestMeasureRetainedMemory reports the heap a broker with the default
// (memory) store holds for N retained messages with 100-byte payloads. It
// is a measurement, not a check, so it runs only on request:
//
//	ROOST_MEASURE_RETAINED=100000 go test ./broker -run TestMeasureRetainedMemory -v
//
// The figures are recorded in docs/storage.md.
func TestMeasureRetainedMemory(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ROOST_MEASURE_RETAINED"))
	if n == 0 {
		t.Skip("set ROOST_MEASURE_RETAINED=<messages> to run")
	}
	s, _ := startServer(t, func(o *Options) { o.Retain.MaxMessages = 0 })
	payload := make([]byte, 100)
	base := memNow()
	for i := range n {
		if err := s.Publish(fmt.Sprintf("site/%03d/dev/%06d", i%1000, i), payload, 0, true); err != nil {
			t.Fatal(err)
		}
	}
	after := memNow()
	t.Logf("%d retained messages (100-byte payloads, default store %T): heap in use +%d MiB (%d B/message), RSS +%d MiB",
		n, s.store, (after.heap-base.heap)>>20, int64(after.heap-base.heap)/int64(n), int64(after.rss-base.rss)>>20)
}
