package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gowhisper "github.com/lomik/go-whisper"
)

// TestStartsWithoutFolder: the real binary starts before its whisper
// folder exists (a service started before hekad), says so once, answers
// empty, and serves the folder's metrics once hekad has created it.
func TestStartsWithoutFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "whisper")
	ws := startServer(t, dir)
	if code, b := get(t, ws.URL+"/api/metrics"); code != 200 || !strings.Contains(string(b), `"metrics":[]`) {
		t.Errorf("metrics without the folder: %d %s", code, b)
	}
	if code, b := get(t, ws.URL+"/render?target=a.*&format=json"); code != 200 || string(b) != "[]" {
		t.Errorf("render without the folder: %d %s", code, b)
	}
	if n := strings.Count(ws.Proc.Output(), "does not exist"); n != 1 {
		t.Errorf("missing folder logged %d times:\n%s", n, ws.Proc.Output())
	}
	path := filepath.Join(dir, "a", "b.wsp")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := gowhisper.Create(path, gowhisper.Retentions{ptr(gowhisper.NewRetention(60, 60))}, gowhisper.Average, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	// Found by the poll, without any query touching the folder first.
	ws.Proc.WaitOutput("whisper folder appeared", 10*time.Second)
	if code, b := get(t, ws.URL+"/api/metrics"); code != 200 || !strings.Contains(string(b), `"a.b"`) {
		t.Errorf("metrics once the folder exists: %d %s", code, b)
	}
}
