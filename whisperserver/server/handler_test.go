package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/server"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/server/servertest"
)

// TestRouting checks /healthz, the read-only rule, unknown API paths and
// the front end's deep links, on server.Handler in httptest.
func TestRouting(t *testing.T) {
	ts := servertest.Start(t, t.TempDir(), nil)
	for _, tc := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/healthz", 200, `"status":"ok"`},
		{"POST", "/api/metrics", 405, "read-only"},
		{"DELETE", "/render", 405, "read-only"},
		{"GET", "/api/nothing", 404, "no such API endpoint"},
		{"GET", "/app.js", 200, "export"},
		{"GET", "/", 200, servertest.IndexHTML},
		{"GET", "/chart/app.web.hits", 200, servertest.IndexHTML}, // a deep link gets the app
		{"GET", "/missing.js", 404, ""},                           // a missing asset does not
	} {
		req, _ := http.NewRequest(tc.method, ts.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.body) {
			t.Errorf("%s %s: %d %q, want %d containing %q", tc.method, tc.path, resp.StatusCode, b, tc.code, tc.body)
		}
		if strings.HasPrefix(tc.path, "/app") && resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no X-Content-Type-Options: nosniff", tc.path)
		}
	}
}

// TestBasicAuth checks that with basic auth every path but /healthz wants
// the user and password.
func TestBasicAuth(t *testing.T) {
	ts := servertest.Start(t, t.TempDir(), func(c *server.Config) { c.BasicAuthUser, c.BasicAuthPassword = "u", "p" })
	status := func(path, user, pass string) int {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		path, user, pass string
		want             int
	}{
		{"/api/metrics", "", "", 401},
		{"/api/metrics", "u", "wrong", 401},
		{"/render?target=x&format=json", "", "", 401},
		{"/api/metrics", "u", "p", 200},
		{"/healthz", "", "", 200},
	} {
		if got := status(tc.path, tc.user, tc.pass); got != tc.want {
			t.Errorf("%s as %q/%q: %d, want %d", tc.path, tc.user, tc.pass, got, tc.want)
		}
	}
}

// TestNewRefusesBadConfig checks server.New validates before it starts.
func TestNewRefusesBadConfig(t *testing.T) {
	c := server.Defaults()
	c.WhisperDir = t.TempDir()
	c.TLSCert = "cert.pem"
	if _, err := server.New(c, nil, nil); err == nil || !strings.Contains(err.Error(), "tls_cert and tls_key go together") {
		t.Fatalf("New with tls_cert alone: %v", err)
	}
}
