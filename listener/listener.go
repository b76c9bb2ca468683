// Package listener opens the sockets MQTT clients connect to: plain TCP,
// TLS, WebSocket (ws and wss), Unix domain sockets, each optionally behind
// the PROXY protocol. Listen returns a net.Listener for broker.Server.Serve.
//
// Whatever a connection needs before it can carry MQTT (a PROXY header, a TLS
// handshake, a WebSocket upgrade) happens on a goroutine of its own under
// Config.HandshakeTimeout, never on the accept loop, so one slow or hostile
// client cannot hold the others up. Accept yields only ready connections.
//
// A connection's RemoteAddr is the client's address as the PROXY header or a
// trusted proxy's X-Forwarded-For gives it; a connection with a verified
// client certificate implements CertIdentifier.
package listener

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
)

// Listener types.
const (
	TCP  = "tcp"
	TLS  = "tls"
	WS   = "ws"
	WSS  = "wss"
	Unix = "unix"
)

// DefaultAddress returns the address a listener of type typ uses when its
// config names none: :1883, :8883, :8083, :8084; "" for unix (a path is
// required).
func DefaultAddress(typ string) string {
	switch typ {
	case TCP:
		return ":1883"
	case TLS:
		return ":8883"
	case WS:
		return ":8083"
	case WSS:
		return ":8084"
	}
	return ""
}

// DefaultHandshakeTimeout bounds the PROXY header, the TLS handshake and the
// WebSocket upgrade of one connection when Config.HandshakeTimeout is 0.
const DefaultHandshakeTimeout = 10 * time.Second

// Config describes one listener.
type Config struct {
	Type    string // tcp, tls, ws, wss or unix
	Address string // host:port, or the socket's path for unix

	TLS       *TLSConfig // tls and wss: required
	WebSocket *WSConfig  // ws and wss: nil means the defaults
	Unix      *UnixConfig

	// ProxyProtocol makes a PROXY protocol header (v1 or v2) mandatory at
	// the start of every connection; the address it carries becomes the
	// connection's RemoteAddr.
	ProxyProtocol bool
	// TrustedProxies are the peers whose PROXY headers (when ProxyProtocol
	// is set) and X-Forwarded-For headers (ws and wss) are believed. With
	// ProxyProtocol and a non-empty list, other peers are refused.
	TrustedProxies []netip.Prefix
	// HandshakeTimeout bounds a connection's PROXY header, TLS handshake
	// and WebSocket upgrade together; 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
}

// UnixConfig holds the options of a unix listener.
type UnixConfig struct {
	// Mode is the socket file's permission bits; 0 means 0660.
	Mode os.FileMode
}

// DefaultUnixMode is the permission of a unix socket file by default.
const DefaultUnixMode os.FileMode = 0o660

// CertIdentifier is implemented by connections that carry a verified client
// certificate: Identity is its common name or whole subject, as the
// listener's TLSConfig.CertIdentity asks. The broker uses it as the username.
type CertIdentifier interface {
	CertIdentity() (identity string, ok bool)
}

// Scheme returns the URL scheme of a listener type: mqtt, mqtts, ws, wss,
// unix.
func Scheme(typ string) string {
	switch typ {
	case TLS:
		return "mqtts"
	case TCP, "":
		return "mqtt"
	}
	return typ
}

