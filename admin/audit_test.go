package admin

import (
	"net/http"
	"strings"
	"testing"
)

// Every admin API action (a request that changes something) leaves an
// audit line naming who did what from where and how it ended; reads do not.
func TestAdminAuditLog(t *testing.T) {
	e := newEnv(t, Config{Users: map[string]string{"ops": "pw"}})
	req := func(method, path string) int {
		r, _ := http.NewRequest(method, e.http.URL+path, nil)
		r.SetBasicAuth("ops", "pw")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := req("GET", "/api/v1/stats"); code != 200 {
		t.Fatalf("GET stats: %d", code)
	}
	if code := req("POST", "/api/v1/clients/nobody/kick"); code != 404 {
		t.Fatalf("kick nobody: %d", code)
	}
	log := e.logBuf.String()
	if strings.Contains(log, "/api/v1/stats") {
		t.Errorf("a read was audited:\n%s", log)
	}
	var line string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, `msg="admin api action"`) {
			line = l
		}
	}
	for _, want := range []string{"audit=true", "user=ops", "remote=127.0.0.1:", "method=POST", "path=/api/v1/clients/nobody/kick", "status=404"} {
		if !strings.Contains(line, want) {
			t.Errorf("audit line lacks %q: %q", want, line)
		}
	}
	// A refused request is not an action.
	r, _ := http.NewRequest("POST", e.http.URL+"/api/v1/clients/nobody/kick", nil)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := strings.Count(e.logBuf.String(), "admin api action"); resp.StatusCode != 401 || n != 1 {
		t.Errorf("unauthenticated POST: status %d, %d audit lines", resp.StatusCode, n)
	}
}
