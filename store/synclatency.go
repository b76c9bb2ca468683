package store

import (
	"sync/atomic"
	"time"
)

// syncBounds are the upper bounds, in seconds, of the sync latency buckets.
var syncBounds = [...]float64{0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// syncStats counts syncs to disk by duration. One update per sync (a group
// commit), never per message.
type syncStats struct {
	count   atomic.Uint64
	sumNs   atomic.Int64
	buckets [len(syncBounds)]atomic.Uint64 // not cumulative
}

func (s *syncStats) observe(d time.Duration) {
	s.count.Add(1)
	s.sumNs.Add(int64(d))
	sec := d.Seconds()
	for i, b := range syncBounds {
		if sec <= b {
			s.buckets[i].Add(1)
			return
		}
	}
}

// SyncLatency reports how many syncs ran, their total duration and the
// cumulative count at or under each bound in seconds; the admin server
// exports it as the histogram roost_store_sync_seconds.
func (d *Disk) SyncLatency() (count uint64, sum time.Duration, buckets map[float64]uint64) {
	s := &d.syncs
	buckets = make(map[float64]uint64, len(syncBounds))
	var cum uint64
	for i, b := range syncBounds {
		cum += s.buckets[i].Load()
		buckets[b] = cum
	}
	return s.count.Load(), time.Duration(s.sumNs.Load()), buckets
}
