package whisper_test

import (
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

// statsdConfig writes a config for h: Heka's stock statsd input, a
// FileOutput of every flush to Dir/seen.txt and the project's whisper
// output writing to h.Whisper with the extra options; it returns the path.
func statsdConfig(h *testutil.Hekad, extra string) string {
	return h.WriteConfig(h.StockStatsd() +
		testutil.PayloadFileOutput("Type == 'heka.statmetric' && Logger == 'StatAccumInput'", filepath.Join(h.Dir, "seen.txt")) +
		fmt.Sprintf(`[DreamcatcherWhisperOutput]
base_path = %q
default_retentions = "1s:10m,1m:1d"
%s
`, h.Whisper, extra))
}

// TestBadNamesFaultsAndSelfMetrics: traversal attempts arriving as metric
// names, a symlink leading out of the data folder, a corrupt existing file
// and a plain file where a folder should be are refused or logged and
// counted; hekad keeps running and other metrics keep being written; the
// output's own metrics are stored like everything else.
func TestBadNamesFaultsAndSelfMetrics(t *testing.T) {
	h := testutil.NewHekad(t)
	dir, base := h.Dir, h.Whisper
	outside := filepath.Join(dir, "outside")
	for _, d := range []string{filepath.Join(base, "stats", "counters"), outside, filepath.Join(base, "stats", "gauges", "broken")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(base, "stats", "counters", "escape")); err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(base, "stats", "gauges", "broken", "file.wsp")
	if err := os.WriteFile(corrupt, []byte(strings.Repeat("garbage!", 10)), 0o644); err != nil {
		t.Fatal(err)
	}
	// stats/timers is a plain file: no timer file can be created below it.
	if err := os.WriteFile(filepath.Join(base, "stats", "timers"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := statsdConfig(h, `
self_metrics = "self.whisper"
self_metrics_interval = 1
log_interval = 1
`)
	p := h.Start(cfg, "Input started: StatsdInput")
	addr := h.Addr()
	testutil.SendUDP(t, addr,
		"../../../etc/evil:1|c", "a..b:1|c", "..:1|c", "x/../../y:1|c", "escape.x:1|c", "escape..:1|c",
		"broken.file:5|g", "slow:10|ms", "good.hits:7|c")

	testutil.Eventually(t, 20*time.Second, func() bool {
		return exists(wsp(base, "stats.counters.good.hits.count")) && goWhisperSum(t, wsp(base, "stats.counters.good.hits.count")) == 7
	}, "good metric not written")
	// The self metrics record the refusals and faults.
	selfSum := func(name string) float64 {
		p := wsp(base, "self.whisper."+name)
		if !exists(p) {
			return 0
		}
		return goWhisperSum(t, p)
	}
	testutil.Eventually(t, 30*time.Second, func() bool {
		return selfSum("dropped.bad_name") > 0 && selfSum("dropped.outside") > 0 &&
			selfSum("errors.corrupt") > 0 && selfSum("errors.update")+selfSum("errors.create") > 0 &&
			selfSum("points_written") > 0
	}, "self metrics never showed the faults; output:\n%s", p.Output())

	// Nothing outside the data folder, no new file under the corrupt name's folder.
	entries, _ := os.ReadDir(outside)
	if len(entries) != 0 {
		t.Errorf("written outside the data folder: %v", entries)
	}
	for _, dir := range []string{"/etc/evil", filepath.Join(dir, "etc")} {
		if exists(dir) {
			t.Errorf("%s exists", dir)
		}
	}
	if b, _ := os.ReadFile(corrupt); string(b) != strings.Repeat("garbage!", 10) {
		t.Error("the corrupt file was modified")
	}
	for _, want := range []string{"refused metric name", "leads outside", "corrupt whisper file", "not a directory"} {
		p.WaitOutput(want, 20*time.Second)
	}
	// Repair the corrupt file: its kept points are written on a later retry.
	if err := os.Remove(corrupt); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 40*time.Second, func() bool {
		return exists(corrupt) && goWhisperSum(t, corrupt) >= 5
	}, "repaired metric never written")
	p.StopClean(syscall.SIGTERM, 60*time.Second)
}

// TestSIGTERMWritesCache: with file creation throttled to 10 per second,
// most points are still cached when SIGTERM arrives; the stop keeps the
// limit but has time enough (flush_timeout), so every one of them is on
// disk after hekad exits (TestBacklogAtStopDumped covers too little time). Gauges are used because Heka's stock
// StatAccumInput flushes once more at stop, often within the same second as
// its last tick: a counter's zero from that flush replaces the count in the
// same 1 s slot (whisper keeps the last write for a slot, as Graphite does).
func TestSIGTERMWritesCache(t *testing.T) {
	h := testutil.NewHekad(t)
	dir, base := h.Dir, h.Whisper
	cfg := statsdConfig(h, `
max_creates_per_second = 10
self_metrics = ""
`)
	p := h.Start(cfg, "Input started: StatsdInput")
	const n = 60
	var lines []string
	for i := 0; i < n; i++ {
		lines = append(lines, fmt.Sprintf("term.m%d:%d|g", i, i+1))
	}
	testutil.SendUDP(t, h.Addr(), strings.Join(lines[:n/2], "\n"), strings.Join(lines[n/2:], "\n"))
	// Wait until the router has delivered the flush carrying them (the
	// FileOutput next to the whisper output has it).
	testutil.Eventually(t, 20*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "seen.txt"))
		for i := 0; i < n; i++ {
			if !strings.Contains(string(b), fmt.Sprintf("stats.gauges.term.m%d %d.000000 ", i, i+1)) {
				return false
			}
		}
		return true
	}, "flush never seen")
	created := 0
	filepath.Walk(base, func(string, os.FileInfo, error) error { created++; return nil })
	p.StopClean(syscall.SIGTERM, 60*time.Second)
	for i := 0; i < n; i++ {
		path := wsp(base, fmt.Sprintf("stats.gauges.term.m%d", i))
		if !exists(path) {
			t.Errorf("%s missing after SIGTERM", path)
			continue
		}
		// Every flush carries the gauge, the last one (at stop) included.
		sum, n := goWhisperSumCount(t, path)
		if n == 0 || sum != float64(n*(i+1)) {
			t.Errorf("%s: %d points summing to %v, want all %d", path, n, sum, i+1)
		}
	}
	if !strings.Contains(p.Output(), "stopping: writing out") || !strings.Contains(p.Output(), "cache written out") {
		t.Errorf("no write-out in the log:\n%s", p.Output())
	}
	t.Logf("%d paths existed at SIGTERM, %d metrics written at stop", created, n)
}

