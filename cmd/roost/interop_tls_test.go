package main

// mosquitto_pub and mosquitto_sub against the roost binary over TLS: with
// --cafile only, and with a client certificate on a listener that requires
// one. Certificates are made at run time.

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roostmq/roost/internal/testpki"
)

// freeAddr returns a loopback address with a port that was free just now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startRoostConfig runs `roost serve --config` with the given file until the
// test ends and waits until every address in wait accepts TCP connections.
func startRoostConfig(t *testing.T, config string, wait ...string) *syncBuffer {
	t.Helper()
	return runServe(t, []string{"--config", writeFile(t, "roost.yaml", config)}, wait...)
}

// mosq runs a mosquitto client to completion and returns its output.
func mosq(tool string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), mosqWait)
	defer cancel()
	out, err := exec.CommandContext(ctx, tool, args...).CombinedOutput()
	return string(out), err
}

func TestMosquittoTLS(t *testing.T) {
	requireMosquitto(t)
	p := testpki.New(t)
	open, certs := freeAddr(t), freeAddr(t)
	stderr := startRoostConfig(t, fmt.Sprintf(`listeners:
  - type: tls
    address: %q
    tls: {cert_file: %q, key_file: %q}
  - type: tls
    address: %q
    tls: {cert_file: %q, key_file: %q, ca_file: %q, client_certs: required}
`, open, p.CertFile, p.KeyFile, certs, p.CertFile, p.KeyFile, p.CAFile), open, certs)
	// The banner is printed once every listener is up, just after they
	// accept connections: poll for it with a deadline.
	want := "mqtts://" + certs + " (loopback only; client certificates required)"
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), want); {
		if time.Now().After(deadline) {
			t.Fatalf("banner:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
	_, openPort, _ := net.SplitHostPort(open)
	_, certPort, _ := net.SplitHostPort(certs)
	ca := []string{"-h", "localhost", "--cafile", p.CAFile}
	withCert := append(slices.Clone(ca), "--cert", p.ClientCertFile, "--key", p.ClientKeyFile)

	for _, v := range mosqVersions {
		t.Run(v, func(t *testing.T) {
			topic := "tls/" + v
			if out, err := mosq("mosquitto_pub", append(slices.Clone(ca), "-p", openPort, "-V", v, "-q", "1", "-r", "-t", topic+"/a", "-m", "over tls")...); err != nil {
				t.Fatalf("mosquitto_pub --cafile: %v\n%s", err, out)
			}
			if out, err := mosq("mosquitto_pub", append(slices.Clone(withCert), "-p", certPort, "-V", v, "-q", "1", "-r", "-t", topic+"/b", "-m", "with a client certificate")...); err != nil {
				t.Fatalf("mosquitto_pub --cert: %v\n%s", err, out)
			}
			want := []string{topic + "/a|over tls", topic + "/b|with a client certificate"}
			for name, args := range map[string][]string{
				"cafile": append(slices.Clone(ca), "-p", openPort),
				"cert":   append(slices.Clone(withCert), "-p", certPort),
			} {
				out, err := mosq("mosquitto_sub", append(args, "-V", v, "-t", topic+"/#", "-C", "2", "-W", mosqTimeoutSecs, "-F", "%t|%p")...)
				if err != nil {
					t.Fatalf("mosquitto_sub (%s): %v\n%s", name, err, out)
				}
				got := strings.Split(strings.TrimSpace(out), "\n")
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("mosquitto_sub (%s) received %q, want %q", name, got, want)
				}
			}
			// Without a client certificate the second listener refuses.
			if out, err := mosq("mosquitto_pub", append(slices.Clone(ca), "-p", certPort, "-V", v, "-t", topic+"/c", "-m", "x")...); err == nil {
				t.Errorf("mosquitto_pub without a client certificate succeeded:\n%s", out)
			}
		})
	}
}
