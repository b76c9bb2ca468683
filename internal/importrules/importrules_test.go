package importrules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// pkgInfo is the part of one `go list -json` record that the rules need.
type pkgInfo struct {
	ImportPath string
	Standard   bool     // part of the standard library
	DepOnly    bool     // listed only as a dependency of a package matched by ./...
	Imports    []string // direct imports
	Deps       []string // all transitive dependencies
}

// dep describes one dependency of a package under check.
type dep struct {
	Path     string // import path
	Rel      string // path relative to the module root, when InModule
	InModule bool
	Standard bool
}

// rule forbids some dependencies to the packages in its scope.
type rule struct {
	Name string
	// Scope lists module-relative package trees the rule applies to
	// ("packet" covers packet and packet/...); empty means every package.
	Scope []string
	// Forbid reports whether package from (module-relative) may not depend on d.
	Forbid func(from string, d dep) bool
}

// violation is one forbidden dependency: Pkg depends on Dep through Chain
// (Pkg, ..., Dep, following direct imports).
type violation struct {
	Rule  string
	Pkg   string
	Dep   string
	Chain []string
}

func (v violation) String() string {
	return fmt.Sprintf("%s: %s depends on %s (%s)", v.Rule, v.Pkg, v.Dep, strings.Join(v.Chain, " -> "))
}

// under reports whether the module-relative path p is root or inside it.
func under(p, root string) bool {
	return p == root || strings.HasPrefix(p, root+"/")
}

// command returns "cmd/NAME" for a path under cmd/NAME, else "".
func command(rel string) string {
	parts := strings.SplitN(rel, "/", 3)
	if len(parts) < 2 || parts[0] != "cmd" {
		return ""
	}
	return parts[0] + "/" + parts[1]
}

// designRules are the import rules of DESIGN.md section 2.
var designRules = []rule{
	{
		Name:   "packet and topic import only the standard library",
		Scope:  []string{"packet", "topic"},
		Forbid: func(_ string, d dep) bool { return !d.Standard },
	},
	{
		Name:   "client never imports broker",
		Scope:  []string{"client"},
		Forbid: func(_ string, d dep) bool { return d.InModule && under(d.Rel, "broker") },
	},
	{
		Name:   "broker never imports admin (admin imports broker)",
		Scope:  []string{"broker"},
		Forbid: func(_ string, d dep) bool { return d.InModule && under(d.Rel, "admin") },
	},
	{
		Name:  "broker never imports config or cmd",
		Scope: []string{"broker"},
		Forbid: func(_ string, d dep) bool {
			return d.InModule && (under(d.Rel, "config") || under(d.Rel, "cmd"))
		},
	},
	{
		// A command may be split into its own subpackages (cmd/roost/...);
		// nothing else may import them.
		Name: "nothing imports cmd",
		Forbid: func(from string, d dep) bool {
			return d.InModule && under(d.Rel, "cmd") && command(d.Rel) != command(from)
		},
	},
}

// inScope reports whether the module-relative package rel is covered by r.
func (r rule) inScope(rel string) bool {
	if len(r.Scope) == 0 {
		return true
	}
	for _, s := range r.Scope {
		if under(rel, s) {
			return true
		}
	}
	return false
}

// relPath returns the module-relative path of importPath ("" for the module root).
func relPath(module, importPath string) (string, bool) {
	if importPath == module {
		return "", true
	}
	if rest, ok := strings.CutPrefix(importPath, module+"/"); ok {
		return rest, true
	}
	return "", false
}

// check applies rules to every package of module in pkgs (keyed by import
// path, as listed by `go list -deps`) and returns the violations found, plus
// how many packages each rule checked.
func check(module string, pkgs map[string]pkgInfo, rules []rule) ([]violation, map[string]int) {
	var out []violation
	checked := make(map[string]int)
	roots := make([]string, 0, len(pkgs))
	for path, p := range pkgs {
		if _, in := relPath(module, path); in && !p.DepOnly {
			roots = append(roots, path)
		}
	}
	slices.Sort(roots)
	for _, path := range roots {
		rel, _ := relPath(module, path)
		for _, r := range rules {
			if !r.inScope(rel) {
				continue
			}
			checked[r.Name]++
			for _, dp := range pkgs[path].Deps {
				d := dep{Path: dp}
				d.Rel, d.InModule = relPath(module, dp)
				// A dependency go list did not describe is not known to be standard.
				d.Standard = pkgs[dp].Standard
				if r.Forbid(rel, d) {
					out = append(out, violation{Rule: r.Name, Pkg: path, Dep: dp, Chain: chain(pkgs, path, dp)})
				}
			}
		}
	}
	return out, checked
}

// chain returns the shortest path of direct imports from one package to
// another, for the error message.
func chain(pkgs map[string]pkgInfo, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == to {
			var path []string
			for p := to; p != ""; p = prev[p] {
				path = append(path, p)
			}
			slices.Reverse(path)
			return path
		}
		for _, next := range pkgs[cur].Imports {
			if _, seen := prev[next]; !seen {
				prev[next] = cur
				queue = append(queue, next)
			}
		}
	}
	return []string{from, "...", to}
}

// goCmd runs the go command in dir and returns its standard output.
func goCmd(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", args...) // go test puts its own GOROOT/bin first on PATH
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// listModule returns the module path and every package of the module with
// all of its dependencies, as `go list -e -deps ./...` describes them.
func listModule(t *testing.T) (string, map[string]pkgInfo) {
	t.Helper()
	gomod := strings.TrimSpace(string(goCmd(t, ".", "env", "GOMOD")))
	if gomod == "" || gomod == "/dev/null" {
		t.Fatal("not inside a Go module")
	}
	root := filepath.Dir(gomod)
	module := strings.TrimSpace(string(goCmd(t, root, "list", "-m", "-f", "{{.Path}}")))

	// -e: a package that does not compile yet is still listed with its imports.
	out := goCmd(t, root, "list", "-e", "-deps", "-json=ImportPath,Standard,DepOnly,Imports,Deps", "./...")
	pkgs := make(map[string]pkgInfo)
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkgInfo
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs[p.ImportPath] = p
	}
	return module, pkgs
}

