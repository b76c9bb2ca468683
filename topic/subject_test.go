package topic

import (
	"strings"
	"testing"
	"unicode/utf8"
)

var subjectVectors = []struct {
	name, subject string
}{
	{"a", "mq.a"},
	{"home/kitchen/temp", "mq.home.kitchen.temp"},
	{"$SYS/broker/uptime", "mqs.$SYS.broker.uptime"},
	{"$", "mqs.$"},
	{"a$/b", "mq.a$.b"},
	{"/", "mq.%.%"},
	{"a//b", "mq.a.%.b"},
	{"/a", "mq.%.a"},
	{"v1.2/x y", "mq.v1%2E2.x%20y"},
	{"%", "mq.%25"},
	{"%%/%25", "mq.%25%25.%2525"},
	{"*", "mq.%2A"},
	{">", "mq.%3E"},
	{"a*b>c", "mq.a%2Ab%3Ec"},
	{"tab\there", "mq.tab%09here"},
	{"del\x7f", "mq.del%7F"},
	{"nul\x00", "mq.nul%00"},
	{"ünïcødé/温度", "mq.ünïcødé.温度"},
	{"c1\u0085", "mq.c1%C2%85"},
	{"bad\xff", "mq.bad%FF"},
	{"$share/g/t", "mqs.$share.g.t"},
}

func TestSubjectVectors(t *testing.T) {
	for _, v := range subjectVectors {
		got, overflow := SubjectOf(v.name)
		if got != v.subject || overflow {
			t.Errorf("SubjectOf(%q) = %q, %v; want %q", v.name, got, overflow, v.subject)
		}
		back, err := NameOfSubject(v.subject)
		if err != nil || back != v.name {
			t.Errorf("NameOfSubject(%q) = %q, %v; want %q", v.subject, back, err, v.name)
		}
	}
}

func TestNameOfSubjectRefusesForeignSubjects(t *testing.T) {
	for _, s := range []string{
		"", "mq", "mq.", "mq..a", "mq.a.", "x.a", "mqx.0123", "mq.*", "mq.a.>",
		"mq.%2", "mq.%zz", "mq.%2e", // short escape, not hex, lower-case hex
		"mq.%61",    // 'a' escaped where it need not be: not canonical
		"mq.$SYS",   // a '$' name under the plain root
		"mqs.SYS",   // a plain name under the '$' root
		"mqs.%.a.b", // empty first level under the '$' root
	} {
		if n, err := NameOfSubject(s); err == nil {
			t.Errorf("NameOfSubject(%q) = %q, want an error", s, n)
		}
	}
}

func TestFilterSubjectsVectors(t *testing.T) {
	for _, v := range []struct {
		filter string
		want   []string
	}{
		{"a/b", []string{"mq.a.b"}},
		{"a/+/c", []string{"mq.a.*.c", "mqx.*"}},
		{"a/#", []string{"mq.a", "mq.a.>", "mqx.*"}},
		{"#", []string{"mq.>", "mqx.*"}},
		{"+", []string{"mq.*", "mqx.*"}},
		{"+/#", []string{"mq.*", "mq.*.>", "mqx.*"}},
		{"$SYS/#", []string{"mqs.$SYS", "mqs.$SYS.>", "mqx.*"}},
		{"$SYS/+/x", []string{"mqs.$SYS.*.x", "mqx.*"}},
		{"a//+", []string{"mq.a.%.*", "mqx.*"}},
		{"a.b/*", []string{"mq.a%2Eb.%2A"}},
	} {
		got := FilterSubjects(v.filter)
		if strings.Join(got, " ") != strings.Join(v.want, " ") {
			t.Errorf("FilterSubjects(%q) = %q, want %q", v.filter, got, v.want)
		}
	}
}

func TestSubjectOverflow(t *testing.T) {
	long := strings.Repeat("level/", MaxSubjectLen/6) + "end"
	s, overflow := SubjectOf(long)
	if !overflow || !strings.HasPrefix(s, SubjectRootOverflow+".") || len(s) != len(SubjectRootOverflow)+17 {
		t.Fatalf("SubjectOf(long) = %q, %v; want an overflow subject", s, overflow)
	}
	if s2, _ := SubjectOf(long + "x"); s2 == s {
		t.Fatalf("two long names share overflow subject %q", s)
	}
	if got := FilterSubjects(long); len(got) != 1 || got[0] != s {
		t.Fatalf("FilterSubjects(long exact) = %q, want [%q]", got, s)
	}
	// A wildcard filter longer than the limit can only match overflowed names.
	if got := FilterSubjects(long + "/#"); len(got) != 1 || got[0] != SubjectRootOverflow+".*" {
		t.Fatalf("FilterSubjects(long/#) = %q", got)
	}
	if _, err := NameOfSubject(s); err == nil {
		t.Fatal("NameOfSubject decoded an overflow subject")
	}
	// Exactly at the limit: its own subject.
	at := strings.Repeat("x", MaxSubjectLen-len(SubjectRoot)-1)
	if s, overflow := SubjectOf(at); overflow || len(s) != MaxSubjectLen {
		t.Fatalf("name at the limit: %d bytes, overflow %v", len(s), overflow)
	}
	if _, overflow := SubjectOf(at + "x"); !overflow {
		t.Fatal("name one past the limit did not overflow")
	}
}

