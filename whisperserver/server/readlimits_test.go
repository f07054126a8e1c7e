package server

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// A path read inside a function counts each time it is read: three
// copies of m.* inside sumSeries are six series read, though the answer
// holds one.
func TestSeriesReadInsideFunctionsCount(t *testing.T) {
	cfg := xConfig()
	cfg.MaxSeries = 5
	ts := newXServer(t, cfg, "m.a", "m.b")
	for _, target := range []string{"sumSeries(m.*,m.*,m.*)", "sumSeries(m.a,m.b,m.a,m.b,m.a,m.b)",
		"sumSeries(m.*,sumSeries(m.*,m.*))", "asPercent(m.*,sumSeries(m.*,m.*))"} {
		code, body := xget(t, ts.URL, "/render", url.Values{"target": {target}, "from": {"-1h"}})
		xexpect(t, target, code, body, http.StatusUnprocessableEntity, "read 6 series", "limit of 5 (max_series)")
	}
	// Timeshifted reads count too.
	code, body := xget(t, ts.URL, "/render", url.Values{"target": {"sumSeries(m.*,timeShift(m.*,'1h'),m.*)"}, "from": {"-1h"}})
	xexpect(t, "timeShift", code, body, http.StatusUnprocessableEntity, "limit of 5 (max_series)")
	// Within the limit the function answers.
	code, body = xget(t, ts.URL, "/render", url.Values{"target": {"sumSeries(m.*,m.*)"}, "from": {"-1h"}})
	xexpect(t, "sumSeries(m.*,m.*)", code, body, http.StatusOK, `"target": "sumSeries(m.*)"`) // graphite-web names it so
	// /api/data has no functions: each target's series count.
	code, body = xget(t, ts.URL, "/api/data", url.Values{"target": {"m.*", "m.*", "m.*"}, "from": {"-1h"}})
	xexpect(t, "api/data 3 × m.*", code, body, http.StatusUnprocessableEntity, "limit of 5 (max_series)")
}

// A deadline that passes while a glob is expanded is a 503 with
// Retry-After in /api/data as in /render, not a 422.
func TestDeadlineDuringGlobIs503(t *testing.T) {
	cfg := xConfig()
	cfg.RequestTimeout = time.Nanosecond
	ts := newXServer(t, cfg, "m.a", "m.b")
	for _, path := range []string{"/api/data", "/render"} {
		req, err := http.NewRequest(http.MethodGet, ts.URL+path+"?"+url.Values{"target": {"m.*"}, "from": {"-1h"}}.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: status %d, Retry-After %q; want 503 with Retry-After", path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
}
