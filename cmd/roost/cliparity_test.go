package main

// The same command lines through mosquitto_sub/mosquitto_pub and through
// roost sub/roost pub, against one roost broker: what they print and how
// they exit must agree (timestamps aside).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/roostmq/roost/internal/testpki"
)

// parityBroker is a roost serve with its admin API, whose subscription
// count tells when both subscribers are in place.
type parityBroker struct {
	port, admin string
}

func startParityBroker(t *testing.T) *parityBroker {
	t.Helper()
	mqtt, admin := freeAddr(t), freeAddr(t)
	startRoostConfig(t, fmt.Sprintf(`listeners:
  - type: tcp
    address: %q
admin:
  enabled: true
  address: %q
`, mqtt, admin), mqtt, admin)
	_, port, _ := strings.Cut(mqtt, ":")
	return &parityBroker{port: port, admin: admin}
}

func (b *parityBroker) subscriptions(t *testing.T) int {
	t.Helper()
	resp, err := http.Get("http://" + b.admin + "/api/v1/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Subscriptions int `json:"subscriptions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.Subscriptions
}

// waitSubscriptions polls until the broker holds n subscriptions.
func (b *parityBroker) waitSubscriptions(t *testing.T, n int, what string) {
	t.Helper()
	deadline := time.Now().Add(mosqWait)
	for b.subscriptions(t) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the broker never held %d subscriptions (has %d)", what, n, b.subscriptions(t))
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

// parityTool is one of the two implementations of a command.
type parityTool struct {
	name string
	argv func(cmd string) []string // "sub" or "pub" -> program and first arguments
}

var parityTools = []parityTool{
	{"mosquitto", func(cmd string) []string { return []string{"mosquitto_" + cmd} }},
	{"roost", func(cmd string) []string { return []string{roostBin, cmd} }},
}

type parityRun struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	code   int
}

func (b *parityBroker) start(t *testing.T, tool parityTool, cmd string, args ...string) *parityRun {
	t.Helper()
	return b.startIn(t, tool, cmd, "", args...)
}

// startIn is start with stdin as the command's standard input.
func (b *parityBroker) startIn(t *testing.T, tool parityTool, cmd, stdin string, args ...string) *parityRun {
	t.Helper()
	argv := append(tool.argv(cmd), append([]string{"-h", "127.0.0.1", "-p", b.port}, args...)...)
	ctx, cancel := context.WithTimeout(context.Background(), mosqWait)
	r := &parityRun{cmd: exec.CommandContext(ctx, argv[0], argv[1:]...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	r.cmd.Stdout, r.cmd.Stderr = r.stdout, r.stderr
	r.cmd.Stdin = strings.NewReader(stdin)
	if err := r.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		defer cancel()
		defer close(r.done)
		err := r.cmd.Wait()
		r.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		} else if err != nil {
			r.code = -1
		}
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.done
	})
	return r
}

func (r *parityRun) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(mosqWait):
		t.Fatalf("%s did not exit within %v; stderr:\n%s", what, mosqWait, r.stderr)
	}
}

// normalize hides what may differ between two runs: arrival times.
var (
	tstRe  = regexp.MustCompile(`"tst":(\s*)"[^"]*"`)
	unixRe = regexp.MustCompile(`\b1[0-9]{9}\.[0-9]{9}\b`)
	isoRe  = regexp.MustCompile(`\b20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}[+-][0-9]{4}\b`)
)

func normalize(s string) string {
	s = tstRe.ReplaceAllString(s, `"tst":${1}"T"`)
	s = unixRe.ReplaceAllString(s, "UNIX")
	return isoRe.ReplaceAllString(s, "ISO")
}

