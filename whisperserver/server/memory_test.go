package server

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	gowhisper "github.com/lomik/go-whisper"
)

// memoryServer serves three empty metrics big.a, big.b, big.c of 1 s ×
// 1,000,000 points (sparse files): ten days of one is 864,000 values,
// 6.9 MB, and as much again for the copy the render functions get.
// memory_budget is 64 MiB: requests may hold 32 MiB.
func memoryServer(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	cfg := xConfig()
	cfg.WhisperDir = t.TempDir()
	cfg.MemoryBudget = 64
	cfg.QueueWait = 300 * time.Millisecond
	for _, m := range []string{"a", "b", "c"} {
		dir := filepath.Join(cfg.WhisperDir, "big")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		w, err := gowhisper.CreateWithOptions(filepath.Join(dir, m+".wsp"), gowhisper.Retentions{xptr(gowhisper.NewRetention(1, 1_000_000))},
			gowhisper.Average, 0.5, &gowhisper.Options{Sparse: true})
		if err != nil {
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
	return s, ts
}

// A render whose series alone need more than the requests' share of the
// memory budget is refused before they are read or copied: 422 naming
// memory_budget (it can never fit, like max_points). /api/data alike.
func TestRenderOverMemoryBudgetIs422(t *testing.T) {
	s, ts := memoryServer(t)
	three := url.Values{"target": {"big.a", "big.b", "big.c"}, "from": {"-10d"}}
	code, body := xget(t, ts.URL, "/render", three)
	xexpect(t, "render 3 × 10 days", code, body, http.StatusUnprocessableEntity, "memory_budget", "MiB")
	code, body = xget(t, ts.URL, "/api/data", url.Values{"target": {"big.a", "big.b"}, "from": {"-10d"}})
	xexpect(t, "api/data 2 × 10 days", code, body, http.StatusUnprocessableEntity, "memory_budget")
	if held := s.MemoryHeld(); held != 0 {
		t.Errorf("%d bytes still held after the requests ended", held)
	}
	// What fits is answered.
	code, body = xget(t, ts.URL, "/render", url.Values{"target": {"big.a"}, "from": {"-10d"}, "maxDataPoints": {"100"}})
	xexpect(t, "render 1 × 10 days", code, body, http.StatusOK, `"target": "big.a"`)
	code, body = xget(t, ts.URL, "/api/data", url.Values{"target": {"big.a"}, "from": {"-10d"}, "maxDataPoints": {"100"}})
	xexpect(t, "api/data 1 × 10 days", code, body, http.StatusOK, `"name":"big.a"`)
}

// While one answer holds most of the share (its client reads slowly), a
// render that would fit alone waits queue_wait, then gets 503 with
// Retry-After; once the first is done it is answered.
func TestRenderWaitsForMemoryThen503(t *testing.T) {
	s, ts := memoryServer(t)
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The client asks for 10 days of big.a (about 14 MB held) and reads
	// nothing: the server blocks writing the 18 MB answer.
	fmt.Fprintf(conn, "GET /render?target=big.a&from=-10d HTTP/1.1\r\nHost: x\r\n\r\n")
	deadline := time.Now().Add(20 * time.Second)
	for s.MemoryHeld() < 13<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("the slow answer holds %d bytes, want about 14 MB", s.MemoryHeld())
		}
		time.Sleep(10 * time.Millisecond)
	}
	two := url.Values{"target": {"big.b", "big.c"}, "from": {"-10d"}, "maxDataPoints": {"100"}}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/render?"+two.Encode(), nil)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("second render: status %d, Retry-After %q after %v; want 503 with Retry-After after queue_wait",
			resp.StatusCode, resp.Header.Get("Retry-After"), time.Since(start))
	}
	// The slow client reads its answer; then the memory is free.
	go func() { _, _ = bufio.NewReader(conn).WriteTo(discard{}) }()
	for s.MemoryHeld() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes still held after the slow answer", s.MemoryHeld())
		}
		time.Sleep(10 * time.Millisecond)
	}
	code, body := xget(t, ts.URL, "/render", two)
	xexpect(t, "second render, again", code, body, http.StatusOK, `"target": "big.b"`, `"target": "big.c"`)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
