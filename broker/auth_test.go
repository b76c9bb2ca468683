package broker

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/roostmq/roost/packet"
)

// toyAuth is a toy enhanced authentication mechanism, method "TOY". The
// client's first data is the number of challenge rounds it wants ("reject"
// refuses at once); each round the server sends a challenge "nonceN" and the
// client must answer "secret:nonceN" ("ban" is refused with Banned). Success
// carries "welcome" as final data.
type toyAuth struct {
	mu    sync.Mutex
	infos []ConnectInfo
}

func (*toyAuth) Methods() []string { return []string{"TOY", "OTHER"} }

func (a *toyAuth) Start(method string, data []byte, info *ConnectInfo, reauth bool) (AuthExchange, error) {
	a.mu.Lock()
	a.infos = append(a.infos, *info)
	a.mu.Unlock()
	if string(data) == "reject" {
		return nil, errors.New("rejected at start")
	}
	n, _ := strconv.Atoi(string(data))
	return &toyExchange{rounds: n}, nil
}

func (a *toyAuth) lastInfo() ConnectInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.infos[len(a.infos)-1]
}

type toyExchange struct {
	rounds, step int
	nonce        string
}

func (x *toyExchange) Step(data []byte) ([]byte, bool, error) {
	if string(data) == "ban" {
		return nil, false, packet.Banned
	}
	if x.nonce != "" && string(data) != "secret:"+x.nonce {
		return nil, false, errors.New("wrong answer")
	}
	if x.step == x.rounds {
		return []byte("welcome"), true, nil
	}
	x.step++
	x.nonce = "nonce" + strconv.Itoa(x.step)
	return []byte(x.nonce), false, nil
}

func startToy(t *testing.T, modify func(*Options)) (*toyAuth, string) {
	t.Helper()
	toy := &toyAuth{}
	_, addr := startServer(t, func(o *Options) {
		o.EnhancedAuth = toy
		if modify != nil {
			modify(o)
		}
	})
	return toy, addr
}

func authProps(method, data string) packet.Properties {
	var pr packet.Properties
	pr.AuthMethod = []byte(method)
	pr.Set(packet.PropAuthMethod)
	if data != "" {
		pr.AuthData = []byte(data)
		pr.Set(packet.PropAuthData)
	}
	return pr
}

func authPacket(code packet.ReasonCode, method, data string) *packet.Auth {
	return &packet.Auth{ReasonCode: code, Properties: authProps(method, data)}
}

func toyConnect(id, rounds string) *packet.Connect {
	return &packet.Connect{Version: packet.V5, ClientID: []byte(id), CleanStart: true, Properties: authProps("TOY", rounds)}
}

// expectAuth reads an AUTH, checks its code and method, and returns its data.
// [MQTT-4.12.0-2] [MQTT-4.12.0-5]
func (p *peer) expectAuth(code packet.ReasonCode) string {
	p.t.Helper()
	a := p.expect(packet.AUTH).(*packet.Auth)
	eq(p.t, "AUTH reason", a.ReasonCode, code)
	eqBytes(p.t, "AUTH method", a.Properties.AuthMethod, "TOY")
	return string(a.Properties.AuthData)
}

// toyLogin connects with rounds challenge rounds, answering each.
func toyLogin(t *testing.T, addr, id string, rounds int) (*peer, *packet.Connack) {
	t.Helper()
	p := dial(t, addr, packet.V5)
	p.send(toyConnect(id, strconv.Itoa(rounds)))
	for i := 1; i <= rounds; i++ {
		nonce := p.expectAuth(packet.ContinueAuthentication)
		eq(t, "challenge", nonce, "nonce"+strconv.Itoa(i))
		p.send(authPacket(packet.ContinueAuthentication, "TOY", "secret:"+nonce)) // [MQTT-4.12.0-3]
	}
	ack := p.expect(packet.CONNACK).(*packet.Connack)
	eq(t, "CONNACK", ack.ReasonCode, packet.Success)
	// [MQTT-4.12.0-5] a successful CONNACK repeats the method.
	eqBytes(t, "CONNACK method", ack.Properties.AuthMethod, "TOY")
	eqBytes(t, "CONNACK data", ack.Properties.AuthData, "welcome")
	return p, ack
}

func TestEnhancedAuthConnect(t *testing.T) {
	toy, addr := startToy(t, nil)
	for _, rounds := range []int{0, 1, 2} {
		t.Run("rounds"+strconv.Itoa(rounds), func(t *testing.T) {
			p, _ := toyLogin(t, addr, "toy"+strconv.Itoa(rounds), rounds)
			info := toy.lastInfo()
			eq(t, "info client", info.ClientID, "toy"+strconv.Itoa(rounds))
			eq(t, "info method", info.AuthMethod, "TOY")
			p.subscribe(sub("auth/t", 0))
			p.publish("auth/t", "hello", 0, false)
			p.expectPub("auth/t", "hello")
		})
	}
}

