package topic

import (
	"errors"
	"hash/fnv"
	"strings"
	"unicode/utf8"
)

// The subject codec maps MQTT topic names and filters to subjects of a
// dot-separated subject space such as NATS's, for a cluster whose routes
// carry interest as subjects (the cluster design, section 7.1 item 3). It
// is exact: a topic's subject matches a filter's subjects if and only if
// the topic matches the filter (the MQTT rules, '$' topics included),
// except for names too long for a subject, which all share one overflow
// subject and are told apart by the receiver's own index.
//
// The subject space's rules, which every encoded subject keeps:
//   - tokens are separated by '.', and no token is empty;
//   - '*' and '>' appear only as whole tokens, and only in filter
//     subjects, where they are the wildcards ('>' last);
//   - no token holds whitespace, a control character or invalid UTF-8.
//
// A name's subject is a root token and then one token per level:
//
//	home/kitchen/temp  ->  mq.home.kitchen.temp
//	$SYS/broker/uptime ->  mqs.$SYS.broker.uptime
//	a//b               ->  mq.a.%.b          (an empty level is "%")
//	v1.2/x y           ->  mq.v1%2E2.x%20y
//
// '$' topics have a root of their own, so a filter that begins with a
// wildcard cannot reach them [MQTT-4.7.2-1]. Within a level, '%', '.', '*',
// '>', ASCII space and control characters, DEL, the C1 controls and bytes
// that are not UTF-8 are written as '%' and two upper-case hex digits;
// every other byte stands for itself. A level is never written as a lone
// "%" otherwise, so the empty level's token is unambiguous and the mapping
// is injective.
const (
	// SubjectRoot is the first token of the subject of a name that does
	// not begin with '$'.
	SubjectRoot = "mq"
	// SubjectRootDollar is the first token of the subject of a name that
	// begins with '$'.
	SubjectRootDollar = "mqs"
	// SubjectRootOverflow is the first token of the subject of a name
	// whose subject would exceed MaxSubjectLen; its second token is a hash
	// of the name.
	SubjectRootOverflow = "mqx"
	// MaxSubjectLen is the longest subject the codec writes for a name.
	// Longer ones go to the overflow subject.
	MaxSubjectLen = 1024
)

// ErrBadSubject is returned by NameOfSubject for a subject that is not the
// encoding of a topic name.
var ErrBadSubject = errors.New("topic: not the subject of a topic name")

const hexDigits = "0123456789ABCDEF"

// SubjectOf returns the subject of a topic name. overflow reports that the
// name is too long for its own subject: the result is then the overflow
// subject for the name, shared by all names with the same hash, and the
// message must carry its name beside it.
func SubjectOf(name string) (subject string, overflow bool) {
	b := AppendSubject(make([]byte, 0, len(name)+8), name)
	if len(b) > MaxSubjectLen {
		return overflowSubject(name), true
	}
	return string(b), false
}

// AppendSubject appends the subject of a topic name to dst, whatever its
// length (SubjectOf applies the overflow rule).
func AppendSubject(dst []byte, name string) []byte {
	if strings.HasPrefix(name, "$") {
		dst = append(dst, SubjectRootDollar...)
	} else {
		dst = append(dst, SubjectRoot...)
	}
	for {
		level, rest, last := nextLevel(name)
		dst = append(dst, '.')
		dst = appendLevel(dst, level)
		if last {
			return dst
		}
		name = rest
	}
}

// overflowSubject is the subject of a name too long for its own.
func overflowSubject(name string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	sum := h.Sum64()
	b := make([]byte, 0, len(SubjectRootOverflow)+17)
	b = append(b, SubjectRootOverflow...)
	b = append(b, '.')
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[sum>>uint(shift)&0xF])
	}
	return string(b)
}

