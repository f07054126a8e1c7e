package whisper_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// projectConfig is a hekad config with the project's statsd input (options
// appended) and whisper output (options appended) writing under dir.
func projectConfig(dir string, port int, statsdOpts, whisperOpts string) string {
	return fmt.Sprintf(`
[hekad]
base_dir = %q
[DreamcatcherStatsdInput]
address = "127.0.0.1:%d"
%s
[DreamcatcherWhisperOutput]
base_path = "whisper"
default_retentions = "1s:10m,10s:1h"
self_metrics = ""
%s
`, filepath.Join(dir, "heka"), port, statsdOpts, whisperOpts)
}

// TestClosedLogPipe: hekad's stdout and stderr are a pipe whose reader goes
// away (a `| tee` killed by the same Ctrl-C, a supervisor's log pipe
// closed). hekad must not die of SIGPIPE on its next log line: SIGTERM
// still flushes the pending statsd aggregates to disk and it exits 0.
func TestClosedLogPipe(t *testing.T) {
	testutil.RequireWhisperPy(t)
	bin := testutil.Binary(t, "hekad")
	dir := t.TempDir()
	port := testutil.FreePort(t)
	cfg := testutil.WriteFile(t, dir, "hekad.toml", projectConfig(dir, port, "flush_interval = 30", ""))
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", cfg)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	var seen strings.Builder
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "listening on udp") {
			break
		}
	}
	if !strings.Contains(seen.String(), "listening on udp") {
		t.Fatalf("hekad never listened:\n%s", seen.String())
	}
	r.Close() // the reader is gone: every later write to the pipe gets EPIPE
	testutil.SendUDP(t, fmt.Sprintf("127.0.0.1:%d", port), "pipe.hits:5|c\npipe.hits:7|c")
	time.Sleep(500 * time.Millisecond) // let the packet be read
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("hekad exited with %v (%s), want status 0", err, cmd.ProcessState)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("hekad did not stop within 60 s")
	}
	path := wsp(filepath.Join(dir, "heka", "whisper"), "stats_counts.pipe.hits")
	if !exists(path) {
		t.Fatalf("%s not written: the final flush was lost", path)
	}
	if sum, n, _ := sumArchive0(t, path); sum != 12 || n != 1 {
		t.Errorf("whisper.py reads %d points summing to %v, want 1 point of 12", n, sum)
	}
}