// [MQTT-4.12.0-6] no method in CONNECT: no method in CONNACK.
func TestEnhancedAuthNotUsed(t *testing.T) {
	_, addr := startToy(t, nil)
	_, ack := connect5(t, addr, "plain", nil)
	if ack.Properties.Has(packet.PropAuthMethod) {
		t.Fatal("CONNACK has an authentication method")
	}
}

// [MQTT-4.12.0-4] a refusal at any step: CONNACK >= 0x80, then close.
func TestEnhancedAuthRefused(t *testing.T) {
	_, addr := startToy(t, nil)
	t.Run("start", func(t *testing.T) {
		mustRefuse(t, addr, packet.V5, toyConnect("r1", "reject"), packet.NotAuthorized)
	})
	for _, tc := range []struct {
		answer string
		want   packet.ReasonCode
	}{{"secret:wrong", packet.NotAuthorized}, {"ban", packet.Banned}} {
		t.Run(tc.answer, func(t *testing.T) {
			p := dial(t, addr, packet.V5)
			p.send(toyConnect("r2", "1"))
			p.expectAuth(packet.ContinueAuthentication)
			p.send(authPacket(packet.ContinueAuthentication, "TOY", tc.answer))
			ack := p.expect(packet.CONNACK).(*packet.Connack)
			eq(t, "CONNACK", ack.ReasonCode, tc.want)
			eq(t, "DISCONNECT", p.expectClosed(), packet.ReasonCode(0))
		})
	}
}

// [MQTT-4.12.0-1] an unsupported method is refused with 0x8C.
func TestEnhancedAuthUnknownMethod(t *testing.T) {
	_, addr := startToy(t, nil)
	c := toyConnect("u1", "0")
	c.Properties.AuthMethod = []byte("SCRAM-SHA-1")
	mustRefuse(t, addr, packet.V5, c, packet.BadAuthenticationMethod)

	_, plain := startServer(t, nil) // no EnhancedAuth: every method is refused
	mustRefuse(t, plain, packet.V5, toyConnect("u2", "0"), packet.BadAuthenticationMethod)
}

// Before CONNACK only AUTH 0x18 with the CONNECT's method may follow.
// [MQTT-4.12.0-3] [MQTT-4.12.0-5]
func TestEnhancedAuthConnectProtocolErrors(t *testing.T) {
	_, addr := startToy(t, nil)
	for name, pk := range map[string]packet.Packet{
		"other method": authPacket(packet.ContinueAuthentication, "OTHER", "secret:nonce1"),
		"reauth code":  authPacket(packet.ReAuthenticate, "TOY", "secret:nonce1"),
		"publish":      &packet.Publish{Topic: []byte("a"), Payload: []byte("x")},
	} {
		t.Run(name, func(t *testing.T) {
			p := dial(t, addr, packet.V5)
			p.send(toyConnect("pe", "1"))
			p.expectAuth(packet.ContinueAuthentication)
			p.send(pk)
			ack := p.expect(packet.CONNACK).(*packet.Connack)
			eq(t, "CONNACK", ack.ReasonCode, packet.ProtocolError)
			eq(t, "DISCONNECT", p.expectClosed(), packet.ReasonCode(0))
		})
	}
}

// The connect timeout covers the whole exchange.
func TestEnhancedAuthConnectTimeout(t *testing.T) {
	_, addr := startToy(t, func(o *Options) { o.Limits.ConnectTimeout = 200 * time.Millisecond })
	p := dial(t, addr, packet.V5)
	p.send(toyConnect("slow", "1"))
	p.expectAuth(packet.ContinueAuthentication)
	eq(t, "DISCONNECT", p.expectClosed(), packet.ReasonCode(0))
}

type denyUser string

func (d denyUser) Authenticate(info *ConnectInfo) error {
	if info.Username == string(d) {
		return packet.NotAuthorized
	}
	return nil
}

// The plain Authenticator still decides after a successful exchange.
func TestEnhancedAuthThenAuthenticator(t *testing.T) {
	_, addr := startToy(t, func(o *Options) { o.Authenticator = denyUser("bob") })
	p := dial(t, addr, packet.V5)
	c := toyConnect("bob", "1")
	c.UsernameFlag, c.Username = true, []byte("bob")
	p.send(c)
	nonce := p.expectAuth(packet.ContinueAuthentication)
	p.send(authPacket(packet.ContinueAuthentication, "TOY", "secret:"+nonce))
	ack := p.expect(packet.CONNACK).(*packet.Connack)
	eq(t, "CONNACK", ack.ReasonCode, packet.NotAuthorized)
	p.expectClosed()
}

