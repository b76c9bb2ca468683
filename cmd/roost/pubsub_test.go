package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/roostmq/roost/client"
)

// startRoostSub runs `roost sub ARGS -d` and returns once it has
// subscribed; wait returns its exit code and stdout.
func startRoostSub(t *testing.T, args ...string) (wait func() (int, string)) {
	t.Helper()
	cmd := exec.Command(roostBin, append([]string{"sub", "-d"}, args...)...)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan int, 1)
	go func() {
		code, _ := waitExit(cmd, time.Hour)
		exited <- code
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(stderr.String(), "subscribed to") {
		if time.Now().After(deadline) {
			t.Fatalf("roost sub did not subscribe within 10 s; stderr:\n%s", stderr)
		}
		select {
		case code := <-exited:
			t.Fatalf("roost sub exited with %d; stderr:\n%s", code, stderr)
		case <-tick.C:
		}
	}
	return func() (int, string) {
		select {
		case code := <-exited:
			return code, stdout.String()
		case <-time.After(20 * time.Second):
			t.Fatalf("roost sub did not exit; stderr:\n%s", stderr)
			return 0, ""
		}
	}
}

func TestPubSubJSON(t *testing.T) {
	port := startRoost(t)
	for _, v := range []string{"mqttv311", "5"} {
		t.Run(v, func(t *testing.T) {
			wait := startRoostSub(t, "-p", port, "-V", v, "-t", "a/#", "-t", "other", "-q", "1", "-C", "3", "-F", "json", "-W", "15")
			for _, args := range [][]string{
				{"-t", "a/b", "-m", "x", "-q", "1", "-D", "publish", "user-property", "k", "v", "-D", "publish", "content-type", "text/plain"},
				{"-t", "other", "-m", "y", "-q", "2", "-V", "311"},
				{"-t", "a/c", "-n"},
			} {
				if r := roost(t, append([]string{"pub", "-h", "127.0.0.1", "-p", port, "-V", v}, args...)...); r.code != 0 {
					t.Fatalf("roost pub %v: exit %d, stderr %s", args, r.code, r.stderr)
				}
			}
			code, out := wait()
			if code != 0 {
				t.Fatalf("roost sub exit %d, stdout:\n%s", code, out)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 3 {
				t.Fatalf("want 3 lines, got:\n%s", out)
			}
			var got []jsonMessage
			for _, l := range lines {
				var m jsonMessage
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("%q: %v", l, err)
				}
				got = append(got, m)
			}
			if got[0].Topic != "a/b" || got[0].Payload != "x" || got[0].QoS != 1 {
				t.Errorf("first: %+v", got[0])
			}
			if v == "5" {
				if p := got[0].Properties; p == nil || p.ContentType != "text/plain" ||
					len(p.UserProperties) != 1 || p.UserProperties[0] != (jsonUserProp{"k", "v"}) {
					t.Errorf("properties: %+v", got[0].Properties)
				}
			}
			if got[1].Topic != "other" || got[1].Payload != "y" || got[1].QoS != 1 {
				t.Errorf("second: %+v", got[1])
			}
			if got[2].Topic != "a/c" || got[2].Payload != "" || got[2].QoS != 0 {
				t.Errorf("third: %+v", got[2])
			}
		})
	}
}

func TestSubVerboseAndTimeout(t *testing.T) {
	port := startRoost(t)
	wait := startRoostSub(t, "-p", port, "-t", "v/#", "-v", "-C", "2", "-W", "2")
	if r := roost(t, "pub", "-p", port, "-t", "v/1", "-m", "hello world"); r.code != 0 {
		t.Fatalf("pub: %d %s", r.code, r.stderr)
	}
	// Only one of two messages: -W ends the wait with exit code 1.
	code, out := wait()
	if code != 1 || out != "v/1 hello world\n" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
}

func TestPubUsage(t *testing.T) {
	for _, args := range [][]string{
		{"pub", "-t", "x"},                  // no message
		{"pub", "-t", "x", "-m", "a", "-n"}, // two messages
		{"pub", "-t", "x", "-m", "a", "-q", "3"},
		{"pub", "-t", "x", "-m", "a", "-V", "4"},
		{"sub", "-C", "1"},
		{"pub", "-t", "x", "-m", "a", "-D", "publish", "no-such-property", "1"},
	} {
		r := roost(t, args...)
		if r.code != 2 {
			t.Errorf("roost %s: exit %d, want 2; stderr %s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	if r := roost(t, "pub", "--help"); r.code != 0 || !strings.Contains(r.stdout, "--will-topic") {
		t.Errorf("pub --help: %d %s", r.code, r.stdout)
	}
}

func TestPubConnectFails(t *testing.T) {
	r := roost(t, "pub", "-p", "1", "-t", "x", "-m", "y")
	if r.code != 1 {
		t.Errorf("exit %d, stderr %s", r.code, r.stderr)
	}
}

func TestReq(t *testing.T) {
	port := startRoost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var responder *client.Client
	responder, err := client.Dial(ctx, "127.0.0.1:"+port, &client.Options{ClientID: "responder", CleanStart: true,
		OnMessage: func(m *client.Message) {
			reply := &client.Message{Topic: m.Properties.ResponseTopic, Payload: append([]byte("echo: "), m.Payload...),
				QoS: 1, Properties: client.Properties{CorrelationData: m.Properties.CorrelationData}}
			go func() { _ = responder.Publish(ctx, reply) }()
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer responder.Disconnect(ctx, 0)
	if _, err := responder.Subscribe(ctx, client.Subscription{Filter: "svc/echo", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	r := roost(t, "req", "-p", port, "-t", "svc/echo", "-e", "replies/me", "-m", "hi", "-q", "1")
	if r.code != 0 || r.stdout != "echo: hi\n" {
		t.Errorf("req: exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
	// Without -e a random response topic is used.
	r = roost(t, "req", "-p", port, "-t", "svc/echo", "-m", "again")
	if r.code != 0 || r.stdout != "echo: again\n" {
		t.Errorf("req: exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
	// Nobody answers: exit 1 after -W.
	r = roost(t, "req", "-p", port, "-t", "svc/nobody", "-m", "hi", "-W", "1")
	if r.code != 1 || !strings.Contains(r.stderr, "no response") {
		t.Errorf("req timeout: exit %d stderr %s", r.code, r.stderr)
	}
}
