package auth

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Password hashes Roost reads, one per line of a password file after
// "username:":
//
//	$argon2id$v=19$m=19456,t=2,p=1$SALT$HASH   argon2id (PHC string; what roost passwd writes)
//	$2a$, $2b$, $2y$...                         bcrypt
//	$pbkdf2-sha512$i=210000$SALT$HASH           PBKDF2 with HMAC-SHA512
//	$7$ITERATIONS$SALT$HASH                     mosquitto_passwd's PBKDF2-SHA512
//	$6$SALT$HASH                                mosquitto_passwd's salted SHA512
//
// SALT and HASH are base64, with or without padding.

// Argon2id parameters of the OWASP Password Storage Cheat Sheet: 19 MiB of
// memory, 2 iterations, 1 degree of parallelism.
const (
	argonMemory  = 19456 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// HashPassword returns the argon2id PHC string of password with a random
// salt, at OWASP's parameters.
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// errHashFormat is returned for a hash Roost cannot read.
var errHashFormat = errors.New("unsupported password hash format")

// checkHash parses a hash without checking a password, for file validation.
func checkHash(hash string) error {
	_, err := verifyHash(hash, nil, true)
	return err
}

// VerifyPassword reports whether password matches hash, comparing in
// constant time. An error means the hash could not be read.
func VerifyPassword(hash string, password []byte) (bool, error) {
	return verifyHash(hash, password, false)
}

func verifyHash(hash string, password []byte, parseOnly bool) (bool, error) {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		return verifyArgon2id(hash, password, parseOnly)
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return false, fmt.Errorf("bcrypt: %w", err)
		}
		if parseOnly {
			return false, nil
		}
		return bcrypt.CompareHashAndPassword([]byte(hash), password) == nil, nil // constant time inside
	case strings.HasPrefix(hash, "$pbkdf2-sha512$"):
		f := strings.Split(hash, "$") // "", "pbkdf2-sha512", "i=N", salt, hash
		if len(f) != 5 {
			return false, errHashFormat
		}
		return verifyPBKDF2(strings.TrimPrefix(f[2], "i="), f[3], f[4], password, parseOnly)
	case strings.HasPrefix(hash, "$7$"):
		f := strings.Split(hash, "$") // "", "7", iterations, salt, hash
		if len(f) != 5 {
			return false, errHashFormat
		}
		return verifyPBKDF2(f[2], f[3], f[4], password, parseOnly)
	case strings.HasPrefix(hash, "$6$"):
		f := strings.Split(hash, "$") // "", "6", salt, hash
		if len(f) != 4 {
			return false, errHashFormat
		}
		salt, err1 := decodeB64(f[2])
		want, err2 := decodeB64(f[3])
		if err1 != nil || err2 != nil || len(want) != sha512.Size {
			return false, errHashFormat
		}
		if parseOnly {
			return false, nil
		}
		h := sha512.New()
		h.Write(password)
		h.Write(salt)
		return subtle.ConstantTimeCompare(h.Sum(nil), want) == 1, nil
	}
	return false, errHashFormat
}

func verifyArgon2id(hash string, password []byte, parseOnly bool) (bool, error) {
	f := strings.Split(hash, "$") // "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(f) != 6 || f[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false, errors.New("argon2id: unsupported version or format")
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(f[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 {
		return false, errors.New("argon2id: bad parameters")
	}
	if m > 4<<20 || t > 100 {
		return false, errors.New("argon2id: parameters too large")
	}
	salt, err1 := decodeB64(f[4])
	want, err2 := decodeB64(f[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false, errors.New("argon2id: bad base64")
	}
	if parseOnly {
		return false, nil
	}
	got := argon2.IDKey(password, salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

func verifyPBKDF2(iter, salt64, hash64 string, password []byte, parseOnly bool) (bool, error) {
	n, err := strconv.Atoi(iter)
	if err != nil || n < 1 || n > 10_000_000 {
		return false, errors.New("pbkdf2: bad iteration count")
	}
	salt, err1 := decodeB64(salt64)
	want, err2 := decodeB64(hash64)
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false, errors.New("pbkdf2: bad base64")
	}
	if parseOnly {
		return false, nil
	}
	got, err := pbkdf2.Key(sha512.New, string(password), salt, n, len(want))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// decodeB64 reads standard base64 with or without padding.
func decodeB64(s string) ([]byte, error) {
	if strings.HasSuffix(s, "=") {
		return base64.StdEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}
