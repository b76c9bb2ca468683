package topic

import (
	"strings"
	"testing"
)

// matchTests are shared by the tests of Match, Index.Match and
// Retained.Match, so the three agree.
var matchTests = []struct {
	name   string
	filter string
	topic  string
	want   bool
}{
	{"exact", "sport/tennis/player1", "sport/tennis/player1", true},
	{"exact differs", "sport/tennis/player1", "sport/tennis/player2", false},
	{"prefix is not a match", "sport/tennis", "sport/tennis/player1", false},
	{"longer filter", "sport/tennis/player1/x", "sport/tennis/player1", false},
	{"MQTT-4.7.1-2 hash matches children", "sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
	{"MQTT-4.7.1-2 hash matches grandchildren", "sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
	{"MQTT-4.7.1-2 hash matches parent", "sport/#", "sport", true},
	{"MQTT-4.7.1-2 hash matches parent deep", "sport/tennis/player1/#", "sport/tennis/player1", true},
	{"MQTT-4.7.1-2 hash does not match sibling", "sport/tennis/#", "sport/football", false},
	{"MQTT-4.7.1-2 hash matches empty child", "sport/#", "sport/", true},
	{"MQTT-4.7.1-2 hash alone", "#", "sport/tennis", true},
	{"MQTT-4.7.1-2 hash alone leading slash", "#", "/finance", true},
	{"MQTT-4.7.1-2 plus then hash matches one level", "+/#", "sport", true},
	{"MQTT-4.7.1-3 plus one level", "sport/tennis/+", "sport/tennis/player1", true},
	{"MQTT-4.7.1-3 plus not two levels", "sport/tennis/+", "sport/tennis/player1/ranking", false},
	{"MQTT-4.7.1-3 plus not parent", "sport/+", "sport", false},
	{"MQTT-4.7.1-3 plus empty level", "sport/+", "sport/", true},
	{"MQTT-4.7.1-3 plus plus", "+/+", "/finance", true},
	{"MQTT-4.7.1-3 slash plus", "/+", "/finance", true},
	{"MQTT-4.7.1-3 plus not leading slash topic", "+", "/finance", false},
	{"MQTT-4.7.1-3 plus alone", "+", "finance", true},
	{"MQTT-4.7.1-3 plus middle", "sport/+/player1", "sport/tennis/player1", true},
	{"MQTT-4.7.1-3 plus middle mismatch", "sport/+/player1", "sport/tennis/player2", false},
	{"MQTT-4.7.2-1 hash not dollar", "#", "$SYS/uptime", false},
	{"MQTT-4.7.2-1 plus not dollar", "+/monitor/Clients", "$SYS/monitor/Clients", false},
	{"MQTT-4.7.2-1 plus alone not dollar", "+", "$SYS", false},
	{"MQTT-4.7.2-1 dollar filter hash", "$SYS/#", "$SYS/monitor/Clients", true},
	{"MQTT-4.7.2-1 dollar filter parent", "$SYS/#", "$SYS", true},
	{"MQTT-4.7.2-1 dollar filter plus", "$SYS/monitor/+", "$SYS/monitor/Clients", true},
	{"MQTT-4.7.2-1 dollar only rule for first level", "a/+", "a/$b", true},
	{"MQTT-4.7.2-1 dollar only rule for first level hash", "a/#", "a/$b", true},
	{"MQTT-4.7.3-4 case sensitive", "ACCOUNTS", "Accounts", false},
	{"MQTT-4.7.3-4 spaces significant", "Accounts payable", "Accounts payable", true},
	{"MQTT-4.7.3-4 no trimming", "a ", "a", false},
	{"MQTT-4.7.3-4 leading slash is a level", "/finance", "finance", false},
	{"MQTT-4.7.3-4 trailing slash is a level", "finance/", "finance", false},
	{"MQTT-4.7.3-4 unicode exact", "caf\u00e9", "cafe\u0301", false},
	{"empty levels", "a//b", "a//b", true},
	{"plus matches empty middle", "a/+/b", "a//b", true},
}

func TestMatch(t *testing.T) {
	for _, tt := range matchTests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Match(tt.filter, tt.topic); got != tt.want {
				t.Fatalf("Match(%q, %q) = %v, want %v", tt.filter, tt.topic, got, tt.want)
			}
			if got := refMatch(tt.filter, tt.topic); got != tt.want {
				t.Fatalf("refMatch(%q, %q) = %v, want %v", tt.filter, tt.topic, got, tt.want)
			}
		})
	}
}

func TestMatchInvalidInputDoesNotPanic(t *testing.T) {
	for _, f := range []string{"", "#/a", "a#", "+a", "/", "//#"} {
		for _, n := range []string{"", "a", "$", "/", "a/+/#"} {
			Match(f, n)
		}
	}
}

func TestMatchAllocs(t *testing.T) {
	var sink bool
	allocs := testing.AllocsPerRun(100, func() {
		for _, tt := range matchTests {
			sink = Match(tt.filter, tt.topic) != sink
		}
	})
	if allocs != 0 {
		t.Fatalf("Match allocates %v times per run, want 0", allocs)
	}
}

// refMatch is a slow, obvious implementation of topic matching, used to
// check Match and the indexes.
func refMatch(filter, topic string) bool {
	if filter == "" || topic == "" {
		return false
	}
	if topic[0] == '$' && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	f := strings.Split(filter, "/")
	n := strings.Split(topic, "/")
	for i, level := range f {
		if level == "#" {
			return i == len(f)-1 // matches everything from here, parent included
		}
		if i >= len(n) {
			return false
		}
		if level != "+" && level != n[i] {
			return false
		}
	}
	return len(f) == len(n)
}
