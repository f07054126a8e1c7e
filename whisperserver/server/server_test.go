package server

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	gowhisper "github.com/lomik/go-whisper"
)

// syncBuf is a log destination safe for concurrent writes.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// makeMetric writes a whisper file for name with one archive of
// points at step seconds.
func makeMetric(t *testing.T, dir, name string, step, points int) {
	t.Helper()
	path := filepath.Join(dir, strings.ReplaceAll(name, ".", "/")+".wsp")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	r := gowhisper.NewRetention(step, points)
	w, err := gowhisper.Create(path, gowhisper.Retentions{&r}, gowhisper.Average, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	now := int(time.Now().Unix())
	if err := w.Update(1.5, now-2*step); err != nil {
		t.Fatal(err)
	}
	w.Close()
}

func newTestServer(t *testing.T, cfg Config, logOut io.Writer) (*Server, *httptest.Server) {
	t.Helper()
	if logOut == nil {
		logOut = io.Discard
	}
	s, err := New(cfg, nil, slog.New(slog.NewTextHandler(logOut, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Close() })
	return s, ts
}

func fetch(t *testing.T, method, u string, body io.Reader) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func qs(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

// TestLimitsAnswerHonestly covers the small inconsistencies and that
// every limit names itself in its error.
func TestLimitsAnswerHonestly(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.b.c", "a.b.d", "a.e"} {
		makeMetric(t, dir, n, 60, 100)
	}
	cfg := Defaults()
	cfg.WhisperDir = dir
	cfg.MaxSeries = 2
	cfg.MaxFind = 2
	_, ts := newTestServer(t, cfg, nil)

	cases := []struct {
		path, want string
		status     int
	}{
		{"/render?" + qs("target", "aliasByNode(a.b.c, -1000000000)", "format", "json"), "out of range", 400},
		{"/render?" + qs("target", "aliasByNode(a.b.c, 3)", "format", "json"), "out of range", 400},
		{"/metrics/find?" + qs("query", "a.[bc"), "unclosed '['", 400},
		{"/render?" + qs("target", "a.[bc"), "unclosed '['", 400},
		{"/render?" + qs("target", "a.b.c", "maxDataPoints", "0", "format", "json"), "maxDataPoints must be a positive integer", 400},
		{"/render?" + qs("target", "a.b.c", "maxDataPoints", "-1", "format", "json"), "maxDataPoints must be a positive integer", 400},
		{"/api/data?" + qs("target", "a.b.c", "maxDataPoints", "0"), "maxDataPoints must be a positive integer", 400},
		{"/api/data?" + qs("target", "a.b.c", "maxDataPoints", "-1"), "maxDataPoints must be a positive integer", 400},
		// One target three times is three series in the answer.
		{"/render?" + qs("target", "a.b.c", "target", "a.b.c", "target", "a.b.c", "format", "json"), "max_series", 422},
		{"/render?" + qs("target", "a.b.c", "target", "sumSeries(a.b.c)", "target", "a.b.c", "format", "json"), "max_series", 422},
		{"/api/data?" + qs("target", "a.b.c", "target", "a.b.c", "target", "a.b.c"), "max_series", 422},
		{"/api/data?" + qs("target", "a.*.*", "target", "a.e"), "max_series", 422},
		{"/render?" + qs("target", "a.b.*", "format", "json"), `"target": "a.b.c"`, 200},
		{"/api/tree?" + qs("prefix", "a", "limit", "3"), "max_find", 422},
		{"/api/metrics?" + qs("limit", "3"), "max_find", 422},
	}
	for _, c := range cases {
		code, _, body := fetch(t, "GET", ts.URL+c.path, nil)
		if code != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %q; want %d with %q", c.path, code, body, c.status, c.want)
		}
	}

	// Oversize bodies: 413 whether the length is announced or not.
	big := "target=a.b.c&junk=" + strings.Repeat("x", 11<<20)
	code, _, body := fetch(t, "POST", ts.URL+"/render", strings.NewReader(big))
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "max_body_bytes") {
		t.Errorf("11 MB POST: %d %.200s", code, body)
	}
	code, _, body = fetch(t, "POST", ts.URL+"/render", io.MultiReader(strings.NewReader(big))) // chunked
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "max_body_bytes") {
		t.Errorf("11 MB chunked POST: %d %.200s", code, body)
	}
	code, _, body = fetch(t, "POST", ts.URL+"/render", strings.NewReader("target=a.b.c&format=json"))
	if code != 200 || !strings.Contains(body, `"a.b.c"`) {
		t.Errorf("small POST: %d %s", code, body)
	}

	// The tree pages at max_find and says so.
	var tree struct {
		Children  []struct{ Name string }
		Total     int
		Truncated bool
	}
	code, _, body = fetch(t, "GET", ts.URL+"/api/tree?prefix=a", nil)
	if err := json.Unmarshal([]byte(body), &tree); code != 200 || err != nil {
		t.Fatalf("tree: %d %v %s", code, err, body)
	}
	if len(tree.Children) != 2 || tree.Total != 2 || tree.Truncated {
		t.Errorf("tree of a: %+v", tree)
	}
	code, _, body = fetch(t, "GET", ts.URL+"/api/tree?prefix=a.b&offset=1&limit=1", nil)
	if err := json.Unmarshal([]byte(body), &tree); code != 200 || err != nil {
		t.Fatalf("tree page: %d %v %s", code, err, body)
	}
	if len(tree.Children) != 1 || tree.Children[0].Name != "d" || tree.Total != 2 || tree.Truncated {
		t.Errorf("tree page: %+v", tree)
	}
}

