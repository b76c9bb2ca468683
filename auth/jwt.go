package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/packet"
	"github.com/roostmq/roost/topic"
)

// JWTConfig configures JWT.
type JWTConfig struct {
	// Algorithms accepted (default HS256, RS256 and ES256).
	Algorithms []string
	// SecretFile holds the HS256 secret (surrounding whitespace ignored).
	SecretFile string
	// KeyFile holds PEM public keys or certificates for RS256 and ES256.
	KeyFile string
	// JWKSURL serves a JSON Web Key Set; it is fetched at start, then
	// every JWKSRefresh (default 10m) and, at most every 10 seconds, when a
	// token names an unknown key id.
	JWKSURL     string
	JWKSRefresh time.Duration
	// Issuer and Audience, when set, must match the iss and aud claims.
	Issuer, Audience string
	// UsernameClaim names the claim that is the username (default "sub").
	// A CONNECT with a username must carry the same one; a CONNECT without
	// one gets it from the token.
	UsernameClaim string
	// PublishClaim and SubscribeClaim name claims holding lists of topic
	// filters the client may publish to and subscribe to (and receive
	// from); default "publish" and "subscribe". A token with either claim
	// is limited to those filters; one with neither leaves access to the
	// other members of the chain.
	PublishClaim, SubscribeClaim string
	// DisconnectOnExpiry closes the connection when the token expires (5.0:
	// DISCONNECT 0xA0 Maximum connect time).
	DisconnectOnExpiry bool
	// Client fetches the JWKS; nil means a client with a 10s timeout.
	Client *http.Client
}

// JWT authenticates clients that send a JSON Web Token (an OAuth 2.0
// bearer token) as their MQTT password. The signature (HS256, RS256 or
// ES256), exp (required), nbf, iss and aud are checked. A password that is
// not shaped like a JWT gets NoOpinion, so that a password file can follow
// in the chain; a JWT that fails any check is denied (0x86).
type JWT struct {
	// RefuseWildcards: as ACLFile.RefuseWildcards, for the token's
	// subscribe claims. Set it before use.
	RefuseWildcards bool

	cfg    JWTConfig
	log    *slog.Logger
	parser *jwt.Parser
	secret []byte
	static []any // keys from KeyFile

	mu        sync.Mutex
	jwks      map[string]any       // guarded by mu: kid -> key
	fetched   time.Time            // guarded by mu
	lastTry   time.Time            // guarded by mu
	perms     map[string]*jwtPerms // guarded by mu: client id -> the token's grants
	fetchOnce sync.Mutex
}

type jwtPerms struct {
	username     string
	pub, sub     []string
	hasPub, hasS bool
	expiry       time.Time
}

// NewJWT loads the keys of cfg.
func NewJWT(cfg JWTConfig, log *slog.Logger) (*JWT, error) {
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []string{"HS256", "RS256", "ES256"}
	}
	for _, a := range cfg.Algorithms {
		if a != "HS256" && a != "RS256" && a != "ES256" {
			return nil, fmt.Errorf("jwt: algorithm %q: want HS256, RS256 or ES256", a)
		}
	}
	if cfg.JWKSRefresh <= 0 {
		cfg.JWKSRefresh = 10 * time.Minute
	}
	if cfg.UsernameClaim == "" {
		cfg.UsernameClaim = "sub"
	}
	if cfg.PublishClaim == "" {
		cfg.PublishClaim = "publish"
	}
	if cfg.SubscribeClaim == "" {
		cfg.SubscribeClaim = "subscribe"
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	j := &JWT{cfg: cfg, log: log, jwks: map[string]any{}, perms: map[string]*jwtPerms{}}
	opts := []jwt.ParserOption{jwt.WithValidMethods(cfg.Algorithms), jwt.WithExpirationRequired(), jwt.WithLeeway(5 * time.Second)}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	j.parser = jwt.NewParser(opts...)
	if cfg.SecretFile != "" {
		b, err := os.ReadFile(cfg.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("jwt: %w", err)
		}
		if j.secret = []byte(strings.TrimSpace(string(b))); len(j.secret) < 32 {
			return nil, fmt.Errorf("jwt: %s: an HS256 secret needs at least 32 bytes", cfg.SecretFile)
		}
	}
	if cfg.KeyFile != "" {
		keys, err := readPEMKeys(cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("jwt: %w", err)
		}
		j.static = keys
	}
	if j.secret == nil && j.static == nil && cfg.JWKSURL == "" {
		return nil, errors.New("jwt: set secret_file, key_file or jwks_url")
	}
	if cfg.JWKSURL != "" {
		if err := j.fetchJWKS(); err != nil {
			log.Warn("JWKS not fetched; retrying when a token arrives", "url", cfg.JWKSURL, "err", err)
		}
	}
	return j, nil
}

func readPEMKeys(path string) ([]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var keys []any
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch b.Type {
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			keys = append(keys, k)
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			keys = append(keys, c.PublicKey)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no PUBLIC KEY or CERTIFICATE block", path)
	}
	return keys, nil
}

