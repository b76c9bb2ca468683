package listener

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MQTT over WebSocket (MQTT 5.0 section 6, 3.1.1 section 6): binary frames
// only, subprotocol "mqtt"; a packet may span frames and a frame may hold
// several packets, so the connection is a byte stream over the messages.

// WSConfig holds the options of a ws or wss listener.
type WSConfig struct {
	// Path is where the upgrade is served; "" means "/mqtt".
	Path string
	// AllowedOrigins lists the Origin header values accepted
	// ("https://app.example.com"); "*" accepts any. Requests without an
	// Origin (non-browser clients) are always accepted. With an empty list
	// only same-origin browser pages (Origin host equal to Host) connect.
	AllowedOrigins []string
}

// DefaultWSPath is where a WebSocket listener upgrades by default.
const DefaultWSPath = "/mqtt"

func (w *WSConfig) path() string {
	if w == nil || w.Path == "" {
		return DefaultWSPath
	}
	return w.Path
}

// wsSubprotocols are the subprotocols accepted, best first. "mqttv3.1" is
// what some MQTT 3.1 clients ask for.
var wsSubprotocols = []string{"mqtt", "mqttv3.1"}

// wsListener serves HTTP on ln and yields each upgraded WebSocket as a
// net.Conn.
type wsListener struct {
	ln      net.Listener
	cfg     *Config
	path    string
	log     *slog.Logger
	srv     *http.Server
	conns   chan net.Conn
	done    chan struct{}
	once    sync.Once
	served  chan struct{} // closed when srv.Serve returns
	serveMu sync.Mutex
	err     error // guarded by serveMu: why Serve stopped
}

func newWSListener(ln net.Listener, cfg *Config, log *slog.Logger) *wsListener {
	l := &wsListener{ln: ln, cfg: cfg, path: cfg.WebSocket.path(), log: log,
		conns: make(chan net.Conn), done: make(chan struct{}), served: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc(l.path, l.upgrade)
	l.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: cfg.HandshakeTimeout,
		IdleTimeout:       cfg.HandshakeTimeout, // a kept-alive request that never upgrades
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go func() {
		err := l.srv.Serve(ln)
		l.serveMu.Lock()
		l.err = err
		l.serveMu.Unlock()
		close(l.served)
	}()
	return l
}

func (l *wsListener) upgrade(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != l.path {
		http.NotFound(w, r)
		return
	}
	if !l.originAllowed(r) {
		l.log.Debug("WebSocket upgrade refused: origin not allowed", "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	remote := l.clientAddr(r)
	proto := selectSubprotocol(r)
	if proto == "" { // [MQTT-6.0.0-3] [MQTT-6.0.0-4]
		l.log.Debug("WebSocket refused: the client did not offer subprotocol mqtt", "remote", remote)
		http.Error(w, "subprotocol mqtt required", http.StatusBadRequest)
		return
	}
	stream, err := acceptWebSocket(w, r, proto)
	if err != nil {
		l.log.Debug("WebSocket upgrade failed", "remote", remote, "err", err)
		return
	}
	nc := &wsConn{Conn: stream, remote: remote}
	if r.TLS != nil {
		nc.id, nc.idOK = identity(*r.TLS, l.cfg.TLS.CertIdentity)
	}
	select {
	case l.conns <- nc:
	case <-l.done:
		_ = nc.Close()
	}
}

// originAllowed applies the Origin allow-list.
func (l *wsListener) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	var allowed []string
	if l.cfg.WebSocket != nil {
		allowed = l.cfg.WebSocket.AllowedOrigins
	}
	if len(allowed) == 0 {
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
	for _, a := range allowed {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	return false
}

// clientAddr returns the client's address: the peer's, or, when the peer is
// a trusted proxy, the right-most address of X-Forwarded-For that is not a
// trusted proxy itself.
func (l *wsListener) clientAddr(r *http.Request) net.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return stringAddr(r.RemoteAddr)
	}
	client := net.TCPAddrFromAddrPort(peer)
	trusted := l.cfg.TrustedProxies
	if !inPrefixes(peer.Addr().Unmap(), trusted) {
		return client
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a malformed hop: stop at the last address known good
		}
		client = net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 0))
		if !inPrefixes(ip.Unmap(), trusted) {
			break
		}
	}
	return client
}

func (l *wsListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-l.served:
		l.serveMu.Lock()
		defer l.serveMu.Unlock()
		return nil, l.err
	}
}

// Close stops the HTTP server; upgraded connections are the caller's.
func (l *wsListener) Close() error {
	l.once.Do(func() { close(l.done) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := l.srv.Shutdown(ctx) // closes ln; hijacked connections are not tracked
	if errors.Is(err, context.DeadlineExceeded) {
		err = l.srv.Close()
	}
	<-l.served
	return err
}

func (l *wsListener) Addr() net.Addr { return l.ln.Addr() }

// wsConn is an upgraded WebSocket.
type wsConn struct {
	net.Conn
	remote net.Addr
	id     string
	idOK   bool
}

func (c *wsConn) RemoteAddr() net.Addr { return c.remote }

// SyscallConn and Quiet implement broker.Hibernatable: over plain TCP an
// idle WebSocket may hibernate like a TCP connection.
func (c *wsConn) SyscallConn() (syscall.RawConn, error) { return socketOf(c.Conn) }

func (c *wsConn) Quiet() bool {
	q, ok := c.Conn.(interface{ Quiet() bool })
	return ok && q.Quiet()
}

// CloseRead shuts the read side of the socket under the WebSocket
// (closeRead).
func (c *wsConn) CloseRead() error { return closeRead(c.Conn) }

// CertIdentity implements CertIdentifier (wss).
func (c *wsConn) CertIdentity() (string, bool) { return c.id, c.idOK }

// stringAddr is a net.Addr known only by its text.
type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }
