package testutil

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// PipedProc is a process whose log pipe lost its reader (see
// StartClosedLogPipe).
type PipedProc struct {
	t    testing.TB
	cmd  *exec.Cmd
	done chan error
}

// StartClosedLogPipe runs bin with its stdout and stderr one pipe, reads the
// pipe until a line holds ready (within timeout) and then closes the reading
// end, as when a `| tee` dies with the same Ctrl-C or a supervisor's log
// pipe closes: every later log write gets EPIPE. It fails the test if ready
// does not come; the process is killed at the test's end if it still runs.
func StartClosedLogPipe(t testing.TB, ready string, timeout time.Duration, bin string, args ...string) *PipedProc {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	w.Close()
	p := &PipedProc{t: t, cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	seen := make(chan string, 1)
	go func() { seen <- readUntil(r, ready) }()
	select {
	case log := <-seen:
		if !strings.Contains(log, ready) {
			t.Fatalf("%s ended its log before %q:\n%s", filepath.Base(bin), ready, log)
		}
	case <-time.After(timeout):
		_ = cmd.Process.Kill() // ends the pipe, so the reader returns
		t.Fatalf("%s printed no %q within %s:\n%s", filepath.Base(bin), ready, timeout, <-seen)
	}
	r.Close() // the reader is gone
	return p
}

// readUntil returns what r holds up to and including the first line
// containing s, or all of it if none does.
func readUntil(r *os.File, s string) string {
	var b strings.Builder
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), s) {
			break
		}
	}
	return b.String()
}

// StopClean sends sig and fails the test unless the process exits with
// status 0 within timeout.
func (p *PipedProc) StopClean(sig syscall.Signal, timeout time.Duration) {
	p.t.Helper()
	_ = p.cmd.Process.Signal(sig)
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Fatalf("%s exited with %v after %s, want status 0", filepath.Base(p.cmd.Path), err, sig)
		}
	case <-time.After(timeout):
		p.t.Fatalf("%s did not stop within %s of %s", filepath.Base(p.cmd.Path), timeout, sig)
	}
}
