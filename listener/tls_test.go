package listener

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/roostmq/roost/internal/testpki"
)

func tlsListener(p *testpki.PKI, clientCerts string) Config {
	return Config{Type: TLS, Address: "127.0.0.1:0", TLS: &TLSConfig{
		CertFile: p.CertFile, KeyFile: p.KeyFile, CAFile: p.CAFile, ClientCerts: clientCerts}}
}

// dialTLS connects and completes the handshake and an MQTT CONNECT.
func dialTLS(addr string, conf *tls.Config, id string) (*tls.Conn, error) {
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: ioTimeout}, "tcp", addr, conf)
	if err != nil {
		return nil, err
	}
	if err := mqttConnect(nc, id, ""); err != nil {
		_ = nc.Close()
		return nil, err
	}
	return nc, nil
}

func TestTLSServerCertOnly(t *testing.T) {
	p := testpki.New(t)
	cfg := tlsListener(p, "")
	cfg.TLS.CAFile = ""
	addr, rec := startBroker(t, cfg)
	nc, err := dialTLS(addr, p.ClientTLS(nil), "c1")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if v := nc.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Errorf("version %x", v)
	}
	roundTrip(t, nc)
	if info := rec.next(t); info.Username != "" || info.CertIdentity != "" {
		t.Errorf("username %q identity %q without a client certificate", info.Username, info.CertIdentity)
	}
	// A client that does not trust the CA refuses the server.
	if _, err := dialTLS(addr, &tls.Config{ServerName: "localhost"}, "c2"); err == nil {
		t.Error("a client without the CA connected")
	}
}

func TestTLSMinVersion(t *testing.T) {
	p := testpki.New(t)
	cfg := tlsListener(p, ClientCertsNone)
	cfg.TLS.CAFile = ""
	cfg.TLS.MinVersion = tls.VersionTLS13
	addr, _ := startBroker(t, cfg)
	old := p.ClientTLS(nil)
	old.MaxVersion = tls.VersionTLS12
	if _, err := dialTLS(addr, old, "c1"); err == nil {
		t.Error("TLS 1.2 accepted with min_version 1.3")
	}
	nc, err := dialTLS(addr, p.ClientTLS(nil), "c2")
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
}

func TestTLSClientCertRequired(t *testing.T) {
	p := testpki.New(t)
	addr, rec := startBroker(t, tlsListener(p, ClientCertsRequired))

	nc, err := dialTLS(addr, p.ClientTLS(p.Client), "good")
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, nc)
	nc.Close()
	if info := rec.next(t); info.Username != "dev1" || info.CertIdentity != "dev1" {
		t.Errorf("username %q identity %q, want dev1 from the certificate's CN", info.Username, info.CertIdentity)
	}

	for name, cert := range map[string]*testpki.Cert{"missing": nil, "expired": p.Expired, "wrong CA": p.WrongCA} {
		conf := p.ClientTLS(cert)
		if cert != nil {
			// Make the client present the certificate whatever CAs the
			// server names.
			c := cert.TLS()
			conf.Certificates = nil
			conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
		}
		if nc, err := dialTLS(addr, conf, "bad"); err == nil {
			nc.Close()
			t.Errorf("%s client certificate: connected", name)
		}
	}
	select {
	case info := <-rec.infos:
		t.Errorf("a refused client reached the broker: %+v", info)
	default:
	}
}

func TestTLSClientCertOptional(t *testing.T) {
	p := testpki.New(t)
	addr, rec := startBroker(t, tlsListener(p, ClientCertsOptional))
	nc, err := dialTLS(addr, p.ClientTLS(nil), "anon")
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	if info := rec.next(t); info.Username != "" {
		t.Errorf("username %q", info.Username)
	}
	conf := p.ClientTLS(nil)
	c := p.WrongCA.TLS()
	conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
	if nc, err := dialTLS(addr, conf, "bad"); err == nil {
		nc.Close()
		t.Error("a certificate from another CA was accepted")
	}
}

