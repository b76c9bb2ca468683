package auth

import (
	"net"
	"path/filepath"
	"sync"
	"testing"

	"github.com/eclipse/paho.golang/paho"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/packet"
)

// scramAuther drives SCRAM from paho's AuthHandler.
type scramAuther struct {
	t  *testing.T
	mu sync.Mutex
	c  *SCRAMClient
}

func (a *scramAuther) set(c *SCRAMClient) {
	a.mu.Lock()
	a.c = c
	a.mu.Unlock()
}

func (a *scramAuther) Authenticate(in *paho.Auth) *paho.Auth {
	a.mu.Lock()
	defer a.mu.Unlock()
	out, err := a.c.Final(in.Properties.AuthData)
	if err != nil {
		a.t.Error(err)
	}
	return &paho.Auth{ReasonCode: 0x18, Properties: &paho.AuthProperties{AuthMethod: a.c.Method, AuthData: out}}
}

func (a *scramAuther) Authenticated() {}

func TestSCRAMWithPaho(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scram")
	if err := SetSCRAMCredentials(path, "alice", "wonderland", 4096); err != nil {
		t.Fatal(err)
	}
	sc, err := LoadSCRAM(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := broker.DefaultOptions()
	opts.EnhancedAuth = sc
	opts.Authenticator = &Chain{} // refuses everyone the exchange did not accept
	_, addr := startBroker(t, opts)

	for _, method := range []string{SCRAMSHA256, SCRAMSHA512} {
		t.Run(method, func(t *testing.T) {
			var auther *scramAuther
			connect := func(user, pw string) (*paho.Client, *paho.Connack, *SCRAMClient, error) {
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				sc := &SCRAMClient{Method: method, Username: user, Password: pw}
				auther = &scramAuther{t: t, c: sc}
				cl := paho.NewClient(paho.ClientConfig{Conn: nc, AuthHandler: auther})
				ack, err := cl.Connect(testCtx(t), &paho.Connect{ClientID: "c-" + user, Username: user, UsernameFlag: true,
					CleanStart: true, KeepAlive: 30,
					Properties: &paho.ConnectProperties{AuthMethod: method, AuthData: sc.First()}})
				return cl, ack, sc, err
			}
			cl, ack, scl, err := connect("alice", "wonderland")
			if err != nil {
				t.Fatalf("connect: %v %+v", err, ack)
			}
			if err := scl.Verify(ack.Properties.AuthData); err != nil {
				t.Fatal(err)
			}
			// Re-authentication on the live connection.
			scl2 := &SCRAMClient{Method: method, Username: "alice", Password: "wonderland"}
			auther.set(scl2)
			resp, err := cl.Authenticate(testCtx(t), &paho.Auth{ReasonCode: 0x19,
				Properties: &paho.AuthProperties{AuthMethod: method, AuthData: scl2.First()}})
			if err != nil || !resp.Success {
				t.Fatalf("re-authentication: %v %+v", err, resp)
			}
			// (paho's AuthResponse leaves out the final AUTH's data, so the
			// server signature of a re-authentication is not checked here.)
			// A re-authentication with a wrong password ends the connection.
			scl3 := &SCRAMClient{Method: method, Username: "alice", Password: "not-it"}
			auther.set(scl3)
			resp, err = cl.Authenticate(testCtx(t), &paho.Auth{ReasonCode: 0x19,
				Properties: &paho.AuthProperties{AuthMethod: method, AuthData: scl3.First()}})
			if err != nil || resp.Success || resp.ReasonCode != byte(packet.NotAuthorized) {
				t.Fatalf("failed re-authentication: %v %+v", err, resp)
			}

			for _, bad := range [][2]string{{"alice", "wrong"}, {"nobody", "wonderland"}} {
				_, ack, _, err := connect(bad[0], bad[1])
				if err == nil || ack == nil || ack.ReasonCode != byte(packet.NotAuthorized) {
					t.Errorf("%v: %v %+v", bad, err, ack)
				}
			}
		})
	}
}
