package whisper_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/whisper/cache"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/whisper/dump"
)

// projectConfig writes a config for h with the project's statsd input on
// h.Addr() (options appended) and whisper output (options appended)
// writing to projectWhisper(h); it returns the path.
func projectConfig(h *testutil.Hekad, statsdOpts, whisperOpts string) string {
	return h.WriteConfig(fmt.Sprintf(`[DreamcatcherStatsdInput]
address = %q
%s
[DreamcatcherWhisperOutput]
base_path = "whisper"
default_retentions = "1s:10m,10s:1h"
self_metrics = ""
%s
`, h.Addr(), statsdOpts, whisperOpts))
}

// projectWhisper is the data folder of projectConfig (relative to base_dir).
func projectWhisper(h *testutil.Hekad) string { return filepath.Join(h.BaseDir(), "whisper") }

// TestClosedLogPipe: hekad's stdout and stderr are a pipe whose reader goes
// away (a `| tee` killed by the same Ctrl-C, a supervisor's log pipe
// closed). hekad must not die of SIGPIPE on its next log line: SIGTERM
// still flushes the pending statsd aggregates to disk and it exits 0.
func TestClosedLogPipe(t *testing.T) {
	testutil.RequireWhisperPy(t)
	h := testutil.NewHekad(t)
	cfg := projectConfig(h, "flush_interval = 30", "")
	p := testutil.StartClosedLogPipe(t, "listening on udp", testutil.HekadReadyTimeout, h.Bin, "-config", cfg)
	// Flushes fall on multiples of flush_interval in wall-clock time: send
	// with at least 10 s of the interval left, so that only the stop's
	// flush writes the count (a scheduled one in between would store 12
	// and then the stop's 0, a second point).
	for time.Now().Unix()%30 >= 20 {
		time.Sleep(100 * time.Millisecond)
	}
	testutil.SendUDP(t, h.Addr(), "pipe.hits:5|c\npipe.hits:7|c")
	time.Sleep(500 * time.Millisecond) // let the packet be read
	p.StopClean(syscall.SIGTERM, 60*time.Second)
	path := wsp(projectWhisper(h), "stats_counts.pipe.hits")
	if !exists(path) {
		t.Fatalf("%s not written: the final flush was lost", path)
	}
	if sum, n, _ := sumArchive0(t, path); sum != 12 || n != 1 {
		t.Errorf("whisper.py reads %d points summing to %v, want 1 point of 12", n, sum)
	}
}

