package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// TestClosedLogPipe: whisperserver's log pipe loses its reader; the next
// log lines (a failed request's) must not kill it with SIGPIPE: it keeps
// serving and SIGTERM ends it with status 0.
func TestClosedLogPipe(t *testing.T) {
	bin := testutil.Binary(t, "whisperserver")
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-whisper-dir", t.TempDir(), "-listen", addr)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	sc := bufio.NewScanner(r)
	for sc.Scan() && !strings.Contains(sc.Text(), "whisperserver listening") {
	}
	r.Close()
	for i := 0; i < 3; i++ { // bad requests are logged
		if code, _ := get(t, "http://"+addr+"/render?target=sumSeries(&format=json"); code != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", code)
		}
	}
	if code, _ := get(t, "http://"+addr+"/"); code != http.StatusOK {
		t.Fatalf("server stopped answering after its log pipe closed: %d", code)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("whisperserver exited with %v, want status 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("whisperserver did not stop")
	}
}

// TestAccessLogQuietByDefault: successful requests log nothing unless
// -access-log=true; failed ones always do.
func TestAccessLogQuietByDefault(t *testing.T) {
	dir := t.TempDir()
	quiet := startServer(t, dir)
	get(t, quiet.URL+"/")
	get(t, quiet.URL+"/render?target=sumSeries(&format=json")
	testutil.Eventually(t, 5*time.Second, func() bool {
		return strings.Contains(quiet.Proc.Output(), "path=/render")
	}, "the failed request was not logged")
	if out := quiet.Proc.Output(); strings.Contains(out, `path=/ `) {
		t.Errorf("a successful request was logged by default:\n%s", out)
	}
	loud := startServer(t, dir, "-access-log=true")
	get(t, loud.URL+"/")
	testutil.Eventually(t, 5*time.Second, func() bool {
		return strings.Contains(loud.Proc.Output(), `path=/ `)
	}, "-access-log=true did not log the request:\n%s", loud.Proc.Output())
}