// mosqPubTo runs mosquitto_pub against b to completion.
func (b *parityBroker) mosqPub(t *testing.T, args ...string) {
	t.Helper()
	out, err := mosq("mosquitto_pub", append([]string{"-h", "127.0.0.1", "-p", b.port}, args...)...)
	if err != nil {
		t.Fatalf("mosquitto_pub %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestCLIParitySub(t *testing.T) {
	requireMosquitto(t)
	b := startParityBroker(t)
	v5 := []string{"-V", "mqttv5"}
	for _, tc := range []struct {
		name string
		sub  []string   // the subscriber's options (topics under cp/NAME/)
		n    int        // subscriptions each subscriber makes
		pre  [][]string // mosquitto_pub runs before the subscribers start
		pubs [][]string // mosquitto_pub runs once both are subscribed
	}{
		{name: "verbose", sub: []string{"-v", "-C", "2", "-t", "cp/verbose/#"}, n: 1,
			pubs: [][]string{{"-t", "cp/verbose/a", "-m", "one"}, {"-t", "cp/verbose/b", "-m", "two words"}}},
		{name: "fields", sub: []string{"-q", "2", "-C", "3", "-t", "cp/fields/+", "-F", `%t|%p|%q|%r|%l|%m|%x|%X\t@@%%`}, n: 1,
			pubs: [][]string{{"-t", "cp/fields/a", "-m", "q0"}, {"-t", "cp/fields/b", "-m", "q1", "-q", "1"}, {"-t", "cp/fields/c", "-m", "q2", "-q", "2"}}},
		{name: "widths", sub: []string{"-C", "1", "-t", "cp/widths/abc", "-F", `[%20t][%-20t][%05l][%-05l][%.4t][%8.4t]`}, n: 1,
			pubs: [][]string{{"-t", "cp/widths/abc", "-m", "hello"}}},
		{name: "json", sub: []string{"-q", "1", "-C", "2", "-t", "cp/json/#", "-F", "%j"}, n: 1,
			pubs: [][]string{{"-t", "cp/json/a", "-m", `quote " and \ and tab	`}, {"-t", "cp/json/b", "-m", `{"x":[1,2]}`, "-q", "1"}}},
		{name: "jsonraw", sub: []string{"-C", "2", "-t", "cp/jsonraw/#", "-F", "%J"}, n: 1,
			pubs: [][]string{{"-t", "cp/jsonraw/a", "-m", `{"t":21.5}`}, {"-t", "cp/jsonraw/b", "-m", "not json"}}},
		{name: "pretty", sub: []string{"-C", "1", "-t", "cp/pretty/#", "-F", "%j", "--pretty"}, n: 1,
			pubs: [][]string{{"-t", "cp/pretty/a", "-m", "x"}}},
		{name: "props", sub: append([]string{"-C", "1", "-t", "cp/props/#", "-F", `%C|%R|%D|%P|%F|%j`}, v5...), n: 1,
			pubs: [][]string{append([]string{"-t", "cp/props/a", "-m", "p", "-D", "publish", "content-type", "text/plain",
				"-D", "publish", "response-topic", "cp/reply", "-D", "publish", "correlation-data", "c42",
				"-D", "publish", "user-property", "k", "v", "-D", "publish", "user-property", "k2", "v2",
				"-D", "publish", "payload-format-indicator", "1"}, v5...)}},
		{name: "noretain", sub: []string{"-R", "-C", "1", "-v", "-t", "cp/noretain/#"}, n: 1,
			pre:  [][]string{{"-t", "cp/noretain/old", "-m", "stale", "-r"}},
			pubs: [][]string{{"-t", "cp/noretain/new", "-m", "fresh"}}},
		{name: "retainedonly", sub: []string{"--retained-only", "-v", "-t", "cp/retainedonly/#"}, n: 1,
			pre:  [][]string{{"-t", "cp/retainedonly/a", "-m", "kept", "-r"}},
			pubs: [][]string{{"-t", "cp/retainedonly/b", "-m", "live"}}},
		{name: "filterout", sub: []string{"-C", "2", "-v", "-t", "cp/filterout/#", "-T", "cp/filterout/skip/#", "-T", "cp/filterout/x"}, n: 1,
			pubs: [][]string{{"-t", "cp/filterout/skip/a", "-m", "no"}, {"-t", "cp/filterout/x", "-m", "no"},
				{"-t", "cp/filterout/a", "-m", "yes"}, {"-t", "cp/filterout/b", "-m", "yes"}}},
		{name: "nonewline", sub: []string{"-N", "-C", "2", "-t", "cp/nonewline/#"}, n: 1,
			pubs: [][]string{{"-t", "cp/nonewline/a", "-m", "a"}, {"-t", "cp/nonewline/b", "-m", "b"}}},
		{name: "mqttv31", sub: []string{"-V", "mqttv31", "-C", "1", "-v", "-q", "1", "-t", "cp/mqttv31/#"}, n: 1,
			pubs: [][]string{{"-t", "cp/mqttv31/a", "-m", "old protocol", "-q", "1"}}},
		{name: "exitaftersub", sub: []string{"-E", "-t", "cp/exitaftersub/a", "-t", "cp/exitaftersub/b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range tc.pre {
				b.mosqPub(t, p...)
			}
			base := b.subscriptions(t)
			runs := make([]*parityRun, len(parityTools))
			for i, tool := range parityTools {
				runs[i] = b.start(t, tool, "sub", append(slices2(tc.sub), "-W", mosqTimeoutSecs)...)
			}
			if tc.n > 0 {
				b.waitSubscriptions(t, base+tc.n*len(parityTools), tc.name)
			}
			for _, p := range tc.pubs {
				b.mosqPub(t, p...)
			}
			for i, r := range runs {
				r.wait(t, parityTools[i].name+" sub")
			}
			b.waitSubscriptions(t, base, tc.name+" (both gone)")
			m, r := runs[0], runs[1]
			if m.code != r.code {
				t.Errorf("exit codes differ: mosquitto_sub %d, roost sub %d\nroost stderr: %s", m.code, r.code, r.stderr)
			}
			if mo, ro := normalize(m.stdout.String()), normalize(r.stdout.String()); mo != ro {
				t.Errorf("outputs differ for %q\nmosquitto_sub:\n%q\nroost sub:\n%q", tc.sub, mo, ro)
			}
			if tc.name == "jsonraw" && !strings.Contains(r.stderr.String(), "not valid JSON on topic cp/jsonraw/b") {
				t.Errorf("roost sub did not report the payload that is not JSON; stderr:\n%s", r.stderr)
			}
		})
	}
}

func slices2(s []string) []string { return append([]string(nil), s...) }

// --remove-retained clears what it prints, except what -T filters out; -U
// removes a persistent session's subscription.
func TestCLIParityRemoveRetainedAndUnsubscribe(t *testing.T) {
	requireMosquitto(t)
	b := startParityBroker(t)
	for _, tool := range parityTools {
		t.Run(tool.name, func(t *testing.T) {
			base := "cp/rr/" + tool.name
			b.mosqPub(t, "-t", base+"/a", "-m", "A", "-r")
			b.mosqPub(t, "-t", base+"/keep", "-m", "K", "-r")
			r := b.start(t, tool, "sub", "-t", base+"/#", "-T", base+"/keep", "--remove-retained", "--retained-only", "-v", "-W", mosqTimeoutSecs)
			// --retained-only ends at the first live message.
			deadline := time.Now().Add(mosqWait)
			for !strings.Contains(r.stdout.String(), base+"/a A") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond) // polling with a deadline
			}
			b.mosqPub(t, "-t", base+"/live", "-m", "L")
			r.wait(t, tool.name+" sub")
			if got := r.stdout.String(); got != base+"/a A\n" {
				t.Fatalf("%s sub printed %q", tool.name, got)
			}
			// What is left: mosquitto_sub prints the retained messages, then
			// times out (exit 27).
			left, _ := mosq("mosquitto_sub", "-h", "127.0.0.1", "-p", b.port, "-t", base+"/#", "-v", "-W", "1")
			if strings.Contains(left, base+"/a") || !strings.Contains(left, base+"/keep K") {
				t.Fatalf("after --remove-retained the broker still holds or lost: %q", left)
			}

			// -U on a persistent session.
			id := "cp-u-" + tool.name
			topicA, topicB := "cp/u/"+tool.name+"/a", "cp/u/"+tool.name+"/b"
			step := func(args ...string) *parityRun {
				r := b.start(t, tool, "sub", append([]string{"-c", "-i", id, "-q", "1", "-W", mosqTimeoutSecs}, args...)...)
				r.wait(t, tool.name+" sub "+strings.Join(args, " "))
				if r.code != 0 {
					t.Fatalf("%s sub %q exited %d: %s", tool.name, args, r.code, r.stderr)
				}
				return r
			}
			step("-E", "-t", topicA, "-t", topicB)
			step("-E", "-U", topicA, "-t", topicB) // mosquitto_sub wants a -t too
			b.mosqPub(t, "-t", topicA, "-m", "gone", "-q", "1")
			b.mosqPub(t, "-t", topicB, "-m", "queued", "-q", "1")
			if got := step("-C", "1", "-v", "-t", topicB).stdout.String(); got != topicB+" queued\n" {
				t.Fatalf("after -U the session delivered %q", got)
			}
		})
	}
}

