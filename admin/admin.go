// Package admin is Roost's operations surface: one HTTP listener serving
// Prometheus metrics (/metrics), a JSON REST API under /api/v1 described by
// an OpenAPI document (/api/v1/openapi.json), and the web dashboard (/),
// whose built assets are embedded in the binary.
//
// The listener is on loopback by default. On any other address a bearer
// token or basic-auth users are required: New refuses to start without them.
//
// admin imports broker, never the reverse: everything it shows comes from
// broker.Server's introspection methods, read when a request or a scrape
// asks, so nothing here runs per message (the Observer's hooks aside, which
// do work only while a client is traced or the topic page is open).
package admin

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/roostmq/roost/broker"
)

// DefaultAddress is where the admin listener listens by default: loopback
// only.
const DefaultAddress = "127.0.0.1:8080"

// Config is the admin: section of the config file.
type Config struct {
	// Enabled turns the listener on; roost serve leaves it off when false.
	Enabled bool
	// Address is host:port; the default is DefaultAddress.
	Address string
	// Token, when set, is accepted as "Authorization: Bearer TOKEN" (and as
	// the password of basic auth with any user name).
	Token string
	// Users are basic-auth user names and their passwords.
	Users map[string]string
	// SessionTTL is how long a dashboard login lasts; 0 means
	// DefaultSessionTTL.
	SessionTTL time.Duration
	// WebSocketURL is the MQTT-over-WebSocket URL the dashboard's tap
	// connects to ("ws://host:8083/mqtt"); "" lets Options.WebSocketURLs
	// (the broker's ws listeners) decide.
	WebSocketURL string
}

// HasCredentials reports whether a token or a user is configured.
func (c *Config) HasCredentials() bool { return c.Token != "" || len(c.Users) > 0 }

// Validate checks the address, and that a listener that is not on loopback
// requires credentials.
func (c *Config) Validate() error {
	addr := c.Address
	if addr == "" {
		addr = DefaultAddress
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("admin.address %q is not host:port", addr)
	}
	if port == "" {
		return fmt.Errorf("admin.address %q: no port", addr)
	}
	for name := range c.Users {
		if name == "" || strings.Contains(name, ":") {
			return fmt.Errorf("admin.users: %q is not a valid user name (empty or with ':')", name)
		}
	}
	if !IsLoopback(host) && !c.HasCredentials() {
		return fmt.Errorf("admin.address %q is not on loopback: set admin.token or admin.users, "+
			"or listen on 127.0.0.1 (the admin API can kick clients and publish)", addr)
	}
	return nil
}

// IsLoopback reports whether host ("" means every interface) names only
// loopback addresses: localhost or a loopback IP.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Options configure a Server.
type Options struct {
	Config Config
	Broker *broker.Server
	// Logger receives the admin server's logs; nil discards them.
	Logger *slog.Logger
	// Observer provides the per-client trace switch and per-topic rates;
	// nil turns both off.
	Observer *Observer
	// LogLevel, when set, can be read and changed through the API.
	LogLevel *slog.LevelVar
	// WebSocketURLs are the broker's MQTT-over-WebSocket URLs, for the
	// dashboard's tap when Config.WebSocketURL is "". A URL whose host is
	// empty ("ws://:8083/mqtt") means the dashboard's own host.
	WebSocketURLs []string
	// Collectors are extra Prometheus collectors served on /metrics with
	// the broker's.
	Collectors []Collector
	// Store is the broker's store; when it implements SyncLatencyReporter,
	// /metrics exports its sync latency.
	Store any
}

// Server is the admin HTTP server.
type Server struct {
	opts    Options
	log     *slog.Logger
	creds   atomic.Pointer[credentials]
	handler http.Handler
	http    *http.Server
	ln      net.Listener
	logins  logins
	now     func() time.Time // time.Now; tests move it
}

type credentials struct {
	token string
	users map[string]string
}

