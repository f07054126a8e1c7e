package host_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
	gowhisper "github.com/lomik/go-whisper"
)

var cpuStates = []string{"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice"}

// readPoints returns the stored points (timestamp → value) of a whisper
// file's finest archive over the last 10 minutes, read with
// github.com/lomik/go-whisper; nil if the file is not there (yet).
func readPoints(t *testing.T, path string) map[int]float64 {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	db, err := gowhisper.Open(path)
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	defer db.Close()
	now := int(time.Now().Unix()) + 1
	ts, err := db.Fetch(now-600, now)
	if err != nil {
		t.Fatalf("fetching %s: %v", path, err)
	}
	out := map[int]float64{}
	if ts == nil {
		return out
	}
	for i, v := range ts.Values() {
		if !math.IsNaN(v) {
			out[ts.FromTime()+i*ts.Step()] = v
		}
	}
	return out
}

// TestHostInputWritesWhisper runs the real host input and the project's
// whisper output in the real hekad and checks the whisper files of CPU,
// memory and load for plausible values on this machine: at one timestamp,
// the CPU states add up to about 100, load is not negative and memory used
// is at most the total. One file is cross-checked with Graphite's whisper.py.
func TestHostInputWritesWhisper(t *testing.T) {
	h := testutil.NewHekad(t)
	base := h.Whisper
	// hostname belongs to WriteConfig's [hekad] section.
	cfg := h.WriteConfig(fmt.Sprintf(`hostname = "whisper.test.host"

[DreamcatcherHostInput]
interval = 1
collect = ["cpu", "load", "mem"]

[DreamcatcherWhisperOutput]
base_path = %q
default_retentions = "1s:10m"
`, base))
	p := h.Start(cfg, "Input started: DreamcatcherHostInput")

	root := filepath.Join(base, "hosts", "whisper_test_host")
	file := func(name string) string {
		return filepath.Join(root, strings.ReplaceAll(name, ".", string(filepath.Separator))+".wsp")
	}
	names := []string{"load.load1", "load.load5", "load.load15", "memory.total", "memory.used", "memory.used_percent"}
	for _, s := range cpuStates {
		names = append(names, "cpu.total."+s)
	}
	// Wait for a timestamp at which every one of these files has a point.
	var at int
	var points map[string]map[int]float64
	testutil.Eventually(t, 45*time.Second, func() bool {
		points = map[string]map[int]float64{}
		for _, n := range names {
			points[n] = readPoints(t, file(n))
			if len(points[n]) == 0 {
				return false
			}
		}
		for ts := range points["cpu.total.idle"] {
			complete := true
			for _, n := range names {
				if _, ok := points[n][ts]; !ok {
					complete = false
				}
			}
			if complete && ts > at {
				at = ts
			}
		}
		return at > 0
	}, "no timestamp with every CPU, load and memory file written under %s", root)

	sum := 0.0
	for _, s := range cpuStates {
		v := points["cpu.total."+s][at]
		if v < 0 || v > 100 {
			t.Errorf("cpu.total.%s = %v at %d", s, v, at)
		}
		sum += v
	}
	if math.Abs(sum-100) > 0.01 {
		t.Errorf("CPU states sum to %v at %d", sum, at)
	}
	for _, l := range []string{"load.load1", "load.load5", "load.load15"} {
		if v := points[l][at]; v < 0 || v > 10000 {
			t.Errorf("%s = %v", l, v)
		}
	}
	total, used := points["memory.total"][at], points["memory.used"][at]
	if total <= 0 || used <= 0 || used > total {
		t.Errorf("memory used %v of total %v", used, total)
	}
	if pct := points["memory.used_percent"][at]; pct <= 0 || pct > 100 || math.Abs(pct-used/total*100) > 0.01 {
		t.Errorf("memory.used_percent %v, used/total %v", pct, used/total*100)
	}
	p.StopClean(syscall.SIGTERM, 15*time.Second)

	t.Run("whisper.py reads the same", func(t *testing.T) {
		testutil.RequireWhisperPy(t)
		py := testutil.ReadWhisperPy(t, file("memory.total"), 0, 0)
		if len(py.Archives) != 1 || py.Archives[0].SecondsPerPoint != 1 || py.Archives[0].Points != 600 {
			t.Fatalf("archives %+v", py.Archives)
		}
		v, ok := py.Archives[0].Values[fmt.Sprint(at)]
		if !ok || v != total {
			t.Errorf("whisper.py: memory.total at %d = %v (present %v), go-whisper %v", at, v, ok, total)
		}
	})
}
