package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The dashboard's login: a page at /login takes a user name and password
// (or the token as password) and answers with a session cookie; browsers
// then carry the cookie instead of basic auth. Scripts keep using
// "Authorization: Bearer TOKEN" or basic auth on every request.
//
// The cookie is HttpOnly (no script reads it), SameSite=Strict (no other
// site's page sends it, which is what protects the API's POSTs from
// cross-site requests), Secure when the listener serves TLS, and lasts
// SessionTTL; the server forgets sessions when they expire, on logout, and
// when the credentials change (SetCredentials).

// SessionCookie is the name of the dashboard's session cookie.
const SessionCookie = "roost_admin_session"

// DefaultSessionTTL is how long a dashboard login lasts by default.
const DefaultSessionTTL = 12 * time.Hour

type loginSession struct {
	user    string
	expires time.Time
}

// logins are the dashboard's sessions by cookie value.
type logins struct {
	mu   sync.Mutex
	byID map[string]loginSession // guarded by mu
}

func (l *logins) add(user string, expires time.Time) string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	id := hex.EncodeToString(b[:])
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byID == nil {
		l.byID = map[string]loginSession{}
	}
	l.byID[id] = loginSession{user: user, expires: expires}
	return id
}

// get returns the user of a live session; expired ones are forgotten.
func (l *logins) get(id string, now time.Time) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.byID[id]
	if !ok {
		return "", false
	}
	if !now.Before(s.expires) {
		delete(l.byID, id)
		return "", false
	}
	return s.user, true
}

func (l *logins) sweep(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, s := range l.byID {
		if !now.Before(s.expires) {
			delete(l.byID, id)
		}
	}
}

func (l *logins) remove(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.byID, id)
}

func (l *logins) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.byID)
}

type userKey struct{}

// requestUser is who authenticate let in: a user name, "token", or "" on
// a listener without credentials.
func requestUser(r *http.Request) string {
	u, _ := r.Context().Value(userKey{}).(string)
	return u
}

func withUser(r *http.Request, user string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), userKey{}, user))
}

// checkPassword returns who a user name and password are: the user, or
// "token" when the password is the token.
func (s *Server) checkPassword(c *credentials, user, pass string) (string, bool) {
	if c.token != "" && equal(pass, c.token) {
		if user == "" {
			user = "token"
		}
		return user, true
	}
	want, ok := c.users[user]
	if ok && equal(pass, want) {
		return user, true
	}
	return "", false
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Roost dashboard: log in</title>
<style>
body{margin:0;font:14px system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;background:#f6f7f9;color:#1d232b;display:flex;min-height:100vh;align-items:center;justify-content:center}
form{background:#fff;border:1px solid #e1e5ea;border-radius:10px;padding:24px 28px;width:300px;display:flex;flex-direction:column;gap:10px}
h1{font-size:18px;margin:0 0 6px}h1::before{content:'◆ ';color:#c2410c}
label{font-size:12px;color:#6b7683}input{padding:7px 9px;border:1px solid #e1e5ea;border-radius:6px;font:inherit}
button{padding:8px;border:0;border-radius:6px;background:#c2410c;color:#fff;font:inherit;cursor:pointer}
.error{color:#b91c1c;font-size:13px}.hint{color:#6b7683;font-size:12px}
</style></head><body>
<form id="login-form" method="post" action="/login">
<h1>Roost</h1>
{{if .Error}}<div class="error" id="login-error">{{.Error}}</div>{{end}}
<label for="login-user">User</label><input id="login-user" name="username" autocomplete="username" value="{{.User}}" autofocus>
<label for="login-password">Password</label><input id="login-password" name="password" type="password" autocomplete="current-password">
<button id="login-submit" type="submit">Log in</button>
<div class="hint">A user of admin.users, or any name with admin.token as password.</div>
</form></body></html>
`))

// getLogin serves the login page; with no credentials configured there is
// nothing to log in to.
func (s *Server) getLogin(w http.ResponseWriter, r *http.Request) {
	if c := s.creds.Load(); c.token == "" && len(c.users) == 0 {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.renderLogin(w, http.StatusOK, "", "")
}

func (s *Server) renderLogin(w http.ResponseWriter, code int, user, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = loginPage.Execute(w, struct{ User, Error string }{user, msg})
}

// postLogin checks the form and sets the session cookie.
func (s *Server) postLogin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "origin not allowed")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.renderLogin(w, http.StatusBadRequest, "", "bad form")
		return
	}
	user, pass := strings.TrimSpace(r.PostForm.Get("username")), r.PostForm.Get("password")
	c := s.creds.Load()
	who, ok := s.checkPassword(c, user, pass)
	if !ok {
		s.log.Info("admin: login refused", "audit", true, "user", user, "remote", r.RemoteAddr)
		s.renderLogin(w, http.StatusUnauthorized, user, "Wrong user name or password.")
		return
	}
	now := s.now()
	s.logins.sweep(now)
	expires := now.Add(s.sessionTTL())
	id := s.logins.add(who, expires)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", Expires: expires,
		MaxAge: int(s.sessionTTL() / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	s.log.Info("admin: login", "audit", true, "user", who, "remote", r.RemoteAddr)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// postLogout forgets the session and clears the cookie.
func (s *Server) postLogout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(SessionCookie); err == nil {
		s.logins.remove(ck.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (s *Server) sessionTTL() time.Duration {
	if d := s.opts.Config.SessionTTL; d > 0 {
		return d
	}
	return DefaultSessionTTL
}
