// Package servertest runs whisperserver's handler (server.Handler) in
// httptest over a whisper folder written by the test, for the tests of the
// whisperserver packages; no binary and no probed port.
package servertest

import (
	"encoding/json"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/server"
	gowhisper "github.com/lomik/go-whisper"
)

// IndexHTML is the front end's index.html in the stand-in static files.
const IndexHTML = "<!doctype html><title>dreamcatcher</title>"

// Start serves a whisperserver over dir with the default configuration,
// changed by adjust when it is not nil, and a minimal front end (index.html
// and app.js). The server stops when the test ends.
func Start(t testing.TB, dir string, adjust func(*server.Config)) *httptest.Server {
	t.Helper()
	cfg := server.Defaults()
	cfg.WhisperDir = dir
	if adjust != nil {
		adjust(&cfg)
	}
	static := fstest.MapFS{
		"index.html": {Data: []byte(IndexHTML)},
		"app.js":     {Data: []byte("export {};\n")},
	}
	srv, err := server.New(cfg, static, nil)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return ts
}

var client = &http.Client{Timeout: 60 * time.Second}

// Get fetches url (within a minute) and returns the status and body.
func Get(t testing.TB, url string) (int, []byte) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp.StatusCode, b
}

// GetJSON fetches url, wants 200, and decodes the JSON body into v.
func GetJSON(t testing.TB, url string, v any) {
	t.Helper()
	code, b := Get(t, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", url, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, b)
	}
}

// Archive is one archive of a fixture file: seconds per point and points.
type Archive struct{ Step, Points int }

// WriteMetric creates the whisper file of name under dir (a.b.c →
// a/b/c.wsp) with the archives, aggregation ("average", "sum", "last",
// "max", "min") and points (timestamp → value).
func WriteMetric(t testing.TB, dir, name, aggregation string, archives []Archive, points map[int64]float64) {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(strings.ReplaceAll(name, ".", "/"))+".wsp")
	if rel, err := metricpath.Rel(name); err == nil {
		path = filepath.Join(dir, rel) // tagged names in carbon's _tagged layout
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var ret gowhisper.Retentions
	for _, a := range archives {
		r := gowhisper.NewRetention(a.Step, a.Points)
		ret = append(ret, &r)
	}
	agg := map[string]gowhisper.AggregationMethod{"average": gowhisper.Average, "sum": gowhisper.Sum,
		"last": gowhisper.Last, "max": gowhisper.Max, "min": gowhisper.Min}[aggregation]
	if agg == 0 {
		t.Fatalf("aggregation %q: want average, sum, last, max or min", aggregation)
	}
	w, err := gowhisper.Create(path, ret, agg, 0.5)
	if err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
	defer w.Close()
	list := make([]*gowhisper.TimeSeriesPoint, 0, len(points))
	for ts, v := range points {
		list = append(list, &gowhisper.TimeSeriesPoint{Time: int(ts), Value: v})
	}
	if err := w.UpdateMany(list); err != nil {
		t.Fatalf("update %s: %v", path, err)
	}
}
