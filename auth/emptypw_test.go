package auth

import (
	"crypto/sha512"
	"encoding/base64"
	"path/filepath"
	"testing"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/packet"
)

// A password file line whose hash is of the empty string (mosquitto_passwd
// writes one for an empty password) logs in with neither an empty password
// nor no password at all, in both Mosquitto formats; Mosquitto refuses both.
func TestEmptyPasswordHashRefused(t *testing.T) {
	sum := sha512.Sum512([]byte("saltsalt"))
	path := filepath.Join(t.TempDir(), "passwd")
	writeFile(t, path, "seven:$7$101$"+base64.StdEncoding.EncodeToString([]byte("saltsalt"))+"$"+pbkdf2Raw("", "saltsalt", 101)+"\n"+
		"six:$6$"+base64.StdEncoding.EncodeToString([]byte("saltsalt"))+"$"+base64.StdEncoding.EncodeToString(sum[:])+"\n")
	pf, err := LoadPasswordFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ch := &Chain{Authenticators: []ConnectChecker{pf}}
	for _, user := range []string{"seven", "six"} {
		hash := pf.w.get().users[user]
		if ok, err := VerifyPassword(hash, []byte{}); !ok || err != nil {
			t.Fatalf("%s: the test hash is not of the empty string: %v %v", user, ok, err)
		}
		for name, pw := range map[string][]byte{"empty password": {}, "no password": nil} {
			r, _ := pf.CheckConnect(&broker.ConnectInfo{Username: user, Password: pw})
			if r != Deny {
				t.Errorf("%s, %s: %v, want deny", user, name, r)
			}
			if err := ch.Authenticate(&broker.ConnectInfo{Username: user, Password: pw}); packet.CodeOf(err) != packet.BadUsernameOrPassword {
				t.Errorf("%s, %s: chain says %v, want 0x86", user, name, err)
			}
		}
	}
}