// roost pub and mosquitto_pub with the same options publish the same
// messages, and refuse the same bad command lines.
func TestCLIParityPub(t *testing.T) {
	requireMosquitto(t)
	b := startParityBroker(t)
	base := b.subscriptions(t) // observers come and go; each waits for the last to be gone
	for _, tc := range []struct {
		name  string
		pub   []string
		stdin string
		n     int // messages published
	}{
		{name: "message", pub: []string{"-m", "hello", "-q", "1"}, n: 1},
		{name: "retain", pub: []string{"-m", "kept", "-r", "-q", "2"}, n: 1},
		{name: "null", pub: []string{"-n"}, n: 1},
		{name: "lines", pub: []string{"-l", "-q", "1"}, stdin: "one\ntwo\nthree\n", n: 3},
		{name: "repeat", pub: []string{"-m", "r", "--repeat", "3", "--repeat-delay", "0.05", "-q", "1"}, n: 3},
		{name: "inflight", pub: []string{"-l", "-q", "1", "-M", "2"}, stdin: "a\nb\nc\nd\n", n: 4},
		{name: "v5props", pub: []string{"-m", "p", "-V", "mqttv5", "-D", "publish", "user-property", "k", "v", "-D", "publish", "content-type", "ct"}, n: 1},
		{name: "mqttv31", pub: []string{"-m", "old", "-V", "mqttv31", "-q", "1"}, n: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var outs [2]string
			for i, tool := range parityTools {
				topic := "cp/pub/" + tc.name + "/" + tool.name
				b.waitSubscriptions(t, base, tc.name+" (the last observer gone)")
				obs := b.start(t, parityTools[0], "sub", "-V", "mqttv5", "-q", "2", "-t", topic, "-C", fmt.Sprint(tc.n), "-W", mosqTimeoutSecs, "-F", "%q|%r|%p|%P|%C")
				b.waitSubscriptions(t, base+1, tc.name)
				p := b.startIn(t, tool, "pub", tc.stdin, append([]string{"-t", topic}, tc.pub...)...)
				p.wait(t, tool.name+" pub")
				if p.code != 0 {
					t.Fatalf("%s pub exited %d: %s", tool.name, p.code, p.stderr)
				}
				obs.wait(t, "observer")
				outs[i] = obs.stdout.String()
			}
			if outs[0] != outs[1] {
				t.Fatalf("observed different messages\nmosquitto_pub:\n%q\nroost pub:\n%q", outs[0], outs[1])
			}
		})
	}
}