// Validate checks c without opening anything; Listen calls it too. Files
// (certificates, CA) are checked by Listen.
func (c *Config) Validate() error {
	switch c.Type {
	case TCP, TLS, WS, WSS:
		if _, _, err := net.SplitHostPort(c.Address); err != nil {
			return fmt.Errorf("address %q: %v", c.Address, err)
		}
	case Unix:
		if c.Address == "" {
			return errors.New("a unix listener needs the socket's path as its address")
		}
	default:
		return fmt.Errorf("unknown listener type %q (want tcp, tls, ws, wss or unix)", c.Type)
	}
	secure := c.Type == TLS || c.Type == WSS
	if secure && c.TLS == nil {
		return fmt.Errorf("a %s listener needs tls settings (cert_file and key_file)", c.Type)
	}
	if !secure && c.TLS != nil {
		return fmt.Errorf("tls settings apply to tls and wss listeners only, not %s", c.Type)
	}
	if c.WebSocket != nil && c.Type != WS && c.Type != WSS {
		return fmt.Errorf("websocket settings apply to ws and wss listeners only, not %s", c.Type)
	}
	if c.Unix != nil && c.Type != Unix {
		return fmt.Errorf("unix settings apply to unix listeners only, not %s", c.Type)
	}
	if c.TLS != nil {
		if err := c.TLS.validate(); err != nil {
			return err
		}
	}
	if c.HandshakeTimeout < 0 {
		return errors.New("handshake_timeout must not be negative")
	}
	return nil
}

// String names the listener as a URL: "mqtts://:8883", "ws://:8083/mqtt".
func (c *Config) String() string {
	s := Scheme(c.Type) + "://" + c.Address
	if c.Type == WS || c.Type == WSS {
		s += c.WebSocket.path()
	}
	return s
}

// Listen opens the listener c describes. log receives the reasons
// connections are refused before they reach the broker (bad PROXY header,
// failed handshake, refused upgrade) at debug level, and certificate reload
// errors at error level; nil discards them.
func Listen(c Config, log *slog.Logger) (net.Listener, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	var tc *tlsServer
	if c.TLS != nil {
		var err error
		if tc, err = newTLSServer(c.TLS, log); err != nil {
			return nil, err
		}
	}
	var base net.Listener
	var err error
	if c.Type == Unix {
		base, err = listenUnix(c.Address, c.Unix)
	} else {
		base, err = net.Listen("tcp", c.Address)
	}
	if err != nil {
		return nil, err
	}
	named := c
	named.Address = base.Addr().String() // the port picked for :0
	log = log.With("listener", named.String())
	if tc != nil {
		tc.log = log
	}
	var prep []prepFunc
	if c.ProxyProtocol {
		prep = append(prep, proxyPrep(c.TrustedProxies))
	}
	if tc != nil {
		prep = append(prep, tc.prep(c.Type == WSS))
	}
	var ln net.Listener = base
	if len(prep) > 0 {
		ln = newPrepListener(base, c.HandshakeTimeout, prep, log)
	}
	if c.Type == WS || c.Type == WSS {
		return newWSListener(ln, &c, log), nil
	}
	return ln, nil
}

// listenUnix listens on the socket file path with the permission of u,
// replacing a stale socket file that nothing listens on.
func listenUnix(path string, u *UnixConfig) (net.Listener, error) {
	mode := DefaultUnixMode
	if u != nil && u.Mode != 0 {
		mode = u.Mode
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			_ = c.Close()
			return nil, fmt.Errorf("listen unix %s: another process listens on it", path)
		}
		_ = os.Remove(path) // stale: left by a process that died
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, mode); err != nil {
		_ = ln.Close()
		return nil, err
	}
	return ln, nil
}

// prepFunc readies one connection before Accept yields it (reads a PROXY
// header, runs a TLS handshake); the connection's deadline is set.
type prepFunc func(net.Conn) (net.Conn, error)

// prepListener accepts from base on its own goroutine and readies each
// connection on a goroutine of its own, so that Accept yields only ready
// connections and never waits on one client's handshake.
type prepListener struct {
	base    net.Listener
	timeout time.Duration
	prep    []prepFunc
	log     *slog.Logger

	ready   chan net.Conn
	done    chan struct{}
	errOnce sync.Once
	err     error // the base listener's permanent accept error; set before done closes
	close   sync.Once
	wg      sync.WaitGroup // the accept loop and the per-connection goroutines

	mu      sync.Mutex
	pending map[net.Conn]struct{} // connections being readied; guarded by mu
}

