package broker

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roostmq/roost/store"
	"github.com/roostmq/roost/topic"
)

// TestMeasureOfflineSessions measures the broker's memory with many offline
// persistent sessions holding queued messages, on the disk store and on the
// memory store. It runs only when asked:
//
//	ROOST_MEASURE_OFFLINE=100000 go test ./broker -run TestMeasureOfflineSessions -v -timeout 30m
//
// The figures are recorded in docs/storage.md.
func TestMeasureOfflineSessions(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ROOST_MEASURE_OFFLINE"))
	if n == 0 {
		t.Skip("set ROOST_MEASURE_OFFLINE=<sessions> to run")
	}
	for _, kind := range []string{"disk", "memory"} {
		t.Run(kind, func(t *testing.T) {
			var st store.Store = store.NewMemory()
			if kind == "disk" {
				st = openDisk(t, t.TempDir())
			}
			s, _, stop := startOn(t, st, func(o *Options) { o.Limits.MaxQueuedMessages = 1000 })
			defer stop()
			o := topic.Options{QoS: 1}
			s.mu.Lock()
			for i := range n {
				id := fmt.Sprintf("offline-%06d", i)
				ss := newSession(s, id)
				ss.expiry = time.Hour
				ss.lastSeen = time.Now()
				ss.subs["all"] = o
				s.subs.Subscribe(ss, "all", o)
				s.sessions[id] = ss
			}
			s.mu.Unlock()
			base := memNow()
			t.Logf("%s: %d offline sessions, no messages: %s", kind, n, base)
			payload := make([]byte, 100)
			for round := 1; round <= 2; round++ {
				start := time.Now()
				for range 10 {
					if err := s.Publish("all", payload, 1, false); err != nil {
						t.Fatal(err)
					}
				}
				t.Logf("%s: %d queued messages each (%d in all, %d-byte payloads), +%v: %s",
					kind, 10*round, 10*round*n, len(payload), time.Since(start).Round(time.Millisecond), memNow())
			}
		})
	}
}

type memFig struct{ heap, rss uint64 }

func (m memFig) String() string {
	return fmt.Sprintf("heap in use %d MiB, RSS %d MiB", m.heap>>20, m.rss>>20)
}

func memNow() memFig {
	runtime.GC()
	debug.FreeOSMemory() // RSS then counts what is in use, not what the runtime keeps
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	f := memFig{heap: ms.HeapInuse}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "VmRSS:") {
				kb, _ := strconv.ParseUint(strings.Fields(line)[1], 10, 64)
				f.rss = kb << 10
			}
		}
	}
	return f
}
