package listener

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// Client certificate policies.
const (
	ClientCertsNone     = "none"     // no client certificate is asked for
	ClientCertsOptional = "optional" // asked for; verified against the CA when given
	ClientCertsRequired = "required" // a certificate signed by the CA is required
)

// Certificate identities used as the username.
const (
	IdentityCN      = "cn"      // the subject's common name
	IdentitySubject = "subject" // the whole subject, RFC 2253 ("CN=dev1,O=Acme")
	IdentityNone    = "none"    // the certificate does not set the username
)

// TLSConfig holds the TLS options of a tls or wss listener.
type TLSConfig struct {
	CertFile string // PEM certificate chain, server certificate first
	KeyFile  string // PEM private key
	// CAFile holds the PEM certificates client certificates must chain to.
	// An empty or unreadable file is an error: it never means "any".
	CAFile string
	// ClientCerts is none, optional or required; "" means required when
	// CAFile is set, else none.
	ClientCerts string
	// MinVersion is tls.VersionTLS12 (when 0) or tls.VersionTLS13. Cipher
	// suites are Go's defaults.
	MinVersion uint16
	// CertIdentity says what of a verified client certificate becomes the
	// username: cn (when ""), subject or none.
	CertIdentity string
	// CRLFile holds certificate revocation lists (PEM "X509 CRL" blocks or
	// one DER list) issued by the CAs of CAFile: a client certificate they
	// revoke is refused at the handshake. Like the other files it is read
	// again when it changes, for the next handshakes. A list whose
	// signature does not verify against CAFile is an error; one past its
	// next update is used all the same, with a warning in the log.
	CRLFile string
}

func (t *TLSConfig) clientCerts() string {
	if t.ClientCerts == "" {
		if t.CAFile != "" {
			return ClientCertsRequired
		}
		return ClientCertsNone
	}
	return t.ClientCerts
}

func (t *TLSConfig) validate() error {
	if t.CertFile == "" || t.KeyFile == "" {
		return errors.New("tls: cert_file and key_file are required")
	}
	switch t.clientCerts() {
	case ClientCertsNone:
		if t.CAFile != "" {
			return errors.New("tls: ca_file is set but client_certs is none")
		}
	case ClientCertsOptional, ClientCertsRequired:
		if t.CAFile == "" {
			return fmt.Errorf("tls: client_certs %s needs a ca_file", t.ClientCerts)
		}
	default:
		return fmt.Errorf("tls: client_certs %q (want none, optional or required)", t.ClientCerts)
	}
	if t.CRLFile != "" && t.clientCerts() == ClientCertsNone {
		return errors.New("tls: crl_file is set but client certificates are not asked for (client_certs none)")
	}
	switch t.MinVersion {
	case 0, tls.VersionTLS12, tls.VersionTLS13:
	default:
		return fmt.Errorf("tls: min_version 0x%04x (want TLS 1.2 or 1.3)", t.MinVersion)
	}
	switch t.CertIdentity {
	case "", IdentityCN, IdentitySubject, IdentityNone:
	default:
		return fmt.Errorf("tls: cert_identity %q (want cn, subject or none)", t.CertIdentity)
	}
	return nil
}

// ClientCertsRequired reports whether the listener refuses clients without
// a certificate.
func (t *TLSConfig) ClientCertsRequired() bool {
	return t != nil && t.clientCerts() == ClientCertsRequired
}

// reloadCheckEvery is how often, at most, handshakes look at the files'
// modification times.
const reloadCheckEvery = time.Second

// tlsServer holds a listener's TLS settings and reloads the certificate, key
// and CA files when they change on disk. Handshakes after a reload use the
// new files; established connections are not touched.
type tlsServer struct {
	cfg        TLSConfig
	log        *slog.Logger
	checkEvery time.Duration

	mu        sync.Mutex
	current   *tls.Config // guarded by mu
	stamps    []fileStamp // guarded by mu; the files current was built from
	lastCheck time.Time   // guarded by mu
}

// fileStamp identifies a version of a file.
type fileStamp struct {
	mod  time.Time
	size int64
}

func newTLSServer(cfg *TLSConfig, log *slog.Logger) (*tlsServer, error) {
	s := &tlsServer{cfg: *cfg, log: log, checkEvery: reloadCheckEvery}
	conf, stamps, err := s.load()
	if err != nil {
		return nil, err
	}
	s.current, s.stamps, s.lastCheck = conf, stamps, time.Now()
	return s, nil
}

func (s *tlsServer) files() []string {
	f := []string{s.cfg.CertFile, s.cfg.KeyFile}
	if s.cfg.CAFile != "" {
		f = append(f, s.cfg.CAFile)
	}
	if s.cfg.CRLFile != "" {
		f = append(f, s.cfg.CRLFile)
	}
	return f
}

