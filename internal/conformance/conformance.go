// Package conformance generates docs/conformance.md: for every numbered
// normative statement of MQTT 3.1.1 and MQTT 5.0, the Roost code that
// enforces it and the tests that prove it.
//
// The statements come from the team's normative lists (normative-v311.md and
// normative-v5.md in the shared/spec folder beside the repository; they are
// not part of the repository and their wording is not copied into the
// generated document: only identifiers, tags and section numbers are). The
// code side comes from tags: a statement identifier such as MQTT-3.3.1-4
// written in a comment or a string literal of any Go file, or spelled
// MQTT_3_3_1_4 in the name of a function of a _test.go file. A tag in a
// _test.go file is a proof; a tag anywhere else marks enforcing code. The
// rules deciding which MQTT version a tag counts for are documented on
// attribute and repeated in the generated document.
//
// TestConformanceDocUpToDate keeps the document in step with the tree;
// regenerate it with
//
//	ROOST_UPDATE_CONFORMANCE=1 go test ./internal/conformance
package conformance

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// RegenerateCommand is the command that rewrites docs/conformance.md, run
// from the repository root.
const RegenerateCommand = "ROOST_UPDATE_CONFORMANCE=1 go test ./internal/conformance"

// DocPath is the generated document, relative to the repository root.
const DocPath = "docs/conformance.md"

// selfDir is this package, relative to the repository root: its files hold
// example tags (in tests) and are not scanned.
const selfDir = "internal/conformance"

// Version is an MQTT protocol version with its own list of statements.
type Version int

// The versions with normative lists.
const (
	V311 Version = iota
	V5
	numVersions
)

func (v Version) String() string {
	if v == V311 {
		return "3.1.1"
	}
	return "5.0"
}

// specFile is the name of the normative list of v in the spec folder.
func (v Version) specFile() string {
	if v == V311 {
		return "normative-v311.md"
	}
	return "normative-v5.md"
}

// versions is a set of Versions, one bit each.
type versions uint8

const bothVersions = versions(1<<V311 | 1<<V5)

func only(v Version) versions         { return versions(1 << v) }
func (s versions) has(v Version) bool { return s&only(v) != 0 }
func (v Version) other() Version      { return 1 - v }
func (s versions) String() string {
	switch s {
	case only(V311):
		return "3.1.1"
	case only(V5):
		return "5.0"
	}
	return "3.1.1 and 5.0"
}

// Statement is one numbered normative statement.
type Statement struct {
	ID      string // "MQTT-3.1.2-4"
	Section string // number of the section heading it is listed under: "3.1", "3.4 – 3.7"
	Tag     byte   // 'S' binds the server, 'C' the client only, 'B' both
}

// Spec is the normative list of one version, in file order.
type Spec struct {
	Version    Version
	Sections   []string
	Statements []Statement
}

func (s *Spec) has(id string) bool {
	return slices.ContainsFunc(s.Statements, func(st Statement) bool { return st.ID == id })
}

var (
	// "## 3.4 – 3.7 PUBACK, ..." -> "3.4 – 3.7"; "## 6 WebSocket" -> "6".
	headingRE = regexp.MustCompile(`^##\s+(\d+(?:\.\d+)*(?:\s*[–-]\s*\d+(?:\.\d+)*)?)(?:\s|$)`)
	// "- **[MQTT-3.1.2-4]** [B] paraphrase"
	statementRE = regexp.MustCompile(`^-\s+\*\*\[(MQTT-[^\]]+)\]\*\*\s+\[([A-Z])\]`)
)

// ParseSpec reads the normative list of version v: "## N.N Title" section
// headings and "- **[MQTT-N.N.N-N]** [S|C|B] text" statement lines. Other
// lines are ignored. Only identifiers, tags and section numbers are kept.
func ParseSpec(v Version, text string) (*Spec, error) {
	sp := &Spec{Version: v}
	seen := make(map[string]bool)
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			m := headingRE.FindStringSubmatch(line)
			if m == nil {
				return nil, fmt.Errorf("%s line %d: section heading without a number: %q", v.specFile(), n, line)
			}
			section = m[1]
			sp.Sections = append(sp.Sections, section)
			continue
		}
		m := statementRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		id, tag := m[1], m[2]
		switch {
		case idRE.FindString(id) != id:
			return nil, fmt.Errorf("%s line %d: malformed identifier %q", v.specFile(), n, id)
		case tag != "S" && tag != "C" && tag != "B":
			return nil, fmt.Errorf("%s line %d: %s has tag [%s], want [S], [C] or [B]", v.specFile(), n, id, tag)
		case section == "":
			return nil, fmt.Errorf("%s line %d: %s comes before any section heading", v.specFile(), n, id)
		case seen[id]:
			return nil, fmt.Errorf("%s line %d: %s is listed twice", v.specFile(), n, id)
		}
		seen[id] = true
		sp.Statements = append(sp.Statements, Statement{ID: normalizeID(id), Section: section, Tag: tag[0]})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(sp.Statements) == 0 {
		return nil, fmt.Errorf("%s: no statements found", v.specFile())
	}
	return sp, nil
}