// Re-authentication: AUTH 0x19, AUTH 0x18 rounds, AUTH 0x00, while
// publications keep flowing. [MQTT-4.12.1-1]
func TestEnhancedReauth(t *testing.T) {
	toy, addr := startToy(t, nil)
	p, _ := toyLogin(t, addr, "re", 1)
	p.subscribe(sub("re/t", 1))
	p.send(authPacket(packet.ReAuthenticate, "TOY", "1"))
	nonce := p.expectAuth(packet.ContinueAuthentication)
	eq(t, "challenge", nonce, "nonce1")
	info := toy.lastInfo()
	eq(t, "reauth client", info.ClientID, "re")
	p.publish("re/t", "during", 0, false)
	p.expectPub("re/t", "during")
	p.send(authPacket(packet.ContinueAuthentication, "TOY", "secret:"+nonce))
	eq(t, "final data", p.expectAuth(packet.Success), "welcome")
	p.publish("re/t", "after", 0, false)
	p.expectPub("re/t", "after")
	// A second re-authentication with no challenge.
	p.send(authPacket(packet.ReAuthenticate, "TOY", "0"))
	eq(t, "final data", p.expectAuth(packet.Success), "welcome")
	p.publish("re/t", "again", 0, false)
	p.expectPub("re/t", "again")
}

// [MQTT-4.12.1-2] a failed re-authentication: DISCONNECT, then close.
func TestEnhancedReauthFails(t *testing.T) {
	_, addr := startToy(t, nil)
	t.Run("answer", func(t *testing.T) {
		p, _ := toyLogin(t, addr, "rf1", 0)
		p.send(authPacket(packet.ReAuthenticate, "TOY", "1"))
		p.expectAuth(packet.ContinueAuthentication)
		p.send(authPacket(packet.ContinueAuthentication, "TOY", "secret:nope"))
		eq(t, "DISCONNECT", p.expectClosed(), packet.NotAuthorized)
	})
	t.Run("start", func(t *testing.T) {
		p, _ := toyLogin(t, addr, "rf2", 0)
		p.send(authPacket(packet.ReAuthenticate, "TOY", "reject"))
		eq(t, "DISCONNECT", p.expectClosed(), packet.NotAuthorized)
	})
	t.Run("code", func(t *testing.T) {
		p, _ := toyLogin(t, addr, "rf3", 0)
		p.send(authPacket(packet.ReAuthenticate, "TOY", "1"))
		p.expectAuth(packet.ContinueAuthentication)
		p.send(authPacket(packet.ContinueAuthentication, "TOY", "ban"))
		eq(t, "DISCONNECT", p.expectClosed(), packet.Banned)
	})
}

// AUTH that breaks the rules after CONNACK is a protocol error.
// [MQTT-4.12.0-7] [MQTT-4.12.1-1]
func TestEnhancedReauthProtocolErrors(t *testing.T) {
	_, addr := startToy(t, nil)
	t.Run("no enhanced auth at connect", func(t *testing.T) {
		p, _ := connect5(t, addr, "pe1", nil)
		p.send(authPacket(packet.ReAuthenticate, "TOY", "0"))
		eq(t, "DISCONNECT", p.expectClosed(), packet.ProtocolError)
	})
	t.Run("other method", func(t *testing.T) {
		p, _ := toyLogin(t, addr, "pe2", 0)
		p.send(authPacket(packet.ReAuthenticate, "OTHER", "0"))
		eq(t, "DISCONNECT", p.expectClosed(), packet.ProtocolError)
	})
	t.Run("continue outside an exchange", func(t *testing.T) {
		p, _ := toyLogin(t, addr, "pe3", 0)
		p.send(authPacket(packet.ContinueAuthentication, "TOY", "x"))
		eq(t, "DISCONNECT", p.expectClosed(), packet.ProtocolError)
	})
	t.Run("reauth during an exchange", func(t *testing.T) {
		p, _ := toyLogin(t, addr, "pe4", 0)
		p.send(authPacket(packet.ReAuthenticate, "TOY", "1"))
		p.expectAuth(packet.ContinueAuthentication)
		p.send(authPacket(packet.ReAuthenticate, "TOY", "1"))
		eq(t, "DISCONNECT", p.expectClosed(), packet.ProtocolError)
	})
}