func TestTLSCertIdentitySubject(t *testing.T) {
	p := testpki.New(t)
	cfg := tlsListener(p, ClientCertsRequired)
	cfg.TLS.CertIdentity = IdentitySubject
	addr, rec := startBroker(t, cfg)
	nc, err := tls.Dial("tcp", addr, p.ClientTLS(p.Client))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// The client's own username is replaced by the certificate's.
	if _, err := nc.Write(connectPacket("c1", "mallory")); err != nil {
		t.Fatal(err)
	}
	if err := expect(nc, connack); err != nil {
		t.Fatal(err)
	}
	if info := rec.next(t); info.Username != "CN=dev1,O=Acme" {
		t.Errorf("username %q, want the subject", info.Username)
	}
}

func TestTLSCAFileFailsClosed(t *testing.T) {
	p := testpki.New(t)
	empty := p.Write(t, "empty.pem", nil)
	garbage := p.Write(t, "garbage.pem", []byte("not a certificate\n"))
	for name, tc := range map[string]struct{ ca, want string }{
		"empty":      {empty, "holds no PEM certificate"},
		"garbage":    {garbage, "holds no PEM certificate"},
		"missing":    {p.Dir + "/nope.pem", "no such file"},
		"ca omitted": {"", "needs a ca_file"},
	} {
		cfg := tlsListener(p, ClientCertsRequired)
		cfg.TLS.CAFile = tc.ca
		ln, err := Listen(cfg, nil)
		if err == nil {
			ln.Close()
			t.Errorf("%s CA file: listening", name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s CA file: %v; want %q", name, err, tc.want)
		}
	}
	if err := os.Chmod(p.CAFile, 0); err == nil && os.Getuid() != 0 {
		if ln, err := Listen(tlsListener(p, ClientCertsRequired), nil); err == nil {
			ln.Close()
			t.Error("unreadable CA file: listening")
		}
	}
}

func TestTLSCertReload(t *testing.T) {
	p := testpki.New(t)
	cfg := tlsListener(p, ClientCertsRequired)
	ln, err := Listen(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()

	addr, _ := startBroker(t, cfg)
	old, err := dialTLS(addr, p.ClientTLS(p.Client), "old")
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if cn := old.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "localhost" {
		t.Fatalf("server CN %q", cn)
	}

	// Replace the certificate with one whose CN differs; the check happens
	// at most once a second.
	renewed := testpki.MakeCert(t, pkix.Name{CommonName: "renewed"}, p.CA, false, true, p.NotAfter)
	p.Write(t, "server.pem", renewed.CertPEM())
	p.Write(t, "server.key", renewed.KeyPEM(t))
	future := time.Now().Add(time.Minute)
	for _, f := range []string{p.CertFile, p.KeyFile} {
		if err := os.Chtimes(f, future, future); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		nc, err := dialTLS(addr, p.ClientTLS(p.Client), "new")
		if err != nil {
			t.Fatal(err)
		}
		cn := nc.ConnectionState().PeerCertificates[0].Subject.CommonName
		nc.Close()
		if cn == "renewed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serving %q after the files changed", cn)
		}
		time.Sleep(100 * time.Millisecond) // polling the reload, which is time based
	}
	// The connection made before the reload still works.
	roundTrip(t, old)
}

// A client that opens a connection and sends nothing does not hold up the
// others: handshakes run off the accept loop.
func TestTLSSlowClientDoesNotBlockAccept(t *testing.T) {
	p := testpki.New(t)
	cfg := tlsListener(p, ClientCertsNone)
	cfg.TLS.CAFile = ""
	addr, _ := startBroker(t, cfg)
	var idle []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	nc, err := dialTLS(addr, p.ClientTLS(nil), "c1")
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
}

func TestTLSHandshakeTimeout(t *testing.T) {
	p := testpki.New(t)
	cfg := tlsListener(p, ClientCertsNone)
	cfg.TLS.CAFile = ""
	cfg.HandshakeTimeout = 100 * time.Millisecond
	addr, _ := startBroker(t, cfg)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("read: %v; want the server to close a connection that never handshakes", err)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
