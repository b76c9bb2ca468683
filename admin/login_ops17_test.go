package admin

import (
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// POST /login sets an HttpOnly, SameSite=Strict session cookie with an
// expiry that the API accepts in place of basic auth; it ends at expiry,
// at logout and when the credentials change. Scripts keep bearer and
// basic auth.
func TestOps17LoginSession(t *testing.T) {
	e := newEnv(t, Config{Token: "tok", Users: map[string]string{"ops": "pw"}})
	var nowNs atomic.Int64 // read by the handlers' goroutines
	nowNs.Store(time.Now().UnixNano())
	e.admin.now = func() time.Time { return time.Unix(0, nowNs.Load()) }
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	login := func(user, pass string) *http.Response {
		t.Helper()
		resp, err := noRedirect.PostForm(e.http.URL+"/login", url.Values{"username": {user}, "password": {pass}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	get := func(path string, setup func(*http.Request)) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", e.http.URL+path, nil)
		setup(req)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	if r := get("/", func(*http.Request) {}); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Errorf("dashboard without login: %d %q, want 303 to /login", r.StatusCode, r.Header.Get("Location"))
	}
	r := get("/api/v1/stats", func(*http.Request) {})
	if r.StatusCode != 401 || strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("API without credentials: %d %q, want 401 without a Basic challenge", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	if r := get("/login", func(*http.Request) {}); r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Errorf("login page: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	if r := login("ops", "nope"); r.StatusCode != 401 || len(r.Cookies()) != 0 {
		t.Errorf("wrong password: %d, cookies %v", r.StatusCode, r.Cookies())
	}
	r = login("ops", "pw")
	if r.StatusCode != http.StatusSeeOther || len(r.Cookies()) != 1 {
		t.Fatalf("login: %d, cookies %v", r.StatusCode, r.Cookies())
	}
	ck := r.Cookies()[0]
	if ck.Name != SessionCookie || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.MaxAge <= 0 || ck.Expires.IsZero() || ck.Path != "/" {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, an expiry, Path /", ck)
	}
	withCookie := func(r *http.Request) { r.AddCookie(&http.Cookie{Name: SessionCookie, Value: ck.Value}) }
	if r := get("/api/v1/stats", withCookie); r.StatusCode != 200 {
		t.Errorf("API with the cookie: %d", r.StatusCode)
	}
	if r := get("/", withCookie); r.StatusCode != 200 {
		t.Errorf("dashboard with the cookie: %d", r.StatusCode)
	}
	// Changes made with the cookie are audited under the user's name.
	req, _ := http.NewRequest("PUT", e.http.URL+"/api/v1/log", strings.NewReader(`{"level":"info"}`))
	withCookie(req)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("PUT with the cookie: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	waitFor(t, "the audit line", func() bool { return strings.Contains(e.logBuf.String(), "user=ops") })

	// Expiry.
	nowNs.Add(int64(DefaultSessionTTL + time.Second))
	if r := get("/api/v1/stats", withCookie); r.StatusCode != 401 {
		t.Errorf("after expiry: %d, want 401", r.StatusCode)
	}
	// Logout, and a change of credentials, end a session.
	ck = login("anyone", "tok").Cookies()[0]
	if r := get("/api/v1/stats", withCookie); r.StatusCode != 200 {
		t.Errorf("token login: %d", r.StatusCode)
	}
	req, _ = http.NewRequest("POST", e.http.URL+"/logout", nil)
	withCookie(req)
	if resp, err := noRedirect.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	if r := get("/api/v1/stats", withCookie); r.StatusCode != 401 {
		t.Errorf("after logout: %d, want 401", r.StatusCode)
	}
	ck = login("ops", "pw").Cookies()[0]
	e.admin.SetCredentials("tok", map[string]string{"ops": "new"})
	if r := get("/api/v1/stats", withCookie); r.StatusCode != 401 {
		t.Errorf("after a change of credentials: %d, want 401", r.StatusCode)
	}
	// Scripts: bearer and basic auth as before.
	if r := get("/api/v1/stats", func(r *http.Request) { r.Header.Set("Authorization", "Bearer tok") }); r.StatusCode != 200 {
		t.Errorf("bearer: %d", r.StatusCode)
	}
	if r := get("/api/v1/stats", func(r *http.Request) { r.SetBasicAuth("ops", "new") }); r.StatusCode != 200 {
		t.Errorf("basic: %d", r.StatusCode)
	}
	// A login form posted from another site is refused.
	req, _ = http.NewRequest("POST", e.http.URL+"/login", strings.NewReader("username=ops&password=new"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://evil.example")
	if resp, err := noRedirect.Do(req); err != nil || resp.StatusCode != 403 {
		t.Errorf("cross-site login: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}