// TestMetricsStreamGzip: the whole list streams, gzipped when asked,
// and the filter and paging agree with it.
func TestMetricsStreamGzip(t *testing.T) {
	dir := t.TempDir()
	var want []string
	for i := range 30 {
		n := fmt.Sprintf("app.host%02d.requests", i)
		makeMetric(t, dir, n, 60, 10)
		want = append(want, n)
	}
	cfg := Defaults()
	cfg.WhisperDir = dir
	_, ts := newTestServer(t, cfg, nil)
	req, _ := http.NewRequest("GET", ts.URL+"/api/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("not gzipped: %v", resp.Header)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Metrics   []string
		Total     int
		Truncated bool
	}
	if err := json.NewDecoder(zr).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Metrics, " ") != strings.Join(want, " ") || got.Total != 30 || got.Truncated {
		t.Errorf("all: %+v", got)
	}
	_, _, body := fetch(t, "GET", ts.URL+"/api/metrics?"+qs("q", "HOST1 req", "offset", "2", "limit", "3"), nil)
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err, body)
	}
	if strings.Join(got.Metrics, " ") != "app.host12.requests app.host13.requests app.host14.requests" || got.Total != 10 || !got.Truncated {
		t.Errorf("page: %+v", got)
	}
}

// TestMissingFolder: the server starts without its folder, says so once,
// answers empty and picks the folder up when it appears.
func TestMissingFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "whisper")
	var logs syncBuf
	cfg := Defaults()
	cfg.WhisperDir = dir
	_, ts := newTestServer(t, cfg, &logs)
	for _, p := range []string{"/api/metrics", "/metrics/find?query=*", "/render?target=a.*&format=json", "/api/tree"} {
		code, _, body := fetch(t, "GET", ts.URL+p, nil)
		if code != 200 || strings.Contains(body, "a.b") {
			t.Errorf("%s without the folder: %d %s", p, code, body)
		}
	}
	if n := strings.Count(logs.String(), "does not exist"); n != 1 {
		t.Errorf("missing folder logged %d times:\n%s", n, logs.String())
	}
	makeMetric(t, dir, "a.b", 60, 10)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, body := fetch(t, "GET", ts.URL+"/render?target=a.*&format=json", nil)
		if strings.Contains(body, `"a.b"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("folder never picked up: %s\n%s", body, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "whisper folder appeared") {
		t.Errorf("appearance not logged:\n%s", logs.String())
	}
	// Later metrics arrive through the watcher, no query-driven rescan needed.
	makeMetric(t, dir, "a.c", 60, 10)
	deadline = time.Now().Add(10 * time.Second)
	for {
		_, _, body := fetch(t, "GET", ts.URL+"/api/metrics", nil)
		if strings.Contains(body, `"a.c"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a.c never listed: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAdmission: past max_concurrent, or with the heap over 3/4 of the
// budget, an expensive request waits queue_wait and then gets 503 with
// Retry-After naming the limit; cheap ones pass.
func TestAdmission(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	a := newAdmission(1, 100*time.Millisecond, 0)
	h := a.middleware(ok)
	a.slots <- struct{}{} // one expensive request in flight
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/render?target=x.*", nil))
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "max_concurrent") {
		t.Errorf("busy render: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Errorf("refused after %v, without waiting queue_wait", d)
	}
	for _, p := range []string{"/healthz", "/render?target=a.b.c&target=sumSeries(a.b.d)", "/api/data?target=a.b"} {
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code != 200 {
			t.Errorf("%s while busy: %d", p, rec.Code)
		}
	}
	for _, p := range []string{"/render?target=a.*", "/api/data?target=a.{b,c}", "/metrics/find?query=a", "/api/metrics"} {
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code != 503 {
			t.Errorf("%s while busy: %d", p, rec.Code)
		}
	}
	// A slot freed while waiting lets the request in.
	go func() { time.Sleep(30 * time.Millisecond); a.release() }()
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/tree", nil))
	if rec.Code != 200 {
		t.Errorf("tree after a slot freed: %d %s", rec.Code, rec.Body)
	}

	// A 1 MiB budget with 8 MiB live: refused, naming memory_budget.
	live := make([]byte, 8<<20)
	for i := range live {
		live[i] = byte(i)
	}
	b := newAdmission(4, 100*time.Millisecond, 1<<20)
	rec = httptest.NewRecorder()
	b.middleware(ok).ServeHTTP(rec, httptest.NewRequest("GET", "/api/metrics", nil))
	runtime.KeepAlive(live)
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "memory_budget") || rec.Header().Get("Retry-After") == "" {
		t.Errorf("over budget: %d %s", rec.Code, rec.Body)
	}
	if len(b.slots) != 0 {
		t.Errorf("refused request kept its slot")
	}
}