// whisperPyTree reads every .wsp file under base with Graphite's whisper.py
// in one process: metric name → the values of archive 0's stored points.
func whisperPyTree(t *testing.T, base string) map[string][]float64 {
	t.Helper()
	const script = `
import json, os, struct, sys, whisper
base = sys.argv[1]
out = {}
for root, dirs, files in os.walk(base):
    for f in files:
        if not f.endswith('.wsp') or f.startswith('.'):
            continue
        p = os.path.join(root, f)
        a = whisper.info(p)['archives'][0]
        vals = []
        with open(p, 'rb') as fh:
            fh.seek(a['offset'])
            data = fh.read(a['size'])
        for i in range(a['points']):
            ts, v = struct.unpack(whisper.pointFormat, data[i*whisper.pointSize:(i+1)*whisper.pointSize])
            if ts:
                vals.append(v)
        out[os.path.relpath(p, base)[:-4].replace(os.sep, '.')] = vals
print(json.dumps(out))
`
	b, err := exec.Command(testutil.PythonWithWhisper, "-c", script, base).Output()
	if err != nil {
		t.Fatalf("whisper.py over %s: %v", base, err)
	}
	var out map[string][]float64
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func gaugeLines(prefix string, n int) []string {
	var packets []string
	var cur []string
	for i := 0; i < n; i++ {
		cur = append(cur, fmt.Sprintf("%s.m%d:%d|g", prefix, i, i+1))
		if len(cur) == 50 {
			packets = append(packets, strings.Join(cur, "\n"))
			cur = nil
		}
	}
	if len(cur) > 0 {
		packets = append(packets, strings.Join(cur, "\n"))
	}
	return packets
}

// checkGauges fails unless every gauge prefix.m0 … m(n-1) is on disk with
// its value, read with whisper.py.
func checkGauges(t *testing.T, base, prefix string, n int) {
	t.Helper()
	tree := whisperPyTree(t, base)
	missing := 0
	for i := 0; i < n; i++ {
		vals, ok := tree[fmt.Sprintf("stats.gauges.%s.m%d", prefix, i)]
		if !ok || len(vals) == 0 || vals[len(vals)-1] != float64(i+1) && vals[0] != float64(i+1) {
			missing++
			if missing <= 3 {
				t.Errorf("stats.gauges.%s.m%d: %v (present %v), want %d", prefix, i, vals, ok, i+1)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d gauges missing or wrong", missing, n)
	}
}

// TestBacklogAtStopDumped: 3,000 new metrics with max_creates_per_second =
// 100 and flush_timeout = 2 cannot all be created before the stop timeout.
// What is left is written to the cache dump under base_dir, restored at the
// next start, written out, and the dump removed: all 3,000 are on disk.
func TestBacklogAtStopDumped(t *testing.T) {
	testutil.RequireWhisperPy(t)
	h := testutil.NewHekad(t)
	cfg := projectConfig(h, "flush_interval = 1",
		"max_creates_per_second = 100\nflush_timeout = 2")
	base := projectWhisper(h)
	dumpFile := filepath.Join(h.BaseDir(), "whisper-cache.DreamcatcherWhisperOutput.dump")
	const n = 3000
	p := h.Start(cfg, "listening on udp")
	testutil.SendUDP(t, h.Addr(), gaugeLines("bl", n)...)
	time.Sleep(2500 * time.Millisecond) // a flush or two reach the cache
	p.StopClean(syscall.SIGTERM, 60*time.Second)
	if !strings.Contains(p.Output(), "kept in "+dumpFile) {
		t.Fatalf("no dump written at stop:\n%s", p.Output())
	}
	if !exists(dumpFile) {
		t.Fatalf("%s missing", dumpFile)
	}
	before := len(whisperPyTree(t, base))
	if before >= n {
		t.Fatalf("all %d files were made before the stop: the backlog case was not exercised", before)
	}

	p2 := h.Start(cfg, "restored ")
	if exists(dumpFile) {
		t.Errorf("dump not removed after restore")
	}
	testutil.Eventually(t, 90*time.Second, func() bool {
		c := 0
		filepath.Walk(base, func(path string, fi os.FileInfo, err error) error {
			if err == nil && strings.HasSuffix(path, ".wsp") {
				c++
			}
			return nil
		})
		return c >= n
	}, "not all %d files made after the restart", n)
	p2.StopClean(syscall.SIGTERM, 60*time.Second)
	checkGauges(t, base, "bl", n)
	t.Logf("%d of %d files existed at the first stop", before, n)
}

// TestRefusedDumps: a damaged dump and a dump made for another data folder
// are each refused with a clear log line and moved aside; hekad starts and
// writes new points normally. A valid dump for this data folder is restored.
func TestRefusedDumps(t *testing.T) {
	testutil.RequireWhisperPy(t)
	for _, tc := range []struct {
		name, want string
		write      func(path, base string) error
	}{
		{"corrupt", "not a valid whisper cache dump", func(path, base string) error {
			if err := dump.Write(path, base, []cache.Batch{{Name: "d.x", Points: []cache.Point{cache.MakePoint(time.Now().Unix(), 1)}}}); err != nil {
				return err
			}
			b, _ := os.ReadFile(path)
			b[len(b)-9] ^= 0xff // one flipped byte in the last point
			return os.WriteFile(path, b, 0o644)
		}},
		{"garbage", "unknown format", func(path, base string) error {
			return os.WriteFile(path, []byte("hello, not a dump\n"), 0o644)
		}},
		{"foreign", "belongs to another data folder", func(path, base string) error {
			return dump.Write(path, "/somewhere/else/whisper", []cache.Batch{{Name: "d.x", Points: []cache.Point{cache.MakePoint(time.Now().Unix(), 1)}}})
		}},
		{"valid", "restored 2 points of 1 metrics", func(path, base string) error {
			now := time.Now().Unix()
			return dump.Write(path, base, []cache.Batch{{Name: "d.x", Points: []cache.Point{cache.MakePoint(now-5, 4), cache.MakePoint(now-3, 6)}}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := testutil.NewHekad(t)
			cfg := projectConfig(h, "flush_interval = 1", "")
			base := projectWhisper(h)
			path := filepath.Join(h.BaseDir(), "whisper-cache.DreamcatcherWhisperOutput.dump")
			if err := os.MkdirAll(base, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := tc.write(path, base); err != nil {
				t.Fatal(err)
			}
			p := h.Start(cfg, tc.want)
			p.WaitOutput("listening on udp", 15*time.Second)
			testutil.SendUDP(t, h.Addr(), "d.after:3|g")
			testutil.Eventually(t, 20*time.Second, func() bool { return exists(wsp(base, "stats.gauges.d.after")) }, "no metric written after the start")
			p.StopClean(syscall.SIGTERM, 60*time.Second)
			if exists(path) {
				t.Errorf("the dump is still in place after the start")
			}
			aside, _ := filepath.Glob(path + ".refused-*")
			if tc.name == "valid" {
				if len(aside) != 0 {
					t.Errorf("valid dump moved aside: %v", aside)
				}
				if sum, n, _ := sumArchive0(t, wsp(base, "d.x")); sum != 10 || n != 2 {
					t.Errorf("restored metric: %d points summing to %v, want 4 and 6", n, sum)
				}
				return
			}
			if len(aside) != 1 {
				t.Errorf("refused dump not moved aside: %v", aside)
			}
			if exists(wsp(base, "d.x")) {
				t.Errorf("points of a refused dump were written")
			}
			if !strings.Contains(p.Output(), "refusing cache dump") {
				t.Errorf("no refusal line in the log")
			}
		})
	}
}

// TestSIGKILLThenStart: hekad killed with SIGKILL in the middle of a
// backlog (files being created, points cached) starts again cleanly: every
// file it made reads back with whisper.py, and new points are written.
func TestSIGKILLThenStart(t *testing.T) {
	testutil.RequireWhisperPy(t)
	h := testutil.NewHekad(t)
	cfg := projectConfig(h, "flush_interval = 1",
		"max_creates_per_second = 200\nflush_timeout = 2")
	base := projectWhisper(h)
	p := h.Start(cfg, "listening on udp")
	testutil.SendUDP(t, h.Addr(), gaugeLines("k", 1000)...)
	time.Sleep(2 * time.Second)
	if code := p.Stop(syscall.SIGKILL, 10*time.Second); code != -1 {
		t.Fatalf("exit code %d after SIGKILL", code)
	}
	made := whisperPyTree(t, base) // fails the test on any file whisper.py cannot read
	if len(made) == 0 || len(made) >= 1000 {
		t.Fatalf("%d files at SIGKILL: the kill did not land mid-backlog", len(made))
	}
	p2 := h.Start(cfg, "listening on udp")
	if strings.Contains(p2.Output(), "refusing cache dump") {
		t.Errorf("a dump was refused after SIGKILL:\n%s", p2.Output())
	}
	testutil.SendUDP(t, h.Addr(), gaugeLines("k2", 10)...)
	testutil.Eventually(t, 20*time.Second, func() bool { return exists(wsp(base, "stats.gauges.k2.m9")) }, "no new metric after the restart")
	p2.StopClean(syscall.SIGTERM, 60*time.Second)
	after := whisperPyTree(t, base)
	for name, vals := range made {
		if len(after[name]) < len(vals) {
			t.Errorf("%s lost points over the restart: %v → %v", name, vals, after[name])
		}
	}
	checkGauges(t, base, "k2", 10)
}

func counts(name string, n int) []string {
	var out []string
	for i := 0; i < n; i += 25 {
		out = append(out, strings.TrimSuffix(strings.Repeat(name+":1|c\n", min(25, n-i)), "\n"))
	}
	return out
}

// TestQuickRestartKeepsInterval: flush_interval = 10; 100 counts, SIGTERM,
// a start again within the same interval, 50 more counts. The stop's final
// flush (stamped into the next slot) is replaced by the new process's first
// flush of that slot, which carries the kept interval: the slot holds 150,
// and the file's total is 150 (nothing lost, nothing counted twice).
func TestQuickRestartKeepsInterval(t *testing.T) {
	testutil.RequireWhisperPy(t)
	h := testutil.NewHekad(t)
	cfg := projectConfig(h, "flush_interval = 10", "")
	path := wsp(projectWhisper(h), "stats_counts.qr.hits")
	p := h.Start(cfg, "listening on udp")
	// Begin early in an interval, so stop and start fit before its end.
	for time.Now().Unix()%10 > 1 {
		time.Sleep(100 * time.Millisecond)
	}
	slot := time.Now().Unix()/10*10 + 10
	testutil.SendUDP(t, h.Addr(), counts("qr.hits", 100)...)
	time.Sleep(300 * time.Millisecond)
	p.StopClean(syscall.SIGTERM, 30*time.Second)
	p2 := h.Start(cfg, "listening on udp")
	// The restore is logged after the input listens.
	p2.WaitOutput("merged into the flush at "+fmt.Sprint(slot), 10*time.Second)
	testutil.SendUDP(t, h.Addr(), counts("qr.hits", 50)...)
	testutil.Eventually(t, 30*time.Second, func() bool {
		if !exists(path) {
			return false
		}
		v, ok := testutil.ReadWhisperPy(t, path, 0, 0).Archives[0].Values[fmt.Sprint(slot)]
		return ok && v == 150
	}, "slot %d never held 150", slot)
	p2.StopClean(syscall.SIGTERM, 30*time.Second)
	if sum, _, py := sumArchive0(t, path); sum != 150 {
		t.Errorf("total %v over the restart, want 150: %v", sum, py.Archives[0].Values)
	}
}

// TestLongStopKeepsOwnSlot: flush_interval = 2; 100 counts, SIGTERM, a stop
// longer than an interval, 50 counts: the 100 are in their own slot (the
// stop's final flush), the 50 in a later one; the total is 150.
func TestLongStopKeepsOwnSlot(t *testing.T) {
	testutil.RequireWhisperPy(t)
	h := testutil.NewHekad(t)
	cfg := projectConfig(h, "flush_interval = 2", "")
	path := wsp(projectWhisper(h), "stats_counts.ls.hits")
	p := h.Start(cfg, "listening on udp")
	testutil.SendUDP(t, h.Addr(), counts("ls.hits", 100)...)
	time.Sleep(200 * time.Millisecond)
	p.StopClean(syscall.SIGTERM, 30*time.Second)
	time.Sleep(5 * time.Second)
	p2 := h.Start(cfg, "listening on udp")
	p2.WaitOutput("in its own slot", 10*time.Second) // logged after the input listens
	testutil.SendUDP(t, h.Addr(), counts("ls.hits", 50)...)
	testutil.Eventually(t, 20*time.Second, func() bool {
		sum, _, _ := sumArchive0(t, path)
		return sum == 150
	}, "total never 150")
	p2.StopClean(syscall.SIGTERM, 30*time.Second)
	sum, _, py := sumArchive0(t, path)
	has := map[float64]bool{}
	for _, v := range py.Archives[0].Values {
		has[v] = true
	}
	if sum != 150 || !has[100] || !has[50] {
		t.Errorf("points %v, want 100 and 50 in their own slots", py.Archives[0].Values)
	}
}

// TestCorruptStatsdState: a damaged statsd state file is refused with a log
// line and moved aside; the input starts and flushes normally.
func TestCorruptStatsdState(t *testing.T) {
	h := testutil.NewHekad(t)
	cfg := projectConfig(h, "flush_interval = 1", "")
	state := testutil.WriteFile(t, h.BaseDir(), "statsd-state.DreamcatcherStatsdInput.dump", "DCSTATSD 1 deadbeef\ngarbage")
	p := h.Start(cfg, "refusing statsd state")
	p.WaitOutput("listening on udp", 15*time.Second)
	testutil.SendUDP(t, h.Addr(), "cs.hits:2|c")
	path := wsp(projectWhisper(h), "stats_counts.cs.hits")
	testutil.Eventually(t, 20*time.Second, func() bool { return exists(path) && goWhisperSum(t, path) == 2 }, "no flush after a refused state")
	p.StopClean(syscall.SIGTERM, 30*time.Second)
	if aside, _ := filepath.Glob(state + ".refused-*"); len(aside) != 1 {
		t.Errorf("refused state not moved aside: %v", aside)
	}
}

// TestOverloadLoggedAndCounted: a cache bound far below the backlog and a
// slow create rate: points are refused by the full cache, which is logged
// (rate-limited, with counts and the reason) and counted, and the self
// metrics show the metrics waiting for file creation.
func TestOverloadLoggedAndCounted(t *testing.T) {
	h := testutil.NewHekad(t)
	selfOut := filepath.Join(h.Dir, "self.txt")
	cfg := projectConfig(h, "flush_interval = 1", `
[OverloadWhisper]
type = "DreamcatcherWhisperOutput"
message_matcher = "Type == 'heka.statmetric' && Logger == 'DreamcatcherStatsdInput'"
base_path = "overload"
max_cache_points = 300
max_creates_per_second = 5
flush_timeout = 1
self_metrics = "self"
self_metrics_interval = 1
log_interval = 1
`+testutil.PayloadFileOutput("Type == 'heka.statmetric' && Logger == 'OverloadWhisper'", selfOut))
	p := h.Start(cfg, "listening on udp")
	testutil.SendUDP(t, h.Addr(), gaugeLines("ov", 1000)...)
	p.WaitOutput("cache full (max_cache_points = 300", 20*time.Second)
	value := func(name string) float64 {
		b, _ := os.ReadFile(selfOut)
		best := 0.0
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) == 3 && f[0] == "self."+name {
				var v float64
				fmt.Sscan(f[1], &v)
				best = max(best, v)
			}
		}
		return best
	}
	testutil.Eventually(t, 20*time.Second, func() bool {
		return value("dropped.cache_full") > 0 && value("cache.waiting_create") > 0 && value("cache.metrics") >= value("cache.waiting_create")
	}, "self metrics never showed the drops and the waiting metrics:\n%s", func() string { b, _ := os.ReadFile(selfOut); return string(b) }())
	p.StopClean(syscall.SIGTERM, 60*time.Second)
	t.Logf("dropped.cache_full %v, cache.waiting_create %v, cache.metrics %v", value("dropped.cache_full"), value("cache.waiting_create"), value("cache.metrics"))
}

// TestOverflowRefusedOnce: a counter and a gauge that overflow to +Inf are
// refused once, with one log line, and never reach the output (no bad-line
// error at every flush); names no whisper file can hold (an empty part, too
// long) are refused once by the input, counted and logged, and never reach
// the output; other metrics of the same flush are written.
func TestOverflowRefusedOnce(t *testing.T) {
	h := testutil.NewHekad(t)
	cfg := projectConfig(h, "flush_interval = 1", "")
	p := h.Start(cfg, "listening on udp")
	testutil.SendUDP(t, h.Addr(), "inf.c:1e308|c\ninf.c:1e308|c\ninf.g:1e308|g\ninf.g:+1e308|g\ninf.ok:1|c\nbad..name:1|c\n"+strings.Repeat("long.", 900)+"x:1|g")
	path := wsp(projectWhisper(h), "stats_counts.inf.ok")
	testutil.Eventually(t, 20*time.Second, func() bool { return exists(path) }, "the finite metric was not written")
	time.Sleep(3500 * time.Millisecond) // three more flushes
	p.StopClean(syscall.SIGTERM, 30*time.Second)
	out := p.Output()
	if n := strings.Count(out, "overflowed to ±Inf"); n != 1 {
		t.Errorf("%d overflow log lines, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "refused 2 metric names no whisper file can hold"); n != 1 {
		t.Errorf("%d refused-name log lines, want 1:\n%s", n, out)
	}
	if strings.Contains(out, "refused metric name") {
		t.Errorf("an unstorable name reached the output:\n%s", out)
	}
	if strings.Contains(out, "bad metric line") {
		t.Errorf("the output saw the overflowed values:\n%s", out)
	}
	if exists(wsp(projectWhisper(h), "stats.gauges.inf.g")) {
		t.Errorf("the overflowed gauge was stored")
	}
}
