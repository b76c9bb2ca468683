package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roostmq/roost/internal/loadgen"
	"github.com/roostmq/roost/internal/testpki"
)

// roost bench reaches a broker the way real clients do: with a password,
// over TLS, WebSocket, secure WebSocket and a Unix socket, through -L URLs,
// in MQTT 5 unless told otherwise; its JSON summary carries percentiles and
// a histogram that accounts for every delivery.
func TestBenchTransports(t *testing.T) {
	p := testpki.New(t)
	pw := filepath.Join(t.TempDir(), "passwd")
	if r := roostStdin(t, "s3cret\n", "passwd", "--password-stdin", pw, "bench"); r.code != 0 {
		t.Fatalf("passwd: %d %s", r.code, r.stderr)
	}
	tcp, tls, ws, wss := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	sock := filepath.Join(t.TempDir(), "mqtt.sock")
	startRoostConfig(t, fmt.Sprintf(`listeners:
  - {type: tcp, address: %q}
  - {type: tls, address: %q, tls: {cert_file: %q, key_file: %q}}
  - {type: ws, address: %q}
  - {type: wss, address: %q, tls: {cert_file: %q, key_file: %q}}
  - {type: unix, address: %q}
auth:
  password_file: %q
`, tcp, tls, p.CertFile, p.KeyFile, ws, wss, p.CertFile, p.KeyFile, sock, pw), tcp, tls, ws, wss)
	_, tcpPort, _ := strings.Cut(tcp, ":")
	_, tlsPort, _ := strings.Cut(tls, ":")
	creds := []string{"-u", "bench", "-P", "s3cret"}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"tcp", append([]string{"-p", tcpPort}, creds...)},
		{"tcp 3.1.1", append([]string{"-p", tcpPort, "-V", "mqttv311"}, creds...)},
		{"tls", append([]string{"-p", tlsPort, "--cafile", p.CAFile}, creds...)},
		{"url with credentials", []string{"-L", "mqtt://bench:s3cret@" + tcp}},
		{"mqtts url", append([]string{"-L", "mqtts://" + tls, "--cafile", p.CAFile}, creds...)},
		{"ws", append([]string{"-L", "ws://" + ws + "/mqtt"}, creds...)},
		{"wss", append([]string{"-L", "wss://" + wss + "/mqtt", "--cafile", p.CAFile}, creds...)},
		{"unix", append([]string{"--unix", sock}, creds...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := roost(t, append([]string{"bench", "--json", "-S", "p2p", "-c", "2", "-q", "1", "-n", "200"}, tc.args...)...)
			if r.code != 0 {
				t.Fatalf("roost bench: exit %d: %s", r.code, r.stderr)
			}
			var res loadgen.Result
			if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
				t.Fatalf("bench --json: %v\n%s", err, r.stdout)
			}
			if res.Connections != 4 || res.ConnectErrors != 0 || res.Received != 400 || res.Lost != 0 || res.Duplicates != 0 {
				t.Fatalf("bench result: %+v", res)
			}
			var sum uint64
			for _, b := range res.Latency {
				sum += b.Count
			}
			if sum != res.Received || res.LatencyP99 <= 0 || res.LatencyP99 > res.LatencyMax {
				t.Fatalf("histogram counts %d of %d deliveries; p99 %v max %v", sum, res.Received, res.LatencyP99, res.LatencyMax)
			}
		})
	}
	// Without the password the broker refuses every connection.
	r := roost(t, "bench", "--json", "-p", tcpPort, "-n", "10")
	if r.code == 0 && !strings.Contains(r.stdout, `"connect_errors": 2`) {
		t.Fatalf("bench without credentials: exit %d, %s %s", r.code, r.stdout, r.stderr)
	}
	// The text summary shows the percentiles and the histogram.
	r = roost(t, append([]string{"bench", "-p", tcpPort, "-n", "100"}, creds...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "p99") || !strings.Contains(r.stdout, "histogram    <") {
		t.Fatalf("bench summary: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
