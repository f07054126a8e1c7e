// Package testutil starts the project's real binaries for tests: it builds
// them once per test process, runs them with a config in a temp folder,
// captures their output and stops them with real signals. Tests use real
// sockets on 127.0.0.1 only.
package testutil

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildMu sync.Mutex
	built   = map[string]string{}
	binDir  string
)

// ModuleRoot returns the repository root (the folder holding go.mod).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Main runs a package's tests and then removes the binaries Binary built
// for them. A package whose tests call Binary (or Start) uses it as its
// TestMain: func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	buildMu.Lock()
	defer buildMu.Unlock()
	if binDir != "" {
		os.RemoveAll(binDir)
		binDir, built = "", map[string]string{}
	}
	return code
}

// Binary builds ./cmd/NAME once per test process and returns its path.
func Binary(t testing.TB, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[name]; ok {
		return p
	}
	if binDir == "" {
		d, err := os.MkdirTemp("", "dreamcatcher-test-bin-")
		if err != nil {
			t.Fatal(err)
		}
		binDir = d
	}
	out := filepath.Join(binDir, name)
	cmd := exec.Command("go", "build", "-o", out, "./cmd/"+name)
	cmd.Dir = ModuleRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building cmd/%s: %v\n%s", name, err, b)
	}
	built[name] = out
	return out
}

// Proc is a running binary started by a test.
type Proc struct {
	t    testing.TB
	cmd  *exec.Cmd
	out  *SyncBuffer
	done chan struct{}
	err  error
}

// Start runs bin with args, with output captured. The process is killed when
// the test ends if it is still running.
func Start(t testing.TB, bin string, args ...string) *Proc {
	t.Helper()
	return startCmd(t, exec.Command(bin, args...), 0)
}

// startCmd starts cmd with its output captured. At the test's cleanup a
// process still running is killed; with grace > 0 it is interrupted first
// and killed only if it has not exited within grace.
func startCmd(t testing.TB, cmd *exec.Cmd, grace time.Duration) *Proc {
	t.Helper()
	p := &Proc{t: t, cmd: cmd, out: &SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		stopped := false
		if grace > 0 {
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case <-p.done:
				stopped = true
			case <-time.After(grace):
			}
		}
		if !stopped {
			select {
			case <-p.done:
			default:
				_ = cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", filepath.Base(cmd.Path), p.Output())
		}
	})
	return p
}

// Output returns everything the process printed so far.
func (p *Proc) Output() string { return p.out.String() }

// WaitOutput waits until the output contains s; it fails the test on timeout
// or if the process exits first.
func (p *Proc) WaitOutput(s string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(p.Output(), s) {
			return
		}
		select {
		case <-p.done:
			if strings.Contains(p.Output(), s) {
				return
			}
			p.t.Fatalf("process exited (%v) before printing %q:\n%s", p.err, s, p.Output())
		case <-time.After(20 * time.Millisecond):
		}
	}
	p.t.Fatalf("timed out after %s waiting for %q in output:\n%s", timeout, s, p.Output())
}

// Wait waits for the process to exit and returns its exit code, failing the
// test on timeout.
func (p *Proc) Wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("process still running after %s:\n%s", timeout, p.Output())
	}
	return p.cmd.ProcessState.ExitCode()
}

// Stop sends sig and waits up to timeout for the exit code.
func (p *Proc) Stop(sig syscall.Signal, timeout time.Duration) int {
	p.t.Helper()
	_ = p.cmd.Process.Signal(sig)
	return p.Wait(timeout)
}

// Run runs bin to completion (bounded by timeout) and returns its exit code
// and combined output.
func Run(t testing.TB, timeout time.Duration, bin string, args ...string) (int, string) {
	t.Helper()
	p := Start(t, bin, args...)
	code := p.Wait(timeout)
	return code, p.Output()
}

// ExpectFailure fails the test unless a run (see Run) exited non-zero with
// output holding every one of want.
func ExpectFailure(t testing.TB, code int, out string, want ...string) {
	t.Helper()
	if code == 0 {
		t.Fatalf("exit code 0, want non-zero; output:\n%s", out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("exit code %d; output lacks %q:\n%s", code, w, out)
		}
	}
}

// WriteFile writes contents to name in dir and returns the path.
func WriteFile(t testing.TB, dir, name, contents string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(contents), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// FreePort returns a port on 127.0.0.1 that is free for both TCP and UDP at
// the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port found")
	return 0
}

// SendUDP sends each payload as one datagram to addr.
func SendUDP(t testing.TB, addr string, payloads ...string) {
	t.Helper()
	conn, err := net.DialTimeout("udp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	for _, p := range payloads {
		_ = conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if _, err := conn.Write([]byte(p)); err != nil {
			t.Fatalf("send to %s: %v", addr, err)
		}
	}
}

// SendTCP sends payload over one TCP connection to addr (dial bounded by
// 5 s, the write by 30 s) and closes it.
func SendTCP(t testing.TB, addr, payload string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write([]byte(payload)); err != nil {
		t.Fatalf("send to %s: %v", addr, err)
	}
}

// WaitTCPListening waits until a TCP connection to addr succeeds.
func WaitTCPListening(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on tcp %s after %s", addr, timeout)
}

// Eventually polls cond until it is true or timeout passes, then fails with msg.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string, args ...interface{}) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: "+msg, append([]interface{}{timeout}, args...)...)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// SyncBuffer is a bytes.Buffer safe for concurrent writes and reads, for a
// process's output.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