// TestWriteDeadlineCutsSlowClient: a client that does not read gets cut
// at request_timeout, and the access log says cut with the real status.
func TestWriteDeadlineCutsSlowClient(t *testing.T) {
	dir := t.TempDir()
	makeMetric(t, dir, "big.one", 1, 200_000) // ~3.6 MB of JSON per copy
	var logs syncBuf
	cfg := Defaults()
	cfg.WhisperDir = dir
	cfg.MaxPoints = 0
	cfg.RequestTimeout = time.Second
	cfg.MemoryBudget = 0
	s, err := New(cfg, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Serve(ctx, l) }()

	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	target := "target=big.one"
	path := "/render?" + strings.Repeat(target+"&", 10) + "format=json&from=-3d"
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
	time.Sleep(3500 * time.Millisecond) // read nothing past the deadline (1 s + 1 s grace)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	n, _ := io.Copy(io.Discard, br) // until the server closes
	if n > 30<<20 {
		t.Errorf("the whole answer (%d bytes) went out to a client that did not read in time", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "cut=true") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	line := ""
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "path=/render") {
			line = l
		}
	}
	if !strings.Contains(line, "cut=true") || !strings.Contains(line, "status=200") {
		t.Errorf("cut answer not logged as cut with its status (%d bytes read):\n%s", n, logs.String())
	}
}