// Bad command lines fail in both, with a message and a non-zero exit.
func TestCLIParityRefusals(t *testing.T) {
	requireMosquitto(t)
	b := startParityBroker(t)
	for _, tc := range []struct {
		cmd  string
		args []string
	}{
		{"pub", []string{"-t", "a/#", "-m", "x"}},
		{"pub", []string{"-t", "a/+/b", "-m", "x"}},
		{"sub", []string{"-t", "a", "-F", "%z"}},
		{"sub", []string{"-t", "a", "-F", "%"}},
		{"sub", []string{"-t", "a", "-F", `x\q`}},
		{"sub", []string{"-t", "a/#/b"}},
		{"sub", []string{"-t", "a", "-V", "mqttv4"}},
	} {
		for _, tool := range parityTools {
			r := b.start(t, tool, tc.cmd, append(slices2(tc.args), "-W", "2")...)
			r.wait(t, tool.name+" "+tc.cmd)
			if r.code == 0 || r.stderr.String() == "" && r.stdout.String() == "" {
				t.Errorf("%s %s %q: exit %d with no error message", tool.name, tc.cmd, tc.args, r.code)
			}
		}
	}
	// --quiet: the same failure, silent.
	r := b.start(t, parityTools[1], "pub", "-t", "a/#", "-m", "x", "--quiet")
	r.wait(t, "roost pub --quiet")
	if r.code == 0 || r.stderr.String() != "" {
		t.Errorf("roost pub --quiet: exit %d, stderr %q", r.code, r.stderr)
	}
}

