package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gowhisper "github.com/lomik/go-whisper"
)

// newTestServer serves a whisper folder holding the given metrics (one
// point each, a minute apart retention) through Handler().
func newXServer(t *testing.T, cfg Config, metrics ...string) *httptest.Server {
	t.Helper()
	if cfg.WhisperDir == "" {
		cfg.WhisperDir = t.TempDir()
	}
	now := int(time.Now().Unix())
	ret := gowhisper.Retentions{xptr(gowhisper.NewRetention(60, 1440))}
	for _, m := range metrics {
		path := filepath.Join(cfg.WhisperDir, filepath.FromSlash(strings.ReplaceAll(m, ".", "/"))+".wsp")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		w, err := gowhisper.Create(path, ret, gowhisper.Average, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Update(1, now-120); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	s, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts
}

func xptr[V any](v V) *V { return &v }

func xConfig() Config {
	c := Defaults()
	c.WhisperDir = "" // newTestServer makes a temporary one
	c.RescanInterval = -1
	return c
}

func xdo(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func xget(t *testing.T, base, path string, q url.Values) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return xdo(t, req)
}

func xexpect(t *testing.T, what string, code int, body string, wantCode int, wantIn ...string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("%s: status %d, want %d; body %q", what, code, wantCode, body)
		return
	}
	for _, w := range wantIn {
		if !strings.Contains(body, w) {
			t.Errorf("%s: body %q does not contain %q", what, body, w)
		}
	}
}

func TestBadInputOutOfRangeNodeIs400(t *testing.T) {
	ts := newXServer(t, xConfig(), "a.b.c")
	for _, target := range []string{"aliasByNode(a.b.c,-1000000000)", "aliasByNode(a.b.c,3)", "aliasByNode(a.b.c,-4)",
		"groupByNode(a.b.c,5,'sum')", "groupByNodes(a.b.c,'sum',0,9)"} {
		code, body := xget(t, ts.URL, "/render", url.Values{"target": {target}, "from": {"-1h"}})
		xexpect(t, target, code, body, http.StatusBadRequest, "out of range")
	}
	// In range, also negative, still works.
	code, body := xget(t, ts.URL, "/render", url.Values{"target": {"aliasByNode(a.b.c,-3,1)"}, "from": {"-1h"}})
	xexpect(t, "in range", code, body, http.StatusOK, `"target": "a.b"`)
}

func TestBadInputUnclosedBracketIs400(t *testing.T) {
	ts := newXServer(t, xConfig(), "a.b.x", "a.c.x")
	code, body := xget(t, ts.URL, "/metrics/find", url.Values{"query": {"a.[bc"}})
	xexpect(t, "find a.[bc", code, body, http.StatusBadRequest, "unclosed '['")
	code, body = xget(t, ts.URL, "/metrics/expand", url.Values{"query": {"a.[bc"}})
	xexpect(t, "expand a.[bc", code, body, http.StatusBadRequest, "unclosed '['")
	code, body = xget(t, ts.URL, "/render", url.Values{"target": {"a.[bc.x"}, "from": {"-1h"}})
	xexpect(t, "render a.[bc.x", code, body, http.StatusBadRequest, "unclosed '['")
	code, body = xget(t, ts.URL, "/api/data", url.Values{"target": {"a.[bc.x"}, "from": {"-1h"}})
	xexpect(t, "api/data a.[bc.x", code, body, http.StatusBadRequest, "unclosed '['")
	code, body = xget(t, ts.URL, "/metrics/find", url.Values{"query": {"a.[bc]"}})
	xexpect(t, "find a.[bc]", code, body, http.StatusOK, `"a.b"`, `"a.c"`)
}

func TestBadInputOversizeBodyIs413(t *testing.T) {
	ts := newXServer(t, xConfig(), "a.b")
	body := "target=a.b&junk=" + strings.Repeat("x", 11<<20)
	for _, path := range []string{"/render", "/metrics/find"} {
		req, err := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		code, msg := xdo(t, req)
		xexpect(t, path, code, msg, http.StatusRequestEntityTooLarge, "larger than 1048576 bytes")
	}
	// Within the limit a POST works.
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/render", strings.NewReader("target=a.b&from=-1h"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	code, msg := xdo(t, req)
	xexpect(t, "small POST", code, msg, http.StatusOK, `"target": "a.b"`)
}

func TestBadInputMaxDataPointsAlike(t *testing.T) {
	ts := newXServer(t, xConfig(), "a.b")
	for _, v := range []string{"0", "-1", "x"} {
		for _, path := range []string{"/render", "/api/data"} {
			code, body := xget(t, ts.URL, path, url.Values{"target": {"a.b"}, "from": {"-1h"}, "maxDataPoints": {v}})
			xexpect(t, path+" maxDataPoints="+v, code, body, http.StatusBadRequest, "maxDataPoints must be a positive integer")
		}
	}
	for _, path := range []string{"/render", "/api/data"} {
		code, body := xget(t, ts.URL, path, url.Values{"target": {"a.b"}, "from": {"-1h"}, "maxDataPoints": {"10"}})
		xexpect(t, path+" maxDataPoints=10", code, body, http.StatusOK)
	}
}

func TestBadInputEverySeriesCountsAgainstMaxSeries(t *testing.T) {
	cfg := xConfig()
	cfg.MaxSeries = 5
	ts := newXServer(t, cfg, "m.a", "m.b")
	q := url.Values{"from": {"-1h"}}
	for i := 0; i < 3; i++ {
		q.Add("target", "m.*") // 6 series, each pattern match over 5
	}
	code, body := xget(t, ts.URL, "/render", q)
	xexpect(t, "3 × m.*", code, body, http.StatusUnprocessableEntity, "limit of 5 (max_series)")
	q = url.Values{"from": {"-1h"}}
	for i := 0; i < 6; i++ {
		q.Add("target", "m.a")
	}
	code, body = xget(t, ts.URL, "/render", q)
	xexpect(t, "6 × m.a", code, body, http.StatusUnprocessableEntity, "limit of 5 (max_series)")
	code, body = xget(t, ts.URL, "/api/data", url.Values{"from": {"-1h"}, "target": {"m.a", "m.a", "m.*", "m.*"}})
	xexpect(t, "api/data 6 series", code, body, http.StatusUnprocessableEntity, "6 series", "limit of 5 (max_series)")
	// Exactly at the limit passes.
	code, body = xget(t, ts.URL, "/render", url.Values{"from": {"-1h"}, "target": {"m.*", "m.*", "m.a"}})
	xexpect(t, "5 series", code, body, http.StatusOK)
	if n := strings.Count(body, `"target"`); n != 5 {
		t.Errorf("5 series: got %d in %s", n, body)
	}
}

func TestBadInputLimitErrorsNameTheLimit(t *testing.T) {
	cfg := xConfig()
	cfg.MaxPoints = 10
	cfg.MaxFind = 1
	ts := newXServer(t, cfg, "m.a", "m.b")
	code, body := xget(t, ts.URL, "/render", url.Values{"from": {"-1h"}, "target": {"m.a"}})
	xexpect(t, "render max_points", code, body, http.StatusUnprocessableEntity, "10 (max_points)")
	code, body = xget(t, ts.URL, "/api/data", url.Values{"from": {"-1h"}, "target": {"m.a"}})
	xexpect(t, "api/data max_points", code, body, http.StatusUnprocessableEntity, "more than 10 points (max_points)")
	code, body = xget(t, ts.URL, "/metrics/find", url.Values{"query": {"m.*"}})
	xexpect(t, "find max_find", code, body, http.StatusUnprocessableEntity, "1 nodes (max_find)")
}