// fetchJWKS reads the key set, replacing the cached one.
func (j *JWT) fetchJWKS() error {
	j.fetchOnce.Lock()
	defer j.fetchOnce.Unlock()
	j.mu.Lock()
	j.lastTry = time.Now()
	j.mu.Unlock()
	resp, err := j.cfg.Client.Get(j.cfg.JWKSURL)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("JWKS: status %s", resp.Status)
	}
	var set struct {
		Keys []struct {
			Kty, Kid, Crv, N, E, X, Y, K string
		} `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("JWKS: %w", err)
	}
	keys := map[string]any{}
	b64 := base64.RawURLEncoding
	num := func(s string) *big.Int {
		b, err := b64.DecodeString(s)
		if err != nil || len(b) == 0 {
			return nil
		}
		return new(big.Int).SetBytes(b)
	}
	for _, k := range set.Keys {
		switch k.Kty {
		case "RSA":
			n, e := num(k.N), num(k.E)
			if n != nil && e != nil && e.IsInt64() {
				keys[k.Kid] = &rsa.PublicKey{N: n, E: int(e.Int64())}
			}
		case "EC":
			x, err1 := b64.DecodeString(k.X)
			y, err2 := b64.DecodeString(k.Y)
			if k.Crv == "P-256" && err1 == nil && err2 == nil && len(x) == 32 && len(y) == 32 {
				raw := append(append([]byte{4}, x...), y...)
				if pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw); err == nil { // on the curve
					keys[k.Kid] = pk
				}
			}
		case "oct":
			if b, err := b64.DecodeString(k.K); err == nil && len(b) >= 32 {
				keys[k.Kid] = b
			}
		}
	}
	j.mu.Lock()
	j.jwks, j.fetched = keys, time.Now()
	j.mu.Unlock()
	return nil
}

// keyFor picks the verification key of a token.
func (j *JWT) keyFor(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if kid, _ := t.Header["kid"].(string); j.cfg.JWKSURL != "" {
		j.mu.Lock()
		k, ok := j.jwks[kid]
		stale := time.Since(j.fetched) > j.cfg.JWKSRefresh
		canRetry := time.Since(j.lastTry) > 10*time.Second
		j.mu.Unlock()
		if stale || (!ok && canRetry) {
			if err := j.fetchJWKS(); err != nil {
				j.log.Warn("JWKS refresh failed; using the cached keys", "url", j.cfg.JWKSURL, "err", err)
			}
			j.mu.Lock()
			k, ok = j.jwks[kid]
			j.mu.Unlock()
		}
		if ok && keyFits(alg, k) {
			return k, nil
		}
	}
	if alg == "HS256" && j.secret != nil {
		return j.secret, nil
	}
	var set jwt.VerificationKeySet
	for _, k := range j.static {
		if keyFits(alg, k) {
			set.Keys = append(set.Keys, k)
		}
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("no key for this token")
	}
	return set, nil
}

func keyFits(alg string, k any) bool {
	switch k := k.(type) {
	case []byte:
		return alg == "HS256"
	case *rsa.PublicKey:
		return alg == "RS256"
	case *ecdsa.PublicKey:
		return alg == "ES256" && k.Curve == elliptic.P256()
	}
	return false
}

// looksLikeJWT reports whether a password has the shape of a compact JWS.
func looksLikeJWT(p []byte) bool {
	return len(p) > 20 && strings.Count(string(p), ".") == 2 && p[0] == 'e'
}

// CheckConnect implements ConnectChecker.
func (j *JWT) CheckConnect(info *broker.ConnectInfo) (Result, error) {
	if info.AuthMethod != "" || !looksLikeJWT(info.Password) {
		return NoOpinion, nil
	}
	claims := jwt.MapClaims{}
	if _, err := j.parser.ParseWithClaims(string(info.Password), claims, j.keyFor); err != nil {
		return Deny, &packet.Error{Code: packet.BadUsernameOrPassword, Msg: "token: " + err.Error()}
	}
	user, _ := claims[j.cfg.UsernameClaim].(string)
	if user == "" {
		return Deny, &packet.Error{Code: packet.BadUsernameOrPassword, Msg: "token has no " + j.cfg.UsernameClaim + " claim"}
	}
	if info.Username != "" && info.Username != user {
		return Deny, &packet.Error{Code: packet.BadUsernameOrPassword, Msg: "the username is not the token's"}
	}
	info.Username = user
	p := &jwtPerms{username: user}
	var ok1, ok2 bool
	p.pub, p.hasPub, ok1 = filterClaim(claims[j.cfg.PublishClaim])
	p.sub, p.hasS, ok2 = filterClaim(claims[j.cfg.SubscribeClaim])
	if !ok1 || !ok2 {
		return Deny, &packet.Error{Code: packet.BadUsernameOrPassword, Msg: "token: bad topic permission claim"}
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		p.expiry = exp.Time
		if j.cfg.DisconnectOnExpiry {
			info.Expiry = exp.Time
		}
	}
	j.mu.Lock()
	j.perms[info.ClientID] = p
	if len(j.perms) > 1_000_000 {
		now := time.Now()
		for id, q := range j.perms {
			if now.After(q.expiry) {
				delete(j.perms, id)
			}
		}
	}
	j.mu.Unlock()
	return Allow, nil
}

// filterClaim reads a list of topic filters; has reports the claim exists.
func filterClaim(v any) (filters []string, has, ok bool) {
	if v == nil {
		return nil, false, true
	}
	list, isList := v.([]any)
	if !isList {
		return nil, true, false
	}
	for _, x := range list {
		f, isStr := x.(string)
		if !isStr || topic.ValidFilter(f) != nil {
			return nil, true, false
		}
		filters = append(filters, f)
	}
	return filters, true, true
}

// CheckACL implements ACLChecker: the grants of the token the client
// connected with.
func (j *JWT) CheckACL(clientID, username string, access broker.Access, name string) Result {
	j.mu.Lock()
	p := j.perms[clientID]
	j.mu.Unlock()
	if p == nil || p.username != username || (!p.hasPub && !p.hasS) {
		return NoOpinion
	}
	list := p.sub
	if access == broker.AccessPublish {
		list = p.pub
	}
	for _, f := range list {
		if applies(f, name, access, !j.RefuseWildcards) {
			return Allow
		}
	}
	return Deny
}