// Hit is one tag found in the Go sources.
type Hit struct {
	ID       string   // normalised identifier, "MQTT-3.8.3-4"
	Versions versions // the versions the tag counts for
	File     string   // slash-separated path relative to the repository root
	Line     int
	Test     bool   // in a _test.go file: a proof; otherwise enforcing code
	Context  string // enclosing top-level declaration (function, "Type.Method", variable), "" if none
	Case     string // test files: the string literal holding the tag (a table case or subtest name)
	// Tests lists, for a proof, the Test/Fuzz functions it belongs to: Context
	// itself, or the ones that use Context (a table or helper) directly or
	// through other declarations of the same directory's test files. Those
	// that run subtests (call X.Run) come first, sorted, then the others.
	Tests []string
	// Runners is how many of Tests run subtests: the ones where a case
	// name is a subtest name.
	Runners int
}

var (
	// A statement identifier, also in the standard's misprinted
	// "MQTT-3-8.3-4" form (first alternative, tried first).
	idRE = regexp.MustCompile(`MQTT-\d+-\d+(?:\.\d+)+-\d+|MQTT-\d+(?:\.\d+)*-\d+`)
	// The identifier in a test function name: MQTT_3_3_1_4 (last number is
	// the statement number).
	funcIDRE = regexp.MustCompile(`MQTT((?:_\d+)+)_(\d+)`)
	// "(3.1.1:" opening a group of identifiers of that version.
	labelRE = regexp.MustCompile(`(?i)\(\s*(` + markerAlternation + `)\s*:`)
)

// normalizeID turns the misprinted "MQTT-3-8.3-4" into "MQTT-3.8.3-4".
func normalizeID(id string) string {
	rest := strings.TrimPrefix(id, "MQTT-")
	if strings.Count(rest, "-") == 2 {
		rest = strings.Replace(rest, "-", ".", 1)
	}
	return "MQTT-" + rest
}

// Version markers, longest first so that prefixes do not shadow them.
var markers = []struct {
	text string
	v    Version
}{
	{"v3.1.1", V311}, {"3.1.1", V311}, {"v311", V311}, {"v5.0", V5},
	{"v31", V311}, {"5.0", V5}, {"v3", V311}, {"v5", V5},
}

const markerAlternation = `v3\.1\.1|3\.1\.1|v311|v5\.0|v31|5\.0|v3|v5`

func isAlnum(c byte) bool { return c < 0x80 && (unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c))) }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// wordEnd reports whether a marker may end right before rest.
func wordEnd(rest string) bool {
	if rest == "" {
		return true
	}
	if rest[0] == '.' {
		return len(rest) == 1 || !isDigit(rest[1])
	}
	return !isAlnum(rest[0])
}

// wordStart reports whether a marker may start right after before.
func wordStart(before string) bool {
	if before == "" {
		return true
	}
	c := before[len(before)-1]
	return !isAlnum(c) && c != '.'
}

// markerPrefix reports the version marker s starts with, and whether it is a
// label (followed by ':').
func markerPrefix(s string) (v Version, label, ok bool) {
	for _, m := range markers {
		if len(s) >= len(m.text) && strings.EqualFold(s[:len(m.text)], m.text) && wordEnd(s[len(m.text):]) {
			rest := strings.TrimLeft(s[len(m.text):], " \t")
			return m.v, strings.HasPrefix(rest, ":"), true
		}
	}
	return 0, false, false
}

// markerSuffix reports the version marker s ends with.
func markerSuffix(s string) (Version, bool) {
	for _, m := range markers {
		n := len(s) - len(m.text)
		if n >= 0 && strings.EqualFold(s[n:], m.text) && wordStart(s[:n]) {
			return m.v, true
		}
	}
	return 0, false
}

// markersIn returns the versions named anywhere in s as whole words.
func markersIn(s string) versions {
	var set versions
	for i := 0; i < len(s); i++ {
		if !wordStart(s[:i]) {
			continue
		}
		if v, _, ok := markerPrefix(s[i:]); ok {
			set |= only(v)
		}
	}
	return set
}

