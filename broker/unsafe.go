package broker

import "unsafe"

// unsafeBytes views a string's bytes without copying. The result must never be
// written to; the encoders only read it.
func unsafeBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
