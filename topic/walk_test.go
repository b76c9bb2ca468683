package topic

import (
	"reflect"
	"testing"
)

func TestIndexWalk(t *testing.T) {
	x := NewIndex[string](0)
	want := map[string]bool{}
	for _, s := range []struct{ key, filter string }{
		{"a", "x/y"}, {"b", "x/y"}, {"a", "x/+/z"}, {"c", "#"}, {"a", "/lead"}, {"b", "x//y"},
		{"a", "$share/g/x/#"}, {"b", "$share/g/x/#"}, {"c", "$share/h/x/#"},
		{"a", "p/q/r/s"}, {"b", "p/q"}, {"c", "p/q/r/s/+/t/u"},
	} {
		x.Subscribe(s.key, s.filter, Options{QoS: 1})
		want[s.key+" "+s.filter] = true
	}
	got := map[string]bool{}
	x.Walk(func(key, filter string, o Options) bool {
		if o.QoS != 1 {
			t.Errorf("%s %s: options %+v", key, filter, o)
		}
		got[key+" "+filter] = true
		return true
	})
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("walked %v, want %v", got, want)
	}
	n := 0
	x.Walk(func(string, string, Options) bool { n++; return n < 3 })
	if n != 3 {
		t.Fatalf("walk went on after fn returned false: %d calls", n)
	}
}