func TestImportRules(t *testing.T) {
	module, pkgs := listModule(t)
	violations, checked := check(module, pkgs, designRules)
	for _, r := range designRules {
		if n := checked[r.Name]; n == 0 {
			t.Logf("%s: no such packages yet, nothing to check", r.Name)
		} else {
			t.Logf("%s: %d packages checked", r.Name, n)
		}
	}
	for _, v := range violations {
		t.Errorf("forbidden import (DESIGN.md section 2): %v", v)
	}
}

// TestCheckFlagsViolations proves the checker on a made-up module, so that
// TestImportRules passing means the rules hold, not that the checker is blind.
func TestCheckFlagsViolations(t *testing.T) {
	const m = "example.com/roost"
	pkgs := map[string]pkgInfo{}
	add := func(path string, std, depOnly bool, imports ...string) {
		pkgs[path] = pkgInfo{ImportPath: path, Standard: std, DepOnly: depOnly, Imports: imports}
	}
	add("bytes", true, true)
	add("errors", true, true)
	add("vendor/golang.org/x/net/dns/dnsmessage", true, true) // vendored in GOROOT: standard
	add("github.com/other/lib", false, true)
	add(m+"/internal/pool", false, false, "bytes")
	add(m+"/internal/bad", false, false, m+"/broker/queue")
	// Clean: standard library only.
	add(m+"/packet", false, false, "bytes", "errors", "vendor/golang.org/x/net/dns/dnsmessage")
	// Violation: a module-internal package.
	add(m+"/packet/props", false, false, m+"/internal/pool")
	// Violation: a third-party package.
	add(m+"/topic", false, false, "github.com/other/lib")
	add(m+"/config", false, false, "errors")
	// Two violations: config, and a package under cmd (which also breaks "nothing imports cmd").
	add(m+"/broker", false, false, m+"/packet", m+"/config", m+"/cmd/roost/cli")
	add(m+"/broker/queue", false, false, "bytes")
	// Clean.
	add(m+"/client", false, false, m+"/packet")
	// Violation: broker/queue, through internal/bad.
	add(m+"/client/managed", false, false, m+"/internal/bad")
	// A command may import its own subpackages (and broker, config, ...).
	add(m+"/cmd/roost", false, false, m+"/cmd/roost/cli", m+"/broker")
	add(m+"/cmd/roost/cli", false, false, m+"/config")
	// Violation: another command's package.
	add(m+"/cmd/other", false, false, m+"/cmd/roost/cli")
	// Deps is the transitive closure of Imports, as go list reports it.
	for path := range pkgs {
		seen := map[string]bool{}
		var walk func(string)
		walk = func(p string) {
			for _, i := range pkgs[p].Imports {
				if !seen[i] {
					seen[i] = true
					walk(i)
				}
			}
		}
		walk(path)
		p := pkgs[path]
		for d := range seen {
			p.Deps = append(p.Deps, d)
		}
		slices.Sort(p.Deps)
		pkgs[path] = p
	}

	got, checked := check(m, pkgs, designRules)
	var gotS []string
	for _, v := range got {
		gotS = append(gotS, v.String())
	}
	slices.Sort(gotS)
	const (
		std    = "packet and topic import only the standard library"
		client = "client never imports broker"
		broker = "broker never imports config or cmd"
		cmd    = "nothing imports cmd"
		admin  = "broker never imports admin (admin imports broker)"
	)
	want := []string{
		broker + ": " + m + "/broker depends on " + m + "/cmd/roost/cli (" + m + "/broker -> " + m + "/cmd/roost/cli)",
		broker + ": " + m + "/broker depends on " + m + "/config (" + m + "/broker -> " + m + "/config)",
		client + ": " + m + "/client/managed depends on " + m + "/broker/queue (" + m + "/client/managed -> " + m + "/internal/bad -> " + m + "/broker/queue)",
		cmd + ": " + m + "/broker depends on " + m + "/cmd/roost/cli (" + m + "/broker -> " + m + "/cmd/roost/cli)",
		cmd + ": " + m + "/cmd/other depends on " + m + "/cmd/roost/cli (" + m + "/cmd/other -> " + m + "/cmd/roost/cli)",
		std + ": " + m + "/packet/props depends on " + m + "/internal/pool (" + m + "/packet/props -> " + m + "/internal/pool)",
		std + ": " + m + "/topic depends on github.com/other/lib (" + m + "/topic -> github.com/other/lib)",
	}
	if !reflect.DeepEqual(gotS, want) {
		t.Errorf("violations:\n got  %q\n want %q", gotS, want)
	}
	wantChecked := map[string]int{std: 3, client: 2, broker: 2, cmd: 13, admin: 2}
	if !reflect.DeepEqual(checked, wantChecked) {
		t.Errorf("packages checked per rule: got %v, want %v", checked, wantChecked)
	}

	// No packages in a rule's scope: nothing checked, nothing flagged.
	empty := map[string]pkgInfo{m + "/internal/pool": {ImportPath: m + "/internal/pool", Deps: []string{"bytes"}}, "bytes": {ImportPath: "bytes", Standard: true, DepOnly: true}}
	if got, checked := check(m, empty, designRules); len(got) != 0 || checked[std] != 0 {
		t.Errorf("module without packet/topic: got violations %v, checked %v", got, checked)
	}
}