// TestDiskFullAndReadOnly: the data folder is a small tmpfs. When it is
// full, and when it is read-only, writes fail, are logged and retried;
// hekad keeps running; once space is back every point lands.
func TestDiskFullAndReadOnly(t *testing.T) {
	h := testutil.NewHekad(t)
	base := h.Whisper
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", base).CombinedOutput(); err != nil {
		// Mounting needs root (CAP_SYS_ADMIN); TestFileSizeLimit covers
		// failing writes without it.
		t.Skipf("cannot mount a tmpfs here (needs root; TestFileSizeLimit still runs): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", base).Run() })
	// A remount read-only fails while a file is open for writing, which
	// the writers do briefly on every update with open_files = 0 (set
	// below: with files kept open the remount is refused until they are
	// closed): try until it lands.
	remount := func(opts string) {
		t.Helper()
		var out []byte
		var err error
		for i := 0; i < 200; i++ {
			if out, err = exec.Command("mount", "-o", "remount,"+opts, base).CombinedOutput(); err == nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("remount %s: %v %s", opts, err, out)
	}
	// 1s:10m,1m:1d files are 24 kB: about 8 fit in 200 kB.
	cfg := statsdConfig(h, `
self_metrics = ""
log_interval = 1
open_files = 0
`)
	p := h.Start(cfg, "Input started: StatsdInput")
	addr := h.Addr()
	const n = 20
	var lines []string
	for i := 0; i < n; i++ {
		lines = append(lines, fmt.Sprintf("full.m%d:%d|c", i, i+1))
	}
	testutil.SendUDP(t, addr, strings.Join(lines, "\n"))
	p.WaitOutput("no space left on device", 30*time.Second)

	// Read-only: a metric that already has its file cannot be updated either.
	remount("ro")
	testutil.SendUDP(t, addr, "full.m0:100|c")
	p.WaitOutput("read-only file system", 30*time.Second)

	// Space is back: everything kept is written.
	remount("rw,size=4m")
	testutil.Eventually(t, 60*time.Second, func() bool {
		for i := 0; i < n; i++ {
			path := wsp(base, fmt.Sprintf("stats.counters.full.m%d.count", i))
			want := float64(i + 1)
			if i == 0 {
				want = 101
			}
			if !exists(path) || goWhisperSum(t, path) != want {
				return false
			}
		}
		return true
	}, "not every point written after the disk got space; output:\n%s", p.Output())
	// No half-made files were left behind.
	filepath.Walk(base, func(path string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(fi.Name(), ".tmp.") {
			t.Errorf("temporary file left: %s", path)
		}
		return nil
	})
	p.StopClean(syscall.SIGTERM, 60*time.Second)
}

