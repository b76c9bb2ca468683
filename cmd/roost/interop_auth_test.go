package main

// Authentication and authorization through the real binary: `roost passwd`
// writes the password file, mosquitto_passwd's file is read as it is, and
// mosquitto_pub / mosquitto_sub log in with -u and -P.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// roostStdin runs the binary with input on standard input.
func roostStdin(t *testing.T, input string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, roostBin, args...)
	cmd.Stdin = strings.NewReader(input)
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// mosqPubCode runs mosquitto_pub and returns its exit code and output.
func mosqPubCode(t *testing.T, port, version string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), mosqWait)
	defer cancel()
	full := append([]string{"-h", "127.0.0.1", "-p", port, "-V", version}, args...)
	out, err := exec.CommandContext(ctx, "mosquitto_pub", full...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

func TestPasswdCommand(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "passwd")
	if r := roostStdin(t, "s3cret\n", "passwd", "--password-stdin", file, "alice"); r.code != 0 {
		t.Fatalf("passwd: %d %s", r.code, r.stderr)
	}
	data, _ := os.ReadFile(file)
	if !strings.HasPrefix(string(data), "alice:$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("file: %q", data)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	// Without a terminal and without --password-stdin: a usage error.
	if r := roostStdin(t, "", "passwd", file, "bob"); r.code != exitUsage || !strings.Contains(r.stderr, "--password-stdin") {
		t.Errorf("no terminal: %d %s", r.code, r.stderr)
	}
	if r := roostStdin(t, "", "passwd", "-D", file, "alice"); r.code != 0 {
		t.Errorf("delete: %d %s", r.code, r.stderr)
	}
	if r := roostStdin(t, "", "passwd", "-D", file, "alice"); r.code != exitError || !strings.Contains(r.stderr, "no such user") {
		t.Errorf("delete again: %d %s", r.code, r.stderr)
	}
	if r := roostStdin(t, "pw\n", "passwd", "--scram", "--scram-iterations", "4096", "--password-stdin", filepath.Join(dir, "scram"), "carol"); r.code != 0 {
		t.Errorf("scram: %d %s", r.code, r.stderr)
	}
	data, _ = os.ReadFile(filepath.Join(dir, "scram"))
	if !strings.Contains(string(data), "carol:SCRAM-SHA-256:4096:") || !strings.Contains(string(data), "carol:SCRAM-SHA-512:4096:") {
		t.Errorf("scram file: %q", data)
	}
}

// mosquitto_pub -u -P against roost serve with a password file written by
// mosquitto_passwd and extended by roost passwd, and an ACL file.
func TestMosquittoPasswordAndACL(t *testing.T) {
	requireMosquitto(t)
	if _, err := exec.LookPath("mosquitto_passwd"); err != nil {
		if os.Getenv("ROOST_REQUIRE_INTEROP") == "1" || os.Getenv("CI") != "" {
			t.Fatal("mosquitto_passwd not found (Debian's mosquitto package)")
		}
		t.Skip("mosquitto_passwd not found")
	}
	dir := t.TempDir()
	pwfile := filepath.Join(dir, "passwd")
	if out, err := exec.Command("mosquitto_passwd", "-c", "-b", pwfile, "alice", "a-pass").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v %s", err, out)
	}
	if r := roostStdin(t, "b-pass\n", "passwd", "--password-stdin", pwfile, "bob"); r.code != 0 {
		t.Fatalf("roost passwd: %s", r.stderr)
	}
	acl := writeFile(t, "acl", "everyone\ntopic readwrite interop/probe/#\nuser alice\ntopic readwrite sensors/#\ntopic deny sensors/secret\nuser bob\ntopic read sensors/#\n")
	cfg := writeFile(t, "roost.yaml", "auth:\n  password_file: "+pwfile+"\n  acl_file: "+acl+"\n")
	port := startRoost(t, "--config", cfg)

	for _, v := range mosqVersions {
		t.Run(v, func(t *testing.T) {
			// Refused logins: mosquitto_pub exits non-zero.
			for _, creds := range [][]string{{"-u", "alice", "-P", "wrong"}, {"-u", "nobody", "-P", "x"}, {}} {
				args := append(append([]string{}, creds...), "-t", "sensors/a", "-m", "x")
				if code, out := mosqPubCode(t, port, v, args...); code == 0 {
					t.Errorf("%v accepted: %s", creds, out)
				}
			}
			sub := startSubAuth(t, port, v, 2, "bob", "b-pass", "-q", "1", "-t", "sensors/#")
			mosqPub(t, port, v, "-u", "alice", "-P", "a-pass", "-q", "1", "-t", "sensors/secret", "-m", "hidden")
			mosqPub(t, port, v, "-u", "alice", "-P", "a-pass", "-q", "1", "-t", "sensors/temp", "-m", "21")
			// bob may read but not write: 3.1.1 drops it silently, 5.0 answers 0x87.
			// (mosquitto_pub prints the PUBACK's reason and still exits 0.)
			_, out := mosqPubCode(t, port, v, "-u", "bob", "-P", "b-pass", "-q", "1", "-t", "sensors/temp", "-m", "forged")
			if v == "mqttv5" && !strings.Contains(strings.ToLower(out), "not authorized") {
				t.Errorf("5.0 publish without permission: %s", out)
			}
			mosqPub(t, port, v, "-u", "alice", "-P", "a-pass", "-q", "1", "-t", "sensors/hum", "-m", "40")
			got := sub.collect(t)
			want := []string{"sensors/temp|1|0|21", "sensors/hum|1|0|40"} // -q 1 below
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("bob got %q, want %q", got, want)
			}
		})
	}
}

// startSubAuth is startSub with a username and password; the ACL lets
// everyone use the readiness probe's topics.
func startSubAuth(t *testing.T, port, version string, count int, user, pw string, args ...string) *mosqSub {
	t.Helper()
	return startSubCreds(t, port, version, count, []string{"-u", user, "-P", pw}, args...)
}
