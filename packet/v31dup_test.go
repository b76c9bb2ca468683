package packet

import "testing"

// TestV31DupFlag: MQTT 3.1 defines a DUP flag (fixed-header bit 3) on
// PUBREL, SUBSCRIBE and UNSUBSCRIBE, set when they are sent again, so a 3.1
// client's 0x6A, 0x8A and 0xAA decode; from 3.1.1 on the bit is reserved and
// the same bytes are malformed [MQTT-2.2.2-2]. Other 3.1 flags stay checked.
func TestV31DupFlag(t *testing.T) {
	cases := []struct {
		name  string
		first byte
		body  []byte
	}{
		{"PUBREL", 0x6a, []byte{0, 1}},
		{"SUBSCRIBE", 0x8a, []byte{0, 1, 0, 1, 'a', 0}},
		{"UNSUBSCRIBE", 0xaa, []byte{0, 1, 0, 1, 'a'}},
	}
	for _, c := range cases {
		if _, err := Decode(c.first, c.body, V31); err != nil {
			t.Errorf("3.1 %s with DUP: %v", c.name, err)
		}
		if _, err := Decode(c.first, c.body, V311); err == nil {
			t.Errorf("3.1.1 %s with DUP decoded, want malformed [MQTT-2.2.2-2]", c.name)
		}
	}
	if _, err := Decode(0x64, []byte{0, 1}, V31); err == nil {
		t.Error("3.1 PUBREL with flags 0100 decoded, want malformed")
	}
	if _, err := Decode(0x48, []byte{0, 1}, V31); err == nil {
		t.Error("3.1 PUBACK with DUP decoded, want malformed")
	}
}
