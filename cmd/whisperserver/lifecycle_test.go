package main

import (
	"fmt"
	"net/http"
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
	p := testutil.StartClosedLogPipe(t, "whisperserver listening", 30*time.Second, bin, "-whisper-dir", t.TempDir(), "-listen", addr)
	for i := 0; i < 3; i++ { // bad requests are logged
		if code, _ := get(t, "http://"+addr+"/render?target=sumSeries(&format=json"); code != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", code)
		}
	}
	if code, _ := get(t, "http://"+addr+"/"); code != http.StatusOK {
		t.Fatalf("server stopped answering after its log pipe closed: %d", code)
	}
	p.StopClean(syscall.SIGTERM, 30*time.Second)
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
