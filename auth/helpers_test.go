package auth

import (
	"crypto/pbkdf2"
	"crypto/sha512"
	"encoding/base64"
)

func pbkdf2Raw(pw, salt string, n int) string {
	k, _ := pbkdf2.Key(sha512.New, pw, []byte(salt), n, 64)
	return base64.RawStdEncoding.EncodeToString(k)
}