// attribute decides which versions the i-th identifier of text (at the
// positions ms, from idRE) counts for. A run is a list of identifiers
// separated only by spaces, brackets and commas ("[MQTT-x] [MQTT-y]"); rules
// 1 to 3 look right after or right before the run. The first rule that
// applies wins:
//
//  1. a marker right after the run: "[MQTT-x] (3.1.1)", "MQTT-x v5 ...",
//     "[MQTT-x] in 5.0", "[MQTT-x] [MQTT-y] (3.1.1)";
//  2. a label right after it, opening the other version's identifiers:
//     "[MQTT-x] (3.1.1: [MQTT-y])" makes x a 5.0 identifier;
//  3. a marker right before the run: "3.1.1 [MQTT-x]", "(5.0: [MQTT-x]";
//  4. an open "(3.1.1: ..." group it is in: "(3.1.1: [MQTT-x] [MQTT-y])";
//  5. in a string literal (a test case name), markers anywhere in the
//     string, if they all name the same version: "MQTT-x reserved bits in 3.1.1";
//  6. otherwise both versions.
//
// Markers (case-insensitive, whole words): 3.1.1, v3.1.1, v311, v31 and v3
// for 3.1.1; 5.0, v5.0 and v5 for 5.0.
func attribute(text string, ms [][]int, i int, isString bool) versions {
	first, last := i, i
	for first > 0 && onlySeparators(text[ms[first-1][1]:ms[first][0]]) {
		first--
	}
	for last+1 < len(ms) && onlySeparators(text[ms[last][1]:ms[last+1][0]]) {
		last++
	}
	start, end := ms[first][0], ms[last][1] // of the run
	next, prev := len(text), 0
	if last+1 < len(ms) {
		next = ms[last+1][0]
	}
	if first > 0 {
		prev = ms[first-1][1]
	}
	after := strings.TrimLeft(text[end:next], " \t]")
	if len(after) >= 3 && strings.EqualFold(after[:3], "in ") {
		after = strings.TrimLeft(after[3:], " \t")
	}
	after = strings.TrimPrefix(after, "(")
	if v, label, ok := markerPrefix(after); ok { // rules 1 and 2
		if label {
			return only(v.other())
		}
		return only(v)
	}
	before := strings.TrimRight(text[prev:start], " \t[(")
	before = strings.TrimRight(strings.TrimSuffix(before, ":"), " \t")
	if v, ok := markerSuffix(before); ok { // rule 3
		return only(v)
	}
	if ls := labelRE.FindAllStringSubmatchIndex(text[:ms[i][0]], -1); ls != nil { // rule 4
		l := ls[len(ls)-1]
		if !strings.Contains(text[l[1]:ms[i][0]], ")") {
			v, _, _ := markerPrefix(text[l[2]:l[3]])
			return only(v)
		}
	}
	if isString { // rule 5
		blanked := idRE.ReplaceAllStringFunc(text, func(s string) string { return strings.Repeat(" ", len(s)) })
		if set := markersIn(blanked); set == only(V311) || set == only(V5) {
			return set
		}
	}
	return bothVersions
}

// onlySeparators reports whether s, the text between two identifiers, makes
// them one run.
func onlySeparators(s string) bool {
	return strings.Trim(s, " \t[],") == ""
}

// funcNameVersions returns the version named by an underscore-separated part
// of a test function name (TestMQTT_3_1_2_4_v5), else both.
func funcNameVersions(name string) versions {
	var set versions
	for part := range strings.SplitSeq(name, "_") {
		for _, m := range markers {
			if !strings.Contains(m.text, ".") && strings.EqualFold(part, m.text) {
				set |= only(m.v)
			}
		}
	}
	if set == 0 {
		return bothVersions
	}
	return set
}

// isTestFunc reports whether name is a test or fuzz function name.
func isTestFunc(name string) bool {
	for _, p := range []string{"Test", "Fuzz"} {
		if rest, ok := strings.CutPrefix(name, p); ok {
			return rest == "" || !unicode.IsLower(rune(rest[0]))
		}
	}
	return false
}

// fileScan is what scanFile learns from one file.
type fileScan struct {
	hits    []Hit
	refs    map[string]map[string]bool // test files: top-level declaration -> identifiers it uses
	runners map[string]bool            // test files: functions that call X.Run (subtests)
}

// declSpan is the source range of a top-level declaration, doc comment and
// trailing line comment included.
type declSpan struct {
	pos, end token.Pos
	name     string
}

func spanOf(doc *ast.CommentGroup, pos, end token.Pos, comment *ast.CommentGroup, name string) declSpan {
	if doc != nil {
		pos = doc.Pos()
	}
	if comment != nil && comment.End() > end {
		end = comment.End()
	}
	return declSpan{pos, end, name}
}

