package topic

import (
	"errors"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	tests := []struct {
		name  string
		topic string
		want  error
	}{
		{"simple", "sport/tennis/player1", nil},
		{"single level", "sport", nil},
		{"leading slash", "/finance", nil},
		{"trailing slash", "finance/", nil},
		{"only a slash", "/", nil},
		{"empty levels", "a//b", nil},
		{"dollar topic", "$SYS/broker/uptime", nil},
		{"space is a character", " ", nil},
		{"MQTT-4.7.3-4 unicode kept as is", "caf\u00e9/\ufeff", nil},
		{"MQTT-4.7.3-1 empty name", "", ErrEmpty},
		{"MQTT-3.3.2-2 MQTT-4.7.1-1 plus in name", "sport/+/player1", ErrWildcardInName},
		{"MQTT-3.3.2-2 MQTT-4.7.1-1 hash in name", "sport/#", ErrWildcardInName},
		{"MQTT-4.7.0-1 wildcard inside a level", "sp+rt", ErrWildcardInName},
		{"MQTT-4.7.0-1 hash alone", "#", ErrWildcardInName},
		{"MQTT-4.7.3-2 NUL in name", "a\x00b", ErrNullChar},
		{"MQTT-4.7.3-3 max length accepted", strings.Repeat("a", MaxLen), nil},
		{"MQTT-4.7.3-3 too long", strings.Repeat("a", MaxLen+1), ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidName(tt.topic); !errors.Is(err, tt.want) {
				t.Fatalf("ValidName(%.40q) = %v, want %v", tt.topic, err, tt.want)
			}
		})
	}
}

func TestValidFilter(t *testing.T) {
	tests := []struct {
		name   string
		filter string
		want   error
	}{
		{"plain", "sport/tennis/player1", nil},
		{"MQTT-4.7.1-2 hash alone", "#", nil},
		{"MQTT-4.7.1-2 hash after slash", "sport/tennis/#", nil},
		{"MQTT-4.7.1-2 hash after empty level", "/#", nil},
		{"MQTT-4.7.1-2 hash not last", "sport/#/ranking", ErrBadWildcard},
		{"MQTT-4.7.1-2 hash must be last", "#/", ErrBadWildcard},
		{"MQTT-4.7.1-2 hash inside level", "sport/tennis#", ErrBadWildcard},
		{"MQTT-4.7.1-2 hash before text", "sport/#tennis", ErrBadWildcard},
		{"MQTT-4.7.1-2 two hashes", "##", ErrBadWildcard},
		{"MQTT-4.7.1-3 plus alone", "+", nil},
		{"MQTT-4.7.1-3 plus first level", "+/tennis/#", nil},
		{"MQTT-4.7.1-3 plus middle level", "sport/+/player1", nil},
		{"MQTT-4.7.1-3 plus last level", "sport/+", nil},
		{"MQTT-4.7.1-3 plus levels", "+/+", nil},
		{"MQTT-4.7.1-3 plus with empty levels", "/+/", nil},
		{"MQTT-4.7.1-3 plus inside level", "sport+", ErrBadWildcard},
		{"MQTT-4.7.1-3 plus before text", "sport/+tennis", ErrBadWildcard},
		{"MQTT-4.7.1-3 two pluses", "++", ErrBadWildcard},
		{"dollar filter", "$SYS/#", nil},
		{"share prefix is plain syntax here", "$share/g/a", nil},
		{"MQTT-4.7.3-1 empty filter", "", ErrEmpty},
		{"MQTT-4.7.3-2 NUL in filter", "a/\x00", ErrNullChar},
		{"MQTT-4.7.3-3 too long", strings.Repeat("a", MaxLen+1), ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidFilter(tt.filter); !errors.Is(err, tt.want) {
				t.Fatalf("ValidFilter(%.40q) = %v, want %v", tt.filter, err, tt.want)
			}
		})
	}
}

func TestParseShared(t *testing.T) {
	tests := []struct {
		name          string
		filter        string
		group, inner  string
		shared        bool
		want, wantToo error
	}{
		{"not shared", "a/b", "", "a/b", false, nil, nil},
		{"not shared invalid", "a/#/b", "", "a/b", false, ErrBadWildcard, nil},
		{"not shared: no slash after share", "$share", "", "$share", false, nil, nil},
		{"not shared: other dollar", "$SYS/#", "", "$SYS/#", false, nil, nil},
		{"MQTT-4.8.2-1 shared", "$share/g1/sport/#", "g1", "sport/#", true, nil, nil},
		{"MQTT-4.8.2-1 shared single level", "$share/g/+", "g", "+", true, nil, nil},
		{"MQTT-4.8.2-1 shared inner leading slash", "$share/g//a", "g", "/a", true, nil, nil},
		{"MQTT-4.8.2-1 empty share name", "$share//a", "", "", true, ErrBadShare, nil},
		{"MQTT-4.8.2-1 nothing after prefix", "$share/", "", "", true, ErrBadShare, nil},
		{"MQTT-4.8.2-2 no filter", "$share/g", "", "", true, ErrBadShare, nil},
		{"MQTT-4.8.2-2 empty filter", "$share/g/", "", "", true, ErrBadShare, nil},
		{"MQTT-4.8.2-2 plus in share name", "$share/g+/a", "", "", true, ErrBadShare, nil},
		{"MQTT-4.8.2-2 hash in share name", "$share/#/a", "", "", true, ErrBadShare, nil},
		{"MQTT-4.8.2-2 whole-level plus share name", "$share/+/a", "", "", true, ErrBadShare, nil},
		{"MQTT-4.8.2-2 bad inner filter", "$share/g/a#", "", "", true, ErrBadShare, ErrBadWildcard},
		{"MQTT-4.7.3-2 NUL in share name", "$share/g\x00/a", "", "", true, ErrNullChar, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			group, inner, shared, err := ParseShared(tt.filter)
			if !errors.Is(err, tt.want) || (tt.wantToo != nil && !errors.Is(err, tt.wantToo)) {
				t.Fatalf("ParseShared(%q) err = %v, want %v", tt.filter, err, tt.want)
			}
			if shared != tt.shared {
				t.Fatalf("ParseShared(%q) shared = %v, want %v", tt.filter, shared, tt.shared)
			}
			if err == nil && (group != tt.group || inner != tt.inner) {
				t.Fatalf("ParseShared(%q) = %q, %q, want %q, %q", tt.filter, group, inner, tt.group, tt.inner)
			}
		})
	}
}

func TestLevels(t *testing.T) {
	for s, want := range map[string]int{"": 0, "a": 1, "/": 2, "a/b/c": 3, "/a/": 3, "#": 1} {
		if got := Levels(s); got != want {
			t.Errorf("Levels(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestCheckLimits(t *testing.T) {
	tests := []struct {
		name              string
		s                 string
		maxLen, maxLevels int
		want              error
	}{
		{"no limits", "a/b/c", 0, 0, nil},
		{"within", "a/b/c", 5, 3, nil},
		{"too long", "a/b/c", 4, 0, ErrTooLong},
		{"too many levels", "a/b/c", 0, 2, ErrTooManyLevels},
		{"MQTT-4.7.3-3 protocol maximum always applies", strings.Repeat("a", MaxLen+1), 1 << 20, 0, ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckLimits(tt.s, tt.maxLen, tt.maxLevels); !errors.Is(err, tt.want) {
				t.Fatalf("CheckLimits = %v, want %v", err, tt.want)
			}
		})
	}
}
