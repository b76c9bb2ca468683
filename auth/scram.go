package auth

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"strconv"
	"strings"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/packet"
)

// SCRAM mechanism names, as MQTT 5 Authentication Methods.
const (
	SCRAMSHA256 = "SCRAM-SHA-256"
	SCRAMSHA512 = "SCRAM-SHA-512"
)

// SCRAM iteration counts roost passwd writes (OWASP's PBKDF2 guidance:
// 600,000 for HMAC-SHA256, 210,000 for HMAC-SHA512).
const (
	SCRAMIterationsSHA256 = 600_000
	SCRAMIterationsSHA512 = 210_000
)

// SCRAM runs SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as MQTT 5
// enhanced authentication, against a credentials file that holds salted
// keys, never passwords:
//
//	username:SCRAM-SHA-256:ITERATIONS:SALT:STOREDKEY:SERVERKEY
//
// (base64 fields; one line per user and mechanism; see SetSCRAMCredentials,
// which roost passwd --scram uses). The file is re-read when it changes.
//
// The CONNECT's username must be the SCRAM username. Re-authentication
// (AUTH 0x19) runs the same exchange on the live connection. Channel binding
// is not supported ("n" and "y" GS2 flags only). An unknown user gets a
// made-up salt and fails at the proof, like a wrong password.
type SCRAM struct {
	w      watched[scramCreds]
	secret []byte // for made-up salts
}

type scramCred struct {
	iterations int
	salt       []byte
	storedKey  []byte
	serverKey  []byte
}

type scramCreds struct {
	byUser map[string]map[string]*scramCred // user -> mechanism -> credentials
}

var _ broker.EnhancedAuth = (*SCRAM)(nil)

// LoadSCRAM reads the SCRAM credentials file at path.
func LoadSCRAM(path string, log *slog.Logger) (*SCRAM, error) {
	s := &SCRAM{w: watched[scramCreds]{path: path, parse: parseSCRAM, log: log}, secret: make([]byte, 32)}
	if _, err := rand.Read(s.secret); err != nil {
		return nil, err
	}
	if err := s.w.load(); err != nil {
		return nil, err
	}
	return s, nil
}

func scramHash(method string) func() hash.Hash {
	switch method {
	case SCRAMSHA256:
		return sha256.New
	case SCRAMSHA512:
		return sha512.New
	}
	return nil
}