// scanFile finds the tags of one Go file; rel is its slash path relative to
// the repository root.
func scanFile(rel string, src []byte) (*fileScan, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, rel, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	isTest := strings.HasSuffix(rel, "_test.go")
	out := &fileScan{}
	if isTest {
		out.refs = make(map[string]map[string]bool)
		out.runners = make(map[string]bool)
	}

	var spans []declSpan
	addRefs := func(name string, nodes ...ast.Node) {
		if !isTest || name == "" {
			return
		}
		set := out.refs[name]
		if set == nil {
			set = make(map[string]bool)
			out.refs[name] = set
		}
		for _, n := range nodes {
			if n == nil {
				continue
			}
			ast.Inspect(n, func(n ast.Node) bool {
				if id, ok := n.(*ast.Ident); ok {
					set[id.Name] = true
				}
				return true
			})
		}
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			name := d.Name.Name
			if d.Recv != nil && len(d.Recv.List) == 1 {
				name = recvName(d.Recv.List[0].Type) + "." + name
			} else if d.Body != nil {
				addRefs(name, d.Body)
				if isTest && callsRun(d.Body) {
					out.runners[name] = true
				}
			}
			spans = append(spans, spanOf(d.Doc, d.Pos(), d.End(), nil, name))
		case *ast.GenDecl:
			if d.Tok == token.IMPORT {
				continue
			}
			for _, s := range d.Specs {
				var name string
				var doc, comment *ast.CommentGroup
				switch s := s.(type) {
				case *ast.ValueSpec:
					names := make([]string, len(s.Names))
					for i, n := range s.Names {
						names[i] = n.Name
					}
					name, doc, comment = strings.Join(names, ", "), s.Doc, s.Comment
					for _, n := range s.Names {
						addRefs(n.Name, s.Type)
						for _, v := range s.Values {
							addRefs(n.Name, v)
						}
					}
				case *ast.TypeSpec:
					name, doc, comment = s.Name.Name, s.Doc, s.Comment
				}
				if len(d.Specs) == 1 {
					spans = append(spans, spanOf(d.Doc, d.Pos(), d.End(), comment, name))
				} else {
					spans = append(spans, spanOf(doc, s.Pos(), s.End(), comment, name))
				}
			}
		}
	}
	contextAt := func(p token.Pos) string {
		for _, s := range spans {
			if s.pos <= p && p < s.end {
				return s.name
			}
		}
		return ""
	}

	// scan records the tags of text (a comment, or a string literal's
	// value), which starts at pos; multiline: count lines inside text.
	scan := func(text string, pos token.Pos, isString, multiline bool) {
		ms := idRE.FindAllStringIndex(text, -1)
		for i, m := range ms {
			h := Hit{
				ID:       normalizeID(text[m[0]:m[1]]),
				Versions: attribute(text, ms, i, isString),
				File:     rel,
				Line:     fset.Position(pos).Line,
				Test:     isTest,
				Context:  contextAt(pos),
			}
			if multiline {
				h.Line += strings.Count(text[:m[0]], "\n")
			}
			if isTest && isString {
				h.Case = strings.Join(strings.FieldsFunc(text, func(r rune) bool {
					return unicode.IsSpace(r) || unicode.IsControl(r)
				}), " ")
			}
			out.hits = append(out.hits, h)
		}
	}
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			scan(c.Text, c.Pos(), false, true)
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil {
			return true
		}
		scan(s, lit.Pos(), true, strings.HasPrefix(lit.Value, "`"))
		return true
	})
	if isTest {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil {
				continue
			}
			for _, m := range funcIDRE.FindAllStringSubmatch(fd.Name.Name, -1) {
				section := strings.ReplaceAll(strings.TrimPrefix(m[1], "_"), "_", ".")
				out.hits = append(out.hits, Hit{
					ID:       "MQTT-" + section + "-" + m[2],
					Versions: funcNameVersions(fd.Name.Name),
					File:     rel,
					Line:     fset.Position(fd.Name.Pos()).Line,
					Test:     true,
					Context:  fd.Name.Name,
				})
			}
		}
	}
	return out, nil
}

// callsRun reports whether body calls X.Run, as in t.Run(name, f).
func callsRun(body *ast.BlockStmt) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Run" {
				if _, ok := sel.X.(*ast.Ident); ok {
					found = true
				}
			}
		}
		return !found
	})
	return found
}

// recvName is the type name of a method receiver.
func recvName(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.ParenExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return "?"
		}
	}
}

