package admin

// The dashboard end to end in headless Chromium: admin/ui/e2e/dashboard.mjs
// (playwright-core driving Debian's chromium) against a broker with a TCP
// and a WebSocket listener and the admin server, all on 127.0.0.1:0. The
// script checks the overview, the clients table and the topic tree, opens
// the tap on a filter and prints READY; this test then publishes a JSON
// message over MQTT, which the tap must show pretty-printed. The script then
// publishes with the dashboard's form, which the tap must show as well.
//
// Screenshots go to test-artifacts/dashboard at the repository root
// (gitignored); with ROOST_UPDATE_SCREENSHOTS=1 they are also copied to
// docs/screenshots, which is committed.
//
// scripts/install-test-deps.sh installs node, npm, chromium and the npm
// packages of admin/ui (npm ci). Without them the test skips, except under
// ROOST_REQUIRE_INTEROP=1 or CI (as `make test` runs it): there it fails.

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/client"
	"github.com/roostmq/roost/listener"
	"github.com/roostmq/roost/packet"
)

const uiDir = "ui"

func requireBrowser(t *testing.T) {
	t.Helper()
	var missing []string
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node (Debian's nodejs)")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, "chromium at "+chromium+" (Debian's chromium)")
	}
	if _, err := os.Stat(filepath.Join(uiDir, "node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, "npm package playwright-core (npm ci in admin/ui)")
	}
	if len(missing) == 0 {
		return
	}
	msg := "missing " + strings.Join(missing, ", ") + "; run scripts/install-test-deps.sh"
	if os.Getenv("ROOST_REQUIRE_INTEROP") == "1" || os.Getenv("CI") != "" {
		t.Fatal(msg + "; the browser test is required (ROOST_REQUIRE_INTEROP=1 or CI is set)")
	}
	t.Skip(msg + "; skipping (set ROOST_REQUIRE_INTEROP=1 to make this a failure)")
}