// The connection options mosquitto's clients have: -o, --unix and unix://,
// -I, -A, --capath, --tls-use-os-certs, --tls-version and --insecure.
func TestCLIConnectOptions(t *testing.T) {
	p := testpki.New(t)
	plain, admin, tlsAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	// A TLS listener on 127.0.0.2: the certificate names 127.0.0.1 and
	// localhost only.
	_, tlsPort, _ := strings.Cut(tlsAddr, ":")
	other := "127.0.0.2:" + tlsPort
	sock := filepath.Join(t.TempDir(), "mqtt.sock")
	startRoostConfig(t, fmt.Sprintf(`listeners:
  - type: tcp
    address: %q
  - type: tls
    address: %q
    tls: {cert_file: %q, key_file: %q}
  - type: tls
    address: %q
    tls: {cert_file: %q, key_file: %q}
  - type: unix
    address: %q
admin:
  enabled: true
  address: %q
`, plain, tlsAddr, p.CertFile, p.KeyFile, other, p.CertFile, p.KeyFile, sock, admin), plain, tlsAddr, other, admin)
	_, port, _ := strings.Cut(plain, ":")
	capath := filepath.Dir(p.CAFile)
	pub := func(args ...string) result {
		t.Helper()
		return roost(t, append([]string{"pub", "-t", "opts/x", "-m", "m", "-q", "1", "-W", "10"}, args...)...)
	}
	for _, tc := range []struct {
		name string
		args []string
		ok   bool
	}{
		{"unix flag", []string{"--unix", sock}, true},
		{"unix URL", []string{"-L", "unix://" + sock}, true},
		{"cafile", []string{"-h", "127.0.0.1", "-p", tlsPort, "--cafile", p.CAFile}, true},
		{"capath", []string{"-h", "127.0.0.1", "-p", tlsPort, "--capath", capath}, true},
		{"tls 1.3", []string{"-h", "127.0.0.1", "-p", tlsPort, "--cafile", p.CAFile, "--tls-version", "tlsv1.3"}, true},
		{"tls 1.2", []string{"-h", "127.0.0.1", "-p", tlsPort, "--cafile", p.CAFile, "--tls-version", "tlsv1.2"}, true},
		{"os certs alone do not know the test CA", []string{"-h", "127.0.0.1", "-p", tlsPort, "--tls-use-os-certs"}, false},
		{"os certs and cafile", []string{"-h", "127.0.0.1", "-p", tlsPort, "--tls-use-os-certs", "--cafile", p.CAFile}, true},
		{"name mismatch refused", []string{"-h", "127.0.0.2", "-p", tlsPort, "--cafile", p.CAFile}, false},
		{"insecure skips the name", []string{"-h", "127.0.0.2", "-p", tlsPort, "--cafile", p.CAFile, "--insecure"}, true},
		{"insecure still verifies the chain", []string{"-h", "127.0.0.2", "-p", tlsPort, "--insecure"}, false},
		{"bad tls version", []string{"-h", "127.0.0.1", "-p", tlsPort, "--tls-version", "sslv3"}, false},
	} {
		r := pub(tc.args...)
		if (r.code == 0) != tc.ok {
			t.Errorf("%s: roost pub %q exited %d (want ok %v): %s", tc.name, tc.args, r.code, tc.ok, r.stderr)
		}
	}

	// -o: options from a file, overridden by the command line.
	opts := writeFile(t, "opts", "# defaults\n-h 127.0.0.1 -p "+port+"\n-q 2 -m 'from the file'\n")
	wait := startRoostSub(t, "-h", "127.0.0.1", "-p", port, "-t", "opts/o", "-C", "1", "-F", "%q %p", "-q", "2", "-W", "15")
	if r := roost(t, "pub", "-o", opts, "-t", "opts/o", "-q", "1"); r.code != 0 {
		t.Fatalf("roost pub -o: exit %d: %s", r.code, r.stderr)
	}
	if code, out := wait(); code != 0 || out != "1 from the file\n" {
		t.Fatalf("roost sub got %q (exit %d); want the file's message at the command line's QoS", out, code)
	}
	if r := roost(t, "pub", "-o", filepath.Join(t.TempDir(), "missing"), "-t", "x", "-m", "y"); r.code != 2 {
		t.Fatalf("roost pub -o missing: exit %d, want 2", r.code)
	}

	// -I and -A, as the broker sees them.
	sub := exec.Command(roostBin, "sub", "-h", "127.0.0.1", "-p", port, "-I", "parity-", "-A", "127.0.0.3", "-t", "opts/i", "-W", "15")
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Process.Kill(); _ = sub.Wait() }()
	want := fmt.Sprintf("parity-%d", sub.Process.Pid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + admin + "/api/v1/clients?search=parity-")
		if err != nil {
			t.Fatal(err)
		}
		var list struct {
			Clients []struct {
				ClientID   string `json:"client_id"`
				RemoteAddr string `json:"remote_addr"`
			} `json:"clients"`
		}
		err = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Clients) == 1 {
			c := list.Clients[0]
			if c.ClientID != want || !strings.HasPrefix(c.RemoteAddr, "127.0.0.3:") {
				t.Fatalf("client %q from %s; want %q from 127.0.0.3", c.ClientID, c.RemoteAddr, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("roost sub -I parity- never connected: %+v", list)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}