func parseSCRAM(data []byte) (*scramCreds, error) {
	c := &scramCreds{byUser: map[string]map[string]*scramCred{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 6 || f[0] == "" || scramHash(f[1]) == nil {
			return nil, fmt.Errorf("line %d: want username:SCRAM-SHA-256|SCRAM-SHA-512:iterations:salt:storedkey:serverkey", n)
		}
		it, err := strconv.Atoi(f[2])
		if err != nil || it < 4096 || it > 10_000_000 {
			return nil, fmt.Errorf("line %d: iterations %q: want 4096 to 10000000", n, f[2])
		}
		cr := &scramCred{iterations: it}
		size := scramHash(f[1])().Size()
		var e1, e2, e3 error
		cr.salt, e1 = base64.StdEncoding.DecodeString(f[3])
		cr.storedKey, e2 = base64.StdEncoding.DecodeString(f[4])
		cr.serverKey, e3 = base64.StdEncoding.DecodeString(f[5])
		if e1 != nil || e2 != nil || e3 != nil || len(cr.salt) == 0 || len(cr.storedKey) != size || len(cr.serverKey) != size {
			return nil, fmt.Errorf("line %d: bad salt or key", n)
		}
		if c.byUser[f[0]] == nil {
			c.byUser[f[0]] = map[string]*scramCred{}
		}
		if c.byUser[f[0]][f[1]] != nil {
			return nil, fmt.Errorf("line %d: %s for user %q listed twice", n, f[1], f[0])
		}
		c.byUser[f[0]][f[1]] = cr
	}
	return c, sc.Err()
}

// NewSCRAMCredential derives the stored line fields for password.
func newSCRAMCredential(method, password string, iterations int) (*scramCred, error) {
	h := scramHash(method)
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	salted, err := pbkdf2.Key(h, password, salt, iterations, h().Size())
	if err != nil {
		return nil, err
	}
	clientKey := hmacSum(h, salted, []byte("Client Key"))
	stored := h()
	stored.Write(clientKey)
	return &scramCred{iterations: iterations, salt: salt, storedKey: stored.Sum(nil),
		serverKey: hmacSum(h, salted, []byte("Server Key"))}, nil
}

// SetSCRAMCredentials writes SCRAM-SHA-256 and SCRAM-SHA-512 credentials
// for user to the file at path (created with mode 0600), replacing any the
// user had. iterations 0 means the defaults.
func SetSCRAMCredentials(path, user, password string, iterations int) error {
	if err := checkUsername(user); err != nil {
		return err
	}
	var add []string
	for _, m := range []string{SCRAMSHA256, SCRAMSHA512} {
		it := iterations
		if it == 0 {
			it = map[string]int{SCRAMSHA256: SCRAMIterationsSHA256, SCRAMSHA512: SCRAMIterationsSHA512}[m]
		}
		cr, err := newSCRAMCredential(m, password, it)
		if err != nil {
			return err
		}
		b := base64.StdEncoding
		add = append(add, fmt.Sprintf("%s:%s:%d:%s:%s:%s", user, m, it,
			b.EncodeToString(cr.salt), b.EncodeToString(cr.storedKey), b.EncodeToString(cr.serverKey)))
	}
	return editFile(path, true, func(lines []string) ([]string, error) {
		return append(withoutUser(lines, user), add...), nil
	})
}

// DeleteSCRAMCredentials removes user's lines from the file at path.
func DeleteSCRAMCredentials(path, user string) error {
	return editFile(path, false, func(lines []string) ([]string, error) {
		out := withoutUser(lines, user)
		if len(out) == len(lines) {
			return nil, fmt.Errorf("%s: %w: %q", path, ErrNoSuchUser, user)
		}
		return out, nil
	})
}

func withoutUser(lines []string, user string) []string {
	out := lines[:0:0]
	for _, l := range lines {
		if u, _, ok := strings.Cut(l, ":"); ok && u == user && !strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out
}

func hmacSum(h func() hash.Hash, key, data []byte) []byte {
	m := hmac.New(h, key)
	m.Write(data)
	return m.Sum(nil)
}

// Methods implements broker.EnhancedAuth.
func (s *SCRAM) Methods() []string { return []string{SCRAMSHA256, SCRAMSHA512} }

// Start implements broker.EnhancedAuth.
func (s *SCRAM) Start(method string, _ []byte, info *broker.ConnectInfo, _ bool) (broker.AuthExchange, error) {
	h := scramHash(method)
	if h == nil {
		return nil, packet.BadAuthenticationMethod
	}
	return &scramExchange{s: s, method: method, h: h, username: info.Username}, nil
}

var errSCRAM = &packet.Error{Code: packet.NotAuthorized, Msg: "SCRAM authentication failed"}

type scramExchange struct {
	s        *SCRAM
	method   string
	h        func() hash.Hash
	username string // the CONNECT's
	step     int
	cred     *scramCred // nil for an unknown user
	nonce    string
	authMsg  string // client-first-bare "," server-first
	gs2      string
}

// Step implements broker.AuthExchange.
func (x *scramExchange) Step(data []byte) ([]byte, bool, error) {
	x.step++
	switch x.step {
	case 1:
		out, err := x.first(string(data))
		return out, false, err
	case 2:
		out, err := x.final(string(data))
		return out, err == nil, err
	}
	return nil, false, errSCRAM
}

func (x *scramExchange) first(msg string) ([]byte, error) {
	// gs2-header: "n,," or "y,," (optionally with an authzid "a=...").
	var rest string
	switch {
	case strings.HasPrefix(msg, "n,"), strings.HasPrefix(msg, "y,"):
		i := strings.IndexByte(msg[2:], ',')
		if i < 0 {
			return nil, errSCRAM
		}
		authz := msg[2 : 2+i]
		if authz != "" && authz != "a="+escapeSCRAM(x.username) {
			return nil, errSCRAM
		}
		x.gs2, rest = msg[:2+i+1], msg[2+i+1:]
	default:
		return nil, &packet.Error{Code: packet.NotAuthorized, Msg: "SCRAM channel binding is not supported"}
	}
	attrs := scramAttrs(rest)
	user, ok := unescapeSCRAM(attrs["n"])
	cnonce := attrs["r"]
	if !ok || user == "" || cnonce == "" || strings.HasPrefix(rest, "m=") {
		return nil, errSCRAM
	}
	if user != x.username {
		return nil, &packet.Error{Code: packet.NotAuthorized, Msg: "the SCRAM user is not the CONNECT's username"}
	}
	var salt []byte
	iterations := 4096
	if cr := x.s.w.get().byUser[user][x.method]; cr != nil {
		x.cred, salt, iterations = cr, cr.salt, cr.iterations
	} else {
		salt = hmacSum(sha256.New, x.s.secret, []byte(x.method+"\x00"+user))[:16]
	}
	sn := make([]byte, 18)
	if _, err := rand.Read(sn); err != nil {
		return nil, err
	}
	x.nonce = cnonce + base64.RawStdEncoding.EncodeToString(sn)
	serverFirst := fmt.Sprintf("r=%s,s=%s,i=%d", x.nonce, base64.StdEncoding.EncodeToString(salt), iterations)
	x.authMsg = rest + "," + serverFirst
	return []byte(serverFirst), nil
}

func (x *scramExchange) final(msg string) ([]byte, error) {
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return nil, errSCRAM
	}
	withoutProof := msg[:i]
	attrs := scramAttrs(withoutProof)
	proof, err := base64.StdEncoding.DecodeString(msg[i+3:])
	if err != nil || attrs["r"] != x.nonce || attrs["c"] != base64.StdEncoding.EncodeToString([]byte(x.gs2)) {
		return nil, errSCRAM
	}
	authMsg := []byte(x.authMsg + "," + withoutProof)
	if x.cred == nil || len(proof) != len(x.cred.storedKey) {
		return nil, errSCRAM
	}
	sig := hmacSum(x.h, x.cred.storedKey, authMsg)
	clientKey := make([]byte, len(proof))
	subtle.XORBytes(clientKey, proof, sig)
	hh := x.h()
	hh.Write(clientKey)
	if subtle.ConstantTimeCompare(hh.Sum(nil), x.cred.storedKey) != 1 {
		return nil, errSCRAM
	}
	return []byte("v=" + base64.StdEncoding.EncodeToString(hmacSum(x.h, x.cred.serverKey, authMsg))), nil
}

// scramAttrs splits "k=v,k=v" into a map (the first value of each key).
func scramAttrs(s string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && len(k) == 1 {
			if _, seen := m[k]; !seen {
				m[k] = v
			}
		}
	}
	return m
}

