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
