package listener

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/roostmq/roost/internal/testpki"
)

// crlPEM is a revocation list signed by ca that revokes certs.
func crlPEM(t *testing.T, ca *testpki.Cert, n int64, nextUpdate time.Time, certs ...*testpki.Cert) []byte {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(n), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: nextUpdate}
	for _, c := range certs {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: c.Cert.SerialNumber, RevocationTime: time.Now().Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

// A client certificate on the listener's revocation list is refused at the
// handshake; others are not; a renewed list applies to new handshakes.
func TestTLSCRL(t *testing.T) {
	p := testpki.New(t)
	other := testpki.MakeCert(t, pkix.Name{CommonName: "dev2"}, p.CA, false, false, p.NotAfter)
	cfg := tlsListener(p, ClientCertsRequired)
	cfg.TLS.CRLFile = p.Write(t, "ca.crl", crlPEM(t, p.CA, 1, time.Now().Add(time.Hour), other))
	addr, _ := startBroker(t, cfg)

	nc, err := dialTLS(addr, p.ClientTLS(p.Client), "good")
	if err != nil {
		t.Fatalf("a certificate not on the list: %v", err)
	}
	nc.Close()
	if nc, err := dialTLS(addr, p.ClientTLS(other), "revoked"); err == nil {
		nc.Close()
		t.Fatal("a revoked certificate connected")
	}

	// Revoke dev1 as well; the list is read again for new handshakes.
	p.Write(t, "ca.crl", crlPEM(t, p.CA, 2, time.Now().Add(time.Hour), other, p.Client))
	future := time.Now().Add(time.Minute)
	if err := os.Chtimes(cfg.TLS.CRLFile, future, future); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		nc, err := dialTLS(addr, p.ClientTLS(p.Client), "again")
		if err != nil {
			break
		}
		nc.Close()
		if time.Now().After(deadline) {
			t.Fatal("dev1 still connects after the renewed list revoked it")
		}
		time.Sleep(100 * time.Millisecond) // polling the reload, which is time based
	}
}

// A list the CA did not sign, or that is not a list, refuses to start.
func TestTLSCRLRefusesBadLists(t *testing.T) {
	p := testpki.New(t)
	for name, data := range map[string][]byte{
		"signed by another CA": crlPEM(t, p.OtherCA, 1, time.Now().Add(time.Hour)),
		"not a list":           []byte("garbage"),
	} {
		cfg := tlsListener(p, ClientCertsRequired)
		cfg.TLS.CRLFile = p.Write(t, "bad.crl", data)
		if err := cfg.CheckFiles(); err == nil || !strings.Contains(err.Error(), "crl_file") {
			t.Errorf("%s: CheckFiles = %v", name, err)
		}
	}
	cfg := tlsListener(p, ClientCertsNone)
	cfg.TLS.CAFile = ""
	cfg.TLS.CRLFile = p.Write(t, "x.crl", crlPEM(t, p.CA, 1, time.Now().Add(time.Hour)))
	if err := cfg.CheckFiles(); err == nil {
		t.Error("crl_file without client certificates accepted")
	}
	// An expired list still applies (with a warning).
	cfg = tlsListener(p, ClientCertsRequired)
	cfg.TLS.CRLFile = p.Write(t, "old.crl", crlPEM(t, p.CA, 1, time.Now().Add(-time.Minute), p.Client))
	addr, _ := startBroker(t, cfg)
	if nc, err := dialTLS(addr, p.ClientTLS(p.Client), "revoked"); err == nil {
		nc.Close()
		t.Fatal("a certificate revoked by an expired list connected")
	}
}