// subjectMatch is a reference matcher of the subject space: '*' matches one
// token, a final '>' one or more.
func subjectMatch(filter, subject string) bool {
	ft := strings.Split(filter, ".")
	st := strings.Split(subject, ".")
	for i, f := range ft {
		if f == ">" {
			return i == len(ft)-1 && len(st) > i
		}
		if i >= len(st) || (f != "*" && f != st[i]) {
			return false
		}
	}
	return len(ft) == len(st)
}

// checkSubjectSpace fails unless s keeps the subject space's rules; wild
// allows the wildcards as whole tokens.
func checkSubjectSpace(t *testing.T, s string, wild bool) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("subject %q is not UTF-8", s)
	}
	toks := strings.Split(s, ".")
	for i, tok := range toks {
		switch {
		case tok == "":
			t.Fatalf("subject %q has an empty token", s)
		case tok == "*" || tok == ">":
			if !wild || (tok == ">" && i != len(toks)-1) {
				t.Fatalf("subject %q has wildcard token %q", s, tok)
			}
		case strings.ContainsAny(tok, "*> \t\r\n\x00\x7f"):
			t.Fatalf("subject %q token %q holds a reserved character", s, tok)
		}
		for _, r := range tok {
			if r < 0x20 || r >= 0x7F && r <= 0x9F {
				t.Fatalf("subject %q holds control character %U", s, r)
			}
		}
	}
}

// checkSubjectCodec checks every promise of the codec for one name and one
// filter.
func checkSubjectCodec(t *testing.T, filter, name string) {
	subj, overflow := SubjectOf(name)
	checkSubjectSpace(t, subj, false)
	if len(subj) > MaxSubjectLen {
		t.Fatalf("SubjectOf(%q) is %d bytes", name, len(subj))
	}
	if !overflow {
		back, err := NameOfSubject(subj)
		if err != nil || back != name {
			t.Fatalf("round trip of %q through %q gave %q, %v", name, subj, back, err)
		}
	}
	if ValidFilter(filter) != nil || ValidName(name) != nil {
		return
	}
	if _, _, shared, err := ParseShared(filter); err != nil || shared {
		return
	}
	subs := FilterSubjects(filter)
	any := false
	for _, s := range subs {
		checkSubjectSpace(t, s, true)
		if subjectMatch(s, subj) {
			any = true
		}
	}
	want := Match(filter, name)
	if overflow {
		if want && !any {
			t.Fatalf("filter %q matches long name %q but none of %q matches %q", filter, name, subs, subj)
		}
		return
	}
	if any != want {
		t.Fatalf("filter %q, name %q: subjects %q vs %q match %v, MQTT says %v", filter, name, subs, subj, any, want)
	}
}

func TestSubjectCodecAgreesWithMatch(t *testing.T) {
	for _, tt := range matchTests {
		checkSubjectCodec(t, tt.filter, tt.topic)
	}
	levels := []string{"a", "b", "", "$SYS", "x.y", "*", ">", "%", "+", "#"}
	var names, filters []string
	for _, l1 := range levels {
		names, filters = append(names, l1), append(filters, l1)
		for _, l2 := range levels {
			s := l1 + "/" + l2
			names, filters = append(names, s), append(filters, s)
			for _, l3 := range levels {
				filters = append(filters, s+"/"+l3)
			}
		}
	}
	for _, f := range filters {
		for _, n := range names {
			checkSubjectCodec(t, f, n)
		}
	}
}

// FuzzSubjectCodec proves the codec injective on names (exact round trips),
// keeps its output inside the subject space's rules, and agrees with Match.
func FuzzSubjectCodec(f *testing.F) {
	for _, v := range subjectVectors {
		f.Add("#", v.name)
	}
	for _, tt := range matchTests {
		f.Add(tt.filter, tt.topic)
	}
	f.Fuzz(func(t *testing.T, filter, name string) {
		checkSubjectCodec(t, filter, name)
		// Two different names never share a subject.
		if other := name + "/"; other != name {
			a, ao := SubjectOf(name)
			b, bo := SubjectOf(other)
			if !ao && !bo && a == b {
				t.Fatalf("%q and %q share subject %q", name, other, a)
			}
		}
	})
}
