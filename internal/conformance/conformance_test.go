package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Paths relative to this package's directory (where go test runs).
var (
	repoRoot = filepath.Join("..", "..")
	specDir  = filepath.Join("..", "..", "..", "shared", "spec")
)

// TestConformanceDocUpToDate regenerates docs/conformance.md in memory and
// fails if the committed file differs; with ROOST_UPDATE_CONFORMANCE=1 it
// rewrites the file instead.
func TestConformanceDocUpToDate(t *testing.T) {
	if _, err := os.Stat(specDir); errors.Is(err, fs.ErrNotExist) {
		abs, _ := filepath.Abs(specDir)
		t.Skipf("MQTT normative lists not found at %s (the shared/spec folder beside the repository): "+
			"cannot check %s; CI has them", abs, DocPath)
	}
	want, err := Generate(specDir, repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	docFile := filepath.Join(repoRoot, filepath.FromSlash(DocPath))
	if os.Getenv("ROOST_UPDATE_CONFORMANCE") == "1" {
		if err := os.WriteFile(docFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", DocPath)
		return
	}
	have, err := os.ReadFile(docFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if !bytes.Equal(have, want) {
		t.Fatalf("%s is out of date (tagged code or tests changed). Regenerate it from the repository root with\n\n"+
			"\t%s\n\nand commit the result.\n%s", DocPath, RegenerateCommand, firstDiff(have, want))
	}
}

// firstDiff describes the first line where have and want differ.
func firstDiff(have, want []byte) string {
	if len(have) == 0 {
		return "The file is missing or empty."
	}
	h := strings.Split(string(have), "\n")
	w := strings.Split(string(want), "\n")
	for i := 0; i < len(h) || i < len(w); i++ {
		var hl, wl string
		if i < len(h) {
			hl = h[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if hl != wl || i >= len(h) || i >= len(w) {
			return fmt.Sprintf("First difference at line %d:\n  file:      %q\n  generated: %q", i+1, hl, wl)
		}
	}
	return ""
}

// TestScanRepo checks that the repository parses and carries tags, with or
// without the normative lists.
func TestScanRepo(t *testing.T) {
	hits, err := ScanRepo(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) == 0 {
		t.Fatal("no MQTT-x.x.x-x tags found in the repository")
	}
	for _, h := range hits {
		if strings.HasPrefix(h.File, selfDir+"/") {
			t.Errorf("%s:%d: this package must not be scanned", h.File, h.Line)
		}
	}
}

const specV311 = `# MQTT 3.1.1 normative statements

- **[S]** binds the Server, **[C]** binds the Client only,
  **[B]** binds both.

Misprints: ` + "`[MQTT-3-8.3-4]`" + ` as MQTT-3.8.3-4.

## 2.3 Packet Identifier

- **[MQTT-2.3.1-1]** [B] Text that is not kept.
- **[MQTT-2.3.1-2]** [C] Client text.

## 3.4 – 3.7 PUBACK, PUBREC, PUBREL, PUBCOMP

- **[MQTT-3.4.2-1]** [S] Server text.

## 3.8 SUBSCRIBE

- **[MQTT-3.8.3-10]** [S] Ten.
- **[MQTT-3.8.3-4]** [S] Four.

## 4.2 Network connections

- **[MQTT-4.2-1]** [S] Two-part identifier.
`

func TestParseSpec(t *testing.T) {
	sp, err := ParseSpec(V311, specV311)
	if err != nil {
		t.Fatal(err)
	}
	wantSections := []string{"2.3", "3.4 – 3.7", "3.8", "4.2"}
	if !slices.Equal(sp.Sections, wantSections) {
		t.Errorf("sections = %q, want %q", sp.Sections, wantSections)
	}
	want := []Statement{
		{"MQTT-2.3.1-1", "2.3", 'B'},
		{"MQTT-2.3.1-2", "2.3", 'C'},
		{"MQTT-3.4.2-1", "3.4 – 3.7", 'S'},
		{"MQTT-3.8.3-10", "3.8", 'S'},
		{"MQTT-3.8.3-4", "3.8", 'S'},
		{"MQTT-4.2-1", "4.2", 'S'},
	}
	if !slices.Equal(sp.Statements, want) {
		t.Errorf("statements =\n%v\nwant\n%v", sp.Statements, want)
	}
}

func TestParseSpecErrors(t *testing.T) {
	for _, tt := range []struct{ name, text, want string }{
		{"no statements", "# title\n\n## 1.5 Data\n", "no statements"},
		{"statement before heading", "- **[MQTT-1.5.3-1]** [B] x\n", "before any section heading"},
		{"listed twice", "## 1.5 D\n- **[MQTT-1.5.3-1]** [B] x\n- **[MQTT-1.5.3-1]** [S] y\n", "listed twice"},
		{"bad tag", "## 1.5 D\n- **[MQTT-1.5.3-1]** [X] x\n", "has tag [X]"},
		{"bad id", "## 1.5 D\n- **[MQTT-1.5.3]** [B] x\n", "malformed identifier"},
		{"heading without number", "## Data\n", "without a number"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSpec(V5, tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestNormalizeID(t *testing.T) {
	for in, want := range map[string]string{
		"MQTT-3-8.3-4":  "MQTT-3.8.3-4",
		"MQTT-3.8.3-4":  "MQTT-3.8.3-4",
		"MQTT-4.2-1":    "MQTT-4.2-1",
		"MQTT-3.1.2-10": "MQTT-3.1.2-10",
	} {
		if got := normalizeID(in); got != want {
			t.Errorf("normalizeID(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAttribute checks the version rules on single comments and case names:
// each case lists the versions of every identifier of text, in order.
func TestAttribute(t *testing.T) {
	for _, tt := range []struct {
		name     string
		text     string
		isString bool
		want     []versions
	}{
		{"no marker", "// [MQTT-3.3.1-4]", false, []versions{bothVersions}},
		{"two ids no marker", "MQTT-3.3.2-2 MQTT-4.7.1-1 plus in name", true, []versions{bothVersions, bothVersions}},
		{"rule 1 paren after", "// [MQTT-3.8.3-3] (3.1.1)", false, []versions{only(V311)}},
		{"rule 1 pair", "// [MQTT-4.7.1-3] (3.1.1), [MQTT-4.7.1-2] (5.0): + fills", false, []versions{only(V311), only(V5)}},
		{"rule 1 in", "// [MQTT-4.7.1-2] (3.1.1) is [MQTT-4.7.1-1] in 5.0.", false, []versions{only(V311), only(V5)}},
		{"rule 1 case name v311", "MQTT-3.1.2-1 v311 minimal", true, []versions{only(V311)}},
		{"rule 1 case name v5", "MQTT-3.1.2-3 v5 CONNACK trailing bytes", true, []versions{only(V5)}},
		{"rule 1 case name v31", "MQTT-3.1.2-1 v31 protocol name", true, []versions{only(V311)}},
		{"rule 1 upper case", "MQTT-3.1.2-1 V5 x", true, []versions{only(V5)}},
		{"rule 2 label after", "// [MQTT-3.1.2-12] (3.1.1: [MQTT-3.1.2-14])", false, []versions{only(V5), only(V311)}},
		{"rule 3 before", "// 3.1.1 [MQTT-3.1.2-22]", false, []versions{only(V311)}},
		{"rule 4 group", "// [MQTT-3.1.2-11] [MQTT-3.1.2-13] (3.1.1: [MQTT-3.1.2-13] [MQTT-3.1.2-15])", false,
			[]versions{only(V5), only(V5), only(V311), only(V311)}},
		{"rule 4 group after text", "// [MQTT-4.3.3-2] (3.1.1: method B, [MQTT-4.3.3-2])", false, []versions{only(V5), only(V311)}},
		{"run then marker", "// [MQTT-3.3.1-5] [MQTT-3.3.1-6], [MQTT-3.3.1-7] (3.1.1)", false,
			[]versions{only(V311), only(V311), only(V311)}},
		{"marker then run", "// 3.1.1 [MQTT-3.1.3-7] [MQTT-3.1.3-8]", false, []versions{only(V311), only(V311)}},
		{"marker ends run", "// [MQTT-3.3.1-8] (3.1.1) [MQTT-3.3.1-9]", false, []versions{only(V311), bothVersions}},
		{"colon is not a separator", "// [MQTT-3.1.2-2]: 3.1.1 return code 1; 5.0 reason 0x84.", false, []versions{bothVersions}},
		{"rule 4 closed group", "// (3.1.1: [MQTT-3.1.2-13]) and [MQTT-3.1.2-15]", false, []versions{only(V311), bothVersions}},
		{"rule 5 string", "MQTT-3-8.3-4 SUBSCRIBE reserved option bits in 3.1.1", true, []versions{only(V311)}},
		{"rule 5 not for comments", "// [MQTT-3.8.3-4] reserved bits, as in 3.1.1", false, []versions{bothVersions}},
		{"rule 5 conflicting", "MQTT-3.8.3-4 same in 3.1.1 and 5.0", true, []versions{bothVersions}},
		{"not a marker inside a word", "MQTT-3.8.3-4 v3x and 15.0 and 3.1.10", true, []versions{bothVersions}},
		{"semicolon is not next to", "// [MQTT-4.7.3-1]; MQTT 5 allows it", false, []versions{bothVersions}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ms := idRE.FindAllStringIndex(tt.text, -1)
			var got []versions
			for i := range ms {
				got = append(got, attribute(tt.text, ms, i, tt.isString))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("versions = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFuncNameVersions(t *testing.T) {
	for name, want := range map[string]versions{
		"TestMQTT_3_1_2_4":          bothVersions,
		"TestMQTT_3_1_2_4_v5":       only(V5),
		"TestMQTT_3_1_2_4_V311_Foo": only(V311),
		"TestMQTT_3_1_2_4_v5_v3":    bothVersions,
		"TestMQTT_3_1_2_4_v50":      bothVersions,
	} {
		if got := funcNameVersions(name); got != want {
			t.Errorf("funcNameVersions(%q) = %v, want %v", name, got, want)
		}
	}
}

// Inline sources for the scanner tests, keyed by path like ScanSources.
var demoSources = map[string]string{
	"demo/codec.go": `package demo

// Decode reads a packet. [MQTT-2.3.1-1]
func Decode(b []byte) error {
	if len(b) == 0 {
		return nil // [MQTT-3.8.3-3] (3.1.1)
	}
	/* several lines:
	   [MQTT-3-8.3-4] */
	return errorf("bad [MQTT-4.2-1]")
}
`,
	"demo/codec_test.go": `package demo

import "testing"

// The shared table.
var vectors = []struct{ name string }{
	{"MQTT-3.3.1-4 PUBLISH QoS 3"},
	{"MQTT-3-8.3-4 reserved option bits in 3.1.1"},
	{"MQTT-3.1.2-4 v5 clean start"},
}

var all = [][]struct{ name string }{vectors}

func TestDecode(t *testing.T) {
	for range all { t.Run("case", nil)
	}
}

func check() {
	// [MQTT-1.5.3-1]
}

func TestEncode(t *testing.T) { check() }

// TestWill proves [MQTT-3.1.2-8].
func TestWill(t *testing.T) {
	t.Run("MQTT-3.1.2-10 will   deleted", func(t *testing.T) {
		// [MQTT-3.1.2-12] (5.0)
	})
}

func TestMQTT_3_3_1_2_v311(t *testing.T) {}

func FuzzMQTT_4_2_1(f *testing.F) {}

type fake struct{}

func (*fake) Send() {
	_ = "MQTT-9.9.9-9 unknown"
}
`,
	"demo/other_test.go": `package demo_test

import "testing"

func TestOther(t *testing.T) { _ = vectors }
`,
}

func demoHits(t *testing.T) []Hit {
	t.Helper()
	files := make(map[string][]byte)
	for name, src := range demoSources {
		files[name] = []byte(src)
	}
	hits, err := ScanSources(files)
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

func (h Hit) String() string {
	s := fmt.Sprintf("%s:%d %s [%s]", h.File, h.Line, h.ID, h.Versions)
	if h.Test {
		s += fmt.Sprintf(" test ctx=%q tests=%v runners=%d", h.Context, h.Tests, h.Runners)
		if h.Case != "" {
			s += fmt.Sprintf(" case=%q", h.Case)
		}
	} else {
		s += fmt.Sprintf(" ctx=%q", h.Context)
	}
	return s
}

func TestScanSources(t *testing.T) {
	var got []string
	for _, h := range demoHits(t) {
		got = append(got, h.String())
	}
	want := []string{
		// Enforcement: file:line, the versions from the text next to the tag.
		`demo/codec.go:3 MQTT-2.3.1-1 [3.1.1 and 5.0] ctx="Decode"`,
		`demo/codec.go:6 MQTT-3.8.3-3 [3.1.1] ctx="Decode"`,
		`demo/codec.go:9 MQTT-3.8.3-4 [3.1.1 and 5.0] ctx="Decode"`,
		`demo/codec.go:10 MQTT-4.2-1 [3.1.1 and 5.0] ctx="Decode"`,
		// Proofs: table cases lead to the tests using the table, also
		// through another variable and from another file.
		`demo/codec_test.go:7 MQTT-3.3.1-4 [3.1.1 and 5.0] test ctx="vectors" tests=[TestDecode TestOther] runners=1 case="MQTT-3.3.1-4 PUBLISH QoS 3"`,
		`demo/codec_test.go:8 MQTT-3.8.3-4 [3.1.1] test ctx="vectors" tests=[TestDecode TestOther] runners=1 case="MQTT-3-8.3-4 reserved option bits in 3.1.1"`,
		`demo/codec_test.go:9 MQTT-3.1.2-4 [5.0] test ctx="vectors" tests=[TestDecode TestOther] runners=1 case="MQTT-3.1.2-4 v5 clean start"`,
		// A helper leads to the tests calling it.
		`demo/codec_test.go:20 MQTT-1.5.3-1 [3.1.1 and 5.0] test ctx="check" tests=[TestEncode] runners=0`,
		// A doc comment belongs to its function; a subtest name is a case.
		`demo/codec_test.go:25 MQTT-3.1.2-8 [3.1.1 and 5.0] test ctx="TestWill" tests=[TestWill] runners=1`,
		`demo/codec_test.go:27 MQTT-3.1.2-10 [3.1.1 and 5.0] test ctx="TestWill" tests=[TestWill] runners=1 case="MQTT-3.1.2-10 will deleted"`,
		`demo/codec_test.go:28 MQTT-3.1.2-12 [5.0] test ctx="TestWill" tests=[TestWill] runners=1`,
		// Identifiers in test function names.
		`demo/codec_test.go:32 MQTT-3.3.1-2 [3.1.1] test ctx="TestMQTT_3_3_1_2_v311" tests=[TestMQTT_3_3_1_2_v311] runners=0`,
		`demo/codec_test.go:34 MQTT-4.2-1 [3.1.1 and 5.0] test ctx="FuzzMQTT_4_2_1" tests=[FuzzMQTT_4_2_1] runners=0`,
		// A method is named Type.Method and leads to no test.
		`demo/codec_test.go:39 MQTT-9.9.9-9 [3.1.1 and 5.0] test ctx="fake.Send" tests=[] runners=0 case="MQTT-9.9.9-9 unknown"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("hits:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestScanSourcesSyntaxError(t *testing.T) {
	_, err := ScanSources(map[string][]byte{"x/bad.go": []byte("package x\nfunc {")})
	if err == nil || !strings.Contains(err.Error(), "x/bad.go") {
		t.Errorf("err = %v, want a parse error naming x/bad.go", err)
	}
}

func TestRender(t *testing.T) {
	sp311, err := ParseSpec(V311, specV311)
	if err != nil {
		t.Fatal(err)
	}
	sp5, err := ParseSpec(V5, "## 1.5 Data\n\n- **[MQTT-1.5.3-1]** [B] x\n- **[MQTT-3.1.2-4]** [C] y\n- **[MQTT-3.1.2-12]** [S] z\n")
	if err != nil {
		t.Fatal(err)
	}
	hits := demoHits(t)
	reasons := map[Version]map[string]string{V311: {"MQTT-3.8.3-10": "not enforced yet: ten | more"}}
	if err := CheckReasons([]*Spec{sp311, sp5}, hits, reasons); err != nil {
		t.Fatal(err)
	}
	doc := string(Render([]*Spec{sp311, sp5}, hits, reasons))
	if again := string(Render([]*Spec{sp311, sp5}, hits, reasons)); again != doc {
		t.Error("Render is not deterministic")
	}
	for _, want := range []string{
		RegenerateCommand,
		// version | statements | S+B | covered | stated reason | enforced | not yet covered
		"| MQTT 3.1.1 | 6 | 5 | 2 | 1 | 3 | 2 |\n",
		"| MQTT 5.0 | 3 | 2 | 3 | 0 | 0 | 0 |\n",
		"### MQTT 3.1.1, section 3.4 – 3.7\n",
		"| MQTT-2.3.1-1 | B | `demo/codec.go` Decode | not yet |\n",
		"| MQTT-2.3.1-2 | C | — | " + clientOnly + " |\n",
		"| MQTT-3.8.3-4 | S | `demo/codec.go` Decode | `demo/codec_test.go` TestDecode (via `vectors`, also used by 1 other test): " +
			"`MQTT-3-8.3-4 reserved option bits in 3.1.1` |\n",
		"| MQTT-4.2-1 | S | `demo/codec.go` Decode | `demo/codec_test.go` FuzzMQTT_4_2_1 |\n",
		// Numeric order inside a section: -4 before -10.
		// and a stated reason where no test proves the statement.
		" |\n| MQTT-3.8.3-10 | S | — | reason: not enforced yet: ten \\| more |\n\n### MQTT 3.1.1, section 4.2\n",
		"| MQTT-3.4.2-1 | S | — | not yet |\n",
		// A client-only statement with a test shows the test.
		"| MQTT-3.1.2-4 | C | — | `demo/codec_test.go` TestDecode (via `vectors`, also used by 1 other test): `MQTT-3.1.2-4 v5 clean start` |\n",
		"| MQTT-1.5.3-1 | B | — | `demo/codec_test.go` TestEncode (via `check`) |\n",
		"| MQTT-3.1.2-12 | S | — | `demo/codec_test.go` TestWill |\n",
		// Tags that name no statement of their versions.
		"| MQTT-3.3.1-4 | 3.1.1 and 5.0 | `demo/codec_test.go:7` `MQTT-3.3.1-4 PUBLISH QoS 3` |\n",
		"| MQTT-9.9.9-9 | 3.1.1 and 5.0 | `demo/codec_test.go:39` `MQTT-9.9.9-9 unknown` |\n",
		"| MQTT-3.8.3-3 | 3.1.1 | `demo/codec.go:6` |\n", // tagged 3.1.1, not in the 3.1.1 list
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("document lacks %q", want)
		}
	}
	if strings.Contains(doc, "Text that is not kept") || strings.Contains(doc, "Two-part identifier") {
		t.Error("the document copies statement text")
	}
	if t.Failed() {
		t.Logf("document:\n%s", doc)
	}
}

func TestCheckReasons(t *testing.T) {
	sp311, err := ParseSpec(V311, specV311)
	if err != nil {
		t.Fatal(err)
	}
	hits := demoHits(t)
	good := map[Version]map[string]string{V311: {"MQTT-3.4.2-1": "why", "MQTT-3.8.3-10": "why"}}
	if err := CheckReasons([]*Spec{sp311}, hits, good); err != nil {
		t.Errorf("CheckReasons = %v, want nil", err)
	}
	for _, tt := range []struct{ name, id, reason, want string }{
		{"proven", "MQTT-3.8.3-4", "why", "MQTT-3.8.3-4 (3.1.1): a reason for a statement a test proves"},
		{"client only", "MQTT-2.3.1-2", "why", "MQTT-2.3.1-2 (3.1.1): a reason for a client-only statement"},
		{"unknown", "MQTT-9.9.9-9", "why", "MQTT-9.9.9-9 (3.1.1): a reason for a statement that is not in the 3.1.1 list"},
		{"empty", "MQTT-3.4.2-1", " ", "MQTT-3.4.2-1 (3.1.1): an empty reason"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckReasons([]*Spec{sp311}, hits, map[Version]map[string]string{V311: {tt.id: tt.reason}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	// A proof of the other version does not make a reason stale.
	sp5, err := ParseSpec(V5, "## 3.1 CONNECT\n\n- **[MQTT-3.3.1-2]** [S] x\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckReasons([]*Spec{sp5}, hits, map[Version]map[string]string{V5: {"MQTT-3.3.1-2": "why"}}); err != nil {
		t.Errorf("CheckReasons (proof is 3.1.1 only) = %v, want nil", err)
	}
}

func TestRenderProofsCapsCases(t *testing.T) {
	var hs []Hit
	for _, c := range []string{"e", "d", "c", "b", "a", "a"} {
		hs = append(hs, Hit{ID: "MQTT-1.5.3-1", File: "p/x_test.go", Test: true, Context: "TestX", Tests: []string{"TestX"}, Case: c})
	}
	hs = append(hs, Hit{ID: "MQTT-1.5.3-1", File: "p/x_test.go", Test: true, Context: "TestY", Tests: []string{"TestY"}, Case: "a|b"})
	hs = append(hs, Hit{ID: "MQTT-1.5.3-1", File: "p/x_test.go", Test: true, Context: "tbl",
		Tests: []string{"TestA", "TestB", "TestC", "TestD", "TestE"}, Case: "z"})
	got := renderProofs(hs)
	want := "`p/x_test.go` TestX: `a`, `b`, `c` and 2 more<br>`p/x_test.go` TestY: `a|b`<br>" +
		"`p/x_test.go` TestA, TestB, TestC (via `tbl`, also used by 2 other tests): `z`"
	if got != want {
		t.Errorf("renderProofs = %q, want %q", got, want)
	}
	if got, want := cell(got), strings.ReplaceAll(want, "|", `\|`); got != want {
		t.Errorf("cell = %q, want %q", got, want)
	}
}

func TestCompareIDs(t *testing.T) {
	ids := []string{"MQTT-3.1.2-10", "MQTT-4.2-1", "MQTT-3.1.2-9", "MQTT-3.10.1-1", "MQTT-3.2.2-1"}
	slices.SortFunc(ids, compareIDs)
	want := []string{"MQTT-3.1.2-9", "MQTT-3.1.2-10", "MQTT-3.2.2-1", "MQTT-3.10.1-1", "MQTT-4.2-1"}
	if !slices.Equal(ids, want) {
		t.Errorf("sorted = %v, want %v", ids, want)
	}
}