// New checks o.Config and builds the server; Listen and Serve start it.
func New(o Options) (*Server, error) {
	if o.Broker == nil {
		return nil, errors.New("admin: no broker")
	}
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Config.Address == "" {
		o.Config.Address = DefaultAddress
	}
	s := &Server{opts: o, log: o.Logger, now: time.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.SetCredentials(o.Config.Token, o.Config.Users)
	mux := http.NewServeMux()
	s.routes(mux)
	s.handler = s.authenticate(s.audit(mux))
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// SetCredentials replaces the token and users at run time (config reload).
// It refuses to remove every credential of a listener that is not on
// loopback.
func (s *Server) SetCredentials(token string, users map[string]string) {
	cp := make(map[string]string, len(users))
	for k, v := range users {
		cp[k] = v
	}
	s.creds.Store(&credentials{token: token, users: cp})
	s.logins.clear() // a login made with the old credentials ends
}

// Handler returns the server's handler: authentication, then the routes.
func (s *Server) Handler() http.Handler { return s.handler }

// Listen opens the listener on Config.Address.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.opts.Config.Address)
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	s.ln = ln
	return nil
}

// Addr is the listener's address, after Listen.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves HTTP on the listener opened by Listen until Shutdown; it then
// returns http.ErrServerClosed.
func (s *Server) Serve() error {
	s.log.Info("admin listening", "address", s.ln.Addr().String(), "auth", s.opts.Config.HasCredentials())
	return s.http.Serve(s.ln)
}

// Shutdown stops the server gracefully.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if s.ln != nil {
		_ = s.ln.Close() // in case Serve never ran
	}
	return err
}

// authenticate requires the token, a user, or a dashboard session cookie
// when any credential is configured. A browser opening a page without one
// is sent to /login; API and metrics requests get 401.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := s.creds.Load()
		if c.token == "" && len(c.users) == 0 {
			next.ServeHTTP(w, withUser(r, "anonymous"))
			return
		}
		if r.URL.Path == "/login" {
			next.ServeHTTP(w, r)
			return
		}
		if who, ok := s.allowed(c, r); ok {
			next.ServeHTTP(w, withUser(r, who))
			return
		}
		if r.Method == http.MethodGet && isPage(r.URL.Path) {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		// Bearer, not Basic: a browser's fetch after the session expired
		// must not pop up a password dialog (the page sends it to /login).
		// Scripts send basic auth without being asked.
		w.Header().Set("WWW-Authenticate", `Bearer realm="roost"`)
		writeError(w, http.StatusUnauthorized, "authentication required (log in at /login, or send a bearer token or basic auth)")
	})
}

// isPage reports whether a path is the dashboard's page rather than the
// API, the metrics, the tap or an asset.
func isPage(p string) bool {
	return p == "/" || p == "/index.html"
}

// allowed returns who the request authenticates as.
func (s *Server) allowed(c *credentials, r *http.Request) (string, bool) {
	if c.token != "" {
		if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && equal(b, c.token) {
			return "token", true
		}
	}
	if user, pass, ok := r.BasicAuth(); ok {
		return s.checkPassword(c, user, pass)
	}
	if ck, err := r.Cookie(SessionCookie); err == nil {
		return s.logins.get(ck.Value, s.now())
	}
	return "", false
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// audit logs every request that changes something (any method but GET,
// HEAD and OPTIONS) at info level once it is answered: who (the basic-auth
// user, "token", or "anonymous" on an admin listener without credentials),
// from where, what, and the status. It runs after authentication, so a
// refused request is not an action.
func (s *Server) audit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		who := requestUser(r)
		if who == "" {
			return // not authenticated (the login form logs itself)
		}
		s.log.Info("admin api action", "audit", true, "user", who, "remote", r.RemoteAddr,
			"method", r.Method, "path", r.URL.Path, "status", rec.status)
	})
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Flush passes through, for streamed responses.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
