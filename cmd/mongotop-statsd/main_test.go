package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// statsdListener is a real UDP socket on 127.0.0.1 that records every
// datagram it receives.
type statsdListener struct {
	conn net.PacketConn
}

func listenStatsd(t *testing.T) *statsdListener {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &statsdListener{conn: conn}
}

func (l *statsdListener) port() int { return l.conn.LocalAddr().(*net.UDPAddr).Port }

// drain returns the lines of every datagram received, reading until the
// socket stays silent for quiet. Called after the sender has exited, every
// datagram it sent over loopback is already queued.
func (l *statsdListener) drain(t *testing.T, quiet time.Duration) (lines []string, datagrams []string) {
	t.Helper()
	buf := make([]byte, 65536)
	for i := 0; i < 10000; i++ {
		_ = l.conn.SetReadDeadline(time.Now().Add(quiet))
		n, _, err := l.conn.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return lines, datagrams
			}
			t.Fatalf("reading UDP: %v", err)
		}
		datagrams = append(datagrams, string(buf[:n]))
		lines = append(lines, strings.Split(string(buf[:n]), "\n")...)
	}
	t.Fatal("too many datagrams")
	return nil, nil
}

// runWithStdin runs the real binary with the file as stdin and returns the
// exit code, stdout and stderr.
func runWithStdin(t *testing.T, input string, args ...string) (int, string, string) {
	t.Helper()
	bin := testutil.Binary(t, "mongotop-statsd")
	f, err := os.Open(input)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = f, &stdout, &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("mongotop-statsd did not exit when its input ended; stderr:\n%s", stderr.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func gauges(prefix string, rows ...string) []string {
	var out []string
	for _, r := range rows {
		f := strings.Fields(r) // "name total read write"
		for i, k := range []string{"total", "read", "write"} {
			out = append(out, prefix+f[0]+"."+k+":"+f[i+1]+"|g")
		}
	}
	return out
}

func checkReports(t *testing.T, stderr string, lines ...int) {
	t.Helper()
	got := strings.Count(stderr, "skipped:")
	if got != len(lines) {
		t.Errorf("%d skip reports, want %d:\n%s", got, len(lines), stderr)
	}
	for _, n := range lines {
		if !strings.Contains(stderr, "mongotop-statsd: line "+strconv.Itoa(n)+": skipped:") {
			t.Errorf("no report for line %d:\n%s", n, stderr)
		}
	}
}

// TestTextForm pipes a recorded text-form sample (several blocks, dotted
// namespaces, malformed lines) into the real binary and checks that a real
// UDP listener receives exactly the expected gauges.
func TestTextForm(t *testing.T) {
	l := listenStatsd(t)
	code, _, stderr := runWithStdin(t, filepath.Join("testdata", "text.txt"),
		"-statsd", "127.0.0.1:"+strconv.Itoa(l.port()))
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	got, datagrams := l.drain(t, 500*time.Millisecond)
	want := gauges("mongotop.",
		"app.fs_chunks 12 5 7", "app.users 3 3 0", "local.oplog_rs 1 1 0", "admin.system_roles 0 0 0",
		"app.fs_chunks 120 20 100", "app.users 4 4 0",
		"app.my_coll 2 1 1", "app._cmd_aggregate 7 7 0")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("received:\n%s\nwant (in this order):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, d := range datagrams {
		if len(d) > 1400 {
			t.Errorf("datagram of %d bytes", len(d))
		}
	}
	// Line 9 lacks a column, 10 has a negative time, 13 is a mongotop
	// error message.
	checkReports(t, stderr, 9, 10, 13)
}

// TestJSONForm does the same with the --json form (and one --locks
// document), with a prefix, -strip-db and -sanitize levels, over -host/-port.
func TestJSONForm(t *testing.T) {
	l := listenStatsd(t)
	code, _, stderr := runWithStdin(t, filepath.Join("testdata", "json.txt"),
		"-statsd", "192.0.2.1:1", "-host", "127.0.0.1", "-port", strconv.Itoa(l.port()),
		"-prefix", "db.mongo", "-strip-db", "app", "-sanitize", "levels")
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	got, _ := l.drain(t, 500*time.Millisecond)
	want := gauges("db.mongo.",
		"fs.chunks 12 5 7", "users 3 3 0",
		"fs.chunks 120 20 100", "local.oplog.rs 1 1 0",
		"app 42 40 2", "local 1 1 0")
	if !equal(sorted(got), sorted(want)) {
		t.Errorf("received:\n%s\nwant:\n%s", strings.Join(sorted(got), "\n"), strings.Join(sorted(want), "\n"))
	}
	// Line 2 has one bad entry (other.x; its good ones are sent), line 3 is
	// cut off.
	checkReports(t, stderr, 2, 3)
	if !strings.Contains(stderr, `"other.x"`) {
		t.Errorf("the bad entry is not named:\n%s", stderr)
	}
}

// TestStdinCloses checks that the tool sends what it read and exits 0 when
// its input ends, with mongotop's output arriving in pieces over a pipe.
func TestStdinCloses(t *testing.T) {
	l := listenStatsd(t)
	bin := testutil.Binary(t, "mongotop-statsd")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-port", strconv.Itoa(l.port()), "-prefix", "")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := stdin.Write([]byte("ns total read write 2026-11-25T09:44:37Z\na.b 1ms 2ms 3ms\n")); err != nil {
		t.Fatal(err)
	}
	// The first sample is sent while the tool waits for the next one.
	_ = l.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 2048)
	n, _, err := l.conn.ReadFrom(buf)
	if err != nil {
		t.Fatalf("first sample not sent while stdin is open: %v", err)
	}
	if got := string(buf[:n]); got != "a.b.total:1|g\na.b.read:2|g\na.b.write:3|g" {
		t.Errorf("first datagram %q", got)
	}
	if _, err := stdin.Write([]byte("\nns total read write 2026-11-25T09:44:38Z\na.c 4ms 4ms 0ms")); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v, stderr:\n%s", err, stderr.String())
	}
	got, _ := l.drain(t, 500*time.Millisecond)
	if want := []string{"a.c.total:4|g", "a.c.read:4|g", "a.c.write:0|g"}; !equal(got, want) {
		t.Errorf("after close: %q, want %q", got, want)
	}
}

func TestBadFlags(t *testing.T) {
	cases := map[string][]string{
		"sanitize":    {"-sanitize", "dots"},
		"prefix":      {"-prefix", "a..b"},
		"statsd":      {"-statsd", "localhost"},
		"port":        {"-port", "70000"},
		"strip-db":    {"-strip-db", "a.b"},
		"packet-size": {"-packet-size", "10"},
		"argument":    {"extra"},
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, args := range cases {
		code, _, stderr := runWithStdin(t, empty, args...)
		if code != 2 || !strings.Contains(stderr, "mongotop-statsd:") {
			t.Errorf("%s %v: exit %d, stderr %q", name, args, code, stderr)
		}
	}
}

// TestPrint checks -print, which shows the gauges instead of sending them.
func TestPrint(t *testing.T) {
	code, stdout, stderr := runWithStdin(t, filepath.Join("testdata", "text.txt"), "-print", "-sanitize", "flat", "-v")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "mongotop.app_fs_chunks.write:100|g\n") {
		t.Errorf("stdout lacks a flat name:\n%s", stdout)
	}
	if !strings.Contains(stderr, "24 gauges sent") {
		t.Errorf("summary: %s", stderr)
	}
}

func equal(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n")
}