func TestDashboardBrowser(t *testing.T) {
	requireBrowser(t)
	if testing.Short() {
		t.Skip("starts a browser; skipped with -short")
	}
	logger := testLogger(t)

	// The admin listener first, for its URL.
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminURL := "http://" + adminLn.Addr().String()

	opts := broker.DefaultOptions()
	opts.Listen = nil
	opts.SysInterval = time.Second
	opts.Logger = logger
	obs := NewObserver()
	opts.Hooks = obs.Hooks(opts.Hooks)
	srv, err := broker.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := listener.Listen(listener.Config{Type: listener.TCP, Address: "127.0.0.1:0"}, logger)
	if err != nil {
		t.Fatal(err)
	}
	// No allowed_origins: the tap must work out of the box, through the
	// admin listener's /mqtt.
	ws, err := listener.Listen(listener.Config{Type: listener.WS, Address: "127.0.0.1:0"}, logger)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 2)
	go func() { served <- srv.Serve(tcp) }()
	go func() { served <- srv.Serve(ws) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-served
		<-served
	})

	a, err := New(Options{Broker: srv, Logger: logger, Observer: obs,
		WebSocketURLs: []string{"ws://" + ws.Addr().String() + "/mqtt"}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(a.Handler())
	hs.Listener.Close()
	hs.Listener = adminLn
	hs.Start()
	t.Cleanup(hs.Close)

	// A client for the clients table, and a retained value for the tree.
	ctx := context.Background()
	pub, err := client.Dial(ctx, tcp.Addr().String(), &client.Options{ClientID: "sensor-42", Version: packet.V5, CleanStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Publish(ctx, &client.Message{Topic: "plant/line1/temp", Payload: []byte(`{"celsius":21.5}`), QoS: 1, Retain: true}); err != nil {
		t.Fatal(err)
	}

	// Background traffic for the charts and topic rates: a subscriber and a
	// publisher at about 20 messages a second.
	demoSub, err := client.Dial(ctx, tcp.Addr().String(), &client.Options{ClientID: "line-monitor", Version: packet.V311, CleanStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer demoSub.Close()
	if _, err := demoSub.Subscribe(ctx, client.Subscription{Filter: "plant/#", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	stopTraffic := make(chan struct{})
	trafficDone := make(chan struct{})
	go func() {
		defer close(trafficDone)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopTraffic:
				return
			case <-tick.C:
			}
			p := []byte(`{"litres_per_min":` + strconv.Itoa(100+i%7) + `}`)
			if err := pub.Publish(ctx, &client.Message{Topic: "plant/line3/flow", Payload: p}); err != nil {
				return
			}
		}
	}()
	defer func() { close(stopTraffic); <-trafficDone }()

	artifacts := filepath.Join("..", "test-artifacts", "dashboard")
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(artifacts)

	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(tctx, "node", "e2e/dashboard.mjs", adminURL, abs,
		"sensor-42", "plant/line1/temp", "plant/+/pressure", "plant/line2/pressure", "plant/line3/flow")
	cmd.Dir = uiDir
	cmd.Stderr = &testWriter{t: t, prefix: "node stderr: "}
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		out = append(out, line)
		if line == "READY" {
			// The tap is subscribed: publish the message it must show.
			payload := `{"bar":1.013,"valve":{"open":true,"position":42},"alarms":["none"]}`
			if err := pub.Publish(ctx, &client.Message{Topic: "plant/line2/pressure", Payload: []byte(payload), QoS: 1}); err != nil {
				t.Error(err)
			}
		}
	}
	err = cmd.Wait()
	t.Logf("browser:\n%s", strings.Join(out, "\n"))
	if tctx.Err() != nil {
		t.Fatal("the browser test timed out")
	}
	if err != nil || len(out) == 0 || out[len(out)-1] != "OK" {
		t.Fatalf("browser test failed (%v); screenshots so far in %s", err, abs)
	}
	want := "PAYLOAD " + `"{\n  \"bar\": 1.013,\n  \"valve\": {\n    \"open\": true,\n    \"position\": 42\n  },\n  \"alarms\": [\n    \"none\"\n  ]\n}"`
	if !contains(out, want) {
		t.Errorf("the tap did not show the payload pretty-printed; want line %s", want)
	}
	if !contains(out, "PUBLISHED plant/from-dashboard/pressure") {
		t.Error("the dashboard's publish form did not reach the tap")
	}
	for _, name := range []string{"overview.png", "clients.png", "topics.png", "tap.png"} {
		fi, err := os.Stat(filepath.Join(artifacts, name))
		if err != nil || fi.Size() < 1000 {
			t.Errorf("screenshot %s: %v", name, err)
		}
	}
	if os.Getenv("ROOST_UPDATE_SCREENSHOTS") == "1" {
		dst := filepath.Join("..", "docs", "screenshots")
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"overview.png", "clients.png", "topics.png", "tap.png"} {
			copyFile(t, filepath.Join(artifacts, name), filepath.Join(dst, "dashboard-"+name))
		}
	}

	// The page's own requests went through the API: the dashboard is served
	// with the right content type.
	resp, err := http.Get(adminURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("dashboard content type %q", ct)
	}
}

func contains(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

type testWriter struct {
	t      *testing.T
	prefix string
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(w.prefix + strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// The login page in a real browser: admin/ui/e2e/login.mjs against an
// admin server with a user.
func TestDashboardLoginBrowser(t *testing.T) {
	requireBrowser(t)
	if testing.Short() {
		t.Skip("starts a browser; skipped with -short")
	}
	e := newEnv(t, Config{Users: map[string]string{"ops": "correct horse"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "e2e/login.mjs", e.http.URL, "ops", "correct horse")
	cmd.Dir = uiDir
	cmd.Stderr = &testWriter{t: t, prefix: "node stderr: "}
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	t.Logf("browser:\n%s", out)
	if ctx.Err() != nil {
		t.Fatal("the browser test timed out")
	}
	if err != nil || lines[len(lines)-1] != "OK" {
		t.Fatalf("login browser test failed: %v", err)
	}
	if !contains(lines, "REFUSED") || !contains(lines, `COOKIE {"httpOnly":true,"sameSite":"Strict"}`) {
		t.Error("missing steps in the browser's output")
	}
}