// ScanSources finds the tags of the given Go files (keyed by slash path
// relative to the repository root) and attributes each proof to the
// Test/Fuzz functions of its directory that reach it.
func ScanSources(files map[string][]byte) ([]Hit, error) {
	names := slices.Sorted(maps.Keys(files))
	byDir := make(map[string][]*fileScan)
	var dirs []string
	for _, name := range names {
		sc, err := scanFile(name, files[name])
		if err != nil {
			return nil, err
		}
		dir := path.Dir(name)
		if _, ok := byDir[dir]; !ok {
			dirs = append(dirs, dir)
		}
		byDir[dir] = append(byDir[dir], sc)
	}
	var hits []Hit
	for _, dir := range dirs {
		scans := byDir[dir]
		refs := make(map[string]map[string]bool)
		runners := make(map[string]bool)
		for _, sc := range scans {
			for name := range sc.runners {
				runners[name] = true
			}
			for decl, set := range sc.refs {
				if refs[decl] == nil {
					refs[decl] = make(map[string]bool)
				}
				for id := range set {
					refs[decl][id] = true
				}
			}
		}
		reached := reachingTests(refs)
		for _, sc := range scans {
			for _, h := range sc.hits {
				if h.Test {
					switch {
					case isTestFunc(h.Context):
						h.Tests = []string{h.Context}
						if runners[h.Context] {
							h.Runners = 1
						}
					case h.Context != "":
						// A table holding several variables is declared once;
						// any of its names leads to the tests.
						var ts []string
						for n := range strings.SplitSeq(h.Context, ", ") {
							ts = append(ts, reached[n]...)
						}
						slices.Sort(ts)
						ts = slices.Compact(ts)
						// Stable: sorted within runners and others.
						slices.SortStableFunc(ts, func(a, b string) int {
							return boolInt(!runners[a]) - boolInt(!runners[b])
						})
						h.Tests = ts
						for _, name := range ts {
							if runners[name] {
								h.Runners++
							}
						}
					}
				}
				hits = append(hits, h)
			}
		}
	}
	sortHits(hits)
	return hits, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// reachingTests returns, for every declaration, the sorted Test/Fuzz
// functions that use it directly or through other declarations.
func reachingTests(refs map[string]map[string]bool) map[string][]string {
	out := make(map[string][]string)
	for _, test := range slices.Sorted(maps.Keys(refs)) {
		if !isTestFunc(test) {
			continue
		}
		seen := map[string]bool{test: true}
		queue := []string{test}
		for len(queue) > 0 {
			d := queue[0]
			queue = queue[1:]
			for id := range refs[d] {
				if _, isDecl := refs[id]; isDecl && !seen[id] {
					seen[id] = true
					queue = append(queue, id)
				}
			}
		}
		for d := range seen {
			if d != test {
				out[d] = append(out[d], test)
			}
		}
	}
	return out
}

func sortHits(hits []Hit) {
	slices.SortFunc(hits, func(a, b Hit) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return strings.Compare(a.Case, b.Case)
	})
}

// skipDir reports whether a directory of the repository is not scanned.
func skipDir(rel, name string) bool {
	return rel == selfDir || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") ||
		name == "testdata" || name == "vendor" || name == "node_modules"
}

