package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/roostmq/roost/client"
)

// outFormat is a compiled mosquitto_sub -F format string:
//
//	%[flags][width][.max]X  a message field (X below); flags: '-' left
//	                        aligned, '0' zero padded (numbers)
//	@X                      the time of arrival through strftime's %X;
//	                        @N nanoseconds, @@ an '@'
//	\X                      \\ \0 \a \e \n \r \t \v
//
// Fields: %% a '%', %A topic alias, %C content type, %D correlation data,
// %E message expiry interval, %F payload format indicator, %I ISO 8601
// time, %j JSON with the payload as a string, %J JSON with the payload as
// JSON, %l payload length, %m packet identifier, %P user properties
// (key:value, space separated), %p payload, %q QoS, %R response topic, %r
// retain flag, %S subscription identifier, %t topic, %U Unix time with
// nanoseconds, %x and %X payload in lower and upper case hex.
type outFormat struct {
	items  []fmtItem
	pretty bool      // --pretty: indented JSON for %j and %J
	stderr io.Writer // where %J reports a payload that is not JSON
}

type fmtItem struct {
	lit        string // literal text, when kind is 0
	kind, code byte   // kind '%' or '@'
	left, zero bool
	width, max int // max < 0: no maximum
}

// Which fields take which flags, as mosquitto_sub documents them.
const (
	fmtFields   = "%ACDEFIjJlmPpqRrStUxX"
	fmtZeroPad  = "AEFlmSXx"
	fmtWidth    = "ACEFIlmpRStxX"
	fmtMaxWidth = "CIRt"
	fmtStrftime = "aAbBcCdDeFgGhHIjklmMnprRsStTuUVwWxXyYzZ%+N"
)

