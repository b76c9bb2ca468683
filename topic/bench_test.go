package topic

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
)

func BenchmarkMatch(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Match("sport/+/player1/#", "sport/tennis/player1/score/wimbledon")
	}
}

// benchIndex has subs subscribers on the wildcard filter "sport/+/player1/#"
// plus 1000 unrelated exact filters, so the trie has some breadth.
func benchIndex(subs, cacheSize int) *Index[string] {
	x := NewIndex[string](cacheSize)
	for i := range subs {
		x.Subscribe("c"+strconv.Itoa(i), "sport/+/player1/#", Options{QoS: 1})
	}
	for i := range 1000 {
		x.Subscribe("other", fmt.Sprintf("sport/%d/player%d", i%10, i), Options{})
	}
	return x
}

func BenchmarkIndexMatch(b *testing.B) {
	const topic = "sport/tennis/player1/score"
	for _, subs := range []int{1, 100} {
		for _, cache := range []int{0, 1024} {
			b.Run(fmt.Sprintf("wildcard/subs=%d/cache=%d", subs, cache), func(b *testing.B) {
				x := benchIndex(subs, cache)
				dst := make([]Sub[string], 0, subs)
				var groups []SharedMatch[string]
				b.ReportAllocs()
				for b.Loop() {
					dst, groups = x.Match(topic, dst[:0], groups[:0])
				}
				if len(dst) != subs {
					b.Fatalf("matched %d, want %d", len(dst), subs)
				}
			})
		}
	}
	b.Run("nomatch", func(b *testing.B) {
		x := benchIndex(100, 1024)
		b.ReportAllocs()
		for b.Loop() {
			x.Match("weather/today", nil, nil)
		}
	})
	b.Run("parallel/subs=100/cache=1024", func(b *testing.B) {
		x := benchIndex(100, 1024)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			dst := make([]Sub[string], 0, 100)
			for pb.Next() {
				dst, _ = x.Match(topic, dst[:0], nil)
			}
		})
	})
	b.Run("parallel-churn/subs=100/cache=1024", func(b *testing.B) {
		// One subscribe or unsubscribe per 100 matches.
		x := benchIndex(100, 1024)
		var n atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			dst := make([]Sub[string], 0, 101)
			for pb.Next() {
				if i := n.Add(1); i%100 == 0 {
					if i%200 == 0 {
						x.Subscribe("churn", "sport/tennis/+/score", Options{})
					} else {
						x.Unsubscribe("churn", "sport/tennis/+/score")
					}
					continue
				}
				dst, _ = x.Match(topic, dst[:0], nil)
			}
		})
	})
}

func BenchmarkIndexSubscribe(b *testing.B) {
	x := benchIndex(0, 1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		key := "k" + strconv.Itoa(i%1000)
		x.Subscribe(key, "a/b/+/d", Options{})
		x.Unsubscribe(key, "a/b/+/d")
		i++
	}
}

// BenchmarkRetainedMatch: 100,000 retained topics site/{0..99}/dev/{0..99}/m{0..9};
// the filter matches the 10 metrics of one device.
func BenchmarkRetainedMatch(b *testing.B) {
	r := NewRetained[int]()
	for s := range 100 {
		for d := range 100 {
			for m := range 10 {
				r.Set(fmt.Sprintf("site/%d/dev/%d/m%d", s, d, m), m)
			}
		}
	}
	if r.Len() != 100_000 {
		b.Fatalf("Len = %d", r.Len())
	}
	for _, filter := range []string{"site/42/dev/7/#", "site/42/dev/7/+", "site/+/dev/7/m3"} {
		b.Run(filter, func(b *testing.B) {
			n := 0
			fn := func(string, int) bool { n++; return true }
			b.ReportAllocs()
			for b.Loop() {
				n = 0
				r.Match(filter, fn)
			}
			want := 10
			if filter == "site/+/dev/7/m3" {
				want = 100
			}
			if n != want {
				b.Fatalf("matched %d, want %d", n, want)
			}
		})
	}
}
