package main_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// TestRunScriptCtrlC runs `make run`'s script (scripts/run.sh) with both
// binaries, sends SIGINT to its whole process group as a terminal's Ctrl-C
// does, and expects status 0, the pending statsd counts on disk, and a
// quiet terminal: no per-section "Loading" lines, no access lines.
func TestRunScriptCtrlC(t *testing.T) {
	h := testutil.NewHekad(t)
	testutil.Binary(t, "whisperserver") // same folder
	listen := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	cfg := h.WriteConfig(fmt.Sprintf(`[DreamcatcherStatsdInput]
address = %q
flush_interval = 30
[DreamcatcherWhisperOutput]
base_path = "whisper"
self_metrics = ""
`, h.Addr()))
	cmd := exec.Command("bash", filepath.Join(testutil.ModuleRoot(t), "scripts", "run.sh"))
	cmd.Env = append(os.Environ(), "HEKAD_CONFIG="+cfg, "WHISPER_DIR="+filepath.Join(h.BaseDir(), "whisper"),
		"LISTEN="+listen, "BIN="+filepath.Dir(h.Bin))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	testutil.Eventually(t, 30*time.Second, func() bool {
		return strings.Contains(out.String(), "listening on udp") && strings.Contains(out.String(), "whisperserver listening")
	}, "not started:\n%s", out)
	testutil.SendUDP(t, h.Addr(), "ctrlc.hits:3|c")
	resp, err := (&httpClient{}).get("http://" + listen + "/")
	if err != nil || resp != 200 {
		t.Fatalf("GET /: %d %v", resp, err)
	}
	time.Sleep(300 * time.Millisecond)
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run.sh exited with %v after Ctrl-C, want status 0:\n%s", err, out)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("run.sh still running 60 s after Ctrl-C:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(h.BaseDir(), "whisper", "stats_counts", "ctrlc", "hits.wsp")); err != nil {
		t.Errorf("pending count not flushed at Ctrl-C: %v", err)
	}
	for _, noisy := range []string{"Loading: [", "Pre-loading: [", "msg=access"} {
		if strings.Contains(out.String(), noisy) {
			t.Errorf("terminal shows %q by default:\n%s", noisy, out)
		}
	}
}

type httpClient struct{}

func (httpClient) get(u string) (int, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
