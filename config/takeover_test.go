package config

import "testing"

// sessions.takeover_same_user is true, false or auto (the default): auto
// leaves the choice to the broker, same user only when clients authenticate.
func TestTakeoverSameUserValues(t *testing.T) {
	for _, c := range []struct {
		yaml          string
		same, anyUser bool
	}{
		{"", false, false},
		{"sessions:\n  takeover_same_user: auto\n", false, false},
		{"sessions:\n  takeover_same_user: true\n", true, false},
		{"sessions:\n  takeover_same_user: false\n", false, true},
	} {
		f, err := Parse([]byte(c.yaml), "t.yaml")
		if err != nil {
			t.Fatalf("%q: %v", c.yaml, err)
		}
		if s := f.Options.Sessions; s.TakeoverSameUser != c.same || s.TakeoverAnyUser != c.anyUser {
			t.Errorf("%q: same user %v, any user %v; want %v, %v", c.yaml, s.TakeoverSameUser, s.TakeoverAnyUser, c.same, c.anyUser)
		}
	}
	if _, err := Parse([]byte("sessions:\n  takeover_same_user: sometimes\n"), "t.yaml"); err == nil {
		t.Error("takeover_same_user: sometimes accepted")
	}
}