// load reads the files into a tls.Config.
func (s *tlsServer) load() (*tls.Config, []fileStamp, error) {
	stamps, err := s.stat()
	if err != nil {
		return nil, nil, err
	}
	cert, err := tls.LoadX509KeyPair(s.cfg.CertFile, s.cfg.KeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: loading cert_file %s and key_file %s: %w", s.cfg.CertFile, s.cfg.KeyFile, err)
	}
	conf := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   s.cfg.MinVersion,
	}
	if conf.MinVersion == 0 {
		conf.MinVersion = tls.VersionTLS12
	}
	switch s.cfg.clientCerts() {
	case ClientCertsOptional:
		conf.ClientAuth = tls.VerifyClientCertIfGiven
	case ClientCertsRequired:
		conf.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if s.cfg.CAFile != "" {
		pem, err := os.ReadFile(s.cfg.CAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("tls: ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("tls: ca_file %s holds no PEM certificate; refusing to start rather than accept any client", s.cfg.CAFile)
		}
		conf.ClientCAs = pool
		if s.cfg.CRLFile != "" {
			revoked, err := s.loadCRL(pem)
			if err != nil {
				return nil, nil, err
			}
			conf.VerifyPeerCertificate = func(_ [][]byte, chains [][]*x509.Certificate) error {
				for _, chain := range chains {
					for i := 0; i+1 < len(chain); i++ {
						if revoked.has(chain[i+1], chain[i]) {
							return fmt.Errorf("tls: client certificate %q (serial %s) is revoked", chain[i].Subject.CommonName, chain[i].SerialNumber)
						}
					}
				}
				return nil
			}
		}
	}
	return conf, stamps, nil
}

// revocations are the serial numbers revoked by each issuer, by the
// issuer's raw subject.
type revocations map[string]map[string]bool

func (r revocations) has(issuer, cert *x509.Certificate) bool {
	return r[string(issuer.RawSubject)][cert.SerialNumber.String()]
}

// loadCRL reads CRLFile and checks each list's signature against the CA
// certificates in caPEM.
func (s *tlsServer) loadCRL(caPEM []byte) (revocations, error) {
	data, err := os.ReadFile(s.cfg.CRLFile)
	if err != nil {
		return nil, fmt.Errorf("tls: crl_file: %w", err)
	}
	var cas []*x509.Certificate
	for rest := caPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			cas = append(cas, c)
		}
	}
	var ders [][]byte
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "X509 CRL" {
			ders = append(ders, b.Bytes)
		}
	}
	if len(ders) == 0 {
		ders = [][]byte{data} // DER
	}
	out := revocations{}
	for _, der := range ders {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, fmt.Errorf("tls: crl_file %s: %w", s.cfg.CRLFile, err)
		}
		var issuer *x509.Certificate
		for _, ca := range cas {
			if crl.CheckSignatureFrom(ca) == nil {
				issuer = ca
				break
			}
		}
		if issuer == nil {
			return nil, fmt.Errorf("tls: crl_file %s: a list issued by %q is not signed by a CA of ca_file", s.cfg.CRLFile, crl.Issuer.String())
		}
		if !crl.NextUpdate.IsZero() && time.Now().After(crl.NextUpdate) {
			s.log.Warn("TLS revocation list is past its next update; renew it", "crl_file", s.cfg.CRLFile,
				"issuer", crl.Issuer.String(), "next_update", crl.NextUpdate)
		}
		set := out[string(issuer.RawSubject)]
		if set == nil {
			set = map[string]bool{}
			out[string(issuer.RawSubject)] = set
		}
		for _, e := range crl.RevokedCertificateEntries {
			set[e.SerialNumber.String()] = true
		}
	}
	return out, nil
}

func (s *tlsServer) stat() ([]fileStamp, error) {
	var out []fileStamp
	for _, f := range s.files() {
		fi, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		out = append(out, fileStamp{fi.ModTime(), fi.Size()})
	}
	return out, nil
}

// config returns the tls.Config for a new handshake, reloading the files
// first when they changed (checked at most once per checkEvery). A failed
// reload is logged and the previous files stay in use.
func (s *tlsServer) config() *tls.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if now.Sub(s.lastCheck) < s.checkEvery {
		return s.current
	}
	s.lastCheck = now
	stamps, err := s.stat()
	if err == nil && equalStamps(stamps, s.stamps) {
		return s.current
	}
	conf, stamps, err := s.load()
	if err != nil {
		s.log.Error("TLS files changed but cannot be loaded; keeping the previous ones", "err", err)
		return s.current
	}
	s.log.Info("TLS certificate reloaded", "cert_file", s.cfg.CertFile)
	s.current, s.stamps = conf, stamps
	return conf
}

func equalStamps(a, b []fileStamp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].mod.Equal(b[i].mod) || a[i].size != b[i].size {
			return false
		}
	}
	return true
}

// prep returns the step that runs a connection's TLS handshake. For wss the
// *tls.Conn itself is handed on (net/http recognises it); otherwise it is
// wrapped to report the certificate identity.
func (s *tlsServer) prep(forHTTP bool) prepFunc {
	return func(nc net.Conn) (net.Conn, error) {
		conf := s.config()
		if forHTTP {
			conf = conf.Clone()
			conf.NextProtos = []string{"http/1.1"}
		}
		tc := tls.Server(nc, conf)
		// The deadline set on nc bounds the handshake; the context only
		// lets it end early.
		if err := tc.HandshakeContext(context.Background()); err != nil {
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		if forHTTP {
			return tc, nil
		}
		id, ok := identity(tc.ConnectionState(), s.cfg.CertIdentity)
		return &tlsConn{Conn: tc, id: id, idOK: ok}, nil
	}
}

// identity returns the configured identity of the verified client
// certificate in st.
func identity(st tls.ConnectionState, kind string) (string, bool) {
	if len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return "", false
	}
	subj := st.PeerCertificates[0].Subject
	switch kind {
	case IdentityNone:
		return "", false
	case IdentitySubject:
		return subj.String(), true
	}
	if subj.CommonName == "" {
		return "", false
	}
	return subj.CommonName, true
}

// tlsConn is a TLS connection after its handshake.
type tlsConn struct {
	*tls.Conn
	id   string
	idOK bool
}

// CertIdentity implements CertIdentifier.
func (c *tlsConn) CertIdentity() (string, bool) { return c.id, c.idOK }

// CloseRead shuts the read side of the socket under TLS (closeRead).
func (c *tlsConn) CloseRead() error { return closeRead(c.Conn) }
