package packet

import "testing"

// HasControlChar finds U+0001 to U+001F, U+007F and U+0080 to U+009F and
// nothing else (3.1.1 section 1.5.3, 5.0 section 1.5.4).
func TestHasControlChar(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"", false},
		{"a/b/c", false},
		{" ~", false},     // U+0020 and U+007E: printable
		{"\u00a0", false}, // C2 A0: the first code point after C1
		{"\u00ff\u0100", false},
		{"é/ü/€/😀", false},
		{"\ufeff", false}, // BOM: kept [MQTT-1.5.4-3]
		{"\x01", true},
		{"a\tb", true},
		{"a/\x1f", true},
		{"\x7f", true},
		{"\u0080", true},      // C2 80
		{"x\u009f", true},     // C2 9F
		{"\u0085/next", true}, // NEL
		{"\xc2", false},       // not valid UTF-8 (the decoder refuses it); no pair
	} {
		if got := HasControlChar([]byte(tc.s)); got != tc.want {
			t.Errorf("HasControlChar(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

// The scan does not allocate: it runs on every inbound topic.
func TestHasControlCharAllocs(t *testing.T) {
	b := []byte("sensors/building-7/floor-3/room-12/temperature")
	if n := testing.AllocsPerRun(100, func() { HasControlChar(b) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
