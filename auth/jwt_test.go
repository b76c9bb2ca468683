package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/packet"
)

type jwtKeys struct {
	secret  []byte
	rsa     *rsa.PrivateKey
	ec      *ecdsa.PrivateKey
	jwks    *httptest.Server
	fetches atomic.Int32
}

func newJWTKeys(t *testing.T) *jwtKeys {
	k := &jwtKeys{secret: []byte("0123456789abcdef0123456789abcdef-secret")}
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding
	raw, err := k.ec.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]any{"keys": []map[string]string{{
		"kty": "EC", "kid": "ec-1", "crv": "P-256",
		"x": b64.EncodeToString(raw[1:33]), "y": b64.EncodeToString(raw[33:]),
	}}}
	k.jwks = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		k.fetches.Add(1)
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(k.jwks.Close)
	return k
}

func (k *jwtKeys) config(t *testing.T) JWTConfig {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "secret"), string(k.secret)+"\n")
	der, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	writeFile(t, filepath.Join(dir, "keys.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	return JWTConfig{SecretFile: filepath.Join(dir, "secret"), KeyFile: filepath.Join(dir, "keys.pem"), JWKSURL: k.jwks.URL,
		Issuer: "https://issuer.example", Audience: "roost"}
}

func (k *jwtKeys) sign(t *testing.T, alg string, claims jwt.MapClaims) string {
	t.Helper()
	var s string
	var err error
	switch alg {
	case "HS256":
		s, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(k.secret)
	case "RS256":
		s, err = jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(k.rsa)
	case "ES256":
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
		tok.Header["kid"] = "ec-1"
		s, err = tok.SignedString(k.ec)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func claims(sub string, exp time.Duration) jwt.MapClaims {
	return jwt.MapClaims{"sub": sub, "iss": "https://issuer.example", "aud": "roost", "exp": time.Now().Add(exp).Unix()}
}

func TestJWTChecks(t *testing.T) {
	k := newJWTKeys(t)
	j, err := NewJWT(k.config(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name, user, token string, want Result) {
		t.Helper()
		info := &broker.ConnectInfo{ClientID: "c", Username: user, Password: []byte(token)}
		got, err := j.CheckConnect(info)
		if got != want {
			t.Errorf("%s: %v (%v), want %v", name, got, err, want)
		}
		if got == Allow && info.Username != "dora" {
			t.Errorf("%s: username %q", name, info.Username)
		}
	}
	for _, alg := range []string{"HS256", "RS256", "ES256"} {
		check(alg, "", k.sign(t, alg, claims("dora", time.Hour)), Allow)
		check(alg+" same username", "dora", k.sign(t, alg, claims("dora", time.Hour)), Allow)
	}
	check("other username", "eve", k.sign(t, "HS256", claims("dora", time.Hour)), Deny)
	check("expired", "", k.sign(t, "RS256", claims("dora", -time.Minute)), Deny)
	c := claims("dora", time.Hour)
	c["nbf"] = time.Now().Add(time.Hour).Unix()
	check("not yet valid", "", k.sign(t, "ES256", c), Deny)
	c = claims("dora", time.Hour)
	c["aud"] = "other"
	check("audience", "", k.sign(t, "HS256", c), Deny)
	c = claims("dora", time.Hour)
	c["iss"] = "https://evil.example"
	check("issuer", "", k.sign(t, "HS256", c), Deny)
	c = claims("dora", time.Hour)
	delete(c, "exp")
	check("no exp", "", k.sign(t, "HS256", c), Deny)
	check("not a token", "dora", "plain-password", NoOpinion)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims("dora", time.Hour)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	check("alg none", "", none, Deny)
	// An RS256 token signed with the HS256 secret as the "public key" trick.
	forged := k.sign(t, "HS256", claims("dora", time.Hour))
	check("tampered", "", forged[:len(forged)-2]+"xx", Deny)

	// Claims map to topic permissions.
	c = claims("dora", time.Hour)
	c["publish"] = []string{"dora/out/#"}
	c["subscribe"] = []string{"dora/in/+"}
	check("permissions", "", k.sign(t, "HS256", c), Allow)
	for _, tc := range []struct {
		access broker.Access
		topic  string
		want   Result
	}{
		{broker.AccessPublish, "dora/out/x", Allow}, {broker.AccessPublish, "dora/in/x", Deny},
		{broker.AccessSubscribe, "dora/in/+", Allow},
		{broker.AccessSubscribe, "dora/#", Allow}, // wildcard_subscriptions filter: deliveries are checked
		{broker.AccessSubscribe, "other/#", Deny},
		{broker.AccessReceive, "dora/in/x", Allow}, {broker.AccessReceive, "other", Deny},
	} {
		if got := j.CheckACL("c", "dora", tc.access, tc.topic); got != tc.want {
			t.Errorf("%v %s: %v", tc.access, tc.topic, got)
		}
	}
	j.RefuseWildcards = true
	if got := j.CheckACL("c", "dora", broker.AccessSubscribe, "dora/#"); got != Deny {
		t.Errorf("refuse mode: subscribe dora/#: %v", got)
	}
	j.RefuseWildcards = false
	if got := j.CheckACL("c", "someone-else", broker.AccessPublish, "dora/out/x"); got != NoOpinion {
		t.Errorf("another user's grants: %v", got)
	}
}

func TestJWTKeyRotationJWKS(t *testing.T) {
	k := newJWTKeys(t)
	j, err := NewJWT(JWTConfig{JWKSURL: k.jwks.URL, JWKSRefresh: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := k.sign(t, "ES256", jwt.MapClaims{"sub": "dora", "exp": time.Now().Add(time.Hour).Unix()})
	for range 3 {
		if r, err := j.CheckConnect(&broker.ConnectInfo{Password: []byte(tok)}); r != Allow {
			t.Fatalf("%v %v", r, err)
		}
	}
	if n := k.fetches.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1 (cached)", n)
	}
	// An unknown key id refreshes the set (at most every 10s).
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tk := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"sub": "x", "exp": time.Now().Add(time.Hour).Unix()})
	tk.Header["kid"] = "unknown"
	s, _ := tk.SignedString(other)
	if r, _ := j.CheckConnect(&broker.ConnectInfo{Password: []byte(s)}); r != Deny {
		t.Errorf("unknown key: %v", r)
	}
}

// A broker disconnects a client whose token expires (DISCONNECT 0xA0), and
// the token's subject becomes the username.
func TestJWTWithPaho(t *testing.T) {
	k := newJWTKeys(t)
	cfg := k.config(t)
	cfg.DisconnectOnExpiry = true
	b, err := Build(&Config{JWT: cfg}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := broker.DefaultOptions()
	opts.Authenticator, opts.Authorizer = b.Chain, b.Chain
	srv, addr := startBroker(t, opts)

	c := claims("dora", 2*time.Second)
	c["publish"] = []string{"dora/#"}
	c["subscribe"] = []string{"dora/#"}
	cl := dial5(t, addr, v5opts{id: "d1", user: "", pass: k.sign(t, "HS256", c)}).must(t)
	if info, ok := srv.Client("d1"); !ok || info.Username != "dora" {
		t.Errorf("username from the token: %+v", info)
	}
	if codes := cl.sub(t, "dora/#", "other/#"); string(codes) != string([]byte{1, 0x87}) {
		t.Errorf("SUBACK %x", codes)
	}
	if rc := cl.pub(t, "other/x", "x", false); rc != byte(packet.NotAuthorized) {
		t.Errorf("publish outside the claims: %#x", rc)
	}
	select {
	case d := <-cl.disc:
		if d.ReasonCode != byte(packet.MaximumConnectTime) {
			t.Errorf("DISCONNECT %#x", d.ReasonCode)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not disconnected when the token expired")
	}
	if r := dial5(t, addr, v5opts{id: "d2", pass: "eyJhbGciOiJIUzI1NiJ9.e30.bad-signature-here"}); r.code() != byte(packet.BadUsernameOrPassword) {
		t.Errorf("bad token: %#x", r.code())
	}
}
