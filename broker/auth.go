package broker

import (
	"bytes"
	"errors"

	"github.com/roostmq/roost/packet"
)

// MQTT 5 enhanced authentication: the AUTH exchange of a CONNECT and
// re-authentication on a live connection. The mechanisms themselves are
// Options.EnhancedAuth's.

var (
	errAuthExpected = &packet.Error{Code: packet.ProtocolError, Msg: "only AUTH may follow CONNECT before CONNACK"}
	errAuthContinue = &packet.Error{Code: packet.ProtocolError, Msg: "expected AUTH 0x18 with the CONNECT's authentication method"}
	errAuthMethod   = &packet.Error{Code: packet.ProtocolError, Msg: "AUTH with another authentication method"}
	errAuthSequence = &packet.Error{Code: packet.ProtocolError, Msg: "AUTH reason code out of sequence"}
)

// enhancedAuth returns the configured mechanism when it handles method, else nil.
func (c *conn) enhancedAuth(method string) EnhancedAuth {
	ea := c.srv.enhancedAuth()
	if ea == nil {
		return nil
	}
	for _, m := range ea.Methods() {
		if m == method {
			return ea
		}
	}
	return nil
}

// connectInfo describes the client of a CONNECT for the authenticators.
func (c *conn) connectInfo(p *packet.Connect) *ConnectInfo {
	info := &ConnectInfo{ClientID: string(p.ClientID), Username: string(p.Username), Password: p.Password,
		Version: c.version, RemoteAddr: c.nc.RemoteAddr(), Listener: c.listener}
	if p.Properties.Has(packet.PropAuthMethod) {
		info.AuthMethod = string(p.Properties.AuthMethod)
	}
	if ci, ok := c.nc.(CertIdentifier); ok {
		if id, ok := ci.CertIdentity(); ok {
			info.CertIdentity = id
		}
	}
	return info
}

// authFailed counts a refusal by the mechanism and gives the error its reason
// code: the mechanism's own, NotAuthorized if it carries none.
// [MQTT-4.12.0-4] [MQTT-4.12.1-2]
func (c *conn) authFailed(err error) error {
	c.srv.stats.authFailures.Add(1)
	c.stats.authFailures.Add(1)
	var rc packet.ReasonCode
	if errors.As(err, &rc) && rc >= 0x80 {
		return err
	}
	return &packet.Error{Code: packet.NotAuthorized, Msg: err.Error()}
}

// authConnect runs the enhanced authentication exchange of a CONNECT on the
// reader goroutine, before the session is claimed and under the connect
// deadline run set. On success c.auth is set for
// CONNACK. [MQTT-4.12.0-2] [MQTT-4.12.0-4] [MQTT-4.12.0-5]
func (c *conn) authConnect(r *packet.Reader, p *packet.Connect) error {
	// Reading AUTH packets reuses the reader's buffer, which p points into.
	cl, err := packet.Clone(p, c.version)
	if err != nil {
		return err
	}
	*p = *cl.(*packet.Connect)
	method := string(p.Properties.AuthMethod)
	data := p.Properties.AuthData
	ex, err := c.enhancedAuth(method).Start(method, data, c.connectInfo(p), false)
	if err != nil {
		return c.authFailed(err)
	}
	for {
		out, done, err := ex.Step(data)
		if err != nil {
			return c.authFailed(err)
		}
		if done {
			c.auth = &connAuth{method: method, data: out}
			return nil
		}
		c.sendAuth(packet.ContinueAuthentication, method, out) // [MQTT-4.12.0-2]
		if data, err = c.readAuth(r, method); err != nil {
			return err
		}
	}
}

// readAuth reads the client's next AUTH during a CONNECT exchange and returns
// its Authentication Data. Anything but AUTH 0x18 with the same method is a
// protocol error. [MQTT-4.12.0-3] [MQTT-4.12.0-5]
func (c *conn) readAuth(r *packet.Reader, method string) ([]byte, error) {
	first, body, err := r.Read()
	if err != nil {
		return nil, err
	}
	c.stats.bytesIn.Add(uint64(len(body) + 2))
	if packet.Type(first>>4) != packet.AUTH {
		return nil, errAuthExpected
	}
	pk, err := packet.Decode(first, body, c.version)
	if err != nil {
		return nil, err
	}
	a := pk.(*packet.Auth)
	if a.ReasonCode != packet.ContinueAuthentication || !a.Properties.Has(packet.PropAuthMethod) ||
		string(a.Properties.AuthMethod) != method {
		return nil, errAuthContinue
	}
	return bytes.Clone(a.Properties.AuthData), nil
}

// sendAuth queues an AUTH with method and, when not nil, data.
func (c *conn) sendAuth(code packet.ReasonCode, method string, data []byte) {
	a := &packet.Auth{ReasonCode: code}
	a.Properties.AuthMethod = []byte(method) // [MQTT-4.12.0-5]
	a.Properties.Set(packet.PropAuthMethod)
	if data != nil {
		a.Properties.AuthData = data
		a.Properties.Set(packet.PropAuthData)
	}
	c.sendPacket(a)
}

// handleAuth handles an AUTH after CONNACK: re-authentication with the
// method the client connected with. Other packets keep flowing meanwhile; a
// failure returns an error whose code goes in the DISCONNECT before close.
// [MQTT-4.12.0-7] [MQTT-4.12.1-1] [MQTT-4.12.1-2]
func (c *conn) handleAuth(a *packet.Auth) error {
	if c.auth == nil {
		return errNoAuth // [MQTT-4.12.0-6] [MQTT-4.12.0-7]
	}
	if !a.Properties.Has(packet.PropAuthMethod) || string(a.Properties.AuthMethod) != c.auth.method {
		return errAuthMethod // [MQTT-4.12.0-5] [MQTT-4.12.1-1]
	}
	data := bytes.Clone(a.Properties.AuthData)
	switch {
	case a.ReasonCode == packet.ReAuthenticate && c.auth.reauth == nil:
		info := &ConnectInfo{ClientID: c.clientID, Username: c.username, Version: c.version,
			RemoteAddr: c.nc.RemoteAddr(), Listener: c.listener, AuthMethod: c.auth.method}
		ea := c.enhancedAuth(c.auth.method)
		if ea == nil {
			return c.authFailed(packet.BadAuthenticationMethod)
		}
		ex, err := ea.Start(c.auth.method, data, info, true)
		if err != nil {
			return c.authFailed(err)
		}
		c.auth.reauth = ex
	case a.ReasonCode == packet.ContinueAuthentication && c.auth.reauth != nil:
	default:
		// 0x19 during an exchange, 0x18 outside one, 0x00 from the client.
		return errAuthSequence
	}
	out, done, err := c.auth.reauth.Step(data)
	if err != nil {
		c.auth.reauth = nil
		return c.authFailed(err)
	}
	if done {
		c.auth.reauth = nil
		c.sendAuth(packet.Success, c.auth.method, out)
		return nil
	}
	c.sendAuth(packet.ContinueAuthentication, c.auth.method, out) // [MQTT-4.12.0-2]
	return nil
}