// appendLevel appends one level's token.
func appendLevel(dst []byte, level string) []byte {
	if level == "" {
		return append(dst, '%')
	}
	for i := 0; i < len(level); {
		c := level[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == 0x7F || c == '%' || c == '.' || c == '*' || c == '>' {
				dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&0xF])
			} else {
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(level[i:])
		if r == utf8.RuneError && n == 1 || r >= 0x80 && r <= 0x9F {
			for _, b := range []byte(level[i : i+n]) {
				dst = append(dst, '%', hexDigits[b>>4], hexDigits[b&0xF])
			}
		} else {
			dst = append(dst, level[i:i+n]...)
		}
		i += n
	}
	return dst
}

// NameOfSubject decodes the subject of a topic name. The overflow subject
// cannot be decoded: it returns ErrBadSubject, as does any subject that
// SubjectOf would not have written.
func NameOfSubject(subject string) (string, error) {
	root, rest, ok := strings.Cut(subject, ".")
	if !ok || (root != SubjectRoot && root != SubjectRootDollar) {
		return "", ErrBadSubject
	}
	var b strings.Builder
	b.Grow(len(rest))
	for i := 0; ; i++ {
		tok, more, found := strings.Cut(rest, ".")
		if i > 0 {
			b.WriteByte('/')
		}
		if err := decodeLevel(&b, tok); err != nil {
			return "", err
		}
		if !found {
			break
		}
		rest = more
	}
	name := b.String()
	if (root == SubjectRootDollar) != strings.HasPrefix(name, "$") {
		return "", ErrBadSubject
	}
	if len(AppendSubject(nil, name)) != len(subject) {
		// Not the canonical encoding (an escape where none is needed, or
		// lower-case hex): another subject is this name's.
		return "", ErrBadSubject
	}
	return name, nil
}

func decodeLevel(b *strings.Builder, tok string) error {
	if tok == "%" {
		return nil // the empty level
	}
	if tok == "" || tok == "*" || tok == ">" {
		return ErrBadSubject
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(tok) {
			return ErrBadSubject
		}
		hi, lo := unhex(tok[i+1]), unhex(tok[i+2])
		if hi < 0 || lo < 0 {
			return ErrBadSubject
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 2
	}
	return nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// FilterSubjects returns the subjects, with the subject space's wildcards,
// that a node holding filter must be subscribed to: a subject of a name
// matches one of them exactly when the name matches filter. A filter
// ending in "#" needs two (the parent level matches too [MQTT-4.7.1-2]);
// one that could match a name too long for its own subject also needs the
// overflow subjects (all of them for a wildcard filter, the name's own for
// an exact one), whose messages the node's own index must then match. The
// filter must be valid and not a shared subscription ("$share/g/f": pass
// the inner filter).
func FilterSubjects(filter string) []string {
	var b []byte
	if strings.HasPrefix(filter, "$") {
		b = append(b, SubjectRootDollar...)
	} else {
		b = append(b, SubjectRoot...)
	}
	exact := filter
	wild, first := false, true
	out := make([]string, 0, 3)
	for {
		level, rest, last := nextLevel(filter)
		switch level {
		case "+":
			b = append(b, ".*"...)
			wild = true
		case "#":
			// The parent alone, then every child. "#" alone has no parent:
			// a name has at least one level.
			if !first {
				out = append(out, string(b))
			}
			b = append(b, ".>"...)
			wild = true
		default:
			b = append(b, '.')
			b = appendLevel(b, level)
		}
		if last {
			break
		}
		filter, first = rest, false
	}
	out = append(out, string(b))
	if !wild {
		if len(b) > MaxSubjectLen {
			return []string{overflowSubject(exact)}
		}
		return out
	}
	// A subject with wildcards matches only subjects at least as long as
	// itself: one longer than the limit can match only overflowed names.
	kept := out[:0]
	for _, s := range out {
		if len(s) <= MaxSubjectLen {
			kept = append(kept, s)
		}
	}
	return append(kept, SubjectRootOverflow+".*")
}