// ScanRepo reads every Go file of the repository at root, except those of
// this package and of testdata, vendor, node_modules and hidden or
// underscore directories, and scans them with ScanSources.
func ScanRepo(root string) ([]Hit, error) {
	files := make(map[string][]byte)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && skipDir(rel, d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(rel, ".go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[rel] = src
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ScanSources(files)
}

// LoadSpecs parses the normative lists of both versions in dir.
func LoadSpecs(dir string) ([]*Spec, error) {
	var specs []*Spec
	for v := range numVersions {
		text, err := os.ReadFile(filepath.Join(dir, v.specFile()))
		if err != nil {
			return nil, err
		}
		sp, err := ParseSpec(v, string(text))
		if err != nil {
			return nil, err
		}
		specs = append(specs, sp)
	}
	return specs, nil
}

// Generate builds the conformance document from the normative lists in
// specDir, the Go sources of the repository at root and the stated reasons
// of reasons.go. It fails when a reason is stale (see CheckReasons).
func Generate(specDir, root string) ([]byte, error) {
	specs, err := LoadSpecs(specDir)
	if err != nil {
		return nil, err
	}
	hits, err := ScanRepo(root)
	if err != nil {
		return nil, err
	}
	if err := CheckReasons(specs, hits, Reasons); err != nil {
		return nil, err
	}
	return Render(specs, hits, Reasons), nil
}

// CheckReasons reports every stated reason that must go: one for an
// identifier that is not a statement of its version, for a client-only
// statement (those need none), for a statement a test already proves, or an
// empty one.
func CheckReasons(specs []*Spec, hits []Hit, reasons map[Version]map[string]string) error {
	var errs []string
	for _, sp := range specs {
		tags := make(map[string]byte, len(sp.Statements))
		for _, st := range sp.Statements {
			tags[st.ID] = st.Tag
		}
		proven := make(map[string]bool)
		for _, h := range hits {
			if h.Test && h.Versions.has(sp.Version) {
				proven[h.ID] = true
			}
		}
		for _, id := range slices.SortedFunc(maps.Keys(reasons[sp.Version]), compareIDs) {
			tag, known := tags[id]
			switch {
			case !known:
				errs = append(errs, fmt.Sprintf("%s (%s): a reason for a statement that is not in the %s list", id, sp.Version, sp.Version))
			case tag == 'C':
				errs = append(errs, fmt.Sprintf("%s (%s): a reason for a client-only statement, which needs none", id, sp.Version))
			case proven[id]:
				errs = append(errs, fmt.Sprintf("%s (%s): a reason for a statement a test proves: delete the reason", id, sp.Version))
			case strings.TrimSpace(reasons[sp.Version][id]) == "":
				errs = append(errs, fmt.Sprintf("%s (%s): an empty reason", id, sp.Version))
			}
		}
	}
	for v := range reasons {
		if v < 0 || v >= numVersions {
			errs = append(errs, fmt.Sprintf("reasons for unknown version %d", int(v)))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("stale stated reasons in %s/reasons.go:\n\t%s", selfDir, strings.Join(errs, "\n\t"))
	}
	return nil
}

// row is one statement with the tags that name it.
type row struct {
	st       Statement
	enforced []Hit
	proofs   []Hit
	reason   string // stated reason, for a server-side statement no test proves
}

// summary counts the statements of one version.
type summary struct {
	total, server, covered, reasoned, enforced, uncovered int
}

func buildRows(sp *Spec, hits []Hit, reasons map[string]string) ([]row, summary) {
	byID := make(map[string]int, len(sp.Statements))
	rows := make([]row, len(sp.Statements))
	for i, st := range sp.Statements {
		rows[i].st = st
		rows[i].reason = reasons[st.ID]
		byID[st.ID] = i
	}
	for _, h := range hits {
		i, ok := byID[h.ID]
		if !ok || !h.Versions.has(sp.Version) {
			continue
		}
		if h.Test {
			rows[i].proofs = append(rows[i].proofs, h)
		} else {
			rows[i].enforced = append(rows[i].enforced, h)
		}
	}
	var sum summary
	for _, r := range rows {
		sum.total++
		server := r.st.Tag != 'C'
		if server {
			sum.server++
		}
		switch {
		case len(r.proofs) > 0:
			sum.covered++
		case server && r.reason != "":
			sum.reasoned++
		case server:
			sum.uncovered++
		}
		if len(r.enforced) > 0 {
			sum.enforced++
		}
	}
	return rows, sum
}

// unknownHits returns the tags naming no statement of the versions they
// count for.
func unknownHits(specs []*Spec, hits []Hit) []Hit {
	var out []Hit
	for _, h := range hits {
		known := false
		for _, sp := range specs {
			if h.Versions.has(sp.Version) && sp.has(h.ID) {
				known = true
			}
		}
		if !known {
			out = append(out, h)
		}
	}
	return out
}

// maxCases is how many case names a proof cell lists per test location.
const maxCases = 3

// maxTests is how many tests a proof cell lists for a table or helper when
// none of them runs subtests.
const maxTests = 3

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}

// code renders s as a Markdown code span.
func code(s string) string {
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

func renderEnforced(hs []Hit) string {
	var files []string
	lines := make(map[string][]string)
	for _, h := range hs {
		if _, ok := lines[h.File]; !ok {
			files = append(files, h.File)
		}
		l := h.Context // the enclosing function, not a line number, so edits elsewhere in a file do not churn the doc
		if l == "" {
			l = "(file scope)"
		}
		if !slices.Contains(lines[h.File], l) {
			lines[h.File] = append(lines[h.File], l)
		}
	}
	parts := make([]string, len(files))
	for i, f := range files {
		parts[i] = code(f) + " " + strings.Join(lines[f], ", ")
	}
	return strings.Join(parts, "<br>")
}

func renderProofs(hs []Hit) string {
	type loc struct{ file, context string }
	var locs []loc
	byLoc := make(map[loc][]Hit)
	for _, h := range hs {
		l := loc{h.File, h.Context}
		if _, ok := byLoc[l]; !ok {
			locs = append(locs, l)
		}
		byLoc[l] = append(byLoc[l], h)
	}
	slices.SortFunc(locs, func(a, b loc) int {
		if c := strings.Compare(a.file, b.file); c != 0 {
			return c
		}
		return strings.Compare(a.context, b.context)
	})
	parts := make([]string, len(locs))
	for i, l := range locs {
		group := byLoc[l]
		var b strings.Builder
		b.WriteString(code(l.file))
		tests, runners := group[0].Tests, group[0].Runners
		switch {
		case isTestFunc(l.context):
			b.WriteString(" " + l.context)
		case len(tests) > 0:
			// The tests running subtests (where case names are subtest
			// names), else the first few.
			shown := tests[:runners]
			if runners == 0 {
				shown = tests[:min(len(tests), maxTests)]
			}
			b.WriteString(" " + strings.Join(shown, ", ") + " (via " + code(l.context))
			switch rest := len(tests) - len(shown); rest {
			case 0:
			case 1:
				b.WriteString(", also used by 1 other test")
			default:
				fmt.Fprintf(&b, ", also used by %d other tests", rest)
			}
			b.WriteString(")")
		case l.context != "":
			b.WriteString(" " + code(l.context))
		}
		var cases []string
		for _, h := range group {
			if h.Case != "" {
				cases = append(cases, h.Case)
			}
		}
		slices.Sort(cases)
		cases = slices.Compact(cases)
		for j, c := range cases {
			if j == maxCases {
				fmt.Fprintf(&b, " and %d more", len(cases)-maxCases)
				break
			}
			if j == 0 {
				b.WriteString(": ")
			} else {
				b.WriteString(", ")
			}
			b.WriteString(code(c))
		}
		parts[i] = b.String()
	}
	return strings.Join(parts, "<br>")
}

const clientOnly = "client only: the broker does not send as a client"

// Render writes the conformance document. reasons holds the stated reasons
// per version and identifier (see Reasons); a proof wins over a reason.
func Render(specs []*Spec, hits []Hit, reasons map[Version]map[string]string) []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	type versionRows struct {
		sp   *Spec
		rows []row
		sum  summary
	}
	var all []versionRows
	for _, sp := range specs {
		rows, sum := buildRows(sp, hits, reasons[sp.Version])
		all = append(all, versionRows{sp, rows, sum})
	}

	p("# MQTT conformance map\n\n")
	p("<!-- Generated by internal/conformance. DO NOT EDIT: regenerate with\n")
	p("     %s -->\n\n", RegenerateCommand)
	p("For every numbered normative statement of MQTT 3.1.1 and MQTT 5.0, this page\n")
	p("lists the Roost code that enforces it and the tests that prove it. The\n")
	p("statements are named by identifier only: read their text in the OASIS standards\n")
	p("(MQTT Version 3.1.1, 29 October 2014, and MQTT Version 5.0, 07 March 2019; the\n")
	p("identifiers are collected in each standard's \"Mandatory normative statements\"\n")
	p("appendix). The section numbers below are those of the standards.\n\n")
	p("How Roost fares against Mosquitto's own broker test suite, and the MQTT text\n")
	p("behind each answer of Roost's that the suite does not expect, is in\n")
	p("[mosquitto-suite.md](mosquitto-suite.md).\n\n")

	p("## How to read it\n\n")
	p("- **binds**: `S` the statement binds the server (the broker), `B` both\n")
	p("  sender and receiver (whichever role the broker plays), `C` the client only.\n")
	p("- **enforced in**: non-test Go files carrying the identifier, as `file:line`.\n")
	p("- **proven by**: `_test.go` files carrying the identifier, with the test or fuzz\n")
	p("  function it is in (or, for a package-level table or helper, the tests that use\n")
	p("  it) and, when the identifier is in a string literal (a table case or subtest\n")
	p("  name), that name; at most %d names are shown per place. `reason: ...` is the\n", maxCases)
	p("  stated reason why no test proves a server-side statement (kept in\n")
	p("  `%s/reasons.go`; a reason for a statement a test proves is an error).\n", selfDir)
	p("  `not yet` means no test carries the identifier and no reason is stated.\n")
	p("- A statement counts as covered when at least one test carries its identifier\n")
	p("  and as enforced when non-test code does. \"Stated reason\" counts the\n")
	p("  server-side (`S` and `B`) statements with a reason and no test; \"not yet\n")
	p("  covered\" counts those with neither.\n\n")

	p("## How tags are found\n\n")
	p("Every `.go` file of the repository is scanned (except this generator's package and\n")
	p("`testdata`, `vendor`, `node_modules` and hidden directories) for identifiers such as\n")
	p("`MQTT-3.3.1-4` (also the standard's misprinted form `MQTT-3-8.3-4`) in comments and\n")
	p("string literals, and `MQTT_3_3_1_4` in the names of `_test.go` functions\n")
	p("(`func TestMQTT_3_3_1_4_QoS3`). The two versions share identifiers with different\n")
	p("meanings, so a tag counts for both versions unless the text right next to it names\n")
	p("one. Identifiers separated only by spaces, brackets and commas form a run\n")
	p("(`[MQTT-x] [MQTT-y]`), and rules 1 to 3 apply to the whole run. The first rule that\n")
	p("applies wins:\n\n")
	p("1. a version right after the run: `[MQTT-x] (3.1.1)`, `[MQTT-x] [MQTT-y] (3.1.1)`,\n")
	p("   `\"MQTT-x v5 ...\"`, `[MQTT-x] in 5.0`;\n")
	p("2. a version label right after it, which opens the other version's identifiers:\n")
	p("   in `[MQTT-x] (3.1.1: [MQTT-y])`, x is a 5.0 identifier;\n")
	p("3. a version right before the run: `3.1.1 [MQTT-x]`, `(5.0: [MQTT-x] [MQTT-y]`;\n")
	p("4. a `(3.1.1: ...)` or `(5.0: ...)` group it is inside: `(3.1.1: see [MQTT-x])`;\n")
	p("5. in a string literal (a test case name), any version named in the string,\n")
	p("   if only one is: `\"MQTT-x reserved option bits in 3.1.1\"`;\n")
	p("6. in a test function name, an underscore-separated version part:\n")
	p("   `TestMQTT_3_1_2_4_v5`.\n\n")
	p("Versions are written `3.1.1`, `v3.1.1`, `v311`, `v31` or `v3` for 3.1.1 and `5.0`,\n")
	p("`v5.0` or `v5` for 5.0 (any case). A table row's version field (`V311`, `V5`) is\n")
	p("not read: put the version in the case name.\n\n")

	p("## Regenerating\n\n")
	p("`TestConformanceDocUpToDate` fails when this file is out of date, for instance after\n")
	p("tagged code or tests were added or tagged lines of non-test code moved. From the\n")
	p("repository root:\n\n")
	p("```sh\n%s\n```\n\n", RegenerateCommand)
	p("It needs the normative lists in `../shared/spec` (beside the repository); without\n")
	p("them the test is skipped.\n\n")

	p("## Summary\n\n")
	p("| version | statements | server-side (S+B) | covered by a test | stated reason (S+B) | enforced in code | not yet covered (S+B) |\n")
	p("| ------- | ---------: | ----------------: | ----------------: | ------------------: | ---------------: | --------------------: |\n")
	for _, vr := range all {
		s := vr.sum
		p("| MQTT %s | %d | %d | %d | %d | %d | %d |\n", vr.sp.Version, s.total, s.server, s.covered, s.reasoned, s.enforced, s.uncovered)
	}
	p("\n")

	for _, vr := range all {
		p("## MQTT %s\n", vr.sp.Version)
		for _, section := range vr.sp.Sections {
			var rows []row
			for _, r := range vr.rows {
				if r.st.Section == section {
					rows = append(rows, r)
				}
			}
			if len(rows) == 0 {
				continue
			}
			slices.SortStableFunc(rows, func(a, b row) int { return compareIDs(a.st.ID, b.st.ID) })
			p("\n### MQTT %s, section %s\n\n", vr.sp.Version, section)
			p("| ID | binds | enforced in | proven by |\n")
			p("| -- | :---: | ----------- | --------- |\n")
			for _, r := range rows {
				enforced := "—"
				if len(r.enforced) > 0 {
					enforced = renderEnforced(r.enforced)
				}
				proven := "not yet"
				switch {
				case len(r.proofs) > 0:
					proven = renderProofs(r.proofs)
				case r.st.Tag == 'C':
					proven = clientOnly
				case r.reason != "":
					proven = "reason: " + r.reason
				}
				p("| %s | %c | %s | %s |\n", r.st.ID, r.st.Tag, cell(enforced), cell(proven))
			}
		}
		p("\n")
	}

	p("## Tags that name no statement\n\n")
	unknown := unknownHits(specs, hits)
	if len(unknown) == 0 {
		p("None: every tag names a statement of the version it counts for.\n")
	} else {
		p("These tags name no statement of the version they count for: a typo, or a version\n")
		p("marker that points at the wrong list.\n\n")
		p("| tag | counts for | found in |\n")
		p("| --- | ---------- | -------- |\n")
		for _, h := range unknown {
			where := code(h.File + ":" + strconv.Itoa(h.Line))
			if h.Case != "" {
				where += " " + code(h.Case)
			}
			p("| %s | %s | %s |\n", h.ID, h.Versions, cell(where))
		}
	}
	return b.Bytes()
}

// compareIDs orders identifiers by their numbers: MQTT-3.1.2-9 before
// MQTT-3.1.2-10.
func compareIDs(a, b string) int {
	na, nb := idNumbers(a), idNumbers(b)
	if c := slices.Compare(na, nb); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func idNumbers(id string) []int {
	var out []int
	for f := range strings.FieldsFuncSeq(strings.TrimPrefix(id, "MQTT-"), func(r rune) bool { return r == '.' || r == '-' }) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}
