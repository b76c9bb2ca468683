package admin

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
)

// The dashboard's tap connects to MQTT over WebSocket at /mqtt on the
// admin listener itself, which passes the connection on to the broker's
// WebSocket listener (Config.WebSocketURL, else the first of
// Options.WebSocketURLs). So the tap works without adding the dashboard's
// origin to the WebSocket listener's allowed_origins: the page talks to its
// own origin, the admin server checks that origin and the admin
// credentials, and the broker sees a request without Origin (as from any
// non-browser client), forwarded for the browser's address. The tap is
// still an ordinary MQTT client: the broker authenticates and authorizes it.

// tapTarget is the broker WebSocket URL the tap proxy forwards to, with an
// empty host made loopback; nil when there is none.
func (s *Server) tapTarget() *url.URL {
	raw := s.opts.Config.WebSocketURL
	if raw == "" && len(s.opts.WebSocketURLs) > 0 {
		raw = s.opts.WebSocketURLs[0]
	}
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return nil
	}
	if host, port, err := net.SplitHostPort(u.Host); err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		u.Host = net.JoinHostPort("127.0.0.1", port)
	}
	if u.Path == "" {
		u.Path = "/mqtt"
	}
	return u
}

// tapHandler serves GET /mqtt: a WebSocket upgrade forwarded to the
// broker. Browsers' cross-origin requests are refused, since the admin
// credentials (cookie or basic auth) come with them.
func (s *Server) tapHandler() http.Handler {
	target := s.tapTarget()
	if target == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusServiceUnavailable, "no MQTT-over-WebSocket listener to forward the tap to")
		})
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.URL.Path, pr.Out.URL.RawPath = target.Path, ""
			pr.Out.Host = target.Host
			pr.SetXForwarded()
			// The admin's own credentials stay here.
			for _, h := range []string{"Origin", "Cookie", "Authorization"} {
				pr.Out.Header.Del(h)
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.log.Debug("admin: tap proxy", "err", err)
			writeError(w, http.StatusBadGateway, "the broker's WebSocket listener did not answer")
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !sameOrigin(r) {
			writeError(w, http.StatusForbidden, "origin not allowed")
			return
		}
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			writeError(w, http.StatusBadRequest, "a WebSocket upgrade is required")
			return
		}
		proxy.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether a request has no Origin (not a browser) or
// one whose host is the request's.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}
