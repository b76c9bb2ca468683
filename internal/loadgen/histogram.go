package loadgen

import (
	"math/bits"
	"time"
)

// histogram records durations in log-linear buckets: 16 sub-buckets per power
// of two, so any value is known to within about 6%, in a fixed 1,024 counters.
type histogram struct {
	counts [64 * 16]uint64
	n      uint64
	max    int64
}

func bucketOf(v int64) int {
	if v < 16 {
		if v < 0 {
			v = 0
		}
		return int(v)
	}
	e := bits.Len64(uint64(v)) - 1 // v in [2^e, 2^(e+1))
	m := (v >> (e - 4)) & 15       // next four bits
	return e*16 + int(m)
}

// lowerBound is the smallest value in bucket i.
func lowerBound(i int) int64 {
	if i < 16 {
		return int64(i)
	}
	e, m := i/16, int64(i%16)
	return (16 + m) << (e - 4)
}

func (h *histogram) add(d time.Duration) {
	v := int64(d)
	h.counts[bucketOf(v)]++
	h.n++
	if v > h.max {
		h.max = v
	}
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the value at quantile q (0..1).
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if q >= 1 {
		return time.Duration(h.max)
	}
	rank := uint64(q*float64(h.n-1)) + 1
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(lowerBound(i), h.max))
		}
	}
	return time.Duration(h.max)
}

// LatencyBucket counts the deliveries whose latency was below UpTo and at
// least the previous bucket's UpTo.
type LatencyBucket struct {
	UpTo  time.Duration `json:"up_to_ns"`
	Count uint64        `json:"count"`
}

// bucketBounds is the 1-2-5 series from 10 µs to 10 s; past it, one bucket
// up to the maximum.
var bucketBounds = func() []time.Duration {
	var out []time.Duration
	for d := 10 * time.Microsecond; d <= 10*time.Second; d *= 10 {
		out = append(out, d, 2*d, 5*d)
	}
	return out
}()

// buckets folds the histogram into the 1-2-5 series. A counter of the fine
// histogram goes to the bucket its lower bound falls in, so a boundary is
// exact to within the fine histogram's 6 %.
func (h *histogram) buckets() []LatencyBucket {
	if h.n == 0 {
		return nil
	}
	out := make([]LatencyBucket, len(bucketBounds)+1)
	for i, b := range bucketBounds {
		out[i].UpTo = b
	}
	out[len(bucketBounds)].UpTo = time.Duration(h.max) + 1
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		v := time.Duration(lowerBound(i))
		j := 0
		for j < len(bucketBounds) && v >= bucketBounds[j] {
			j++
		}
		out[j].Count += c
	}
	first, last := 0, len(out)-1
	for first < last && out[first].Count == 0 {
		first++
	}
	for last > first && out[last].Count == 0 {
		last--
	}
	return out[first : last+1]
}
