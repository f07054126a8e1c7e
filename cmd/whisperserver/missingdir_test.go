package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gowhisper "github.com/lomik/go-whisper"
)

// TestMissingWhisperFolder starts the real binary on a folder that does
// not exist yet (whisperserver started before hekad): it starts, logs that
// once, answers empty, and serves the metrics once the folder appears.
func TestMissingWhisperFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not", "yet", "whisper")
	ws := startServer(t, dir)
	const notice = "whisper folder does not exist yet"

	empty := map[string]string{
		"/metrics/find?query=*":            "[]",
		"/metrics/find?query=app.*":        "[]",
		"/render?target=app.hits&from=-1h": "[]",
		"/render?target=app.*&from=-1h":    "[]",
		"/metrics/index.json":              "[]",
	}
	for path, want := range empty {
		code, body := get(t, ws.URL+path)
		if code != http.StatusOK || strings.TrimSpace(string(body)) != want {
			t.Errorf("GET %s with the folder missing: %d %q, want 200 %s", path, code, body, want)
		}
	}
	var m struct {
		Metrics []string `json:"metrics"`
	}
	getJSON(t, ws.URL+"/api/metrics", &m)
	if len(m.Metrics) != 0 {
		t.Errorf("/api/metrics with the folder missing: %v", m.Metrics)
	}
	time.Sleep(2500 * time.Millisecond) // a few polls for the folder
	if n := strings.Count(ws.Proc.Output(), notice); n != 1 {
		t.Errorf("%q logged %d times, want once:\n%s", notice, n, ws.Proc.Output())
	}

	// The folder appears, with a metric in it.
	path := filepath.Join(dir, "app", "hits.wsp")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := gowhisper.Create(path, gowhisper.Retentions{ptr(gowhisper.NewRetention(60, 1440))}, gowhisper.Sum, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Update(42, int(time.Now().Unix())-120); err != nil {
		t.Fatal(err)
	}
	f.Close()

	deadline := time.Now().Add(10 * time.Second)
	for {
		getJSON(t, ws.URL+"/api/metrics", &m)
		if len(m.Metrics) == 1 && m.Metrics[0] == "app.hits" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/api/metrics after the folder appeared: %v\n%s", m.Metrics, ws.Proc.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	code, body := get(t, ws.URL+"/render?target=app.*&from=-1h")
	if code != http.StatusOK || !strings.Contains(string(body), `"target": "app.hits"`) || !strings.Contains(string(body), "[42, ") {
		t.Errorf("render after the folder appeared: %d %s", code, body)
	}
	if !strings.Contains(ws.Proc.Output(), "whisper folder appeared") {
		t.Errorf("no log line for the folder appearing:\n%s", ws.Proc.Output())
	}
}
