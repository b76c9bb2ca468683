// Package testpki makes certificates at run time for tests: a CA, a server
// certificate for 127.0.0.1 and localhost, client certificates (good,
// expired, signed by another CA), written as PEM files in a temporary
// directory. No key is ever committed.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// Cert is a certificate with its key.
type Cert struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	DER  []byte
}

var serial atomic.Int64

// MakeCert issues a certificate for subj signed by parent (self-signed when
// parent is nil). server certificates name 127.0.0.1 and localhost.
func MakeCert(t testing.TB, subj pkix.Name, parent *Cert, isCA, server bool, notAfter time.Time) *Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)),
		Subject:      subj,
		NotBefore:    time.Now().Add(-2 * time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	} else if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	signer, signKey := tmpl, key
	if parent != nil {
		signer, signKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Cert{Cert: c, Key: key, DER: der}
}

// CertPEM returns the certificate in PEM.
func (c *Cert) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER})
}

// KeyPEM returns the key in PEM.
func (c *Cert) KeyPEM(t testing.TB) []byte {
	b, err := x509.MarshalECPrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: b})
}

// TLS returns the certificate for a tls.Config.
func (c *Cert) TLS() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.DER}, PrivateKey: c.Key, Leaf: c.Cert}
}

// PKI is a CA with a server certificate and client certificates, written to
// files in a temporary directory.
type PKI struct {
	Dir              string
	CA, OtherCA      *Cert
	Server           *Cert // CN=localhost, for 127.0.0.1 and localhost
	Client           *Cert // CN=dev1, O=Acme, signed by CA
	Expired, WrongCA *Cert // CN=old, expired; CN=stranger, signed by OtherCA
	CAFile, CertFile string
	KeyFile          string
	ClientCertFile   string
	ClientKeyFile    string
	Roots            *x509.CertPool // holds CA
	ServerName       string
	NotAfter         time.Time // of the valid certificates
}

// New makes a PKI in a temporary directory of t.
func New(t testing.TB) *PKI {
	t.Helper()
	year := time.Now().Add(365 * 24 * time.Hour)
	p := &PKI{Dir: t.TempDir(), NotAfter: year, ServerName: "localhost"}
	p.CA = MakeCert(t, pkix.Name{CommonName: "Roost test CA"}, nil, true, false, year)
	p.OtherCA = MakeCert(t, pkix.Name{CommonName: "Other CA"}, nil, true, false, year)
	p.Server = MakeCert(t, pkix.Name{CommonName: "localhost"}, p.CA, false, true, year)
	p.Client = MakeCert(t, pkix.Name{CommonName: "dev1", Organization: []string{"Acme"}}, p.CA, false, false, year)
	p.Expired = MakeCert(t, pkix.Name{CommonName: "old"}, p.CA, false, false, time.Now().Add(-time.Hour))
	p.WrongCA = MakeCert(t, pkix.Name{CommonName: "stranger"}, p.OtherCA, false, false, year)
	p.CAFile = p.Write(t, "ca.pem", p.CA.CertPEM())
	p.CertFile = p.Write(t, "server.pem", p.Server.CertPEM())
	p.KeyFile = p.Write(t, "server.key", p.Server.KeyPEM(t))
	p.ClientCertFile = p.Write(t, "client.pem", p.Client.CertPEM())
	p.ClientKeyFile = p.Write(t, "client.key", p.Client.KeyPEM(t))
	p.Roots = x509.NewCertPool()
	p.Roots.AddCert(p.CA.Cert)
	return p
}

// Write writes a file into the PKI's directory and returns its path.
func (p *PKI) Write(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(p.Dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ClientTLS is a client config trusting the CA, presenting cert if not nil.
func (p *PKI) ClientTLS(cert *Cert) *tls.Config {
	c := &tls.Config{RootCAs: p.Roots, ServerName: p.ServerName}
	if cert != nil {
		c.Certificates = []tls.Certificate{cert.TLS()}
	}
	return c
}