// TestStartWarning: hekad warns at start when a storage rule statsd
// metrics fall under is finer than the statsd flush interval.
func TestStartWarning(t *testing.T) {
	h := testutil.NewHekad(t)
	cfg := h.WriteConfig(fmt.Sprintf(`[StatsdInput]
address = %q
[StatAccumInput]
ticker_interval = 10
[WhisperOutput]
base_path = "w"
default_archive_info = [[0,1,600],[0,600,144],[0,3600,168]]
[[WhisperOutput.schemas]]
name = "carbon"
pattern = "^carbon\\."
retentions = "1s:1h"
`, h.Addr()))
	p := h.Start(cfg, "Input started: StatsdInput")
	out := p.Output()
	if !strings.Contains(out, "warning: [WhisperOutput]: storage rule [default] (1:600,600:144,3600:168) keeps a point every 1s, but [StatAccumInput] flushes every 10s") {
		t.Errorf("no flush-interval warning:\n%s", out)
	}
	if strings.Contains(out, "[carbon]") {
		t.Errorf("warned about a rule statsd metrics do not fall under:\n%s", out)
	}
	p.Stop(syscall.SIGTERM, 30*time.Second)
}

// TestConfigErrors: bad settings stop hekad with a message naming them.
func TestConfigErrors(t *testing.T) {
	for what, c := range map[string]struct{ body, want string }{
		"retention":   {`default_retentions = "10s:6h,15s:7d"`, "evenly divide"},
		"archive":     {`default_archive_info = [[0,60]]`, "default_archive_info"},
		"method":      {`default_agg_method = "median"`, "median"},
		"heka method": {`default_agg_method = 9`, "default_agg_method"},
		"perm":        {`folder_perm = "rwx"`, "folder_perm"},
		"schema file": {`storage_schemas_file = "/nonexistent/storage-schemas.conf"`, "storage_schemas_file"},
		"unknown key": {`retentions = "1s:1h"`, "retentions"},
		"interval":    {`write_interval_ms = 120000`, "write_interval_ms"},
		"regexp":      {"[[DreamcatcherWhisperOutput.schemas]]\npattern = \"(?<=x)\"\nretentions = \"1s:1h\"", "pattern"},
	} {
		t.Run(what, func(t *testing.T) {
			h := testutil.NewHekad(t)
			cfg := h.WriteConfig("[DreamcatcherWhisperOutput]\nbase_path = \"w\"\n" + c.body + "\n")
			code, out := h.Run(cfg, 30*time.Second)
			testutil.ExpectFailure(t, code, out, c.want)
		})
	}
}

// TestFileSizeLimit: writes failing with EFBIG (hekad runs under a file
// size limit below a whisper file's size; no privileges needed) are logged
// and retried; once the limit is lifted every point lands.
func TestFileSizeLimit(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) not installed")
	}
	h := testutil.NewHekad(t)
	base := h.Whisper
	// 1s:10m,1m:1d files are 24,520 bytes; the limit is 20,000.
	cfg := statsdConfig(h, `
self_metrics = ""
log_interval = 1
`)
	p := testutil.Start(t, prlimit, "--fsize=20000:unlimited", h.Bin, "-config", cfg)
	p.WaitOutput("Input started: StatsdInput", 15*time.Second)
	testutil.SendUDP(t, h.Addr(), "big.a:3|c\nbig.b:4|c")
	p.WaitOutput("file too large", 30*time.Second)
	if exists(wsp(base, "stats.counters.big.a.count")) {
		t.Fatal("file created despite the limit")
	}
	out, err := exec.Command("pgrep", "-f", cfg).Output()
	if err != nil {
		t.Fatalf("pgrep: %v", err)
	}
	pid := strings.Fields(string(out))[0]
	if out, err := exec.Command(prlimit, "--pid", pid, "--fsize=unlimited").CombinedOutput(); err != nil {
		t.Fatalf("lifting the limit: %v %s", err, out)
	}
	testutil.Eventually(t, 60*time.Second, func() bool {
		a, b := wsp(base, "stats.counters.big.a.count"), wsp(base, "stats.counters.big.b.count")
		return exists(a) && exists(b) && goWhisperSum(t, a) == 3 && goWhisperSum(t, b) == 4
	}, "points not written after the limit was lifted")
	p.StopClean(syscall.SIGTERM, 60*time.Second)
}
