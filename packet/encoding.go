package packet

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"
)

// MaxVarint is the largest value a variable byte integer can hold (four bytes).
const MaxVarint = 268435455

// AppendVarint appends v as a variable byte integer. v must not exceed MaxVarint.
func AppendVarint(dst []byte, v uint32) []byte {
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(dst, b)
		}
		dst = append(dst, b|0x80)
	}
}

// VarintLen reports how many bytes AppendVarint writes for v.
func VarintLen(v uint32) int {
	switch {
	case v < 1<<7:
		return 1
	case v < 1<<14:
		return 2
	case v < 1<<21:
		return 3
	}
	return 4
}

// ReadVarint decodes a variable byte integer from the start of b and returns
// the value and its length. It reports ErrIncomplete when b ends inside the
// integer, and MalformedPacket for a fifth byte or a non-shortest encoding.
// [MQTT-1.5.5-1]
func ReadVarint(b []byte) (uint32, int, error) {
	var v uint32
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0, ErrIncomplete
		}
		c := b[i]
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if i > 0 && c == 0 {
				return 0, 0, errVarintLong
			}
			return v, i + 1, nil
		}
	}
	return 0, 0, errVarintSize
}

var (
	errVarintLong = errorf(MalformedPacket, "variable byte integer not in its shortest form")
	errVarintSize = errorf(MalformedPacket, "variable byte integer longer than 4 bytes")
	errShort      = errorf(MalformedPacket, "packet shorter than its fields")
	errUTF8       = errorf(MalformedPacket, "invalid UTF-8 string")
	errNUL        = errorf(MalformedPacket, "UTF-8 string contains U+0000")
	errTrailing   = errorf(MalformedPacket, "unexpected bytes after the last field")
)

// ValidUTF8 reports whether b is a well-formed MQTT UTF-8 string: valid UTF-8,
// no surrogate code points (Go's decoder rejects them) and no U+0000. A BOM
// (EF BB BF) is valid and kept. [MQTT-1.5.4-1] [MQTT-1.5.4-2] [MQTT-1.5.4-3]
// [MQTT-1.5.3-1] [MQTT-1.5.3-2] [MQTT-1.5.3-3]
func ValidUTF8(b []byte) error {
	if bytes.IndexByte(b, 0) >= 0 {
		return errNUL
	}
	if !utf8.Valid(b) {
		return errUTF8
	}
	return nil
}

// HasControlChar reports whether the UTF-8 string b contains a control
// character: U+0001 to U+001F, U+007F, or U+0080 to U+009F (C1). The
// specifications say strings SHOULD NOT contain them and let a receiver
// treat a packet that does as malformed; the decoder accepts them, and the
// broker refuses them in client identifiers, user names, topic names and
// filters unless configured otherwise. b must be valid UTF-8 (ValidUTF8), so
// a C1 character is the byte pair C2 80 to C2 9F. U+0000 is ValidUTF8's.
// (3.1.1 section 1.5.3 and 5.0 section 1.5.4; the statement has no ID.)
func HasControlChar(b []byte) bool {
	for i, c := range b {
		if c < 0x20 || c == 0x7f || (c == 0xc2 && i+1 < len(b) && b[i+1] < 0xa0) {
			return true
		}
	}
	return false
}

// reader is a cursor over one packet body. The first failure sticks in err so
// callers can read several fields and check once.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail(errShort)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) u16() uint16 {
	if len(r.b) < 2 {
		r.fail(errShort)
		return 0
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *reader) u32() uint32 {
	if len(r.b) < 4 {
		r.fail(errShort)
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *reader) varint() uint32 {
	v, n, err := ReadVarint(r.b)
	if err != nil {
		if err == ErrIncomplete {
			err = errShort
		}
		r.fail(err)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// binary reads two-byte-length-prefixed data, aliasing the body.
func (r *reader) binary() []byte {
	n := int(r.u16())
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.fail(errShort)
		return nil
	}
	if n == 0 {
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// str reads a UTF-8 string, validated, aliasing the body.
func (r *reader) str() []byte {
	v := r.binary()
	if r.err == nil {
		if err := ValidUTF8(v); err != nil {
			r.fail(err)
		}
	}
	return v
}

// end fails if bytes remain.
func (r *reader) end() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail(errTrailing)
	}
	return r.err
}

func appendU16(dst []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(dst, v) }

func appendU32(dst []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(dst, v) }

func appendBinary(dst, v []byte) []byte {
	dst = appendU16(dst, uint16(len(v)))
	return append(dst, v...)
}

// appendHeader appends a fixed header for a body of n bytes.
func appendHeader(dst []byte, first byte, n int) []byte {
	return AppendVarint(append(dst, first), uint32(n))
}