// parseFormat compiles s; an unknown or incomplete sequence is an error.
func parseFormat(s string) (*outFormat, error) {
	f := &outFormat{}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			f.items = append(f.items, fmtItem{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			if i+1 == len(s) {
				lit.WriteByte(c)
				continue
			}
			i++
			e, ok := map[byte]byte{'\\': '\\', '0': 0, 'a': '\a', 'e': 0x1b, 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}[s[i]]
			if !ok {
				return nil, fmt.Errorf("-F: invalid escape specifier '%c'", s[i])
			}
			lit.WriteByte(e)
		case '@':
			if i+1 == len(s) {
				return nil, errors.New("-F: incomplete format specifier (a '@' at the end)")
			}
			i++
			if s[i] == '@' {
				lit.WriteByte('@')
				continue
			}
			if !strings.ContainsRune(fmtStrftime, rune(s[i])) {
				return nil, fmt.Errorf("-F: invalid time specifier '@%c'", s[i])
			}
			flush()
			f.items = append(f.items, fmtItem{kind: '@', code: s[i]})
		case '%':
			it := fmtItem{kind: '%', max: -1}
			j := i + 1
			for ; j < len(s) && (s[j] == '-' || s[j] == '0'); j++ {
				it.left = it.left || s[j] == '-'
				it.zero = it.zero || s[j] == '0'
			}
			j, it.width = digits(s, j)
			if j < len(s) && s[j] == '.' {
				j, it.max = digits(s, j+1)
			}
			if j >= len(s) {
				return nil, errors.New("-F: incomplete format specifier (a '%' at the end)")
			}
			it.code = s[j]
			i = j
			if it.code == '%' {
				lit.WriteByte('%')
				continue
			}
			if !strings.ContainsRune(fmtFields, rune(it.code)) {
				return nil, fmt.Errorf("-F: invalid format specifier '%c'", it.code)
			}
			if it.left || !strings.ContainsRune(fmtZeroPad, rune(it.code)) {
				it.zero = false
			}
			if !strings.ContainsRune(fmtWidth, rune(it.code)) {
				it.width = 0
			}
			if !strings.ContainsRune(fmtMaxWidth, rune(it.code)) {
				it.max = -1
			}
			flush()
			f.items = append(f.items, it)
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return f, nil
}

// digits reads a decimal number at s[i:]; 0 when there is none.
func digits(s string, i int) (int, int) {
	n := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = min(n*10+int(s[i]-'0'), 1<<16)
	}
	return i, n
}

// write prints m, which arrived at now.
func (f *outFormat) write(w *bufio.Writer, m *client.Message, now time.Time) {
	for _, it := range f.items {
		switch it.kind {
		case 0:
			w.WriteString(it.lit)
		case '@':
			w.WriteString(strftime(it.code, now))
		case '%':
			f.field(w, it, m, now)
		}
	}
}

func (f *outFormat) field(w *bufio.Writer, it fmtItem, m *client.Message, now time.Time) {
	p := &m.Properties
	var v string
	switch it.code {
	case 'A':
		return // topic aliases are resolved by the client and never shown
	case 'C':
		v = p.ContentType
	case 'D':
		v = string(p.CorrelationData)
	case 'E':
		if p.MessageExpiry > 0 {
			v = strconv.FormatInt(int64(p.MessageExpiry/time.Second), 10)
		}
	case 'F':
		if p.PayloadFormat != 0 {
			v = strconv.Itoa(int(p.PayloadFormat))
		}
	case 'I':
		v = now.Format("2006-01-02T15:04:05-0700")
	case 'j', 'J':
		f.json(w, m, now, it.code == 'J')
		return
	case 'l':
		v = strconv.Itoa(len(m.Payload))
	case 'm':
		v = strconv.Itoa(int(m.PacketID))
	case 'P':
		for i, u := range p.UserProperties {
			if i > 0 {
				w.WriteByte(' ')
			}
			w.WriteString(u.Key)
			w.WriteByte(':')
			w.WriteString(u.Value)
		}
		return
	case 'p':
		v = string(m.Payload)
	case 'q':
		v = strconv.Itoa(int(m.QoS))
	case 'R':
		v = p.ResponseTopic
	case 'r':
		v = "0"
		if m.Retain {
			v = "1"
		}
	case 'S':
		if len(p.SubscriptionIDs) > 0 {
			v = strconv.FormatUint(uint64(p.SubscriptionIDs[0]), 10)
		}
	case 't':
		v = m.Topic
	case 'U':
		v = fmt.Sprintf("%d.%09d", now.Unix(), now.Nanosecond())
	case 'x':
		v = hex.EncodeToString(m.Payload)
	case 'X':
		v = strings.ToUpper(hex.EncodeToString(m.Payload))
	}
	if it.max >= 0 && len(v) > it.max {
		v = v[:it.max]
	}
	pad := it.width - len(v)
	if pad <= 0 {
		w.WriteString(v)
		return
	}
	fill := " "
	if it.zero {
		fill = "0"
	}
	if it.left {
		w.WriteString(v)
		w.WriteString(strings.Repeat(" ", pad))
		return
	}
	w.WriteString(strings.Repeat(fill, pad))
	w.WriteString(v)
}

// jsonField is one member of a JSON object in the order it is printed.
type jsonField struct {
	key string
	raw string  // a JSON value
	obj jsonObj // or a nested object
	set bool    // obj is used
}

type jsonObj []jsonField

// json prints m as mosquitto_sub's %j (payload as a JSON string) or %J
// (payload as JSON; one that is not JSON is reported on stderr and the
// message skipped).
func (f *outFormat) json(w *bufio.Writer, m *client.Message, now time.Time, raw bool) {
	o := jsonObj{
		{key: "tst", raw: jsonString(now.UTC().Format("2006-01-02T15:04:05.000000Z-0700"))},
		{key: "topic", raw: jsonString(m.Topic)},
		{key: "qos", raw: strconv.Itoa(int(m.QoS))},
		{key: "retain", raw: map[bool]string{false: "0", true: "1"}[m.Retain]},
		{key: "payloadlen", raw: strconv.Itoa(len(m.Payload))},
	}
	if m.QoS > 0 {
		o = append(o, jsonField{key: "mid", raw: strconv.Itoa(int(m.PacketID))})
	}
	if props := jsonProps(&m.Properties); len(props) > 0 {
		o = append(o, jsonField{key: "properties", obj: props, set: true})
	}
	if raw {
		if !json.Valid(m.Payload) {
			if f.stderr != nil {
				fmt.Fprintf(f.stderr, "Error: Message payload is not valid JSON on topic %s.\n", m.Topic)
			}
			return
		}
		o = append(o, jsonField{key: "payload", raw: string(m.Payload)})
	} else {
		o = append(o, jsonField{key: "payload", raw: jsonString(string(m.Payload))})
	}
	o.write(w, f.pretty, 0)
}

// jsonProps lists m's MQTT 5 properties in the order of their identifiers,
// which is the order Roost sends them in.
func jsonProps(p *client.Properties) jsonObj {
	var o jsonObj
	if p.PayloadFormat != 0 {
		o = append(o, jsonField{key: "payload-format-indicator", raw: strconv.Itoa(int(p.PayloadFormat))})
	}
	if p.MessageExpiry > 0 {
		o = append(o, jsonField{key: "message-expiry-interval", raw: strconv.FormatInt(int64(p.MessageExpiry/time.Second), 10)})
	}
	if p.ContentType != "" {
		o = append(o, jsonField{key: "content-type", raw: jsonString(p.ContentType)})
	}
	if p.ResponseTopic != "" {
		o = append(o, jsonField{key: "response-topic", raw: jsonString(p.ResponseTopic)})
	}
	if p.CorrelationData != nil {
		o = append(o, jsonField{key: "correlation-data", raw: jsonString(string(p.CorrelationData))})
	}
	if len(p.SubscriptionIDs) > 0 {
		o = append(o, jsonField{key: "subscription-identifier", raw: strconv.FormatUint(uint64(p.SubscriptionIDs[0]), 10)})
	}
	if len(p.UserProperties) > 0 {
		var up jsonObj
		for _, u := range p.UserProperties {
			up = append(up, jsonField{key: u.Key, raw: jsonString(u.Value)})
		}
		o = append(o, jsonField{key: "user-properties", obj: up, set: true})
	}
	return o
}

// write prints o compact, or indented with tabs as mosquitto_sub --pretty.
func (o jsonObj) write(w *bufio.Writer, pretty bool, depth int) {
	w.WriteByte('{')
	for i, fl := range o {
		if i > 0 {
			w.WriteByte(',')
		}
		if pretty {
			w.WriteByte('\n')
			w.WriteString(strings.Repeat("\t", depth+1))
		}
		w.WriteString(jsonString(fl.key))
		w.WriteByte(':')
		if pretty {
			w.WriteByte('\t')
		}
		if fl.set {
			fl.obj.write(w, pretty, depth+1)
		} else {
			w.WriteString(fl.raw)
		}
	}
	if pretty {
		w.WriteByte('\n')
		w.WriteString(strings.Repeat("\t", depth))
	}
	w.WriteByte('}')
}

// jsonString quotes s as a JSON string, escaping only what JSON requires
// (bytes past ASCII pass through as they are, as mosquitto_sub prints
// them).
func jsonString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

var (
	weekdays = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	months   = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
)

// strftime formats t as C's strftime("%c") in the C locale, for the codes
// in fmtStrftime; N is mosquitto_sub's nanoseconds.
func strftime(c byte, t time.Time) string {
	two := func(n int) string { return fmt.Sprintf("%02d", n) }
	switch c {
	case 'a':
		return weekdays[t.Weekday()][:3]
	case 'A':
		return weekdays[t.Weekday()]
	case 'b', 'h':
		return months[t.Month()-1][:3]
	case 'B':
		return months[t.Month()-1]
	case 'c':
		return t.Format("Mon Jan _2 15:04:05 2006")
	case 'C':
		return two(t.Year() / 100)
	case 'd':
		return two(t.Day())
	case 'D', 'x':
		return t.Format("01/02/06")
	case 'e':
		return fmt.Sprintf("%2d", t.Day())
	case 'F':
		return t.Format("2006-01-02")
	case 'g':
		y, _ := t.ISOWeek()
		return two(y % 100)
	case 'G':
		y, _ := t.ISOWeek()
		return strconv.Itoa(y)
	case 'H':
		return two(t.Hour())
	case 'I':
		return two((t.Hour()+11)%12 + 1)
	case 'j':
		return fmt.Sprintf("%03d", t.YearDay())
	case 'k':
		return fmt.Sprintf("%2d", t.Hour())
	case 'l':
		return fmt.Sprintf("%2d", (t.Hour()+11)%12+1)
	case 'm':
		return two(int(t.Month()))
	case 'M':
		return two(t.Minute())
	case 'n':
		return "\n"
	case 'p':
		return t.Format("PM")
	case 'r':
		return t.Format("03:04:05 PM")
	case 'R':
		return t.Format("15:04")
	case 's':
		return strconv.FormatInt(t.Unix(), 10)
	case 'S':
		return two(t.Second())
	case 't':
		return "\t"
	case 'T', 'X':
		return t.Format("15:04:05")
	case 'u':
		return strconv.Itoa((int(t.Weekday())+6)%7 + 1)
	case 'U':
		return two((t.YearDay() + 6 - int(t.Weekday())) / 7)
	case 'V':
		_, wk := t.ISOWeek()
		return two(wk)
	case 'w':
		return strconv.Itoa(int(t.Weekday()))
	case 'W':
		return two((t.YearDay() + 6 - (int(t.Weekday())+6)%7) / 7)
	case 'y':
		return two(t.Year() % 100)
	case 'Y':
		return strconv.Itoa(t.Year())
	case 'z':
		return t.Format("-0700")
	case 'Z':
		return t.Format("MST")
	case '+':
		return t.Format("Mon Jan _2 15:04:05 MST 2006")
	case '%':
		return "%"
	case 'N':
		return strconv.Itoa(t.Nanosecond())
	}
	return ""
}
