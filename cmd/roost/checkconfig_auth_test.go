package main

import (
	"strings"
	"testing"
)

// roost serve --check-config says what the auth: section means, in
// particular when it refuses every client.
func TestCheckConfigSaysWhoMayConnect(t *testing.T) {
	pw := writeFile(t, "passwd", "")
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"defaults", "", []string{
			"anonymous clients (no username, no password): accepted (auto: no mechanism is configured)",
			"=> may connect: every client (credentials are not checked)",
			"$SYS: clients may subscribe; they may not publish into it"}},
		{"anonymous false alone", "auth:\n  anonymous: false\n", []string{
			"anonymous clients (no username, no password): refused (anonymous: false)",
			"clients with a username or password: refused (no password file, jwt or http authenticator)",
			"=> every client is refused"}},
		{"password file", "auth:\n  password_file: " + pw + "\n", []string{
			"anonymous clients (no username, no password): refused (auto: a mechanism is configured)",
			"clients with a username or password: checked by password file " + pw + ";",
			"=> may connect: clients accepted by password file " + pw + "\n",
			"publish and subscribe: allowed (acl_default: auto, without an ACL source)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"serve", "--check-config"}
			if tc.doc != "" {
				args = append(args, "-c", writeFile(t, "roost.yaml", tc.doc))
			}
			r := roost(t, args...)
			if r.code != 0 || !strings.HasSuffix(r.stdout, "config OK\n") {
				t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, "  "+w) {
					t.Errorf("no %q in\n%s", w, r.stdout)
				}
			}
		})
	}
	r := roost(t, "serve", "--check-config", "-c", writeFile(t, "roost.yaml", "auth:\n  acl_default: deny\n"))
	if r.code != 2 || !strings.Contains(r.stderr, "acl_default: deny has no effect") {
		t.Errorf("acl_default: deny alone: exit %d, stderr %q", r.code, r.stderr)
	}
}