func newPrepListener(base net.Listener, timeout time.Duration, prep []prepFunc, log *slog.Logger) *prepListener {
	l := &prepListener{base: base, timeout: timeout, prep: prep, log: log,
		ready: make(chan net.Conn), done: make(chan struct{}), pending: map[net.Conn]struct{}{}}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

func (l *prepListener) acceptLoop() {
	defer l.wg.Done()
	var delay time.Duration
	for {
		nc, err := l.base.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
					continue
				case <-l.done:
					return
				}
			}
			l.fail(err)
			return
		}
		delay = 0
		l.mu.Lock()
		select {
		case <-l.done:
			l.mu.Unlock()
			_ = nc.Close()
			return
		default:
		}
		l.pending[nc] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go l.readyConn(nc)
	}
}

// fail stops the listener with err, which Accept then returns.
func (l *prepListener) fail(err error) {
	l.errOnce.Do(func() { l.err = err })
	l.close.Do(func() { close(l.done) })
}

func (l *prepListener) readyConn(nc net.Conn) {
	defer l.wg.Done()
	defer func() {
		l.mu.Lock()
		delete(l.pending, nc)
		l.mu.Unlock()
	}()
	peer := nc.RemoteAddr().String()
	_ = nc.SetDeadline(time.Now().Add(l.timeout))
	c := nc
	for _, p := range l.prep {
		var err error
		if c, err = p(c); err != nil {
			l.log.Debug("connection refused before MQTT", "remote", peer, "err", err)
			_ = nc.Close()
			return
		}
	}
	_ = nc.SetDeadline(time.Time{})
	select {
	case l.ready <- c:
	case <-l.done:
		_ = c.Close()
	}
}

func (l *prepListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
	}
	l.errOnce.Do(func() { l.err = net.ErrClosed })
	return nil, l.err
}

// Close stops accepting and closes connections not yet accepted; accepted
// ones are the caller's.
func (l *prepListener) Close() error {
	err := l.base.Close()
	l.mu.Lock()
	l.fail(net.ErrClosed)
	for nc := range l.pending {
		_ = nc.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	return err
}

func (l *prepListener) Addr() net.Addr { return l.base.Addr() }

// addrConn is a connection whose RemoteAddr is the client's address as a
// proxy reported it.
type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c *addrConn) RemoteAddr() net.Addr { return c.remote }

// SyscallConn and Quiet implement broker.Hibernatable: the PROXY header is
// read byte for byte, so nothing past it is ever buffered here.
func (c *addrConn) SyscallConn() (syscall.RawConn, error) { return socketOf(c.Conn) }

// socketOf returns the socket of nc when nc is one, or a wrapper that
// offers it (for hibernation); ErrUnsupported otherwise (TLS).
func socketOf(nc net.Conn) (syscall.RawConn, error) {
	if sc, ok := nc.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

func (c *addrConn) Quiet() bool { return true }

// closeRead shuts the read side of the socket beneath nc (through TLS,
// WebSocket and PROXY protocol layers), as *net.TCPConn.CloseRead does:
// what the client sent before stays readable, then reads end. The broker
// stops a connection it closes (a takeover) this way, so that a DISCONNECT
// already on its way is still seen. Without such a socket it closes nc.
func closeRead(nc net.Conn) error {
	under := nc
	for {
		switch c := under.(type) {
		case *net.TCPConn:
			return c.CloseRead()
		case *net.UnixConn:
			return c.CloseRead()
		case *tls.Conn:
			under = c.NetConn()
		case *addrConn:
			under = c.Conn
		case *wsStream:
			under = c.Conn
		default:
			return nc.Close()
		}
	}
}

// CheckFiles validates c and loads its TLS files as Listen would, without
// opening a socket (for `roost serve --check-config`).
func (c *Config) CheckFiles() error {
	if err := c.Validate(); err != nil {
		return err
	}
	if c.TLS != nil {
		if _, err := newTLSServer(c.TLS, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
			return err
		}
	}
	return nil
}
