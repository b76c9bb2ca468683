package listener

// Interoperability of the WebSocket listeners with MQTT.js (npm's mqtt): in
// Node over ws:// and wss:// (with a client certificate), and in a real
// headless Chromium page driven by playwright-core. The JavaScript lives in
// testdata/js; scripts/install-test-deps.sh installs node, npm, chromium and
// the npm packages (npm ci).
//
// When a tool is missing the tests skip with a message, except where
// ROOST_REQUIRE_INTEROP=1 or CI is set (as `make test` does): there they
// fail, so interoperability is never skipped quietly.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roostmq/roost/internal/testpki"
)

const jsDir = "testdata/js"

// requireJS skips or fails the test when node or the npm packages (and,
// with browser, chromium) are missing.
func requireJS(t *testing.T, browser bool) {
	t.Helper()
	var missing []string
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node (Debian's nodejs)")
	}
	pkgs := []string{"mqtt"}
	if browser {
		pkgs = append(pkgs, "playwright-core")
		if _, err := os.Stat(chromiumPath()); err != nil {
			missing = append(missing, "chromium at "+chromiumPath()+" (Debian's chromium)")
		}
	}
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join(jsDir, "node_modules", p, "package.json")); err != nil {
			missing = append(missing, "npm package "+p+" (npm ci in listener/testdata/js)")
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "missing " + strings.Join(missing, ", ") + "; run scripts/install-test-deps.sh"
	if os.Getenv("ROOST_REQUIRE_INTEROP") == "1" || os.Getenv("CI") != "" {
		t.Fatal(msg + "; interop tests are required (ROOST_REQUIRE_INTEROP=1 or CI is set)")
	}
	t.Skip(msg + "; skipping (set ROOST_REQUIRE_INTEROP=1 to make this a failure)")
}

func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// node runs a script of testdata/js and returns its exit code and output.
func node(t *testing.T, timeout time.Duration, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = jsDir
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("node %s: timed out after %v:\n%s", strings.Join(args, " "), timeout, out)
	}
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("node %s: %v", strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

func TestMQTTJSNode(t *testing.T) {
	requireJS(t, false)
	p := testpki.New(t)
	wsAddr, wsRec := startBroker(t, Config{Type: WS, Address: "127.0.0.1:0"})
	wssAddr, wssRec := startBroker(t, Config{Type: WSS, Address: "127.0.0.1:0", TLS: &TLSConfig{
		CertFile: p.CertFile, KeyFile: p.KeyFile, CAFile: p.CAFile, ClientCerts: ClientCertsOptional}})
	for _, v := range []string{"4", "5"} {
		t.Run("ws/v"+v, func(t *testing.T) {
			code, out := node(t, 30*time.Second, "mqttjs.mjs", "ws://"+wsAddr+"/mqtt", v)
			if code != 0 || !strings.HasPrefix(out, "OK hello from MQTT.js v"+v) {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			wsRec.next(t)
		})
		t.Run("wss/v"+v, func(t *testing.T) {
			code, out := node(t, 30*time.Second, "mqttjs.mjs", "wss://localhost:"+port(wssAddr)+"/mqtt", v, p.CAFile)
			if code != 0 || !strings.HasPrefix(out, "OK ") {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			if u := wssRec.next(t).Username; u != "" {
				t.Errorf("username %q without a client certificate", u)
			}
		})
		t.Run("wss-cert/v"+v, func(t *testing.T) {
			code, out := node(t, 30*time.Second, "mqttjs.mjs", "wss://localhost:"+port(wssAddr)+"/mqtt", v,
				p.CAFile, p.ClientCertFile, p.ClientKeyFile)
			if code != 0 || !strings.HasPrefix(out, "OK ") {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			if u := wssRec.next(t).Username; u != "dev1" {
				t.Errorf("username %q, want dev1 from the client certificate", u)
			}
		})
	}
}

func port(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

// TestMQTTJSBrowser loads a page from one origin in headless Chromium and
// connects from it with MQTT.js: accepted when the origin is on the
// listener's allow-list, refused when it is not.
func TestMQTTJSBrowser(t *testing.T) {
	requireJS(t, true)
	if testing.Short() {
		t.Skip("starts a browser; skipped with -short")
	}
	bundle, err := os.ReadFile(filepath.Join(jsDir, "node_modules", "mqtt", "dist", "mqtt.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/mqtt.min.js":
			w.Header().Set("Content-Type", "text/javascript")
			w.Write(bundle)
		default:
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<!doctype html><title>roost</title><script src="/mqtt.min.js"></script>`)
		}
	}))
	defer page.Close()

	allowed, rec := startBroker(t, Config{Type: WS, Address: "127.0.0.1:0",
		WebSocket: &WSConfig{AllowedOrigins: []string{page.URL}}})
	code, out := node(t, 90*time.Second, "browser.mjs", page.URL+"/", "ws://"+allowed+"/mqtt")
	if code != 0 || !strings.HasPrefix(out, "OK hello from ") {
		t.Fatalf("allowed origin: exit %d:\n%s", code, out)
	}
	t.Logf("browser: %s", strings.TrimSpace(out))
	rec.next(t)

	refused, _ := startBroker(t, Config{Type: WS, Address: "127.0.0.1:0",
		WebSocket: &WSConfig{AllowedOrigins: []string{"https://app.example.com"}}})
	if code, out := node(t, 90*time.Second, "browser.mjs", page.URL+"/", "ws://"+refused+"/mqtt"); code != 2 {
		t.Fatalf("origin not on the list: exit %d, want 2 (refused):\n%s", code, out)
	}
}