func escapeSCRAM(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

func unescapeSCRAM(s string) (string, bool) {
	out := strings.NewReplacer("=2C", ",", "=3D", "=").Replace(s)
	// Any other "=" escape is invalid.
	if strings.Count(s, "=") != strings.Count(s, "=2C")+strings.Count(s, "=3D") {
		return "", false
	}
	return out, true
}

// SCRAMClient runs the client side of SCRAM, for tests and Go clients.
type SCRAMClient struct {
	Method, Username, Password string

	h           func() hash.Hash
	nonce       string
	clientFirst string
	serverSig   []byte
}

// First returns the client-first message.
func (c *SCRAMClient) First() []byte {
	c.h = scramHash(c.Method)
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	c.nonce = base64.RawStdEncoding.EncodeToString(b)
	c.clientFirst = "n=" + escapeSCRAM(c.Username) + ",r=" + c.nonce
	return []byte("n,," + c.clientFirst)
}

// Final answers the server-first message with the client-final message.
func (c *SCRAMClient) Final(serverFirst []byte) ([]byte, error) {
	a := scramAttrs(string(serverFirst))
	salt, err := base64.StdEncoding.DecodeString(a["s"])
	it, err2 := strconv.Atoi(a["i"])
	if err != nil || err2 != nil || !strings.HasPrefix(a["r"], c.nonce) || c.h == nil {
		return nil, errors.New("scram: bad server-first message")
	}
	salted, err := pbkdf2.Key(c.h, c.Password, salt, it, c.h().Size())
	if err != nil {
		return nil, err
	}
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte("n,,")) + ",r=" + a["r"]
	authMsg := []byte(c.clientFirst + "," + string(serverFirst) + "," + withoutProof)
	clientKey := hmacSum(c.h, salted, []byte("Client Key"))
	hh := c.h()
	hh.Write(clientKey)
	proof := make([]byte, len(clientKey))
	subtle.XORBytes(proof, clientKey, hmacSum(c.h, hh.Sum(nil), authMsg))
	c.serverSig = hmacSum(c.h, hmacSum(c.h, salted, []byte("Server Key")), authMsg)
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

// Verify checks the server-final message.
func (c *SCRAMClient) Verify(serverFinal []byte) error {
	v, ok := strings.CutPrefix(string(serverFinal), "v=")
	sig, err := base64.StdEncoding.DecodeString(v)
	if !ok || err != nil || !hmac.Equal(sig, c.serverSig) {
		return errors.New("scram: server signature does not match")
	}
	return nil
}
