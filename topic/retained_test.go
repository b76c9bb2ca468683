package topic

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
)

func retainedMatch(r *Retained[int], filter string) []string {
	var out []string
	r.Match(filter, func(topic string, v int) bool {
		out = append(out, fmt.Sprintf("%s=%d", topic, v))
		return true
	})
	sort.Strings(out)
	return out
}

// TestRetainedMatchTable runs the shared match table through Retained.
func TestRetainedMatchTable(t *testing.T) {
	for _, tt := range matchTests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRetained[int]()
			r.Set(tt.topic, 1)
			got := len(retainedMatch(r, tt.filter)) == 1
			if got != tt.want {
				t.Fatalf("Retained.Match(%q) with %q retained = %v, want %v", tt.filter, tt.topic, got, tt.want)
			}
		})
	}
}

func TestRetainedSetGetDelete(t *testing.T) {
	r := NewRetained[int]()
	r.Set("a/b", 1)
	r.Set("a", 2)
	r.Set("a/b/c", 3)
	r.Set("a/b", 4) // replace
	if r.Len() != 3 {
		t.Fatalf("Len = %d, want 3", r.Len())
	}
	if v, ok := r.Get("a/b"); !ok || v != 4 {
		t.Fatalf("Get(a/b) = %d, %v; want 4, true", v, ok)
	}
	if _, ok := r.Get("a/b/c/d"); ok {
		t.Fatal("Get of a missing child found something")
	}
	if _, ok := r.Get("x"); ok {
		t.Fatal("Get of a missing topic found something")
	}
	if r.Delete("a/b/c/d") || r.Delete("zzz") {
		t.Fatal("Delete of a missing topic reported true")
	}
	if !r.Delete("a/b") {
		t.Fatal("Delete(a/b) = false")
	}
	if _, ok := r.Get("a/b"); ok {
		t.Fatal("a/b still there after Delete")
	}
	if got, want := retainedMatch(r, "#"), []string{"a/b/c=3", "a=2"}; !slices.Equal(got, want) {
		t.Fatalf("Match(#) = %v, want %v", got, want)
	}
	r.Delete("a/b/c")
	r.Delete("a")
	if r.Len() != 0 || len(r.root.children) != 0 {
		t.Fatalf("not pruned: Len %d, %d children", r.Len(), len(r.root.children))
	}
}

func TestRetainedMatch(t *testing.T) {
	r := NewRetained[int]()
	for i, topic := range []string{
		"sport", "sport/tennis", "sport/tennis/player1", "sport/tennis/player2",
		"sport/football", "/finance", "$SYS/uptime", "$SYS/load/1", "a//b",
	} {
		r.Set(topic, i)
	}
	tests := []struct {
		filter string
		want   []string
	}{
		{"sport/tennis/+", []string{"sport/tennis/player1=2", "sport/tennis/player2=3"}},
		{"sport/#", []string{"sport/football=4", "sport/tennis/player1=2", "sport/tennis/player2=3", "sport/tennis=1", "sport=0"}},
		{"sport/+", []string{"sport/football=4", "sport/tennis=1"}},
		{"+", []string{"sport=0"}},
		{"+/+", []string{"/finance=5", "sport/football=4", "sport/tennis=1"}},
		{"#", []string{"/finance=5", "a//b=8", "sport/football=4", "sport/tennis/player1=2", "sport/tennis/player2=3", "sport/tennis=1", "sport=0"}},
		{"$SYS/#", []string{"$SYS/load/1=7", "$SYS/uptime=6"}},
		{"+/uptime", nil},
		{"a/+/b", []string{"a//b=8"}},
		{"nothing/#", nil},
		{"sport/tennis/player1", []string{"sport/tennis/player1=2"}},
	}
	for _, tt := range tests {
		if got := retainedMatch(r, tt.filter); !slices.Equal(got, tt.want) {
			t.Errorf("Match(%q) = %v, want %v", tt.filter, got, tt.want)
		}
	}

	// Stopping early.
	n := 0
	r.Match("#", func(string, int) bool { n++; return n < 3 })
	if n != 3 {
		t.Fatalf("fn called %d times after returning false at 3", n)
	}
	n = 0
	r.Match("sport/+", func(string, int) bool { n++; return false })
	if n != 1 {
		t.Fatalf("fn called %d times after returning false at 1", n)
	}
}

func TestRetainedConcurrent(t *testing.T) {
	r := NewRetained[int]()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 500 {
				topic := fmt.Sprintf("d/%d/%d", w, i%20)
				r.Set(topic, i)
				if i%2 == 1 {
					r.Delete(topic)
				}
			}
		})
		wg.Go(func() {
			for range 500 {
				r.Match("d/+/#", func(string, int) bool { return true })
				r.Get("d/1/1")
			}
		})
	}
	wg.Wait()
	// i%20 is even exactly when i is even, so the even slots stay.
	if got, want := r.Len(), 4*10; got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
	if got := len(retainedMatch(r, "d/+/+")); got != 40 {
		t.Fatalf("Match found %d, want 40", got)
	}
}

// DeleteIf removes a topic's message only while it is the one the caller
// decided to remove: a message replaced in between is kept.
func TestRetainedDeleteIf(t *testing.T) {
	r := NewRetained[*string]()
	old, fresh := "old", "fresh"
	r.Set("a/b", &old)
	r.Set("a/b", &fresh) // replaced after the caller looked
	if r.DeleteIf("a/b", func(v *string) bool { return v == &old }) {
		t.Fatal("deleted a message that replaced the one to delete")
	}
	if v, ok := r.Get("a/b"); !ok || v != &fresh || r.Len() != 1 {
		t.Fatalf("after a refused delete: %v %v len %d", v, ok, r.Len())
	}
	if r.DeleteIf("a/c", func(*string) bool { return true }) {
		t.Fatal("deleted a missing topic")
	}
	if !r.DeleteIf("a/b", func(v *string) bool { return v == &fresh }) || r.Len() != 0 {
		t.Fatal("matching delete refused")
	}
	if _, ok := r.Get("a/b"); ok {
		t.Fatal("still there")
	}
}
